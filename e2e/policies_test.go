package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// polDoc returns a valid identity policy allowing action.
func polDoc(action string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"` + action + `","Resource":"*"}]}`
}

// polDecode decodes a policy document as IAM returns it: URL-encoded
// (the SDK leaves it so; the CLI decodes it).
func polDecode(t *testing.T, doc *string) string {
	t.Helper()
	s, err := url.QueryUnescape(aws.ToString(doc))
	must(t, err)
	return s
}

// polListClient is a root IAM client that retries: large responses (the
// AWS-managed catalogue) on loopback hit the SDK's known race in which the
// transport closes the connection mid-body (aws-sdk-go-v2 #2737), which the
// SDK retries by default and the harness's single-attempt clients do not.
func polListClient(e *env) *iam.Client {
	cfg := e.config(e.root)
	cfg.RetryMaxAttempts = 3
	return iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = aws.String(e.url) })
}

func polARN(path, name string) string {
	return "arn:aws:iam::" + testAccount + ":policy" + path + name
}

func TestPolicyLifecycle(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()

	created, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{
		PolicyName:     aws.String("ReadS3"),
		Path:           aws.String("/team/"),
		PolicyDocument: aws.String(polDoc("s3:GetObject")),
		Description:    aws.String("read objects"),
		Tags:           []types.Tag{{Key: aws.String("owner"), Value: aws.String("me")}},
	})
	must(t, err)
	p := created.Policy
	arn := polARN("/team/", "ReadS3")
	if aws.ToString(p.Arn) != arn || aws.ToString(p.DefaultVersionId) != "v1" || !p.IsAttachable ||
		aws.ToInt32(p.AttachmentCount) != 0 || aws.ToInt32(p.PermissionsBoundaryUsageCount) != 0 ||
		!strings.HasPrefix(aws.ToString(p.PolicyId), "ANPA") || len(aws.ToString(p.PolicyId)) != 21 ||
		p.CreateDate == nil || p.UpdateDate == nil || len(p.Tags) != 1 {
		t.Fatalf("CreatePolicy = %+v", p)
	}

	_, err = c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("reads3"), PolicyDocument: aws.String(polDoc("s3:*"))})
	wantCode(t, err, "EntityAlreadyExists")
	if !strings.Contains(err.Error(), "A policy called reads3 already exists. Duplicate names are not allowed.") {
		t.Errorf("message: %v", err)
	}

	got, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	must(t, err)
	if aws.ToString(got.Policy.Description) != "read objects" || len(got.Policy.Tags) != 1 || aws.ToString(got.Policy.PolicyId) != aws.ToString(p.PolicyId) {
		t.Errorf("GetPolicy = %+v", got.Policy)
	}
	_, err = c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(polARN("/", "ReadS3"))})
	wantCode(t, err, "NoSuchEntity")
	if !strings.Contains(err.Error(), "Policy "+polARN("/", "ReadS3")+" was not found.") {
		t.Errorf("message: %v", err)
	}

	// Versions: v2 (default), v3, then delete v1; IDs are never reused.
	v2, err := c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(arn), PolicyDocument: aws.String(polDoc("s3:PutObject")), SetAsDefault: true})
	must(t, err)
	if aws.ToString(v2.PolicyVersion.VersionId) != "v2" || !v2.PolicyVersion.IsDefaultVersion {
		t.Errorf("CreatePolicyVersion = %+v", v2.PolicyVersion)
	}
	v3, err := c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(arn), PolicyDocument: aws.String(polDoc("s3:ListBucket"))})
	must(t, err)
	if aws.ToString(v3.PolicyVersion.VersionId) != "v3" || v3.PolicyVersion.IsDefaultVersion {
		t.Errorf("CreatePolicyVersion = %+v", v3.PolicyVersion)
	}
	_, err = c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v2")})
	wantCode(t, err, "DeleteConflict")
	if !strings.Contains(err.Error(), "Cannot delete the default version of a policy.") {
		t.Errorf("message: %v", err)
	}
	must(t, polErr(c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v1")})))
	_, err = c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v1")})
	wantCode(t, err, "NoSuchEntity")
	v4, err := c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(arn), PolicyDocument: aws.String(polDoc("s3:DeleteObject"))})
	must(t, err)
	if aws.ToString(v4.PolicyVersion.VersionId) != "v4" {
		t.Errorf("version after a delete = %s, want v4", aws.ToString(v4.PolicyVersion.VersionId))
	}

	gv, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v2")})
	must(t, err)
	if doc := polDecode(t, gv.PolicyVersion.Document); doc != polDoc("s3:PutObject") || !gv.PolicyVersion.IsDefaultVersion {
		t.Errorf("GetPolicyVersion = %+v %s", gv.PolicyVersion, doc)
	}

	lv, err := c.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: aws.String(arn)})
	must(t, err)
	var ids []string
	for _, v := range lv.Versions {
		ids = append(ids, aws.ToString(v.VersionId))
		if v.Document != nil {
			t.Errorf("ListPolicyVersions returned a document")
		}
	}
	if strings.Join(ids, ",") != "v4,v3,v2" {
		t.Errorf("ListPolicyVersions = %v, want newest first", ids)
	}

	must(t, polErr(c.SetDefaultPolicyVersion(ctx, &iam.SetDefaultPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v3")})))
	_, err = c.SetDefaultPolicyVersion(ctx, &iam.SetDefaultPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v9")})
	wantCode(t, err, "NoSuchEntity")
	if !strings.Contains(err.Error(), "Policy "+arn+" version v9 does not exist or is not attachable.") {
		t.Errorf("message: %v", err)
	}
	got, err = c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	must(t, err)
	if aws.ToString(got.Policy.DefaultVersionId) != "v3" {
		t.Errorf("DefaultVersionId = %s", aws.ToString(got.Policy.DefaultVersionId))
	}

	// Deleting needs the non-default versions gone first.
	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(arn)})
	wantCode(t, err, "DeleteConflict")
	if !strings.Contains(err.Error(), "This policy has more than one version.") {
		t.Errorf("message: %v", err)
	}
	for _, v := range []string{"v2", "v4"} {
		must(t, polErr(c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String(v)})))
	}
	must(t, polErr(c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(arn)})))
	_, err = c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	wantCode(t, err, "NoSuchEntity")
	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(arn)})
	wantCode(t, err, "NoSuchEntity")
}

// polErr drops the value of a call, keeping its error.
func polErr[T any](_ T, err error) error { return err }

func TestPolicyVersionLimit(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	out, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(polDoc("s3:*"))})
	must(t, err)
	arn := out.Policy.Arn
	for i := 2; i <= 5; i++ {
		must(t, polErr(c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: arn, PolicyDocument: aws.String(polDoc(fmt.Sprintf("s3:Get%d", i)))})))
	}
	_, err = c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: arn, PolicyDocument: aws.String(polDoc("s3:Put"))})
	wantCode(t, err, "LimitExceeded")
	if !strings.Contains(err.Error(), "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.") {
		t.Errorf("message: %v", err)
	}
}

func TestCreatePolicyValidation(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	big := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[` + strings.Repeat(`"s3:GetObjectVersion",`, 400) + `"s3:GetObject"],"Resource":"*"}]}`
	for _, tc := range []struct {
		name, doc, code, msg string
	}{
		{"syntax", `{"Version":"2012-10-17","Statement":`, "MalformedPolicyDocument", ""},
		{"old version", `{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`, "MalformedPolicyDocument", ""},
		{"no version", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`, "MalformedPolicyDocument", ""},
		{"too big", big, "LimitExceeded", "Cannot exceed quota for PolicySize: 6144"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("bad"), PolicyDocument: aws.String(tc.doc)})
			wantCode(t, err, tc.code)
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message: %v", err)
			}
		})
	}
}

func TestAWSManagedPolicies(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	const arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
	got, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	must(t, err)
	p := got.Policy
	if aws.ToString(p.PolicyName) != "ReadOnlyAccess" || aws.ToString(p.Path) != "/" || !p.IsAttachable || aws.ToInt32(p.AttachmentCount) != 0 {
		t.Errorf("GetPolicy = %+v", p)
	}
	def := aws.ToString(p.DefaultVersionId)
	gv, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String(def)})
	must(t, err)
	var doc map[string]any
	must(t, json.Unmarshal([]byte(polDecode(t, gv.PolicyVersion.Document)), &doc))
	if doc["Version"] != "2012-10-17" || !gv.PolicyVersion.IsDefaultVersion {
		t.Errorf("GetPolicyVersion = %v", doc)
	}
	_, err = c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v1000")})
	wantCode(t, err, "NoSuchEntity")
	lv, err := c.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: aws.String(arn)})
	must(t, err)
	if len(lv.Versions) != 1 || aws.ToString(lv.Versions[0].VersionId) != def {
		t.Errorf("ListPolicyVersions = %+v", lv.Versions)
	}
	_, err = c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String("arn:aws:iam::aws:policy/NoSuchPolicyAtAll")})
	wantCode(t, err, "NoSuchEntity")

	// AWS-managed policies cannot be changed.
	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(arn)})
	wantCode(t, err, "AccessDenied")
	_, err = c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(arn), PolicyDocument: aws.String(polDoc("s3:*"))})
	wantCode(t, err, "AccessDenied")
	_, err = c.TagPolicy(ctx, &iam.TagPolicyInput{PolicyArn: aws.String(arn), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	wantCode(t, err, "AccessDenied")
}

func TestListPolicies(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := polListClient(e)
	for _, tc := range []struct{ name, path string }{{"zeta", "/"}, {"alpha", "/a/"}, {"Mid", "/a/b/"}} {
		must(t, polErr(c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(tc.name), Path: aws.String(tc.path), PolicyDocument: aws.String(polDoc("s3:*"))})))
	}
	names := func(in *iam.ListPoliciesInput) []string {
		t.Helper()
		var out []string
		p := iam.NewListPoliciesPaginator(c, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			must(t, err)
			for _, pol := range page.Policies {
				out = append(out, aws.ToString(pol.PolicyName))
				if pol.Tags != nil || pol.Description != nil {
					t.Errorf("ListPolicies returned tags or description for %s", aws.ToString(pol.PolicyName))
				}
			}
		}
		return out
	}
	if got := strings.Join(names(&iam.ListPoliciesInput{Scope: types.PolicyScopeTypeLocal, MaxItems: aws.Int32(2)}), ","); got != "Mid,alpha,zeta" {
		t.Errorf("Local = %s", got)
	}
	if got := strings.Join(names(&iam.ListPoliciesInput{Scope: types.PolicyScopeTypeLocal, PathPrefix: aws.String("/a/")}), ","); got != "Mid,alpha" {
		t.Errorf("Local /a/ = %s", got)
	}
	if got := names(&iam.ListPoliciesInput{Scope: types.PolicyScopeTypeLocal, OnlyAttached: true}); len(got) != 0 {
		t.Errorf("OnlyAttached = %v", got)
	}
	aws1 := names(&iam.ListPoliciesInput{Scope: types.PolicyScopeTypeAws, MaxItems: aws.Int32(1000)})
	all := names(&iam.ListPoliciesInput{})
	if len(aws1) < 1000 || len(all) != len(aws1)+3 {
		t.Errorf("AWS scope has %d policies, All %d", len(aws1), len(all))
	}
	seen := map[string]bool{}
	for i, n := range all {
		if i > 0 && all[i-1] > n {
			t.Fatalf("All not in name order at %d: %s > %s", i, all[i-1], n)
		}
		seen[n] = true
	}
	if !seen["AdministratorAccess"] || !seen["zeta"] {
		t.Errorf("All lacks AdministratorAccess or zeta")
	}
}

func TestPolicyTags(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	out, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("tagged"), PolicyDocument: aws.String(polDoc("s3:*"))})
	must(t, err)
	arn := out.Policy.Arn
	must(t, polErr(c.TagPolicy(ctx, &iam.TagPolicyInput{PolicyArn: arn, Tags: []types.Tag{
		{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("b"), Value: aws.String("2")},
	}})))
	must(t, polErr(c.TagPolicy(ctx, &iam.TagPolicyInput{PolicyArn: arn, Tags: []types.Tag{{Key: aws.String("A"), Value: aws.String("3")}}})))
	must(t, polErr(c.UntagPolicy(ctx, &iam.UntagPolicyInput{PolicyArn: arn, TagKeys: []string{"b"}})))
	lt, err := c.ListPolicyTags(ctx, &iam.ListPolicyTagsInput{PolicyArn: arn})
	must(t, err)
	if len(lt.Tags) != 1 || aws.ToString(lt.Tags[0].Key) != "A" || aws.ToString(lt.Tags[0].Value) != "3" {
		t.Errorf("ListPolicyTags = %+v", lt.Tags)
	}
	_, err = c.TagPolicy(ctx, &iam.TagPolicyInput{PolicyArn: aws.String(polARN("/", "missing")), Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("1")}}})
	wantCode(t, err, "NoSuchEntity")
}

func TestPolicyAttachmentCounts(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	out, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("attached"), PolicyDocument: aws.String(polDoc("s3:*"))})
	must(t, err)
	arn := out.Policy.Arn
	must(t, polErr(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")})))
	_, err = c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("bob"), PolicyArn: arn})
	must(t, err)
	const admin = "arn:aws:iam::aws:policy/AdministratorAccess"
	must(t, polErr(c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("bob"), PolicyArn: aws.String(admin)})))

	for _, a := range []string{aws.ToString(arn), admin} {
		got, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(a)})
		must(t, err)
		if aws.ToInt32(got.Policy.AttachmentCount) != 1 {
			t.Errorf("%s AttachmentCount = %d", a, aws.ToInt32(got.Policy.AttachmentCount))
		}
	}
	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: arn})
	wantCode(t, err, "DeleteConflict")
	if !strings.Contains(err.Error(), "Cannot delete a policy attached to entities.") {
		t.Errorf("message: %v", err)
	}
	lp, err := polListClient(e).ListPolicies(ctx, &iam.ListPoliciesInput{OnlyAttached: true})
	must(t, err)
	var names []string
	for _, p := range lp.Policies {
		names = append(names, aws.ToString(p.PolicyName))
	}
	if strings.Join(names, ",") != "AdministratorAccess,attached" {
		t.Errorf("OnlyAttached = %v", names)
	}

	ents, err := c.ListEntitiesForPolicy(ctx, &iam.ListEntitiesForPolicyInput{PolicyArn: arn})
	must(t, err)
	if len(ents.PolicyUsers) != 1 || aws.ToString(ents.PolicyUsers[0].UserName) != "bob" || len(ents.PolicyGroups) != 0 || len(ents.PolicyRoles) != 0 {
		t.Errorf("ListEntitiesForPolicy = %+v", ents)
	}
	ents, err = c.ListEntitiesForPolicy(ctx, &iam.ListEntitiesForPolicyInput{PolicyArn: arn, EntityFilter: types.EntityTypeRole})
	must(t, err)
	if len(ents.PolicyUsers) != 0 {
		t.Errorf("EntityFilter Role = %+v", ents.PolicyUsers)
	}
	ents, err = c.ListEntitiesForPolicy(ctx, &iam.ListEntitiesForPolicyInput{PolicyArn: aws.String(admin)})
	must(t, err)
	if len(ents.PolicyUsers) != 1 {
		t.Errorf("ListEntitiesForPolicy(admin) = %+v", ents.PolicyUsers)
	}

	must(t, polErr(c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String("bob"), PolicyArn: arn})))
	must(t, polErr(c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: arn})))
}

func TestPoliciesCLI(t *testing.T) {
	e := start(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "policy.json")
	must(t, os.WriteFile(file, []byte(`{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::example bucket"}]
}`), 0o600))
	out, err := e.cli(e.root, "iam", "create-policy", "--policy-name", "cli-policy", "--policy-document", "file://"+file)
	must(t, err)
	var created struct {
		Policy struct{ Arn, DefaultVersionId string }
	}
	must(t, json.Unmarshal([]byte(out), &created))
	if created.Policy.Arn != polARN("/", "cli-policy") || created.Policy.DefaultVersionId != "v1" {
		t.Fatalf("create-policy = %s", out)
	}

	out, err = e.cli(e.root, "iam", "get-policy-version", "--policy-arn", created.Policy.Arn, "--version-id", "v1")
	must(t, err)
	var gv struct {
		PolicyVersion struct {
			Document struct {
				Version   string
				Statement []struct{ Resource string }
			}
			IsDefaultVersion bool
		}
	}
	must(t, json.Unmarshal([]byte(out), &gv))
	if gv.PolicyVersion.Document.Version != "2012-10-17" || len(gv.PolicyVersion.Document.Statement) != 1 ||
		gv.PolicyVersion.Document.Statement[0].Resource != "arn:aws:s3:::example bucket" || !gv.PolicyVersion.IsDefaultVersion {
		t.Errorf("get-policy-version = %s", out)
	}

	out, err = e.cli(e.root, "iam", "list-policies", "--scope", "Local")
	must(t, err)
	var lp struct{ Policies []struct{ PolicyName string } }
	must(t, json.Unmarshal([]byte(out), &lp))
	if len(lp.Policies) != 1 || lp.Policies[0].PolicyName != "cli-policy" {
		t.Errorf("list-policies = %s", out)
	}

	// The CLI paginates the AWS-managed catalogue by itself.
	out, err = e.cli(e.root, "iam", "list-policies", "--scope", "AWS", "--query", "length(Policies)")
	must(t, err)
	var n int
	must(t, json.Unmarshal([]byte(out), &n))
	if n < 1000 {
		t.Errorf("list-policies --scope AWS returned %d policies", n)
	}

	_, err = e.cli(e.root, "iam", "get-policy", "--policy-arn", polARN("/", "nope"))
	if err == nil || !strings.Contains(err.Error(), "NoSuchEntity") {
		t.Errorf("get-policy of a missing policy: %v", err)
	}
	_, err = e.cli(e.root, "iam", "delete-policy", "--policy-arn", created.Policy.Arn)
	must(t, err)
}
