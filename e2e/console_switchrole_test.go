package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/chromedp/chromedp"

	"github.com/iamd/iamd/internal/totp"
)

// TestConsoleSwitchRole drives Switch role: an IAM user whose policies
// allow sts:AssumeRole works in the console as the role, in the same
// account or another whose role trusts the user's account, with a banner
// naming the role and account and "Back to USER"; the role's trust
// policy's MFA condition holds only when the user signed in with MFA, and
// the refusal says so.
func TestConsoleSwitchRole(t *testing.T) {
	b := newBrowser(t)
	e := start(t)
	ctx := context.Background()
	setRootPassword(t, e)
	c := e.rootIAM()
	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("sam")})
	must(t, err)
	_, err = c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("sam"), Password: aws.String(aliceNewPassword)})
	must(t, err)
	_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("sam"), PolicyName: aws.String("SwitchToOps"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::*:role/ops*"}]}`)})
	must(t, err)
	trust := func(cond string) string {
		return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"sts:AssumeRole"%s}]}`, e.account, cond)
	}
	for name, doc := range map[string]string{
		"ops":     trust(""),
		"ops-mfa": trust(`,"Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}`),
		"admin":   trust(""),
	} {
		_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(doc)})
		must(t, err)
		_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String("ReadUsers"), PolicyDocument: aws.String(allowDoc("iam:ListUsers", "iam:GetUser"))})
		must(t, err)
	}

	// Account B's roles trust account A, one only with MFA.
	const accountB = "210987654321"
	cb := e.iam(secondAccount(t, e, accountB))
	for name, doc := range map[string]string{
		"ops-b":     trust(""),
		"ops-b-mfa": trust(`,"Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}`),
	} {
		_, err = cb.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(doc)})
		must(t, err)
		_, err = cb.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String("ReadUsers"), PolicyDocument: aws.String(allowDoc("iam:ListUsers", "iam:GetUser"))})
		must(t, err)
	}
	_, err = cb.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bea-of-b")})
	must(t, err)

	switchIn := func(account, role string) {
		t.Helper()
		b.do("switch to "+role,
			chromedp.Navigate(e.url+"/console/"), chromedp.WaitVisible(chromedp.CSS("#switch-role-link")),
			chromedp.Click(chromedp.CSS("#switch-role-link")), chromedp.WaitVisible(chromedp.CSS("#switch-form")),
			b.fill("#switch-account", account), b.fill("#switch-role-name", role),
			chromedp.Click(chromedp.CSS("#switch-submit")),
		)
	}
	switchTo := func(role string) { t.Helper(); switchIn(e.account, role) }

	// sam alone may not list users.
	b.signInUser(e.url, e.account, "sam", aliceNewPassword)
	b.do("sam signed in", chromedp.WaitVisible(chromedp.CSS("#signout")))
	b.do("sam denied", chromedp.Navigate(e.url+"/console/users"), chromedp.WaitVisible(chromedp.CSS("#denied")))

	// As ops, sam may; the banner says so, and "Back to sam" ends it.
	switchTo("ops")
	b.do("switched", chromedp.WaitVisible(chromedp.CSS("#role-banner")))
	b.shot("switched-ops")
	if got := b.text("#role-banner"); !strings.Contains(got, "ops") || !strings.Contains(got, e.account) || !strings.Contains(got, "assumed-role/ops/sam") || !strings.Contains(got, "Back to sam") {
		t.Errorf("banner = %q", got)
	}
	b.do("users as ops", chromedp.Navigate(e.url+"/console/users"), chromedp.WaitVisible(chromedp.CSS("#users")))
	if b.count("#denied") != 0 {
		t.Errorf("ops may not list users")
	}
	b.shot("users-as-ops")
	b.do("back", chromedp.Click(chromedp.CSS("#switch-back")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	if b.count("#role-banner") != 0 {
		t.Errorf("the banner stays after going back")
	}
	b.do("sam denied again", chromedp.Navigate(e.url+"/console/users"), chromedp.WaitVisible(chromedp.CSS("#denied")))

	// sam's policies do not allow admin; ops-mfa's trust wants MFA, which
	// sam did not sign in with.
	for _, role := range []string{"admin", "ops-mfa"} {
		switchTo(role)
		b.do(role+" refused", chromedp.WaitVisible(chromedp.CSS("#denied")))
		if b.count("#role-banner") != 0 {
			t.Errorf("switched to %s", role)
		}
	}
	b.shot("switch-refused")

	// In account B, as ops-b: the banner names the role and account B,
	// the users are B's, and "Back to sam" returns to account A.
	switchIn(accountB, "ops-b")
	b.do("switched to account B", chromedp.WaitVisible(chromedp.CSS("#role-banner")))
	b.shot("switched-ops-b")
	if got := b.text("#role-banner"); !strings.Contains(got, "ops-b") || !strings.Contains(got, "account "+accountB) ||
		!strings.Contains(got, accountB+":assumed-role/ops-b/sam") || !strings.Contains(got, "Back to sam") {
		t.Errorf("banner in account B = %q", got)
	}
	b.do("account B's users", chromedp.Navigate(e.url+"/console/users"), chromedp.WaitVisible(chromedp.CSS("#users")))
	if got := b.text("#users"); !strings.Contains(got, "bea-of-b") || strings.Contains(got, "sam") {
		t.Errorf("as ops-b, the users are not account B's: %q", got)
	}
	b.shot("users-as-ops-b")
	b.do("back from account B", b.clearFlash(), chromedp.Click(chromedp.CSS("#switch-back")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	if b.count("#role-banner") != 0 || !strings.Contains(b.text("#who"), e.account) {
		t.Errorf("after going back from account B: banner %d, who %q", b.count("#role-banner"), b.text("#who"))
	}

	// ops-b-mfa's trust wants MFA: refused, saying so.
	switchIn(accountB, "ops-b-mfa")
	b.do("ops-b-mfa refused", chromedp.WaitVisible(chromedp.CSS("#denied")))
	if b.count("#role-banner") != 0 {
		t.Errorf("switched to ops-b-mfa without MFA")
	}
	if got := b.text("#denied"); !strings.Contains(got, "not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::"+accountB+":role/ops-b-mfa") ||
		!strings.Contains(got, "You signed in without MFA") {
		t.Errorf("refusal without MFA = %q", got)
	}
	b.shot("switch-refused-mfa-account-b")
	b.signOut()

	// With an MFA sign-in, ops-mfa's trust holds.
	dev, err := c.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("sam")})
	must(t, err)
	seed, err := totp.DecodeSeed(string(dev.VirtualMFADevice.Base32StringSeed))
	must(t, err)
	now := time.Now()
	_, err = c.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String("sam"), SerialNumber: dev.VirtualMFADevice.SerialNumber,
		AuthenticationCode1: aws.String(totp.TOTP(seed, now.Add(-totp.Period))), AuthenticationCode2: aws.String(totp.TOTP(seed, now))})
	must(t, err)
	b.signInUser(e.url, e.account, "sam", aliceNewPassword)
	b.do("mfa", chromedp.WaitVisible(chromedp.CSS("#code")), b.fill("#code", totp.TOTP(seed, now.Add(totp.Period))),
		chromedp.Click(chromedp.CSS("#mfa-submit")), chromedp.WaitVisible(chromedp.CSS("#signout")))
	switchTo("ops-mfa")
	b.do("switched with mfa", chromedp.WaitVisible(chromedp.CSS("#role-banner")))
	if got := b.text("#role-banner"); !strings.Contains(got, "ops-mfa") {
		t.Errorf("banner = %q", got)
	}
	b.shot("switched-ops-mfa")
	b.do("back from ops-mfa", b.clearFlash(), chromedp.Click(chromedp.CSS("#switch-back")), chromedp.WaitVisible(chromedp.CSS("#flash")))

	// And so does ops-b-mfa's, in account B.
	switchIn(accountB, "ops-b-mfa")
	b.do("switched to account B with mfa", chromedp.WaitVisible(chromedp.CSS("#role-banner")))
	if got := b.text("#role-banner"); !strings.Contains(got, "ops-b-mfa") || !strings.Contains(got, "account "+accountB) {
		t.Errorf("banner = %q", got)
	}
	b.shot("switched-ops-b-mfa")
	b.do("back to sam", b.clearFlash(), chromedp.Click(chromedp.CSS("#switch-back")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	if b.count("#role-banner") != 0 {
		t.Errorf("the banner stays after going back")
	}
}
