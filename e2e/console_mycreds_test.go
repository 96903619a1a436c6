package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/chromedp/chromedp"
)

// selfService lets users manage their own password and access keys, as in
// AWS's documented example policy.
const selfService = `{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":["iam:ChangePassword","iam:GetAccountPasswordPolicy"],"Resource":"*"},
  {"Effect":"Allow","Action":["iam:CreateAccessKey","iam:ListAccessKeys","iam:UpdateAccessKey","iam:DeleteAccessKey","iam:ListMFADevices"],
   "Resource":"arn:aws:iam::*:user/${aws:username}"}]}`

// TestConsoleMyCredentials drives "My security credentials" for an IAM
// user: each action is decided by the user's own policies, a new access
// key's secret is shown once, and the password policy applies to a new
// password.
func TestConsoleMyCredentials(t *testing.T) {
	b := newBrowser(t)
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("kim")})
	must(t, err)
	_, err = c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("kim"), Password: aws.String(aliceNewPassword)})
	must(t, err)
	_, err = c.UpdateAccountPasswordPolicy(ctx, &iam.UpdateAccountPasswordPolicyInput{MinimumPasswordLength: aws.Int32(20)})
	must(t, err)

	b.signInUser(e.url, e.account, "kim", aliceNewPassword)
	b.do("kim signed in", chromedp.WaitVisible(chromedp.CSS("#signout")))
	// Without a policy, kim may not create a key for itself.
	b.do("key denied",
		chromedp.Navigate(e.url+"/console/security"), chromedp.WaitVisible(chromedp.CSS("#create-own-key")),
		chromedp.Click(chromedp.CSS("#create-own-key")), chromedp.WaitVisible(chromedp.CSS("#denied")),
	)
	if got := b.text("#denied"); !strings.Contains(got, "iam:CreateAccessKey") {
		t.Errorf("denied = %q", got)
	}
	b.shot("own-key-denied")

	_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("kim"), PolicyName: aws.String("SelfService"), PolicyDocument: aws.String(selfService)})
	must(t, err)
	b.do("key created",
		chromedp.Navigate(e.url+"/console/security"), chromedp.WaitVisible(chromedp.CSS("#create-own-key")),
		chromedp.Click(chromedp.CSS("#create-own-key")), chromedp.WaitVisible(chromedp.CSS("#new-key-secret")),
	)
	b.shot("own-key-created")
	id, secret := b.text("#new-key-id"), b.text("#new-key-secret")
	who, err := e.sts(aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(t, err)
	if !strings.HasSuffix(aws.ToString(who.Arn), ":user/kim") {
		t.Errorf("the new key is %s's", aws.ToString(who.Arn))
	}
	// Shown once: the page again lists the key, not its secret.
	b.do("key listed", chromedp.Navigate(e.url+"/console/security"), chromedp.WaitVisible(chromedp.CSS("table.keys")))
	if b.count("#new-key-secret") != 0 || !strings.Contains(b.text("table.keys"), id) {
		t.Errorf("the secret is shown again, or the key is not listed")
	}

	// The password policy applies: 15 characters are too few.
	pwButton := `form[action$="security/password"] button`
	b.do("short password",
		b.fill("#old-password", aliceNewPassword), b.fill("#new-password", "Short-Pa55word!"), b.fill("#confirm-password", "Short-Pa55word!"),
		chromedp.Click(chromedp.CSS(pwButton)), chromedp.WaitVisible(chromedp.CSS("#error")),
	)
	if got := b.text("#error"); !strings.Contains(got, "PasswordPolicyViolation") {
		t.Errorf("error = %q", got)
	}
	b.shot("own-password-refused")
	long := "A-much-longer-Pa55word!"
	b.do("long password",
		b.fill("#old-password", aliceNewPassword), b.fill("#new-password", long), b.fill("#confirm-password", long),
		b.clearFlash(), chromedp.Click(chromedp.CSS(pwButton)), chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	if got := b.text("#flash"); !strings.Contains(got, "password has been changed") {
		t.Errorf("flash = %q", got)
	}
}
