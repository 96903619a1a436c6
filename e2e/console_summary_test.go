package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/chromedp/chromedp"

	"github.com/iamd/iamd/internal/sar"
)

// summaryPolicy reads IAM users on every resource, denies deleting them,
// and names a service the reference does not know.
const summaryPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["iam:ListUsers", "iam:GetUser"], "Resource": "*"},
    {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "arn:aws:iam::*:user/ops/*",
     "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}},
    {"Effect": "Allow", "Action": "nosuchservice:DoThing", "Resource": "*"},
    {"Effect": "Deny", "Action": "iam:DeleteUser", "Resource": "*"}
  ]
}`

func TestConsolePolicySummary(t *testing.T) {
	b := newBrowser(t)
	e := start(t)
	ctx := context.Background()
	cat, err := sar.Load()
	must(t, err)
	if !cat.Available() {
		t.Skip("this build carries no service authorization reference: the summary has no access levels to check")
	}
	svc, _ := cat.Service("iam")
	setRootPassword(t, e)
	c := e.rootIAM()
	out, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("ReadUsers"), PolicyDocument: aws.String(summaryPolicy)})
	must(t, err)
	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("carol")})
	must(t, err)
	_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("carol"), PolicyName: aws.String("InlineRead"), PolicyDocument: aws.String(summaryPolicy)})
	must(t, err)
	_, err = c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("ops")})
	must(t, err)
	_, err = c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("ops"), UserName: aws.String("carol")})
	must(t, err)
	_, err = c.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: aws.String("ops"), PolicyName: aws.String("WhoAmI"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}}`)})
	must(t, err)

	b.signInRoot(e.url)

	// The policy summary: a row per service, with AWS's access level
	// wording and the count of actions granted.
	iamRow := `#summary-Allow tr[data-service="iam"]`
	b.do("policy summary",
		chromedp.Navigate(e.url+"/console/policy?arn="+url.QueryEscape(*out.Policy.Arn)),
		chromedp.WaitVisible(chromedp.CSS(iamRow)),
	)
	b.shot("policy-summary")
	if got := b.text(iamRow + " th"); !strings.Contains(got, "Identity and Access Management") && !strings.Contains(got, "IAM") {
		t.Errorf("iam row service = %q", got)
	}
	checkSummaryDrillDown(t, b, "", len(svc.Actions))

	// The JSON is one click away, and the summary one click back.
	b.do("json view",
		chromedp.Click(chromedp.CSS("#tab-json")),
		chromedp.WaitVisible(chromedp.CSS("#policy-document")),
	)
	b.shot("policy-json")
	doc, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#policy-document")))
	must(t, err)
	if !strings.Contains(doc, "nosuchservice:DoThing") {
		t.Errorf("JSON view = %q", doc)
	}
	b.do("back to summary", chromedp.Click(chromedp.CSS("#tab-summary")), chromedp.WaitVisible(chromedp.CSS(iamRow)))

	// An inline policy has the same summary, linked from its user.
	b.do("inline policy",
		chromedp.Navigate(e.url+"/console/users/carol"),
		chromedp.Click(chromedp.Search(`//a[text()="InlineRead"]`)),
		chromedp.WaitVisible(chromedp.CSS(iamRow)),
	)
	b.shot("inline-summary")
	if got := b.text(iamRow + " .access"); !strings.HasPrefix(got, "Limited:") {
		t.Errorf("inline iam row access level = %q", got)
	}
	b.do("inline json", chromedp.Click(chromedp.CSS("#tab-json")), chromedp.WaitVisible(chromedp.CSS("#policy-json")))
	if got := b.text("#policy-json"); !strings.Contains(got, "iam:DeleteUser") {
		t.Errorf("inline JSON = %q", got)
	}
	b.shot("inline-json")

	// A user's permissions: its own policies and its groups', together.
	b.do("user permissions",
		chromedp.Navigate(e.url+"/console/users/carol"),
		chromedp.Click(chromedp.CSS("#effective-link")),
		chromedp.WaitVisible(chromedp.CSS(`#summary-Allow tr[data-service="sts"]`)),
	)
	b.shot("user-permissions")
	if got := b.text(iamRow + " .count"); got != fmt.Sprintf("2 of %d", len(svc.Actions)) {
		t.Errorf("user's iam row count = %q", got)
	}
	b.do("user permissions json", chromedp.Click(chromedp.CSS("#tab-json")), chromedp.WaitVisible(chromedp.CSS("#effective-json")))
	if got := b.text("#effective-json"); !strings.Contains(got, "InlineRead") || !strings.Contains(got, "WhoAmI (group ops, inline)") {
		t.Errorf("user's policies = %q", got)
	}
	b.shot("user-permissions-json")

	// A group's, from its page; an identity without policies has none.
	b.do("group permissions",
		chromedp.Navigate(e.url+"/console/groups/ops"),
		chromedp.Click(chromedp.CSS("#effective-link")),
		chromedp.WaitVisible(chromedp.CSS(`#summary-Allow tr[data-service="sts"]`)),
	)
	if got := b.text(`#summary-Allow`); strings.Contains(got, "Identity and Access Management") {
		t.Errorf("group ops summary = %q, want only its own policy's services", got)
	}
	_, err = c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("empty")})
	must(t, err)
	b.do("empty group permissions", chromedp.Navigate(e.url+"/console/groups/empty/permissions"), chromedp.WaitVisible(chromedp.CSS("#summary-Allow")))
	if got := b.text("#summary-Allow tbody"); got != "None" {
		t.Errorf("empty group summary = %q, want None", got)
	}

	// A role's permissions, from its page: its managed and inline
	// policies summarized together, down to a service and an action.
	_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("auditor"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + e.account + `:root"},"Action":"sts:AssumeRole"}}`)})
	must(t, err)
	_, err = c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("auditor"), PolicyArn: out.Policy.Arn})
	must(t, err)
	_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("auditor"), PolicyName: aws.String("WhoAmI"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}}`)})
	must(t, err)
	b.do("role permissions",
		chromedp.Navigate(e.url+"/console/roles/auditor"),
		chromedp.Click(chromedp.CSS("#effective-link")),
		chromedp.WaitVisible(chromedp.CSS(`#summary-Allow tr[data-service="sts"]`)),
	)
	b.shot("role-permissions")
	if got := b.text("h1"); got != "Permissions of role auditor" {
		t.Errorf("role permissions heading = %q", got)
	}
	checkSummaryDrillDown(t, b, "role", len(svc.Actions))
	if loc, err := chromedp.Run(b.ctx, chromedp.Location()); err != nil || !strings.Contains(loc, "/console/roles/auditor/permissions?") {
		t.Errorf("role's action summary at %q (%v), want it under /console/roles/auditor/permissions", loc, err)
	}
	b.do("role permissions json", chromedp.Click(chromedp.CSS("#tab-json")), chromedp.WaitVisible(chromedp.CSS("#effective-json")))
	if got := b.text("#effective-json"); !strings.Contains(got, "ReadUsers (managed)") || !strings.Contains(got, "WhoAmI (inline)") {
		t.Errorf("role's policies = %q", got)
	}
	b.shot("role-permissions-json")
}

// checkSummaryDrillDown checks the summary of summaryPolicy's grants on the
// page (a policy's, or an identity's permissions: of, e.g. "role", names
// it in messages and screenshots): IAM's row, with AWS's access level and
// "2 of N" count (N: IAM's actions), the unrecognised service, the deny;
// then, through the row's link, IAM's service summary, and through that,
// iam:GetUser's action summary, with its resources and conditions.
func checkSummaryDrillDown(t *testing.T, b *browser, of string, iamActions int) {
	t.Helper()
	prefix, shot := "", ""
	if of != "" {
		prefix, shot = of+"'s ", of+"-"
	}
	iamRow := `#summary-Allow tr[data-service="iam"]`
	count := fmt.Sprintf("2 of %d", iamActions)
	if got := b.text(iamRow + " .access"); !strings.HasPrefix(got, "Limited:") {
		t.Errorf("%siam row access level = %q, want Limited: ...", prefix, got)
	}
	if got := b.text(iamRow + " .count"); got != count {
		t.Errorf("%siam row count = %q, want %q", prefix, got, count)
	}
	if got := b.text(`#summary-Allow tr[data-service="nosuchservice"] th`); !strings.Contains(got, "unrecognized") {
		t.Errorf("%sunknown service row = %q, want it marked unrecognized", prefix, got)
	}
	if got := b.text(`#summary-Deny tr[data-service="iam"] .count`); got != fmt.Sprintf("1 of %d", iamActions) {
		t.Errorf("%sdeny row count = %q", prefix, got)
	}

	// The service summary: the actions by access level, reached with the
	// keyboard-focusable link of the row.
	b.do(prefix+"service summary",
		chromedp.Click(chromedp.CSS(iamRow+" th a")),
		chromedp.WaitVisible(chromedp.CSS("#service-summary")),
	)
	b.shot(shot + "service-summary")
	if got := b.text("#service-count"); got != count {
		t.Errorf("%sservice summary count = %q, want %q", prefix, got, count)
	}
	if got := b.text("#service-summary"); !strings.Contains(got, "iam:GetUser") || !strings.Contains(got, "iam:ListUsers") || !strings.Contains(got, "Multiple") {
		t.Errorf("%sservice summary = %q", prefix, got)
	}

	// The action summary: the resources and conditions of one action.
	b.do(prefix+"action summary",
		chromedp.Click(chromedp.Search(`//table[@id="service-summary"]//a[text()="iam:GetUser"]`)),
		chromedp.WaitVisible(chromedp.CSS("#action-summary")),
	)
	b.shot(shot + "action-summary")
	if got := b.text("#action-summary"); !strings.Contains(got, "All resources") || !strings.Contains(got, "arn:aws:iam::*:user/ops/*") {
		t.Errorf("%saction summary resources = %q", prefix, got)
	}
	if got := b.text("#action-conditions"); !strings.Contains(got, "aws:MultiFactorAuthPresent") {
		t.Errorf("%saction summary conditions = %q", prefix, got)
	}
}
