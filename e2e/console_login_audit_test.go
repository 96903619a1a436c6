package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// TestConsoleLoginAudited: a console sign-in with a password is in the
// audit trail as CloudTrail records it (ConsoleLogin from
// signin.amazonaws.com): a wrong password as a Failure with "Failed
// authentication", the right one as a Success without MFA, both with the
// user's name; an unknown user's attempt under the hidden name.
func TestConsoleLoginAudited(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	_, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("carol")})
	must(t, err)
	const pw = "Sup3r-Secret-Passw0rd!"
	_, err = root.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("carol"), Password: aws.String(pw)})
	must(t, err)

	b := newBrowserless(t)
	if res := b.signIn(e.url, e.account, "carol", "wrong-"+pw); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}
	if res := b.signIn(e.url, e.account, "nobody", pw); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unknown user: %d", res.StatusCode)
	}
	if res := b.signIn(e.url, e.account, "carol", pw); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("right password: %d", res.StatusCode)
	}

	type login struct {
		EventSource  string `json:"eventSource"`
		ErrorMessage string `json:"errorMessage"`
		UserIdentity struct {
			Type, UserName, Arn string
		} `json:"userIdentity"`
		ResponseElements    map[string]string `json:"responseElements"`
		AdditionalEventData map[string]string `json:"additionalEventData"`
	}
	want := map[string]bool{
		"carol Failure Failed authentication":                          false,
		"HIDDEN_DUE_TO_SECURITY_REASONS Failure Failed authentication": false,
		"carol Success ": false,
	}
	eventually(t, 10*time.Second, func() error {
		for _, raw := range lookupConsoleLogins(t, e) {
			var l login
			must(t, json.Unmarshal([]byte(raw), &l))
			if l.EventSource != "signin.amazonaws.com" || l.UserIdentity.Type != "IAMUser" || l.AdditionalEventData["MFAUsed"] != "No" {
				return fmt.Errorf("ConsoleLogin record %s", raw)
			}
			want[l.UserIdentity.UserName+" "+l.ResponseElements["ConsoleLogin"]+" "+l.ErrorMessage] = true
		}
		for k, seen := range want {
			if !seen {
				return fmt.Errorf("no ConsoleLogin %q", k)
			}
		}
		return nil
	})
}

// TestConsoleSignInNeedsItsEvent: a sign-in whose ConsoleLogin event the
// audit trail cannot take is refused (503), and the browser is left with
// no session.
func TestConsoleSignInNeedsItsEvent(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	const pw = "Sup3r-Secret-Passw0rd!"
	_, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("carol")})
	must(t, err)
	_, err = root.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("carol"), Password: aws.String(pw)})
	must(t, err)
	must(t, e.srv.Audit().Close()) // the trail takes nothing from now on

	b := newBrowserless(t)
	if res := b.signIn(e.url, e.account, "carol", pw); res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("sign-in with no trail: %d, want 503", res.StatusCode)
	}
	if res, _ := b.get(e.url + "/console/"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/console/signin") {
		t.Errorf("the console after a refused sign-in: %d to %q, want the sign-in page", res.StatusCode, res.Header.Get("Location"))
	}
}
