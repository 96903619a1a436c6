package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/chromedp/chromedp"
)

// TestConsoleEventHistory drives the event history: the trail in a
// table, filtered by a lookup attribute, paged, each record one click
// away, linked to the user, role and access key it concerns, and
// authorized as cloudtrail:LookupEvents.
func TestConsoleEventHistory(t *testing.T) {
	b := newBrowser(t)
	e := start(t)
	ctx := context.Background()
	setRootPassword(t, e)
	root := e.rootIAM()

	// evan has a key, may assume the auditor role, and may sign in to the
	// console but not look up events.
	_, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("evan")})
	must(t, err)
	key, err := root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("evan")})
	must(t, err)
	keyID := aws.ToString(key.AccessKey.AccessKeyId)
	_, err = root.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("evan"), Password: aws.String(aliceNewPassword)})
	must(t, err)
	_, err = root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("evan"), PolicyName: aws.String("Assume"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole","iam:GetUser"],"Resource":"*"}]}`)})
	must(t, err)
	_, err = root.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("auditor"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + e.account + `:root"},"Action":"sts:AssumeRole"}]}`)})
	must(t, err)
	_, err = root.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("auditor"), PolicyName: aws.String("List"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*"}]}`)})
	must(t, err)
	evan := aws.Credentials{AccessKeyID: keyID, SecretAccessKey: aws.ToString(key.AccessKey.SecretAccessKey)}
	// Enough of evan's calls for more than one page (50 events).
	for range 55 {
		_, err = e.iam(evan).GetUser(ctx, &iam.GetUserInput{})
		must(t, err)
	}
	var as *sts.AssumeRoleOutput
	eventually(t, 10*time.Second, func() error {
		as, err = e.sts(evan).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + e.account + ":role/auditor"), RoleSessionName: aws.String("audit")})
		return err
	})
	sess := aws.Credentials{AccessKeyID: aws.ToString(as.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(as.Credentials.SecretAccessKey), SessionToken: aws.ToString(as.Credentials.SessionToken)}
	_, err = e.iam(sess).ListRoles(ctx, &iam.ListRolesInput{})
	must(t, err)

	b.signInRoot(e.url)

	// The whole trail, newest first, paged by LookupEvents' NextToken.
	b.do("event history", chromedp.Navigate(e.url+"/console/events"), chromedp.WaitVisible(chromedp.CSS("#events")))
	b.shot("events")
	if n := b.count("#events tbody tr[data-event]"); n != 50 {
		t.Errorf("first page shows %d events, want 50", n)
	}
	b.do("next page", chromedp.Click(chromedp.CSS("#events-next")), chromedp.WaitVisible(chromedp.CSS("#events-first")))
	if n := b.count("#events tbody tr[data-event]"); n == 0 {
		t.Errorf("the second page shows no events")
	}
	b.shot("events-page-2")

	// By event name: the role session's ListRoles links to the role.
	b.do("by event name",
		chromedp.Navigate(e.url+"/console/events"), chromedp.WaitVisible(chromedp.CSS("#events-value")),
		chromedp.SetValue(chromedp.CSS("#events-attr"), "EventName"), b.fill("#events-value", "ListRoles"),
		chromedp.Click(chromedp.CSS("#events-search")),
		// The unfiltered page has a next page and links to the role too:
		// wait for it to be gone before reading the filtered one.
		chromedp.WaitNotPresent(chromedp.CSS("#events-next")),
		chromedp.WaitVisible(chromedp.CSS(`#events a[href="/console/roles/auditor"]`)),
	)
	if n := b.count("#events tbody tr[data-event]"); n != 1 {
		t.Errorf("EventName=ListRoles shows %d events, want 1", n)
	}
	// Its record is one click away.
	b.do("record", chromedp.Click(chromedp.CSS("#events details summary")), chromedp.WaitVisible(chromedp.CSS("#events .event-json")))
	if got := b.text("#events .event-json"); !strings.Contains(got, `"eventName": "ListRoles"`) || !strings.Contains(got, `"AssumedRole"`) {
		t.Errorf("record = %.500s", got)
	}
	b.shot("events-record")

	// By access key: evan's events link to evan and to the key's events.
	b.do("by access key",
		chromedp.Navigate(e.url+"/console/events?attr=AccessKeyId&value="+keyID),
		chromedp.WaitVisible(chromedp.CSS(`#events a[href="/console/users/evan"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#events a[href="/console/events?attr=AccessKeyId&value=`+keyID+`"]`)),
	)
	// By resource: CreateAccessKey names evan (a user) and the key.
	b.do("by resource",
		chromedp.Navigate(e.url+"/console/events?attr=ResourceName&value="+keyID),
		chromedp.WaitVisible(chromedp.CSS(`#events tr[data-event]`)),
	)
	if got := b.text("#events tbody"); !strings.Contains(got, "CreateAccessKey") {
		t.Errorf("ResourceName=%s: %s", keyID, got)
	}
	b.shot("events-by-resource")
	// A time range that ends before the trail began shows nothing.
	b.do("time range",
		chromedp.Navigate(e.url+"/console/events?start=2001-01-01T00:00&end=2001-01-02T00:00"),
		chromedp.WaitVisible(chromedp.CSS("#events")),
	)
	if n := b.count("#events tbody tr[data-event]"); n != 0 {
		t.Errorf("a range in 2001 shows %d events", n)
	}
	// A bad value is refused with the API's error.
	b.do("bad attribute", chromedp.Navigate(e.url+"/console/events?attr=ReadOnly&value=maybe"), chromedp.WaitVisible(chromedp.CSS("#error")))
	if got := b.text("#error"); !strings.Contains(got, "InvalidLookupAttributesException") {
		t.Errorf("error = %q", got)
	}
	b.signOut()

	// evan may not look up events: the page shows the API's AccessDenied.
	b.signInUser(e.url, e.account, "evan", aliceNewPassword)
	b.do("evan signed in", chromedp.WaitVisible(chromedp.CSS("#signout")))
	b.do("evan denied", chromedp.Navigate(e.url+"/console/events"), chromedp.WaitVisible(chromedp.CSS("#denied")))
	if got := b.text("#denied"); !strings.Contains(got, "cloudtrail:LookupEvents") {
		t.Errorf("denied = %q", got)
	}
	b.shot("events-denied")
}

// count is how many elements match sel.
func (b *browser) count(sel string) int {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(sel)+`).length`))
	if err != nil {
		b.t.Fatalf("count %s: %v", sel, err)
	}
	return n
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
