package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/chromedp/chromedp"
)

// TestConsoleAccessAdvisor drives the Access Advisor tab of a user, a
// group, a role and a managed policy, its "not accessed in N days"
// filter, and the least-privilege policy generated from activity, opened
// in the editor for review and saved from there.
func TestConsoleAccessAdvisor(t *testing.T) {
	b := newBrowser(t)
	e := start(t)
	ctx := context.Background()
	setRootPassword(t, e)
	c := e.rootIAM()
	pol, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("DanaWork"), PolicyDocument: aws.String(allowDoc("iam:GetUser", "iam:ListUsers", "s3:GetObject"))})
	must(t, err)
	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("dana")})
	must(t, err)
	_, err = c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("readers")})
	must(t, err)
	_, err = c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("readers"), UserName: aws.String("dana")})
	must(t, err)
	_, err = c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("readers"), PolicyArn: pol.Policy.Arn})
	must(t, err)
	trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"sts:AssumeRole"}]}`, e.account)
	_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("idle"), AssumeRolePolicyDocument: aws.String(trust)})
	must(t, err)
	_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("idle"), PolicyName: aws.String("p"), PolicyDocument: aws.String(allowDoc("ec2:DescribeInstances"))})
	must(t, err)

	dana := e.iam(userKey(t, e, "dana"))
	eventually(t, 10*time.Second, func() error {
		_, err := dana.GetUser(ctx, &iam.GetUserInput{})
		return err
	})
	_, err = dana.ListUsers(ctx, &iam.ListUsersInput{})
	must(t, err)
	userARN := "arn:aws:iam::" + e.account + ":user/dana"
	eventually(t, 10*time.Second, func() error {
		if s := report(t, c, userARN, types.AccessAdvisorUsageGranularityTypeServiceLevel)["iam"]; s.LastAuthenticated == nil {
			return fmt.Errorf("dana's use of iam is not recorded yet")
		}
		return nil
	})

	b.signInRoot(e.url)

	// The user's tab: iam used (by dana, with its actions), s3 not.
	iamRow, s3Row := `#advisor tr[data-service="iam"]`, `#advisor tr[data-service="s3"]`
	b.do("user tab",
		chromedp.Navigate(e.url+"/console/users/dana"),
		chromedp.WaitVisible(chromedp.CSS("#advisor-link")),
		chromedp.Click(chromedp.CSS("#advisor-link")),
		chromedp.WaitVisible(chromedp.CSS(iamRow)),
	)
	b.shot("advisor-user")
	if got := b.text(iamRow); strings.Contains(got, "Not accessed") || !strings.Contains(got, "dana") {
		t.Errorf("iam row = %q", got)
	}
	if b.count(iamRow+` a[href="/console/users/dana"]`) == 0 {
		t.Errorf("the iam row does not link to dana")
	}
	if got := b.text(s3Row); !strings.Contains(got, "Not accessed") {
		t.Errorf("s3 row = %q", got)
	}
	b.do("tracked actions", chromedp.Click(chromedp.CSS(iamRow+" details summary")), chromedp.WaitVisible(chromedp.CSS(iamRow+` li[data-action="GetUser"]`)))
	if got := b.text(iamRow + ` li[data-action="GetUser"]`); strings.Contains(got, "not accessed") {
		t.Errorf("GetUser = %q", got)
	}
	if got := b.text(iamRow + ` li[data-action="ListUsers"]`); strings.Contains(got, "not accessed") {
		t.Errorf("ListUsers = %q", got)
	}

	// Not accessed in 1 day: iam is hidden, s3 stays.
	b.do("filter", b.fill("#advisor-days", "1"), chromedp.Click(chromedp.CSS("#advisor-apply")), chromedp.WaitVisible(chromedp.CSS("#advisor-hidden")))
	if b.count(iamRow) != 0 || b.count(s3Row) != 1 {
		t.Errorf("filtered: iam rows %d, s3 rows %d", b.count(iamRow), b.count(s3Row))
	}
	b.shot("advisor-filtered")

	// The group's and the policy's tabs see dana's use; the idle role's
	// service was never used.
	b.do("group tab", chromedp.Navigate(e.url+"/console/groups/readers/access-advisor"), chromedp.WaitVisible(chromedp.CSS(iamRow)))
	if got := b.text(iamRow); strings.Contains(got, "Not accessed") {
		t.Errorf("group iam row = %q", got)
	}
	if b.count("#generate-policy") != 0 {
		t.Errorf("a group offers to generate a policy")
	}
	b.do("policy tab",
		chromedp.Navigate(e.url+"/console/policy?arn="+url.QueryEscape(aws.ToString(pol.Policy.Arn))),
		chromedp.WaitVisible(chromedp.CSS("#advisor-link")),
		chromedp.Click(chromedp.CSS("#advisor-link")),
		chromedp.WaitVisible(chromedp.CSS(iamRow)),
	)
	if got := b.text(iamRow); strings.Contains(got, "Not accessed") {
		t.Errorf("policy iam row = %q", got)
	}
	b.shot("advisor-policy")
	b.do("role tab", chromedp.Navigate(e.url+"/console/roles/idle/access-advisor"), chromedp.WaitVisible(chromedp.CSS(`#advisor tr[data-service="ec2"]`)))
	if got := b.text(`#advisor tr[data-service="ec2"]`); !strings.Contains(got, "Not accessed") {
		t.Errorf("role ec2 row = %q", got)
	}

	// Generate a least-privilege policy from dana's activity: the editor
	// opens with what dana used, and saves it as a new policy.
	b.do("generate",
		chromedp.Navigate(e.url+"/console/users/dana/access-advisor"),
		chromedp.WaitVisible(chromedp.CSS("#generate-policy")),
		chromedp.Click(chromedp.CSS("#generate-policy")),
		chromedp.WaitVisible(chromedp.CSS("#editor-document")),
	)
	doc, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#editor-document")))
	must(t, err)
	if !strings.Contains(doc, "iam:GetUser") || !strings.Contains(doc, "iam:ListUsers") || strings.Contains(doc, "s3:") {
		t.Errorf("generated policy:\n%s", doc)
	}
	waitText(t, b, "#editor-validation", "Valid policy")
	b.shot("advisor-generated")
	b.do("save generated", b.clearFlash(), chromedp.Click(chromedp.CSS("#editor-submit")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	if got := b.text("#flash"); !strings.Contains(got, "dana-least-privilege created") {
		t.Errorf("flash = %q", got)
	}

	// The idle role used nothing: there is no policy to generate.
	b.do("generate idle", chromedp.Navigate(e.url+"/console/roles/idle/generate-policy"), chromedp.WaitVisible(chromedp.CSS("#flash")))
	if got := b.text("#flash"); !strings.Contains(got, "no policy to generate") {
		t.Errorf("flash = %q", got)
	}
}
