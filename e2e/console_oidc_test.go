package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/security"
	"github.com/chromedp/chromedp"

	"github.com/iamd/iamd/internal/server"
)

// TestConsoleOIDC signs in to the console through an OpenID Connect
// provider (authorization code with PKCE): the sign-in page links to it,
// the browser goes to the provider and back, and lands in the console as
// the account's role that trusts the provider, or on the role chooser when
// several do. A role that does not trust the provider, an ID token with
// another nonce and an answer with another state are refused with a
// clear page and recorded as failed ConsoleLogins, as are ID tokens for
// another audience, expired or signed by another key; none sets a session
// cookie. The successful ones are ConsoleLogins by the role session.
// Nothing logged (codes, ID tokens, session cookies, the client secret)
// would let a sign-in or a session be replayed.
func TestConsoleOIDC(t *testing.T) {
	logs := &syncBuffer{}
	o := startOIDCConsole(t, func(c *server.Config) { c.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	e, p, host, roleARN := o.env, o.p, o.host, o.roleARN
	const secret = oidcClientSecret
	o.role(t, "ops", o.provARN)
	o.role(t, "untrusting", "arn:aws:iam::"+e.account+":oidc-provider/elsewhere.example.com")

	// The browser: a cookie jar, trusting the provider's certificate;
	// tamper, when set, changes the provider's answer on its way back.
	jar, err := cookiejar.New(nil)
	must(t, err)
	var tamper func(q url.Values)
	browser := &http.Client{Jar: jar, Transport: p.srv.Client().Transport, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if tamper != nil && req.URL.Path == "/console/oidc/callback" {
			q := req.URL.Query()
			tamper(q)
			req.URL.RawQuery = q.Encode()
		}
		return nil
	}}
	// sessions returns the console session cookies the browser holds.
	consoleURL, err := url.Parse(e.url + "/console/")
	must(t, err)
	sessions := func() []string {
		var out []string
		for _, c := range jar.Cookies(consoleURL) {
			if strings.Contains(c.Name, "iamd_console") && c.Value != "" {
				out = append(out, c.Value)
			}
		}
		return out
	}
	var sessionValues []string // every session cookie issued: none may be logged
	get := func(u string) (int, string, string) {
		t.Helper()
		r, err := browser.Get(u)
		must(t, err)
		defer r.Body.Close()
		b, err := io.ReadAll(r.Body)
		must(t, err)
		return r.StatusCode, r.Request.URL.Path, string(b)
	}

	// The sign-in page offers the provider.
	if status, _, body := get(e.url + "/console/signin?account=" + e.account); status != http.StatusOK ||
		!strings.Contains(body, `id="oidc-link"`) || !strings.Contains(body, "/console/oidc/start?account="+e.account) {
		t.Fatalf("sign-in page: %d, no OpenID Connect link\n%.3000s", status, body)
	}

	// One role trusts the provider: straight into the console as it.
	status, path, body := get(e.url + "/console/oidc/start?account=" + e.account + "&next=" + url.QueryEscape("/console/users"))
	if status != http.StatusOK || path != "/console/users" || !strings.Contains(body, `id="role-banner"`) ||
		!strings.Contains(body, "assumed-role/ops/alice@example.com") || !strings.Contains(body, `id="users"`) {
		t.Fatalf("OpenID Connect sign-in: %d at %s\n%.3000s", status, path, body)
	}
	if strings.Contains(body, `id="switch-back"`) || strings.Contains(body, `id="switch-role-link"`) {
		t.Errorf("an OpenID Connect session offers to go back to a user or switch role")
	}
	if sessionValues = append(sessionValues, sessions()...); len(sessionValues) != 1 {
		t.Fatalf("after the sign-in the browser holds %d session cookies, want 1", len(sessionValues))
	}
	signOut := func() {
		t.Helper()
		r, err := browser.PostForm(e.url+"/console/signout", url.Values{"csrf": {csrfOf(t, body)}})
		must(t, err)
		r.Body.Close()
		if _, path, _ := get(e.url + "/console/users"); path != "/console/signin" {
			t.Fatalf("after sign-out, /console/users is at %s", path)
		}
	}
	signOut()

	// Two roles trust it: the chooser, then the console as the chosen one.
	o.role(t, "dev", o.provARN)
	status, _, body = get(e.url + "/console/oidc/start?account=" + e.account)
	if status != http.StatusOK || !strings.Contains(body, `id="oidc-choose"`) || strings.Count(body, `name="role"`) != 2 || strings.Contains(body, "untrusting") {
		t.Fatalf("chooser: %d\n%.3000s", status, body)
	}
	choice := between(body, `name="choice" value="`, `"`)
	devIndex := "0"
	if strings.Index(body, roleARN("dev")) > strings.Index(body, roleARN("ops")) {
		devIndex = "1"
	}
	r, err := browser.PostForm(e.url+"/console/oidc/choose", url.Values{"choice": {choice}, "role": {devIndex}})
	must(t, err)
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	body = string(b)
	if r.StatusCode != http.StatusOK || !strings.Contains(body, "assumed-role/dev/alice@example.com") {
		t.Fatalf("chose dev: %d\n%.3000s", r.StatusCode, body)
	}
	sessionValues = append(sessionValues, sessions()...)
	signOut()
	if n := len(sessions()); n != 0 {
		t.Fatalf("after sign-out the browser holds %d session cookies", n)
	}
	// The choice signs in once.
	r, err = browser.PostForm(e.url+"/console/oidc/choose", url.Values{"choice": {choice}, "role": {devIndex}})
	must(t, err)
	b, _ = io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "already been used") {
		t.Errorf("choice used again: %d\n%.2000s", r.StatusCode, b)
	}

	// Refusals: a clear page, no session.
	claims := func(change func(map[string]any)) func(string) map[string]any {
		return func(nonce string) map[string]any { c := p.validClaims(nonce); change(c); return c }
	}
	otherNonce := claims(func(c map[string]any) { c["nonce"] = "not-" + c["nonce"].(string) })
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err)
	cases := []struct {
		name, start string
		claims      func(string) map[string]any
		signer      *rsa.PrivateKey // signs the ID token instead of the provider's key
		tamper      func(url.Values)
		status      int
		want        string
	}{
		{"role not trusting the provider", "role=" + url.QueryEscape(roleARN("untrusting")), nil, nil, nil, http.StatusForbidden, "trust policy does not allow this OpenID Connect provider"},
		{"another nonce", "role=" + url.QueryEscape(roleARN("ops")), otherNonce, nil, nil, http.StatusBadRequest, "nonce is not this sign-in"},
		{"another state", "role=" + url.QueryEscape(roleARN("ops")), nil, nil, func(q url.Values) { q.Set("state", "forged") }, http.StatusBadRequest, "state is not this sign-in"},
		{"another code", "account=" + e.account, nil, nil, func(q url.Values) { q.Set("code", "forged-code") }, http.StatusBadGateway, "IDPCommunicationError"},
		{"wrong audience", "role=" + url.QueryEscape(roleARN("ops")), claims(func(c map[string]any) { c["aud"] = "another-client" }), nil, nil,
			http.StatusBadRequest, "Incorrect token audience"},
		{"expired ID token", "role=" + url.QueryEscape(roleARN("ops")), claims(func(c map[string]any) {
			c["iat"], c["exp"] = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Minute).Unix()
		}), nil, nil, http.StatusBadRequest, "The ID token has expired"},
		{"signed by another key", "role=" + url.QueryEscape(roleARN("ops")), nil, otherKey, nil, http.StatusBadRequest, "signature could not be verified"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.claims != nil {
				p.setClaims(tc.claims)
				defer p.setClaims(p.validClaims)
			}
			if tc.signer != nil {
				p.setSigner(tc.signer)
				defer p.setSigner(nil)
			}
			tamper = tc.tamper
			defer func() { tamper = nil }()
			status, path, body := get(e.url + "/console/oidc/start?" + tc.start)
			if status != tc.status || path != "/console/oidc/callback" || !strings.Contains(body, tc.want) || !strings.Contains(body, "OpenID Connect sign-in refused") {
				t.Errorf("%d at %s, want %d with %q\n%.3000s", status, path, tc.status, tc.want, body)
			}
			if n := len(sessions()); n != 0 {
				t.Errorf("a refused sign-in set %d session cookies", n)
			}
			if _, path, _ := get(e.url + "/console/users"); path != "/console/signin" {
				t.Errorf("a refused sign-in left a session: /console/users is at %s", path)
			}
		})
	}

	// The audit trail: ConsoleLogin by the role sessions, and the refusals
	// as failures by a web identity user of the provider.
	type login struct{ kind, result, who, msg string } // who: the ARN's suffix, or the provider
	wants := []login{
		{"AssumedRole", "Success", ":assumed-role/ops/alice@example.com", ""},
		{"AssumedRole", "Success", ":assumed-role/dev/alice@example.com", ""},
		{"WebIdentityUser", "Failure", host, "trust policy does not allow this OpenID Connect provider"},
		{"WebIdentityUser", "Failure", host, "nonce is not this sign-in"},
		{"WebIdentityUser", "Failure", host, "state is not this sign-in"},
		{"WebIdentityUser", "Failure", host, "Incorrect token audience"},
		{"WebIdentityUser", "Failure", host, "The ID token has expired"},
		{"WebIdentityUser", "Failure", host, "signature could not be verified"},
	}
	eventually(t, 10*time.Second, func() error {
		var got []login
		for _, raw := range lookupConsoleLogins(t, e) {
			var rec struct {
				EventSource  string `json:"eventSource"`
				ErrorMessage string `json:"errorMessage"`
				UserIdentity struct {
					Type             string `json:"type"`
					Arn              string `json:"arn"`
					IdentityProvider string `json:"identityProvider"`
				} `json:"userIdentity"`
				ResponseElements map[string]string `json:"responseElements"`
			}
			if json.Unmarshal([]byte(raw), &rec) == nil && rec.EventSource == "signin.amazonaws.com" {
				got = append(got, login{rec.UserIdentity.Type, rec.ResponseElements["ConsoleLogin"], rec.UserIdentity.Arn + rec.UserIdentity.IdentityProvider, rec.ErrorMessage})
			}
		}
	next:
		for _, w := range wants {
			for _, g := range got {
				if g.kind == w.kind && g.result == w.result && strings.HasSuffix(g.who, w.who) && strings.Contains(g.msg, w.msg) {
					continue next
				}
			}
			return fmt.Errorf("no ConsoleLogin %+v in %+v", w, got)
		}
		return nil
	})

	// Nothing logged would let a sign-in be replayed.
	out := logs.String()
	p.mu.Lock()
	issued := append([]string(nil), p.secrets...)
	p.mu.Unlock()
	for _, s := range issued {
		if strings.Contains(out, s[:min(len(s), 40)]) {
			t.Errorf("a code or ID token is in the log")
		}
	}
	for _, s := range sessionValues {
		if strings.Contains(out, s[:min(len(s), 40)]) {
			t.Errorf("a console session cookie is in the log")
		}
	}
	if strings.Contains(out, secret) || strings.Contains(out, "SessionToken") || strings.Contains(out, "code_verifier") {
		t.Errorf("the log names the client secret, a session token or a PKCE verifier")
	}
	for _, code := range []string{"InvalidIdentityToken", "ExpiredTokenException"} {
		if !strings.Contains(out, "code="+code) {
			t.Errorf("the refusals (%s) are not logged", code)
		}
	}
	if !strings.Contains(out, "console OIDC sign-in") {
		t.Errorf("the sign-ins are not logged")
	}
}

// csrfOf returns the first CSRF token of a console page.
func csrfOf(t *testing.T, page string) string {
	t.Helper()
	v := between(page, `name="csrf" value="`, `"`)
	if v == "" {
		t.Fatal("the page has no CSRF token")
	}
	return v
}

// between returns the text of s between the first prefix and the next
// suffix after it.
func between(s, prefix, suffix string) string {
	_, after, ok := strings.Cut(s, prefix)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, suffix)
	return v
}

// TestConsoleOIDCBrowser drives the OpenID Connect sign-in in Chromium:
// the sign-in page's link, the provider (which signs alice in at once and
// sends the browser back with a code), the role chooser and the console
// as the chosen role; then a refusal, its "sign in again" link, the start
// page that asks for the account, and the console again. Every page is
// checked for accessibility (axe, Tab) and saved as a screenshot.
func TestConsoleOIDCBrowser(t *testing.T) {
	b := newBrowser(t)
	o := startOIDCConsole(t, func(*server.Config) {})
	e := o.env
	o.role(t, "ops", o.provARN)
	o.role(t, "dev", o.provARN)
	o.role(t, "untrusting", "arn:aws:iam::"+e.account+":oidc-provider/elsewhere.example.com")
	// This browser, and only it, accepts the test provider's self-signed
	// certificate, as iamd does through the provider's HTTP client.
	if _, err := chromedp.CallBrowser(b.ctx, security.SetIgnoreCertificateErrors, security.SetIgnoreCertificateErrorsParams{Ignore: true}); err != nil {
		t.Fatalf("trust the test provider's certificate: %v", err)
	}

	// The sign-in page's link, the provider, the chooser of the two roles
	// that trust it.
	b.do("sign-in page", chromedp.Navigate(e.url+"/console/signin?account="+e.account), chromedp.WaitVisible(chromedp.CSS("#oidc-link")))
	b.shot("signin-oidc-link")
	b.do("through the provider to the chooser", chromedp.Click(chromedp.CSS("#oidc-link")), chromedp.WaitVisible(chromedp.CSS("#oidc-choose")))
	b.shot("oidc-chooser")
	if n := b.count("#oidc-choose input[type=radio]"); n != 2 {
		t.Fatalf("the chooser offers %d roles, want 2", n)
	}
	chooser := b.text("#oidc-choose")
	if strings.Contains(chooser, "untrusting") {
		t.Errorf("the chooser offers a role that does not trust the provider: %q", chooser)
	}
	dev := "#oidc-role-0"
	if strings.Index(chooser, o.roleARN("dev")) > strings.Index(chooser, o.roleARN("ops")) {
		dev = "#oidc-role-1"
	}
	b.do("choose dev", chromedp.Click(chromedp.CSS(dev)), chromedp.Click(chromedp.CSS("#oidc-signin")), chromedp.WaitVisible(chromedp.CSS("#role-banner")))
	b.shot("oidc-signed-in-dev")
	if got := b.text("#role-banner"); !strings.Contains(got, "dev") || !strings.Contains(got, e.account) || !strings.Contains(got, "assumed-role/dev/alice@example.com") ||
		!strings.Contains(got, "signed in through your identity provider") {
		t.Errorf("banner = %q", got)
	}
	if b.count("#switch-back") != 0 || b.count("#switch-role-link") != 0 || b.count("#federated-session") != 1 {
		t.Errorf("an OpenID Connect session offers to go back to a user or switch role, or does not say it is federated")
	}
	b.do("users as dev", chromedp.Navigate(e.url+"/console/users"), chromedp.WaitVisible(chromedp.CSS("#users")))
	b.shot("oidc-users")
	b.signOut()

	// A role that does not trust the provider: the refusal page says why,
	// and its link starts again, asking for the account.
	b.do("refused", chromedp.Navigate(e.url+"/console/oidc/start?role="+url.QueryEscape(o.roleARN("untrusting"))), chromedp.WaitVisible(chromedp.CSS("#oidc-again")))
	b.shot("oidc-refused")
	if got := b.text("main"); !strings.Contains(got, "OpenID Connect sign-in refused") || !strings.Contains(got, "trust policy does not allow this OpenID Connect provider") {
		t.Errorf("refusal page = %q", got)
	}
	if b.count("#signout") != 0 {
		t.Errorf("a refused sign-in left a session")
	}
	b.do("start page", chromedp.Click(chromedp.CSS("#oidc-again")), chromedp.WaitVisible(chromedp.CSS("#oidc-start")))
	b.shot("oidc-start")
	b.do("start again", b.fill("#oidc-account", e.account), chromedp.Click(chromedp.CSS("#oidc-continue")), chromedp.WaitVisible(chromedp.CSS("#oidc-choose")))
	b.do("choose the first role", chromedp.Click(chromedp.CSS("#oidc-signin")), chromedp.WaitVisible(chromedp.CSS("#role-banner")))
	if got := b.text("#role-banner"); !strings.Contains(got, "alice@example.com") {
		t.Errorf("banner = %q", got)
	}
	b.shot("oidc-signed-in-again")
}
