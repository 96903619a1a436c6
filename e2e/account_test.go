package e2e

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

func TestAccountSummary(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	must(t, polErr(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("u1")})))
	must(t, polErr(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("u2")})))
	must(t, polErr(c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("p1"), PolicyDocument: aws.String(polDoc("s3:*"))})))

	out, err := c.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
	must(t, err)
	m := out.SummaryMap
	for _, k := range []types.SummaryKeyType{
		"Users", "UsersQuota", "Groups", "GroupsQuota", "ServerCertificates", "ServerCertificatesQuota",
		"UserPolicySizeQuota", "GroupPolicySizeQuota", "GroupsPerUserQuota", "SigningCertificatesPerUserQuota",
		"AccessKeysPerUserQuota", "MFADevices", "MFADevicesInUse", "AccountMFAEnabled", "AccountAccessKeysPresent",
		"AccountSigningCertificatesPresent", "AttachedPoliciesPerGroupQuota", "AttachedPoliciesPerRoleQuota",
		"AttachedPoliciesPerUserQuota", "Policies", "PoliciesQuota", "PolicySizeQuota", "PolicyVersionsInUse",
		"PolicyVersionsInUseQuota", "VersionsPerPolicyQuota", "GlobalEndpointTokenVersion", "AssumeRolePolicySizeQuota",
		"InstanceProfiles", "InstanceProfilesQuota", "Providers", "RolePolicySizeQuota", "Roles", "RolesQuota",
	} {
		if _, ok := m[string(k)]; !ok {
			t.Errorf("SummaryMap lacks %s", k)
		}
	}
	for k, want := range map[string]int32{
		"Users": 2, "UsersQuota": 5000, "Policies": 1, "PoliciesQuota": 1500, "PolicySizeQuota": 6144,
		"AccountAccessKeysPresent": 1, "AccountMFAEnabled": 0, "VersionsPerPolicyQuota": 5, "Groups": 0,
		"GroupsQuota": 300, "RolesQuota": 1000, "AttachedPoliciesPerUserQuota": 10, "AssumeRolePolicySizeQuota": 2048,
	} {
		if m[k] != want {
			t.Errorf("%s = %d, want %d", k, m[k], want)
		}
	}

	out2, err := e.cli(e.root, "iam", "get-account-summary")
	must(t, err)
	var cli struct{ SummaryMap map[string]int }
	must(t, json.Unmarshal([]byte(out2), &cli))
	if cli.SummaryMap["Users"] != 2 || cli.SummaryMap["PoliciesQuota"] != 1500 {
		t.Errorf("get-account-summary = %s", out2)
	}
}

func TestAccountAuthorizationDetails(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	must(t, polErr(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice"), Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}}})))
	must(t, polErr(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")})))
	pol, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("local"), PolicyDocument: aws.String(polDoc("s3:GetObject"))})
	must(t, err)
	must(t, polErr(c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: pol.Policy.Arn, PolicyDocument: aws.String(polDoc("s3:PutObject")), SetAsDefault: true})))

	out, err := c.GetAccountAuthorizationDetails(ctx, &iam.GetAccountAuthorizationDetailsInput{})
	must(t, err)
	if out.IsTruncated || len(out.UserDetailList) != 2 || len(out.Policies) != 1 {
		t.Fatalf("GetAccountAuthorizationDetails = users %d policies %d", len(out.UserDetailList), len(out.Policies))
	}
	u := out.UserDetailList[0]
	if aws.ToString(u.UserName) != "alice" || len(u.Tags) != 1 || aws.ToString(u.Arn) != "arn:aws:iam::"+testAccount+":user/alice" {
		t.Errorf("UserDetail = %+v", u)
	}
	p := out.Policies[0]
	if aws.ToString(p.PolicyName) != "local" || aws.ToString(p.DefaultVersionId) != "v2" || len(p.PolicyVersionList) != 2 {
		t.Fatalf("ManagedPolicyDetail = %+v", p)
	}
	for _, v := range p.PolicyVersionList {
		doc, err := url.QueryUnescape(aws.ToString(v.Document))
		must(t, err)
		want := polDoc("s3:GetObject")
		if aws.ToString(v.VersionId) == "v2" {
			want = polDoc("s3:PutObject")
		}
		if doc != want || v.IsDefaultVersion != (aws.ToString(v.VersionId) == "v2") {
			t.Errorf("version %s: %s default=%v", aws.ToString(v.VersionId), doc, v.IsDefaultVersion)
		}
	}

	// Filter and pagination across the combined lists.
	f, err := c.GetAccountAuthorizationDetails(ctx, &iam.GetAccountAuthorizationDetailsInput{Filter: []types.EntityType{types.EntityTypeLocalManagedPolicy}})
	must(t, err)
	if len(f.UserDetailList) != 0 || len(f.Policies) != 1 {
		t.Errorf("Filter LocalManagedPolicy = users %d policies %d", len(f.UserDetailList), len(f.Policies))
	}
	var users, policies int
	pages := 0
	pg := iam.NewGetAccountAuthorizationDetailsPaginator(c, &iam.GetAccountAuthorizationDetailsInput{MaxItems: aws.Int32(1)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		must(t, err)
		pages++
		users += len(page.UserDetailList)
		policies += len(page.Policies)
	}
	if pages != 3 || users != 2 || policies != 1 {
		t.Errorf("paginated: pages %d users %d policies %d", pages, users, policies)
	}

	// AWS-managed policies appear once the account uses them.
	_, err = c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("bob"), PolicyArn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")})
	must(t, err)
	f, err = c.GetAccountAuthorizationDetails(ctx, &iam.GetAccountAuthorizationDetailsInput{Filter: []types.EntityType{types.EntityTypeAWSManagedPolicy, types.EntityTypeUser}})
	must(t, err)
	if len(f.Policies) != 1 || aws.ToString(f.Policies[0].PolicyName) != "ReadOnlyAccess" || aws.ToInt32(f.Policies[0].AttachmentCount) != 1 {
		t.Errorf("AWSManagedPolicy = %+v", f.Policies)
	}
	for _, u := range f.UserDetailList {
		if aws.ToString(u.UserName) == "bob" && (len(u.AttachedManagedPolicies) != 1 || aws.ToString(u.AttachedManagedPolicies[0].PolicyName) != "ReadOnlyAccess") {
			t.Errorf("bob's AttachedManagedPolicies = %+v", u.AttachedManagedPolicies)
		}
	}

	cliOut, err := e.cli(e.root, "iam", "get-account-authorization-details", "--filter", "User", "LocalManagedPolicy")
	must(t, err)
	var cli struct {
		UserDetailList []struct{ UserName string }
		Policies       []struct {
			PolicyName        string
			PolicyVersionList []struct {
				VersionId string
				Document  struct{ Version string }
			}
		}
	}
	must(t, json.Unmarshal([]byte(cliOut), &cli))
	if len(cli.UserDetailList) != 2 || len(cli.Policies) != 1 || len(cli.Policies[0].PolicyVersionList) != 2 ||
		cli.Policies[0].PolicyVersionList[0].Document.Version != "2012-10-17" {
		t.Errorf("get-account-authorization-details = %s", strings.TrimSpace(cliOut))
	}
}
