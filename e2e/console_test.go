package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/console"
	"github.com/iamd/iamd/internal/iamapi"
	"github.com/iamd/iamd/internal/managedpolicies"
	"github.com/iamd/iamd/internal/password"
	"github.com/iamd/iamd/internal/totp"
)

const (
	consoleRootEmail    = "owner@example.com"
	consoleRootPassword = "R00t-Passw0rd!x"
	aliceFirstPassword  = "Initial-Pa55word!"
	aliceNewPassword    = "Changed-Pa55word!"
)

// chromiumPath finds Debian's chromium. Without it the browser test is
// skipped, except in CI (CI set), where it must run.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("IAMD_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed; CI must install Debian's chromium package (apt-get install -y chromium)")
	}
	t.Skip("chromium is not installed (apt-get install -y chromium, or set IAMD_CHROMIUM): skipping the browser test")
	return ""
}

// artifactDir is where screenshots go: under $IAMD_ARTIFACTS when set (CI
// collects it), else the test's artifact directory (kept with -artifacts).
func artifactDir(t *testing.T) string {
	t.Helper()
	if base := os.Getenv("IAMD_ARTIFACTS"); base != "" {
		dir := filepath.Join(base, t.Name())
		must(t, os.MkdirAll(dir, 0o755))
		return dir
	}
	return t.ArtifactDir()
}

// browser is a headless Chromium tab.
type browser struct {
	t       *testing.T
	ctx     context.Context
	dir     string
	shots   int
	audited map[string]bool // the URLs checked for accessibility
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("window-size", "1280,900"),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// Start the browser with a context that has no deadline: a deadline on
	// the first run would end the browser.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, dir: artifactDir(t), audited: map[string]bool{}}
}

// do runs actions with a deadline, failing the test (with a screenshot)
// on error.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.shot("failed-" + what)
		html, _ := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("main")))
		b.t.Fatalf("%s: %v\npage: %.3000s", what, err, html)
	}
	b.audit()
}

// text returns an element's text content.
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		b.shot("failed-text")
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// shot saves a full-page PNG screenshot as a test artifact.
func (b *browser) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	b.shots++
	path := filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.shots, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

// clearFlash removes the current page's flash message, so that waiting for
// #flash after a submit waits for the next page's, not this one's.
func (b *browser) clearFlash() chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`document.getElementById("flash")?.remove()`)
}

func (b *browser) fill(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.SetValue(chromedp.CSS(sel), value)
}

// setRootPassword gives the account's root user its console password.
func setRootPassword(t *testing.T, e *env) {
	t.Helper()
	st := e.srv.State()
	hasher, err := password.NewHasher(password.DefaultParams(), 1)
	must(t, err)
	must(t, console.SetRootPassword(context.Background(), st.Writer, st.View, hasher, e.account, consoleRootEmail, consoleRootPassword))
}

// signInRoot signs the browser in as the root user, on the dashboard.
func (b *browser) signInRoot(base string) {
	b.t.Helper()
	b.do("root sign-in",
		chromedp.Navigate(base+"/console/signin?root=1"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		b.fill("#email", consoleRootEmail), b.fill("#password", consoleRootPassword),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#tile-root-mfa")),
	)
}

func (b *browser) signOut() {
	b.t.Helper()
	b.do("sign out", chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#signin-form")))
}

func (b *browser) signInUser(base, account, user, pw string) {
	b.t.Helper()
	b.do("sign in as "+user,
		chromedp.Navigate(base+"/console/signin?account="+account),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		b.fill("#username", user), b.fill("#password", pw),
		chromedp.Click(chromedp.CSS("#signin")),
	)
}

// mfaSelfService lets users manage their own virtual MFA device, as in
// AWS's documented example policy.
const mfaSelfService = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "OwnVirtualMFADevice", "Effect": "Allow",
     "Action": ["iam:CreateVirtualMFADevice", "iam:DeleteVirtualMFADevice"],
     "Resource": "arn:aws:iam::*:mfa/*"},
    {"Sid": "OwnMFA", "Effect": "Allow",
     "Action": ["iam:EnableMFADevice", "iam:ListMFADevices", "iam:DeactivateMFADevice", "iam:ResyncMFADevice", "iam:ListAccessKeys"],
     "Resource": "arn:aws:iam::*:user/${aws:username}"}
  ]
}`

func TestConsoleBrowser(t *testing.T) {
	b := newBrowser(t)
	e := start(t)
	ctx := context.Background()
	st := e.srv.State()
	hasher, err := password.NewHasher(password.DefaultParams(), 1)
	must(t, err)
	must(t, console.SetRootPassword(ctx, st.Writer, st.View, hasher, e.account, consoleRootEmail, consoleRootPassword))

	// Root signs in with email and password.
	b.do("root sign-in",
		chromedp.Navigate(e.url+"/console/signin?root=1"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
	)
	b.shot("signin-root")
	b.do("root sign-in submit",
		b.fill("#email", consoleRootEmail), b.fill("#password", consoleRootPassword),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#tile-root-mfa")),
	)
	b.shot("dashboard-root")
	if got := b.text("#tile-root-keys .big"); got != "Present" {
		t.Errorf("root access keys tile = %q, want Present (the harness made one)", got)
	}
	cookies, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{e.url + "/console/"}})
	must(t, err)
	sawSession := false
	for _, c := range cookies.Cookies {
		if c.Name == "iamd_console" {
			sawSession = true
			if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || len(c.Value) < 43 {
				t.Errorf("session cookie = %+v, want HttpOnly, SameSite=Lax, 256-bit value", c)
			}
		}
	}
	if !sawSession {
		t.Errorf("no session cookie among %d cookies", len(cookies.Cookies))
	}

	// The policy editor validates as you type, with IAM's messages.
	b.do("policy editor",
		chromedp.Navigate(e.url+"/console/policies/new"),
		chromedp.WaitVisible(chromedp.CSS("#editor-document")),
		b.fill("#editor-name", "MFASelfService"),
		b.fill("#editor-document", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers"}]}`),
		chromedp.SendKeys(chromedp.CSS("#editor-document"), " "),
	)
	waitText(t, b, "#editor-validation", "Policy statement must contain resources.")
	b.shot("policy-editor-invalid")
	b.do("policy editor valid",
		b.fill("#editor-document", mfaSelfService),
		chromedp.SendKeys(chromedp.CSS("#editor-document"), " "),
	)
	waitText(t, b, "#editor-validation", "Valid policy")
	b.do("create policy", b.clearFlash(), chromedp.Click(chromedp.CSS("#editor-submit")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	b.shot("policy-created")

	// Create alice with a console password that must be reset.
	b.do("create user",
		chromedp.Navigate(e.url+"/console/users"),
		chromedp.WaitVisible(chromedp.CSS("#new-user-name")),
		b.fill("#new-user-name", "alice"), b.fill("#new-user-password", aliceFirstPassword),
		chromedp.Click(chromedp.CSS("#create-user-submit")),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	if got := b.text("#flash"); !strings.Contains(got, "User alice created") || !strings.Contains(got, "IAMUserChangePassword") {
		t.Errorf("flash after creating alice = %q", got)
	}
	b.do("attach policy",
		b.fill("#attach-arn", "arn:aws:iam::"+e.account+":policy/MFASelfService"),
		b.clearFlash(),
		chromedp.Submit(chromedp.CSS("#attach-arn")),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	b.shot("user-alice")
	lp, err := e.rootIAM().GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String("alice")})
	must(t, err)
	if !lp.LoginProfile.PasswordResetRequired {
		t.Errorf("alice's login profile does not require a reset")
	}
	b.signOut()

	// Alice signs in and must change her password first.
	b.signInUser(e.url, e.account, "alice", aliceFirstPassword)
	b.do("forced change page", chromedp.WaitVisible(chromedp.CSS("#change-password")))
	b.shot("forced-password-change")
	b.do("forced change",
		b.fill("#old-password", aliceFirstPassword), b.fill("#new-password", aliceNewPassword), b.fill("#confirm-password", aliceNewPassword),
		b.clearFlash(),
		chromedp.Click(chromedp.CSS("#change-password")),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	if got := b.text("#flash"); !strings.Contains(got, "password has been changed") {
		t.Errorf("flash after password change = %q", got)
	}
	b.shot("dashboard-alice")

	// Enrol a virtual MFA device.
	b.do("mfa enrol",
		chromedp.Navigate(e.url+"/console/security"),
		chromedp.WaitVisible(chromedp.CSS("#mfa-new")),
		chromedp.Click(chromedp.CSS("#mfa-new")),
		chromedp.WaitVisible(chromedp.CSS("#mfa-qr")),
	)
	b.shot("mfa-enrol")
	seed, err := totp.DecodeSeed(b.text("#mfa-seed"))
	must(t, err)
	now := time.Now()
	b.do("mfa enable",
		b.fill("#code1", totp.TOTP(seed, now.Add(-totp.Period))), b.fill("#code2", totp.TOTP(seed, now)),
		b.clearFlash(),
		chromedp.Click(chromedp.CSS("#mfa-enable")),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	if got := b.text("#flash"); !strings.Contains(got, "MFA device is enabled") {
		t.Fatalf("flash after enabling MFA = %q", got)
	}
	b.shot("mfa-enabled")
	devs, err := e.rootIAM().ListMFADevices(ctx, &iam.ListMFADevicesInput{UserName: aws.String("alice")})
	must(t, err)
	if len(devs.MFADevices) != 1 {
		t.Fatalf("alice has %d MFA devices, want 1", len(devs.MFADevices))
	}
	b.signOut()

	// Sign in again: the password, then a code. A code already used to
	// enable the device is refused; the next one is accepted once.
	b.signInUser(e.url, e.account, "alice", aliceNewPassword)
	b.do("mfa page", chromedp.WaitVisible(chromedp.CSS("#code")))
	b.do("replayed code", b.fill("#code", totp.TOTP(seed, now)), chromedp.Click(chromedp.CSS("#mfa-submit")), chromedp.WaitVisible(chromedp.CSS("#mfa-error")))
	b.shot("mfa-code-refused")
	next := totp.TOTP(seed, now.Add(totp.Period))
	b.do("mfa code",
		b.fill("#code", next),
		chromedp.Click(chromedp.CSS("#mfa-submit")),
		chromedp.WaitVisible(chromedp.CSS("#signout")),
	)
	b.shot("signed-in-with-mfa")

	// Alice may not list users: the console shows IAM's AccessDenied.
	b.do("denied page", chromedp.Navigate(e.url+"/console/users"), chromedp.WaitVisible(chromedp.CSS("#denied")))
	b.shot("access-denied")
	denied := b.text("#denied")
	for _, want := range []string{"Access denied", "AccessDenied", "arn:aws:iam::" + e.account + ":user/alice", "iam:ListUsers"} {
		if !strings.Contains(denied, want) {
			t.Errorf("denial %q does not mention %q", denied, want)
		}
	}
	u, err := e.rootIAM().GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})
	must(t, err)
	if u.User.PasswordLastUsed == nil {
		t.Errorf("PasswordLastUsed not recorded for alice")
	}

	// The code that signed in cannot sign in again.
	b.signOut()
	b.signInUser(e.url, e.account, "alice", aliceNewPassword)
	b.do("same code again", chromedp.WaitVisible(chromedp.CSS("#code")), b.fill("#code", next),
		chromedp.Click(chromedp.CSS("#mfa-submit")), chromedp.WaitVisible(chromedp.CSS("#mfa-error")))
}

func waitText(t *testing.T, b *browser, sel, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	got := ""
	for time.Now().Before(deadline) {
		s, err := chromedp.Run(b.ctx, chromedp.TextContent(chromedp.CSS(sel)))
		if err == nil && strings.Contains(s, want) {
			return
		}
		got = s
		time.Sleep(50 * time.Millisecond)
	}
	b.shot("failed-wait")
	t.Fatalf("%s = %q, want it to contain %q", sel, got, want)
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// consoleOver serves a console over the running server's state with a
// fake clock and the given limiters, so tests observe throttling decisions
// without waiting.
func consoleOver(t *testing.T, e *env, clock *fakeClock, user, ip *console.Limiter, log *slog.Logger) *httptest.Server {
	t.Helper()
	st := e.srv.State()
	managed := func() *managedpolicies.Catalog { c, _ := managedpolicies.Load(); return c }
	authorizer := authz.New(st.View, managed)
	svc := iamapi.New(iamapi.Config{View: st.View, Writer: st.Writer, Secrets: st.Keyring, Authorizer: authorizer, Managed: managed})
	disp, err := iamapi.NewDispatcher(svc)
	must(t, err)
	h, err := console.New(console.Config{
		IAM: svc, Validator: disp, View: st.View, Writer: st.Writer, Secrets: st.Keyring, Authorizer: authorizer,
		Now: clock.Now, Log: log, Limiter: user, IPLimiter: ip,
	})
	must(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signinClient is a cookie-keeping client that does not follow redirects.
type signinClient struct {
	t    *testing.T
	c    *http.Client
	base string
	csrf string
}

func newSigninClient(t *testing.T, base string) *signinClient {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	sc := &signinClient{t: t, c: c, base: base}
	res, err := c.Get(base + "/console/signin")
	must(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := csrfField.FindSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token on the sign-in page")
	}
	sc.csrf = string(m[1])
	return sc
}

func (s *signinClient) post(fields ...string) (*http.Response, string) {
	s.t.Helper()
	v := url.Values{"csrf": {s.csrf}}
	for i := 0; i+1 < len(fields); i += 2 {
		v.Set(fields[i], fields[i+1])
	}
	res, err := s.c.PostForm(s.base+"/console/signin", v)
	must(s.t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(body)
}

func TestConsoleBruteForce(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	_, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")})
	must(t, err)
	_, err = root.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("bob"), Password: aws.String(goodPassword)})
	must(t, err)
	_, err = root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("nopassword")})
	must(t, err)
	st := e.srv.State()
	hasher, err := password.NewHasher(password.DefaultParams(), 1)
	must(t, err)
	must(t, console.SetRootPassword(ctx, st.Writer, st.View, hasher, e.account, consoleRootEmail, consoleRootPassword))

	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	userLimit := console.NewLimiter(3, time.Second, time.Minute, clock.Now)
	ipLimit := console.NewLimiter(1000, time.Second, time.Minute, clock.Now)
	var logs syncBuffer
	srv := consoleOver(t, e, clock, userLimit, ipLimit, slog.New(slog.NewTextHandler(&logs, nil)))

	t.Run("no difference between existing and unknown identities", func(t *testing.T) {
		c := newSigninClient(t, srv.URL)
		cases := []struct {
			name   string
			fields []string
			echo   string // what the form echoes back
		}{
			{"existing user, wrong password", []string{"mode", "user", "account", e.account, "username", "bob", "password", "wrong-Passw0rd!"}, "bob"},
			{"unknown user", []string{"mode", "user", "account", e.account, "username", "zed", "password", "wrong-Passw0rd!"}, "zed"},
			{"user without password", []string{"mode", "user", "account", e.account, "username", "nopassword", "password", "wrong-Passw0rd!"}, "nopassword"},
			{"unknown account", []string{"mode", "user", "account", "999999999999", "username", "bob", "password", "wrong-Passw0rd!"}, "bob"},
		}
		var first string
		for i, tc := range cases {
			res, body := c.post(tc.fields...)
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s: status %d, want 401", tc.name, res.StatusCode)
			}
			if len(res.Cookies()) != 0 {
				t.Errorf("%s: sets cookies %v", tc.name, res.Cookies())
			}
			if !strings.Contains(body, "Your authentication information is incorrect. Please try again.") {
				t.Errorf("%s: body lacks the generic message", tc.name)
			}
			norm := strings.ReplaceAll(strings.ReplaceAll(body, `value="`+tc.echo+`"`, `value="X"`), "999999999999", e.account)
			if i == 0 {
				first = norm
			} else if norm != first {
				t.Errorf("%s: response differs from an existing user's", tc.name)
			}
		}
		rootCases := [][]string{
			{"mode", "root", "email", consoleRootEmail, "password", "wrong-Passw0rd!"},
			{"mode", "root", "email", "nobody@example.com", "password", "wrong-Passw0rd!"},
		}
		var rootFirst string
		for i, f := range rootCases {
			res, body := c.post(f...)
			norm := strings.ReplaceAll(body, `value="`+f[3]+`"`, `value="X"`)
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("root %s: status %d", f[3], res.StatusCode)
			}
			if i == 0 {
				rootFirst = norm
			} else if norm != rootFirst {
				t.Errorf("root sign-in with an unknown email differs from a wrong password")
			}
		}
	})

	t.Run("repeated failures are slowed exponentially and logged", func(t *testing.T) {
		must(t, userLimit.Reset(ctx, "user:"+e.account+"/bob")) // the previous subtest's failure
		c := newSigninClient(t, srv.URL)
		wrong := []string{"mode", "user", "account", e.account, "username", "bob", "password", "Not-the-Passw0rd"}
		wantDelay := []int{0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60}
		for i, want := range wantDelay {
			res, _ := c.post(wrong...)
			if res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("attempt %d: status %d, want 401", i+1, res.StatusCode)
			}
			if want == 0 {
				continue
			}
			// Trying again at once is refused for the delay, without
			// checking the password (even the right one).
			res, body := c.post("mode", "user", "account", e.account, "username", "bob", "password", goodPassword)
			if res.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("attempt %d: status %d, want 429 after %d failures", i+1, res.StatusCode, i+1)
			}
			if got := res.Header.Get("Retry-After"); got != fmt.Sprint(want) {
				t.Errorf("after %d failures Retry-After = %s, want %d", i+1, got, want)
			}
			if !strings.Contains(body, "Too many failed sign-in attempts") {
				t.Errorf("throttled page lacks the explanation")
			}
			clock.Add(time.Duration(want) * time.Second)
		}
		// Throttling is per account and user: another user is not slowed.
		res, _ := c.post("mode", "user", "account", e.account, "username", "zed", "password", "x")
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("another user: status %d, want 401", res.StatusCode)
		}
		// After the delay the right password works and resets the count.
		clock.Add(time.Minute)
		res, _ = c.post("mode", "user", "account", e.account, "username", "bob", "password", goodPassword)
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("right password after the delay: status %d, want 303", res.StatusCode)
		}
		if n, err := userLimit.Failures(ctx, "user:"+e.account+"/bob"); err != nil || n != 0 {
			t.Errorf("failures after a sign-in = %d, want 0", n)
		}
		out := logs.String()
		if !strings.Contains(out, "console sign-in failed") || !strings.Contains(out, "failures=11") || !strings.Contains(out, "console sign-in throttled") {
			t.Errorf("log lacks failed/throttled sign-ins:\n%s", out)
		}
		if !strings.Contains(out, "user=HIDDEN_DUE_TO_SECURITY_REASONS") {
			t.Errorf("unknown user names are not hidden in the log")
		}
		for _, secret := range []string{"Not-the-Passw0rd", goodPassword, "wrong-Passw0rd!", consoleRootPassword} {
			if strings.Contains(out, secret) {
				t.Errorf("log contains a password %q", secret)
			}
		}
	})

	t.Run("per source address", func(t *testing.T) {
		ipOnly := console.NewLimiter(2, time.Second, time.Minute, clock.Now)
		srv2 := consoleOver(t, e, clock, console.NewLimiter(1000, time.Second, time.Minute, clock.Now), ipOnly, slog.New(slog.DiscardHandler))
		c := newSigninClient(t, srv2.URL)
		for i, user := range []string{"u1", "u2", "u3"} {
			res, _ := c.post("mode", "user", "account", e.account, "username", user, "password", "x")
			want := http.StatusUnauthorized
			if res.StatusCode != want {
				t.Fatalf("spray attempt %d: status %d, want %d", i+1, res.StatusCode, want)
			}
		}
		res, _ := c.post("mode", "user", "account", e.account, "username", "u4", "password", "x")
		if res.StatusCode != http.StatusTooManyRequests {
			t.Errorf("password spray from one address: status %d, want 429", res.StatusCode)
		}
	})

	t.Run("forms need the CSRF token and a same-origin request", func(t *testing.T) {
		c := newSigninClient(t, srv.URL)
		c.csrf = "forged"
		res, _ := c.post("mode", "user", "account", e.account, "username", "bob", "password", goodPassword)
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("forged CSRF token: status %d, want 403", res.StatusCode)
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/console/signin", strings.NewReader("mode=user"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Origin", "https://evil.example")
		r2, err := http.DefaultClient.Do(req)
		must(t, err)
		r2.Body.Close()
		if r2.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST: status %d, want 403", r2.StatusCode)
		}
	})
}

// TestConsoleSecurityKey registers security keys (Chromium's virtual
// authenticators) for the root user and signs in with one.
func TestConsoleSecurityKey(t *testing.T) {
	b := newBrowser(t)
	e := start(t)
	ctx := context.Background()
	st := e.srv.State()
	hasher, err := password.NewHasher(password.DefaultParams(), 1)
	must(t, err)
	must(t, console.SetRootPassword(ctx, st.Writer, st.View, hasher, e.account, consoleRootEmail, consoleRootPassword))
	// WebAuthn needs a domain, not an IP address, as relying party ID.
	base := strings.Replace(e.url, "127.0.0.1", "localhost", 1)

	_, err = chromedp.Call(b.ctx, webauthn.Enable, webauthn.EnableParams{})
	must(t, err)
	addKey := func() webauthn.AuthenticatorID {
		res, err := chromedp.Call(b.ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportUsb,
			AutomaticPresenceSimulation: true,
		}})
		must(t, err)
		return res.AuthenticatorID
	}
	first := addKey()

	signIn := func() {
		b.do("root sign-in",
			chromedp.Navigate(base+"/console/signin?root=1"),
			chromedp.WaitVisible(chromedp.CSS("#email")),
			b.fill("#email", consoleRootEmail), b.fill("#password", consoleRootPassword),
			chromedp.Click(chromedp.CSS("#signin")),
		)
	}
	signIn()
	b.do("dashboard", chromedp.WaitVisible(chromedp.CSS("#tile-root-mfa")))
	register := func(n int) {
		b.do("register key",
			chromedp.Navigate(base+"/console/security"),
			chromedp.WaitVisible(chromedp.CSS("[data-webauthn-register]")),
			chromedp.Click(chromedp.CSS("[data-webauthn-register]")),
			chromedp.WaitVisible(chromedp.CSS("#flash")),
		)
		if got := b.text("#flash"); !strings.Contains(got, "Security key registered") {
			t.Fatalf("flash after registering = %q (error: %q)", got, b.text("#key-error"))
		}
		count, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#mfa ul")[1].querySelectorAll("li code").length`))
		must(t, err)
		if count != n {
			t.Fatalf("%d security keys listed, want %d", count, n)
		}
	}
	register(1)
	// A spare: a second authenticator (the first is excluded, holding a
	// registered credential).
	_, err = chromedp.Call(b.ctx, webauthn.RemoveVirtualAuthenticator, webauthn.RemoveVirtualAuthenticatorParams{AuthenticatorID: first})
	must(t, err)
	addKey()
	register(2)
	b.shot("security-keys")
	sum, err := e.rootIAM().GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
	must(t, err)
	if sum.SummaryMap["AccountMFAEnabled"] != 1 {
		t.Errorf("AccountMFAEnabled = %d after registering root security keys", sum.SummaryMap["AccountMFAEnabled"])
	}
	b.signOut()

	// Sign in: the password, then the (second) security key.
	signIn()
	b.do("mfa step", chromedp.WaitVisible(chromedp.CSS("#use-key")))
	if n, _ := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#code").length`)); n != 0 {
		t.Errorf("the MFA step asks for a TOTP code, but only security keys are registered")
	}
	b.shot("mfa-security-key")
	b.do("use key", chromedp.Click(chromedp.CSS("#use-key")), chromedp.WaitVisible(chromedp.CSS("#tile-root-mfa")))
	if got := b.text("#tile-root-mfa .big"); got != "On" {
		t.Errorf("root MFA tile = %q, want On", got)
	}
	b.shot("signed-in-with-security-key")

	// The API lists the security keys with their u2f serials and can
	// deactivate (remove) them.
	devs, err := e.rootIAM().ListMFADevices(ctx, &iam.ListMFADevicesInput{})
	must(t, err)
	if len(devs.MFADevices) != 2 {
		t.Fatalf("ListMFADevices = %d devices, want 2", len(devs.MFADevices))
	}
	for _, d := range devs.MFADevices {
		if !strings.Contains(aws.ToString(d.SerialNumber), ":u2f/") {
			t.Errorf("serial %s is not a u2f serial", aws.ToString(d.SerialNumber))
		}
		_, err := e.rootIAM().DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{SerialNumber: d.SerialNumber})
		must(t, err)
	}
	devs, err = e.rootIAM().ListMFADevices(ctx, &iam.ListMFADevicesInput{})
	must(t, err)
	if len(devs.MFADevices) != 0 {
		t.Errorf("after deactivation ListMFADevices = %d devices", len(devs.MFADevices))
	}
}
