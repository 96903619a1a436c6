package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/chromedp/chromedp"

	"github.com/iamd/iamd/internal/server"
)

// TestConsoleSAML drives the IdP-initiated SAML sign-in to the console
// (AWS's https://signin.aws.amazon.com/saml, here POST /saml): a test IdP
// serves an auto-submitting form with a signed response, as a real IdP
// does, and the browser lands in the console as the role, or on the role
// chooser when the response offers several. Tampered, wrong-audience,
// expired, replayed and role-less responses, and a role whose trust
// policy does not name the provider, are refused with a clear page; the
// sign-in is in the audit trail as ConsoleLogin; nothing logged would let
// a session be replayed.
func TestConsoleSAML(t *testing.T) {
	b := newBrowser(t)
	logs := &syncBuffer{}
	e := startWith(t, func(c *server.Config) { c.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	ctx := context.Background()
	root := e.rootIAM()
	idp := newSAMLIdP(t)
	prov, err := root.CreateSAMLProvider(ctx, &iam.CreateSAMLProviderInput{Name: aws.String("corp"), SAMLMetadataDocument: aws.String(idp.metadata())})
	must(t, err)
	provARN := aws.ToString(prov.SAMLProviderArn)
	roleARN := func(name string) string { return "arn:aws:iam::" + e.account + ":role/" + name }
	trust := func(principal string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + principal +
			`"},"Action":"sts:AssumeRoleWithSAML","Condition":{"StringEquals":{"SAML:aud":"https://signin.aws.amazon.com/saml"}}}]}`
	}
	for name, principal := range map[string]string{"ops": provARN, "dev": provARN, "untrusting": "arn:aws:iam::" + e.account + ":saml-provider/other"} {
		_, err = root.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust(principal))})
		must(t, err)
		_, err = root.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String("ReadUsers"), PolicyDocument: aws.String(allowDoc("iam:ListUsers", "iam:GetUser"))})
		must(t, err)
	}
	const roleAttr, nameAttr, durAttr = "https://aws.amazon.com/SAML/Attributes/Role", "https://aws.amazon.com/SAML/Attributes/RoleSessionName", "https://aws.amazon.com/SAML/Attributes/SessionDuration"
	attrs := func(roles ...string) map[string]string {
		return map[string]string{roleAttr: strings.Join(roles, "\n"), nameAttr: "alice@example.com", durAttr: "1800"}
	}
	valid := func() time.Time { return time.Now().Add(5 * time.Minute) }

	// The IdP: its page posts the current response to iamd's /saml.
	var (
		mu      sync.Mutex
		current string
	)
	idpSite := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		resp := current
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><head><title>Corporate IdP</title></head><body onload="document.forms[0].submit()">`+
			`<form method="post" action="%s/saml"><input type="hidden" name="SAMLResponse" value="%s"><input type="hidden" name="RelayState" value=""><noscript><button>Continue</button></noscript></form></body></html>`,
			e.url, html.EscapeString(resp))
	}))
	t.Cleanup(idpSite.Close)
	viaIdP := func(what, resp, waitFor string) {
		t.Helper()
		mu.Lock()
		current = resp
		mu.Unlock()
		b.do(what, chromedp.Navigate(idpSite.URL+"/sso"), chromedp.WaitVisible(chromedp.CSS(waitFor)))
	}
	var used []string // every response posted, none of which may be logged

	// One role: straight into the console as it.
	one := idp.response(t, "alice", valid(), attrs(roleARN("ops")+","+provARN))
	used = append(used, one)
	viaIdP("saml sign-in", one, "#role-banner")
	b.shot("saml-signed-in")
	if got := b.text("#role-banner"); !strings.Contains(got, "ops") || !strings.Contains(got, "alice@example.com") || !strings.Contains(got, "assumed-role/ops/alice@example.com") {
		t.Errorf("banner = %q", got)
	}
	if b.count("#switch-back") != 0 || b.count("#switch-role-link") != 0 || b.count("#federated-session") != 1 {
		t.Errorf("a SAML session offers to go back to a user or switch role, or does not say it is federated")
	}
	b.do("users as ops", chromedp.Navigate(e.url+"/console/users"), chromedp.WaitVisible(chromedp.CSS("#users")))
	b.shot("saml-users")
	b.signOut()
	b.do("signed out", chromedp.Navigate(e.url+"/console/users"), chromedp.WaitVisible(chromedp.CSS("#signin-form")))

	// The same assertion again is a replay.
	post := func(resp string) (int, string) {
		t.Helper()
		r, err := http.PostForm(e.url+"/saml", url.Values{"SAMLResponse": {resp}})
		must(t, err)
		defer r.Body.Close()
		body, err := io.ReadAll(r.Body)
		must(t, err)
		return r.StatusCode, string(body)
	}
	if status, body := post(one); status != http.StatusBadRequest || !strings.Contains(body, "already been used") {
		t.Errorf("replayed response: %d %.300s", status, body)
	}

	// Two roles (the second pair in provider,role order, as AWS accepts):
	// the chooser, then the console as the chosen role.
	two := idp.response(t, "alice", valid(), attrs(roleARN("ops")+","+provARN, provARN+","+roleARN("dev")))
	used = append(used, two)
	viaIdP("saml chooser", two, "#saml-choose")
	b.shot("saml-chooser")
	if n := b.count("#saml-choose input[type=radio]"); n != 2 {
		t.Errorf("the chooser offers %d roles, want 2", n)
	}
	b.do("choose dev", chromedp.Click(chromedp.CSS("#saml-role-1")), chromedp.Click(chromedp.CSS("#saml-signin")), chromedp.WaitVisible(chromedp.CSS("#role-banner")))
	if got := b.text("#role-banner"); !strings.Contains(got, "assumed-role/dev/alice@example.com") {
		t.Errorf("banner after choosing dev = %q", got)
	}
	b.shot("saml-chose-dev")
	b.signOut()

	// Refusals: a clear page, 400 or 403, no stack trace.
	tampered := func() string {
		raw, err := base64.StdEncoding.DecodeString(idp.response(t, "alice", valid(), attrs(roleARN("ops")+","+provARN)))
		must(t, err)
		return base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(raw), "alice@example.com", "mallory@example.com", 1)))
	}()
	elsewhere := newSAMLIdP(t)
	elsewhere.key, elsewhere.cert = idp.key, idp.cert
	elsewhere.audience = "https://sts.example.com/other"
	cases := []struct {
		name, resp string
		status     int
		want       string
	}{
		{"tampered", tampered, http.StatusBadRequest, "signature invalid"},
		{"wrong audience", elsewhere.response(t, "alice", valid(), attrs(roleARN("ops")+","+provARN)), http.StatusBadRequest, "Audience of the assertion is not valid"},
		{"expired", idp.response(t, "alice", time.Now().Add(-time.Minute), attrs(roleARN("ops")+","+provARN)), http.StatusBadRequest, "expired"},
		{"no role attribute", idp.response(t, "alice", valid(), map[string]string{nameAttr: "alice@example.com"}), http.StatusBadRequest, "no https://aws.amazon.com/SAML/Attributes/Role attribute"},
		{"role not trusting the provider", idp.response(t, "alice", valid(), attrs(roleARN("untrusting")+","+provARN)), http.StatusForbidden, "trust policy does not allow this SAML provider"},
		{"not base64", "%%%", http.StatusBadRequest, "Role attribute"},
		{"empty", "", http.StatusBadRequest, "no SAMLResponse"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			used = append(used, tc.resp)
			status, body := post(tc.resp)
			if status != tc.status || !strings.Contains(body, tc.want) || strings.Contains(body, "goroutine") {
				t.Errorf("POST /saml: %d, want %d with %q\n%.2000s", status, tc.status, tc.want, body)
			}
		})
	}
	viaIdP("tampered in the browser", tampered, "#error")
	b.shot("saml-refused")

	// A tampered chooser field is refused too.
	if r, err := http.PostForm(e.url+"/console/saml/choose", url.Values{"choice": {"AAAA"}, "role": {"0"}}); err != nil {
		t.Fatal(err)
	} else {
		_ = r.Body.Close()
		if r.StatusCode != http.StatusBadRequest {
			t.Errorf("forged choice: %d", r.StatusCode)
		}
	}

	// The audit trail: ConsoleLogin by the role session.
	eventually(t, 10*time.Second, func() error {
		ev := lookupConsoleLogins(t, e)
		for _, raw := range ev {
			var rec struct {
				EventSource  string `json:"eventSource"`
				UserIdentity struct {
					Type, Arn string
				} `json:"userIdentity"`
				ResponseElements map[string]string `json:"responseElements"`
			}
			if json.Unmarshal([]byte(raw), &rec) == nil && rec.EventSource == "signin.amazonaws.com" && rec.UserIdentity.Type == "AssumedRole" &&
				strings.HasSuffix(rec.UserIdentity.Arn, ":assumed-role/ops/alice@example.com") && rec.ResponseElements["ConsoleLogin"] == "Success" {
				return nil
			}
		}
		return fmt.Errorf("no ConsoleLogin of assumed-role/ops/alice@example.com in %d events", len(ev))
	})

	// Nothing logged would let a session be replayed.
	out := logs.String()
	for _, resp := range used {
		if len(resp) > 40 && strings.Contains(out, resp[:40]) {
			t.Errorf("a SAML response is in the log")
		}
	}
	if strings.Contains(out, "SAMLResponse") || strings.Contains(out, "SessionToken") {
		t.Errorf("the log names a SAML response or a session token")
	}
}

// lookupConsoleLogins returns the CloudTrailEvent records of the trail's
// ConsoleLogin events.
func lookupConsoleLogins(t *testing.T, e *env) []string {
	t.Helper()
	body := `{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"ConsoleLogin"}],"MaxResults":50}`
	req, _ := http.NewRequest(http.MethodPost, e.url+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents")
	must(t, v4.NewSigner().SignHTTP(context.Background(), e.root, req, sha256Hex(body), "cloudtrail", "us-east-1", time.Now()))
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	var out struct {
		Events []struct{ CloudTrailEvent string }
	}
	must(t, json.NewDecoder(resp.Body).Decode(&out))
	var recs []string
	for _, ev := range out.Events {
		recs = append(recs, ev.CloudTrailEvent)
	}
	return recs
}
