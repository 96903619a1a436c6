package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/chromedp/chromedp"
)

// TestConsoleRole drives a role's page: the trust relationships editor
// (validated as you type), the permissions boundary, the maximum session
// duration, and the sessions recently issued (from the trail).
func TestConsoleRole(t *testing.T) {
	b := newBrowser(t)
	e := start(t)
	ctx := context.Background()
	setRootPassword(t, e)
	c := e.rootIAM()
	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("builder")})
	must(t, err)
	_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("builder"), PolicyName: aws.String("Assume"), PolicyDocument: aws.String(allowDoc("sts:AssumeRole"))})
	must(t, err)
	trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:user/builder"},"Action":"sts:AssumeRole"}]}`, e.account)
	role, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("deployer"), AssumeRolePolicyDocument: aws.String(trust)})
	must(t, err)
	builder := e.sts(userKey(t, e, "builder"))
	eventually(t, 10*time.Second, func() error {
		_, err := builder.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: role.Role.Arn, RoleSessionName: aws.String("build-1")})
		return err
	})

	b.signInRoot(e.url)
	b.do("role page", chromedp.Navigate(e.url+"/console/roles/deployer"), chromedp.WaitVisible(chromedp.CSS("#sessions")))
	b.shot("role")

	// The session issued to builder, linked to the user.
	if got := b.text("#sessions tbody"); !strings.Contains(got, "build-1") || !strings.Contains(got, "Issued") {
		t.Errorf("sessions = %q", got)
	}
	if b.count(`#sessions a[href="/console/users/builder"]`) == 0 {
		t.Errorf("the session does not link to builder")
	}

	// The trust editor checks as you type, then saves.
	trustDoc := `form[data-kind="trust"] textarea`
	b.do("trust invalid",
		b.fill(trustDoc, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}`),
		chromedp.SendKeys(chromedp.CSS(trustDoc), " "),
	)
	waitText(t, b, `form[data-kind="trust"] .validation`, "Principal")
	b.shot("role-trust-invalid")
	b.do("trust valid",
		b.fill(trustDoc, strings.Replace(trust, `"Action"`, `"Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}},"Action"`, 1)),
		chromedp.SendKeys(chromedp.CSS(trustDoc), " "),
	)
	waitText(t, b, `form[data-kind="trust"] .validation`, "Valid policy")
	b.do("trust save", b.clearFlash(), chromedp.Submit(chromedp.CSS(trustDoc)), chromedp.WaitVisible(chromedp.CSS("#flash")))
	if got := b.text("#flash"); !strings.Contains(got, "Trust policy updated") {
		t.Errorf("flash = %q", got)
	}

	// The permissions boundary, set and removed.
	b.do("boundary set",
		b.fill("#boundary-arn", "arn:aws:iam::aws:policy/ReadOnlyAccess"), b.clearFlash(),
		chromedp.Click(chromedp.CSS("#boundary-set")), chromedp.WaitVisible(chromedp.CSS("#boundary-policy")),
	)
	b.shot("role-boundary")
	got, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("deployer")})
	must(t, err)
	if got.Role.PermissionsBoundary == nil || aws.ToString(got.Role.PermissionsBoundary.PermissionsBoundaryArn) != "arn:aws:iam::aws:policy/ReadOnlyAccess" {
		t.Errorf("boundary = %+v", got.Role.PermissionsBoundary)
	}
	if !strings.Contains(aws.ToString(got.Role.AssumeRolePolicyDocument), "MultiFactorAuthPresent") {
		t.Errorf("trust policy = %s", aws.ToString(got.Role.AssumeRolePolicyDocument))
	}
	b.do("boundary remove", b.clearFlash(), chromedp.Evaluate[chromedp.Void](`document.querySelector("#boundary-remove").form.removeAttribute("data-confirm")`),
		chromedp.Click(chromedp.CSS("#boundary-remove")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	if n := b.count("#boundary-policy"); n != 0 {
		t.Errorf("the boundary is still shown")
	}

	// The maximum session duration.
	b.do("max session", b.fill("#max-hours", "4"), b.clearFlash(), chromedp.Click(chromedp.CSS("#max-session-save")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	got, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("deployer")})
	must(t, err)
	if aws.ToInt32(got.Role.MaxSessionDuration) != 4*3600 {
		t.Errorf("MaxSessionDuration = %d", aws.ToInt32(got.Role.MaxSessionDuration))
	}
	// Out of range: IAM's validation error, on the role's page.
	b.do("max session bad", chromedp.Evaluate[chromedp.Void](`document.querySelector("#max-hours").removeAttribute("max")`),
		b.fill("#max-hours", "13"), chromedp.Click(chromedp.CSS("#max-session-save")), chromedp.WaitVisible(chromedp.CSS("#error")))
	b.shot("role-max-session-refused")

	// A role created in the editor; a second of the same name is refused
	// with IAM's error, the editor keeping what was typed.
	for i, want := range []string{"#flash", "#error"} {
		b.do(fmt.Sprintf("create role %d", i),
			chromedp.Navigate(e.url+"/console/roles/new"), chromedp.WaitVisible(chromedp.CSS("#editor-name")),
			b.fill("#editor-name", "ci"), chromedp.Click(chromedp.CSS("#editor-submit")), chromedp.WaitVisible(chromedp.CSS(want)),
		)
	}
	if got := b.text("#error"); !strings.Contains(got, "EntityAlreadyExists") {
		t.Errorf("error = %q", got)
	}
	if v, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#editor-name"))); err != nil || v != "ci" {
		t.Errorf("the editor lost the name: %q %v", v, err)
	}
}
