package e2e

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/iamd/iamd/internal/sigv4"
)

// TestGetTagsWhenNone: a resource without tags, never tagged or once its
// last tag is removed, is described as AWS describes it. GetUser and
// GetRole leave Tags out; GetPolicy (of AWS-managed policies too),
// GetInstanceProfile, GetOpenIDConnectProvider, GetSAMLProvider and
// GetServerCertificate answer an empty Tags list (as recorded from AWS in
// LocalStack's validated IAM snapshots). The SDK reads both as an empty
// slice, so the test reads the XML.
func TestGetTagsWhenNone(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	tag := []types.Tag{{Key: aws.String("team"), Value: aws.String("blue")}}
	keys := []string{"team"}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	tc := newTLSChain(t)
	idp := newSAMLIdP(t)

	cases := []struct {
		name string
		// create makes the resource named name, with tags when given,
		// and returns what Get and Untag take to name it.
		create    func(name string, tags []types.Tag) (string, error)
		untag     func(id string) error
		getAction string
		getParam  string
		emptyList bool // Tags is an empty list, not left out
	}{
		{
			name: "user",
			create: func(name string, tags []types.Tag) (string, error) {
				_, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: &name, Tags: tags})
				return name, err
			},
			untag: func(id string) error {
				_, err := root.UntagUser(ctx, &iam.UntagUserInput{UserName: &id, TagKeys: keys})
				return err
			},
			getAction: "GetUser", getParam: "UserName",
		},
		{
			name: "role",
			create: func(name string, tags []types.Tag) (string, error) {
				_, err := root.CreateRole(ctx, &iam.CreateRoleInput{RoleName: &name, AssumeRolePolicyDocument: &trust, Tags: tags})
				return name, err
			},
			untag: func(id string) error {
				_, err := root.UntagRole(ctx, &iam.UntagRoleInput{RoleName: &id, TagKeys: keys})
				return err
			},
			getAction: "GetRole", getParam: "RoleName",
		},
		{
			name: "policy",
			create: func(name string, tags []types.Tag) (string, error) {
				out, err := root.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: &name, PolicyDocument: &doc, Tags: tags})
				if err != nil {
					return "", err
				}
				return aws.ToString(out.Policy.Arn), nil
			},
			untag: func(id string) error {
				_, err := root.UntagPolicy(ctx, &iam.UntagPolicyInput{PolicyArn: &id, TagKeys: keys})
				return err
			},
			getAction: "GetPolicy", getParam: "PolicyArn", emptyList: true,
		},
		{
			name: "instance-profile",
			create: func(name string, tags []types.Tag) (string, error) {
				_, err := root.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: &name, Tags: tags})
				return name, err
			},
			untag: func(id string) error {
				_, err := root.UntagInstanceProfile(ctx, &iam.UntagInstanceProfileInput{InstanceProfileName: &id, TagKeys: keys})
				return err
			},
			getAction: "GetInstanceProfile", getParam: "InstanceProfileName", emptyList: true,
		},
		{
			name: "oidc-provider",
			create: func(name string, tags []types.Tag) (string, error) {
				out, err := root.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
					Url: aws.String("https://" + name + ".example.com"), ClientIDList: []string{"sts.amazonaws.com"}, Tags: tags,
					ThumbprintList: []string{strings.Repeat("a", 40)}})
				if err != nil {
					return "", err
				}
				return aws.ToString(out.OpenIDConnectProviderArn), nil
			},
			untag: func(id string) error {
				_, err := root.UntagOpenIDConnectProvider(ctx, &iam.UntagOpenIDConnectProviderInput{OpenIDConnectProviderArn: &id, TagKeys: keys})
				return err
			},
			getAction: "GetOpenIDConnectProvider", getParam: "OpenIDConnectProviderArn", emptyList: true,
		},
		{
			name: "saml-provider",
			create: func(name string, tags []types.Tag) (string, error) {
				out, err := root.CreateSAMLProvider(ctx, &iam.CreateSAMLProviderInput{Name: &name, SAMLMetadataDocument: aws.String(idp.metadata()), Tags: tags})
				if err != nil {
					return "", err
				}
				return aws.ToString(out.SAMLProviderArn), nil
			},
			untag: func(id string) error {
				_, err := root.UntagSAMLProvider(ctx, &iam.UntagSAMLProviderInput{SAMLProviderArn: &id, TagKeys: keys})
				return err
			},
			getAction: "GetSAMLProvider", getParam: "SAMLProviderArn", emptyList: true,
		},
		{
			name: "server-certificate",
			create: func(name string, tags []types.Tag) (string, error) {
				_, err := root.UploadServerCertificate(ctx, &iam.UploadServerCertificateInput{ServerCertificateName: &name,
					CertificateBody: aws.String(tc.leaf), PrivateKey: aws.String(tc.key), Tags: tags})
				return name, err
			},
			untag: func(id string) error {
				_, err := root.UntagServerCertificate(ctx, &iam.UntagServerCertificateInput{ServerCertificateName: &id, TagKeys: keys})
				return err
			},
			getAction: "GetServerCertificate", getParam: "ServerCertificateName", emptyList: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check := func(id string) {
				t.Helper()
				body := e.rawIAM(t, url.Values{"Action": {tc.getAction}, tc.getParam: {id}})
				present, members := tagsElement(t, body)
				switch {
				case members != 0:
					t.Errorf("%s(%s) lists %d tags: %s", tc.getAction, id, members, body)
				case tc.emptyList && !present:
					t.Errorf("%s(%s) left Tags out, want an empty list: %s", tc.getAction, id, body)
				case !tc.emptyList && present:
					t.Errorf("%s(%s) has a Tags element, want none: %s", tc.getAction, id, body)
				}
			}
			never, err := tc.create(tc.name+"-never", nil)
			must(t, err)
			check(never)

			untagged, err := tc.create(tc.name+"-untagged", tag)
			must(t, err)
			if _, members := tagsElement(t, e.rawIAM(t, url.Values{"Action": {tc.getAction}, tc.getParam: {untagged}})); members != 1 {
				t.Fatalf("%s(%s) before untagging lists %d tags", tc.getAction, untagged, members)
			}
			must(t, tc.untag(untagged))
			check(untagged)
		})
	}
	// AWS-managed policies have no tags: GetPolicy lists none, as for a
	// customer-managed policy.
	managed := "arn:aws:iam::aws:policy/IAMUserChangePassword"
	if present, members := tagsElement(t, e.rawIAM(t, url.Values{"Action": {"GetPolicy"}, "PolicyArn": {managed}})); !present || members != 0 {
		t.Errorf("GetPolicy(%s): Tags present %v with %d members, want an empty list", managed, present, members)
	}
}

// tagsElement reports whether body has a Tags element and how many
// members it holds.
func tagsElement(t *testing.T, body []byte) (present bool, members int) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(body))
	depth := 0 // depth inside Tags; 0 outside
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return present, members
		}
		if err != nil {
			t.Fatalf("response is not XML: %v: %s", err, body)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			switch {
			case depth > 0:
				if depth == 1 && el.Name.Local == "member" {
					members++
				}
				depth++
			case el.Name.Local == "Tags":
				present, depth = true, 1
			}
		case xml.EndElement:
			if depth > 0 {
				depth--
			}
		}
	}
}

// rawIAM calls an IAM action as the root user and returns the response
// body, for what the SDK cannot tell apart (an absent list from an empty
// one). A response other than 200 fails the test.
func (e *env) rawIAM(t *testing.T, form url.Values) []byte {
	t.Helper()
	form.Set("Version", "2010-05-08")
	status, data := e.rootQuery(t, "iam", form)
	if status != http.StatusOK {
		t.Fatalf("%s: HTTP %d: %s", form.Get("Action"), status, data)
	}
	return data
}

// rootQuery posts form to the query API of service ("iam", "sts"), signed
// with the root user's key, and returns the response's status and body.
func (e *env) rootQuery(t *testing.T, service string, form url.Values) (int, []byte) {
	t.Helper()
	body := form.Encode()
	req, err := http.NewRequest(http.MethodPost, e.url+"/", strings.NewReader(body))
	must(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	signer := &sigv4.Signer{Credentials: sigv4.Credentials{AccessKeyID: e.root.AccessKeyID, SecretAccessKey: e.root.SecretAccessKey},
		Region: "us-east-1", Service: service}
	must(t, signer.Sign(req, []byte(body)))
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp.StatusCode, data
}

// TestListsLeaveOutTags: IAM's resource-listing operations return a subset
// of each resource's attributes. As the API reference says of each, they
// leave out tags even when the resources have some, and ListRoles also
// leaves out PermissionsBoundary and RoleLastUsed, ListUsers
// PermissionsBoundary.
func TestListsLeaveOutTags(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	tags := []types.Tag{{Key: aws.String("team"), Value: aws.String("blue")}}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	const boundary = "arn:aws:iam::aws:policy/ReadOnlyAccess"
	tc := newTLSChain(t)
	idp := newSAMLIdP(t)

	_, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("u"), Tags: tags, PermissionsBoundary: aws.String(boundary)})
	must(t, err)
	_, err = root.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: &trust, Tags: tags, PermissionsBoundary: aws.String(boundary)})
	must(t, err)
	_, err = root.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: &doc, Tags: tags})
	must(t, err)
	_, err = root.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("ip"), Tags: tags})
	must(t, err)
	_, err = root.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: aws.String("https://tagged.example.com"),
		ClientIDList: []string{"sts.amazonaws.com"}, ThumbprintList: []string{strings.Repeat("a", 40)}, Tags: tags})
	must(t, err)
	_, err = root.CreateSAMLProvider(ctx, &iam.CreateSAMLProviderInput{Name: aws.String("saml"), SAMLMetadataDocument: aws.String(idp.metadata()), Tags: tags})
	must(t, err)
	_, err = root.UploadServerCertificate(ctx, &iam.UploadServerCertificateInput{ServerCertificateName: aws.String("cert"),
		CertificateBody: aws.String(tc.leaf), PrivateKey: aws.String(tc.key), Tags: tags})
	must(t, err)
	_, err = root.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("mfa"), Tags: tags})
	must(t, err)

	for _, c := range []struct {
		action, member string
		form           url.Values
	}{
		{"ListUsers", "<UserName>u<", nil},
		{"ListRoles", "<RoleName>r<", nil},
		{"ListPolicies", "<PolicyName>p<", url.Values{"Scope": {"Local"}}},
		{"ListInstanceProfiles", "<InstanceProfileName>ip<", nil},
		{"ListOpenIDConnectProviders", "tagged.example.com<", nil},
		{"ListSAMLProviders", "saml-provider/saml<", nil},
		{"ListServerCertificates", "<ServerCertificateName>cert<", nil},
		{"ListVirtualMFADevices", ":mfa/mfa<", nil},
	} {
		t.Run(c.action, func(t *testing.T) {
			form := url.Values{"Action": {c.action}}
			for k, v := range c.form {
				form[k] = v
			}
			body := string(e.rawIAM(t, form))
			if !strings.Contains(body, c.member) {
				t.Fatalf("%s does not list the tagged resource: %s", c.action, body)
			}
			for _, el := range []string{"<Tags>", "<Tags/>", "<PermissionsBoundary>", "<RoleLastUsed>"} {
				if strings.Contains(body, el) {
					t.Errorf("%s returned %s: %s", c.action, el, body)
				}
			}
		})
	}
}
