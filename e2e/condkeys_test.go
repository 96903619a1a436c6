package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// regionClients returns IAM and STS clients that sign for region.
func (e *env) regionClients(c aws.Credentials, region string) (*iam.Client, *sts.Client) {
	cfg := e.config(c)
	cfg.Region = region
	return iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = aws.String(e.url) }),
		sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(e.url) })
}

// TestRequestedRegion: aws:RequestedRegion is us-east-1 on IAM (a global
// service), whatever region the client signs for, and the signed region on
// STS, so that the usual region guardrail does not block IAM.
func TestRequestedRegion(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	creds := userWithKey(t, root, "ruth", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}},
		{"Effect":"Allow","Action":"sts:GetAccessKeyInfo","Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":"eu-west-1"}}},
		{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*","Condition":{"Bool":{"aws:PrincipalIsAWSService":"false","aws:ViaAWSService":"false"}}},
		{"Effect":"Allow","Action":"iam:ListGroups","Resource":"*","Condition":{"StringLike":{"aws:UserAgent":"*aws-sdk-go-v2*"}}},
		{"Effect":"Allow","Action":"iam:GetUser","Resource":"*","Condition":{"StringEquals":{"aws:ResourceAccount":"${aws:PrincipalAccount}"}}},
		{"Effect":"Deny","NotAction":["iam:*","sts:*"],"Resource":"*","Condition":{"StringNotEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}}}]}`)
	for _, region := range []string{"us-east-1", "eu-west-1", "ap-southeast-2"} {
		iamc, stsc := e.regionClients(creds, region)
		if _, err := iamc.ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
			t.Errorf("ListUsers signed for %s: %v", region, err)
		}
		if _, err := iamc.ListRoles(ctx, &iam.ListRolesInput{}); err != nil {
			t.Errorf("ListRoles signed for %s: %v", region, err)
		}
		if _, err := iamc.ListGroups(ctx, &iam.ListGroupsInput{}); err != nil {
			t.Errorf("ListGroups signed for %s: %v", region, err)
		}
		if _, err := iamc.GetUser(ctx, &iam.GetUserInput{}); err != nil {
			t.Errorf("GetUser (aws:ResourceAccount) signed for %s: %v", region, err)
		}
		_, err := stsc.GetAccessKeyInfo(ctx, &sts.GetAccessKeyInfoInput{AccessKeyId: aws.String(creds.AccessKeyID)})
		if region == "eu-west-1" {
			must(t, err)
		} else {
			wantCode(t, err, "AccessDenied")
		}
	}
	// The AWS CLI, configured for another region, is allowed IAM too.
	if _, err := e.cli(creds, "--region", "eu-central-1", "iam", "list-users"); err != nil {
		t.Errorf("aws --region eu-central-1 iam list-users: %v", err)
	}
}

// TestGetCallerIdentityNeedsNoPermission: no policy, and not even an
// explicit deny of everything, stops sts:GetCallerIdentity.
func TestGetCallerIdentityNeedsNoPermission(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	denied := userWithKey(t, root, "denied", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`)
	bare := userWithKey(t, root, "bare", "")
	for name, c := range map[string]aws.Credentials{"deny all": denied, "no policy": bare} {
		who, err := e.sts(c).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Errorf("%s: GetCallerIdentity: %v", name, err)
			continue
		}
		if !strings.HasSuffix(aws.ToString(who.Arn), ":user/"+map[string]string{"deny all": "denied", "no policy": "bare"}[name]) {
			t.Errorf("%s: Arn = %s", name, aws.ToString(who.Arn))
		}
	}
	if out, err := e.cli(denied, "sts", "get-caller-identity"); err != nil || !strings.Contains(out, "user/denied") {
		t.Errorf("aws sts get-caller-identity with Deny *: %q, %v", out, err)
	}
	_, err := e.iam(denied).GetUser(ctx, &iam.GetUserInput{})
	wantCode(t, err, "AccessDenied")
}

// TestPasswordPolicyReadableByUsers: when the password policy lets users
// change their own password, every IAM user may read it
// (iam:GetAccountPasswordPolicy), unless an explicit deny says otherwise.
func TestPasswordPolicyReadableByUsers(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	bare := userWithKey(t, root, "bare", "")
	denied := userWithKey(t, root, "denied", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:GetAccountPasswordPolicy","Resource":"*"}]}`)

	_, err := root.UpdateAccountPasswordPolicy(ctx, &iam.UpdateAccountPasswordPolicyInput{MinimumPasswordLength: aws.Int32(12), AllowUsersToChangePassword: false})
	must(t, err)
	_, err = e.iam(bare).GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{})
	wantCode(t, err, "AccessDenied")

	_, err = root.UpdateAccountPasswordPolicy(ctx, &iam.UpdateAccountPasswordPolicyInput{MinimumPasswordLength: aws.Int32(12), AllowUsersToChangePassword: true})
	must(t, err)
	out, err := e.iam(bare).GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{})
	must(t, err)
	if got := aws.ToInt32(out.PasswordPolicy.MinimumPasswordLength); got != 12 {
		t.Errorf("MinimumPasswordLength = %d, want 12", got)
	}
	_, err = e.iam(denied).GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{})
	wantCode(t, err, "AccessDenied")
	// Other account settings stay out of reach.
	_, err = e.iam(bare).GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
	wantCode(t, err, "AccessDenied")
}
