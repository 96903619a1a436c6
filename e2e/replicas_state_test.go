package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/iamd/iamd/internal/console"
	"github.com/iamd/iamd/internal/password"
	"github.com/iamd/iamd/internal/totp"
)

// The tests in this file check that no state a client can observe is held
// by one replica: console sessions, sign-out, sign-in throttles and
// last-accessed jobs work the same whichever replica each request reaches.

// consoleUser creates, through e, a user allowed iam:* with a console
// password and, if mfa, a virtual MFA device, whose seed it returns. It
// waits until other sees the user (and the device).
func consoleUser(t *testing.T, e, other *env, name string, mfa bool) []byte {
	t.Helper()
	ctx := context.Background()
	root := e.rootIAM()
	_, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)})
	must(t, err)
	_, err = root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String("admin"), PolicyDocument: aws.String(allowDoc("iam:*"))})
	must(t, err)
	_, err = root.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String(name), Password: aws.String(goodPassword)})
	must(t, err)
	var seed []byte
	if mfa {
		dev, err := root.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String(name)})
		must(t, err)
		seed, err = totp.DecodeSeed(string(dev.VirtualMFADevice.Base32StringSeed))
		must(t, err)
		// Enabled with the codes of the two steps before this one, so that
		// this step's code signs in.
		c1, c2 := codes(seed, totp.Counter(time.Now())-1)
		_, err = root.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String(name), SerialNumber: dev.VirtualMFADevice.SerialNumber, AuthenticationCode1: aws.String(c1), AuthenticationCode2: aws.String(c2)})
		must(t, err)
	}
	within(t, propagation, "user "+name, func() error {
		out, err := other.rootIAM().ListMFADevices(ctx, &iam.ListMFADevicesInput{UserName: aws.String(name)})
		if err != nil {
			return err
		}
		if mfa && len(out.MFADevices) != 1 {
			return fmt.Errorf("%d MFA devices", len(out.MFADevices))
		}
		return nil
	})
	return seed
}

// browserless is a cookie-keeping HTTP client that does not follow
// redirects. Its cookie jar ignores ports, as browsers do, so the
// replicas on 127.0.0.1 share its cookies as replicas behind one load
// balancer would.
type browserless struct {
	t *testing.T
	c *http.Client
}

func newBrowserless(t *testing.T) *browserless {
	jar, _ := cookiejar.New(nil)
	return &browserless{t: t, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browserless) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	res, err := b.c.Do(req)
	must(b.t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(body)
}

func (b *browserless) get(u string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	must(b.t, err)
	return b.do(req)
}

func (b *browserless) post(u string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	must(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// csrf returns the CSRF token of the form on the page at u.
func (b *browserless) csrf(u string) string {
	b.t.Helper()
	res, body := b.get(u)
	if res.StatusCode != http.StatusOK {
		b.t.Fatalf("GET %s: status %d", u, res.StatusCode)
	}
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		b.t.Fatalf("GET %s: no CSRF token", u)
	}
	return m[1]
}

// session returns the session cookie the jar holds for base.
func (b *browserless) session(base string) *http.Cookie {
	u, _ := url.Parse(base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "iamd_console" {
			return c
		}
	}
	return nil
}

// signIn posts a user's password to base and returns the response.
func (b *browserless) signIn(base, account, user, password string) *http.Response {
	b.t.Helper()
	res, _ := b.post(base+"/console/signin", url.Values{
		"csrf": {b.csrf(base + "/console/signin")}, "mode": {"user"},
		"account": {account}, "username": {user}, "password": {password},
	})
	return res
}

// TestReplicasConsoleSession signs in on replica A (password and MFA code
// on B), uses the session on both, signs out on B and sees the session
// refused on A.
func TestReplicasConsoleSession(t *testing.T) {
	a, b := twoReplicas(t)
	seed := consoleUser(t, a, b, "carol", true)
	br := newBrowserless(t)

	res := br.signIn(a.url, a.account, "carol", goodPassword)
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/console/signin/mfa") {
		t.Fatalf("password on A: status %d to %q, want 303 to the MFA step", res.StatusCode, res.Header.Get("Location"))
	}
	mfaStep := br.session(a.url)
	// The MFA step, begun on A, is finished on B.
	res, _ = br.post(b.url+"/console/signin/mfa", url.Values{
		"csrf": {br.csrf(b.url + "/console/signin/mfa")},
		"code": {totp.HOTP(seed, totp.Counter(time.Now()), totp.Digits)},
	})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/" {
		t.Fatalf("MFA code on B: status %d to %q, want 303 to /console/", res.StatusCode, res.Header.Get("Location"))
	}
	signedIn := br.session(a.url)

	// Round-robin: every page on either replica knows the session.
	for i, base := range []string{a.url, b.url, a.url, b.url} {
		res, body := br.get(base + "/console/users")
		if res.StatusCode != http.StatusOK || !strings.Contains(body, "carol") {
			t.Fatalf("request %d (%s): status %d, want the users page", i+1, base, res.StatusCode)
		}
	}
	// A change made through the console on B shows through A's API at
	// once: the console is a client of the same IAM.
	res, _ = br.post(b.url+"/console/users", url.Values{"csrf": {br.csrf(b.url + "/console/users")}, "name": {"made-in-console"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("create a user on B: status %d", res.StatusCode)
	}
	within(t, propagation, "user made in the console", func() error {
		_, err := a.rootIAM().GetUser(context.Background(), &iam.GetUserInput{UserName: aws.String("made-in-console")})
		return err
	})

	// The MFA step's cookie was used once: replayed on A, it is refused.
	replay := func(base string, c *http.Cookie, path string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		must(t, err)
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		must(t, err)
		res.Body.Close()
		return res
	}
	if res := replay(a.url, mfaStep, "/console/signin/mfa"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/console/signin") {
		t.Errorf("the used MFA step's cookie on A: status %d to %q, want a redirect to sign in", res.StatusCode, res.Header.Get("Location"))
	}

	// Sign out on B; the session's cookie no longer works on A.
	res, _ = br.post(b.url+"/console/signout", url.Values{"csrf": {br.csrf(b.url + "/console/users")}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out on B: status %d", res.StatusCode)
	}
	if c := br.session(a.url); c != nil {
		t.Errorf("the browser keeps a session cookie after signing out")
	}
	for _, base := range []string{a.url, b.url} {
		if res := replay(base, signedIn, "/console/users"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/console/signin") {
			t.Errorf("the signed-out session on %s: status %d to %q, want a redirect to sign in", base, res.StatusCode, res.Header.Get("Location"))
		}
	}
}

// TestReplicasConsoleThrottle fails sign-ins alternately on two replicas:
// the failures add up, so the attempts are throttled before either
// replica alone has seen more than the free failures.
func TestReplicasConsoleThrottle(t *testing.T) {
	a, b := twoReplicas(t)
	consoleUser(t, a, b, "dave", false)
	br := newBrowserless(t)
	const free = 3 // the console's default per user
	throttledAt := 0
	for i := 1; i <= 2*(free+1) && throttledAt == 0; i++ {
		base := a.url
		if i%2 == 0 {
			base = b.url
		}
		res := br.signIn(base, a.account, "dave", "Not-the-Passw0rd")
		switch res.StatusCode {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			throttledAt = i
		default:
			t.Fatalf("attempt %d: status %d", i, res.StatusCode)
		}
	}
	// Counted per replica, the first refusal would come at attempt
	// 2*free+1 or later (one replica's free+1-th failure); counted together,
	// at free+2 (a second later or more only if this machine stalls).
	if throttledAt == 0 || throttledAt > 2*free {
		t.Fatalf("first throttled attempt = %d, want at most %d: failures on the two replicas do not add up", throttledAt, 2*free)
	}
	t.Logf("first throttled at attempt %d (%d failures on each replica at most)", throttledAt, throttledAt/2)
	// The right password is refused too while throttled, on either
	// replica.
	for _, base := range []string{a.url, b.url} {
		if res := br.signIn(base, a.account, "dave", goodPassword); res.StatusCode != http.StatusTooManyRequests {
			t.Errorf("right password on %s while throttled: status %d, want 429", base, res.StatusCode)
		}
	}
}

// TestReplicasLastAccessed generates a last-accessed report on A and reads
// it on B with the SDK.
func TestReplicasLastAccessed(t *testing.T) {
	a, b := twoReplicas(t)
	ctx := context.Background()
	ra, rb := a.rootIAM(), b.rootIAM()
	_, err := ra.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("erin")})
	must(t, err)
	_, err = ra.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("erin"), PolicyName: aws.String("p"), PolicyDocument: aws.String(allowDoc("s3:GetObject", "iam:GetUser"))})
	must(t, err)
	user, err := ra.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("erin")})
	must(t, err)

	for _, level := range []types.AccessAdvisorUsageGranularityType{types.AccessAdvisorUsageGranularityTypeServiceLevel, types.AccessAdvisorUsageGranularityTypeActionLevel} {
		t.Run(string(level), func(t *testing.T) {
			// Generated on A right after the user was created there, read
			// on B at once.
			job, err := ra.GenerateServiceLastAccessedDetails(ctx, &iam.GenerateServiceLastAccessedDetailsInput{Arn: user.User.Arn, Granularity: level})
			must(t, err)
			got, err := rb.GetServiceLastAccessedDetails(ctx, &iam.GetServiceLastAccessedDetailsInput{JobId: job.JobId})
			must(t, err)
			want, err := ra.GetServiceLastAccessedDetails(ctx, &iam.GetServiceLastAccessedDetailsInput{JobId: job.JobId})
			must(t, err)
			if got.JobStatus != types.JobStatusTypeCompleted || got.JobType != level {
				t.Errorf("on B: status %s, type %s", got.JobStatus, got.JobType)
			}
			var names []string
			for _, s := range got.ServicesLastAccessed {
				names = append(names, aws.ToString(s.ServiceNamespace))
			}
			if strings.Join(names, ",") != "iam,s3" {
				t.Errorf("services on B = %v, want [iam s3]", names)
			}
			if len(want.ServicesLastAccessed) != len(got.ServicesLastAccessed) || !aws.ToTime(want.JobCreationDate).Equal(aws.ToTime(got.JobCreationDate)) {
				t.Errorf("A and B answer differently: %+v / %+v", want, got)
			}
			ents, err := rb.GetServiceLastAccessedDetailsWithEntities(ctx, &iam.GetServiceLastAccessedDetailsWithEntitiesInput{JobId: job.JobId, ServiceNamespace: aws.String("s3")})
			must(t, err)
			if len(ents.EntityDetailsList) != 1 || aws.ToString(ents.EntityDetailsList[0].EntityInfo.Name) != "erin" {
				t.Errorf("entities on B = %+v", ents.EntityDetailsList)
			}
		})
	}
	// An unknown job is NoSuchEntity.
	_, err = rb.GetServiceLastAccessedDetails(ctx, &iam.GetServiceLastAccessedDetailsInput{JobId: aws.String("00000000-0000-4000-8000-000000000000")})
	wantCode(t, err, "NoSuchEntity")
}

// roundRobin serves a reverse proxy that sends each request to the next of
// the replicas in turn, as a load balancer without sticky sessions does,
// and counts the requests each served.
func roundRobin(t *testing.T, replicas ...*env) (*httptest.Server, []*atomic.Int64) {
	t.Helper()
	proxies := make([]*httputil.ReverseProxy, len(replicas))
	served := make([]*atomic.Int64, len(replicas))
	for i, e := range replicas {
		u, err := url.Parse(e.url)
		must(t, err)
		proxies[i] = httputil.NewSingleHostReverseProxy(u) // keeps the Host header
		served[i] = new(atomic.Int64)
	}
	var next atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(next.Add(1)-1) % len(proxies)
		served[i].Add(1)
		proxies[i].ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, served
}

// TestReplicasConsoleBrowser drives Chromium through a round-robin proxy
// in front of two replicas: the root user signs in, enrols a virtual MFA
// device and registers a security key (each ceremony begun on one replica
// and finished on the other), signs out, and signs in again with a code
// and then with the key.
func TestReplicasConsoleBrowser(t *testing.T) {
	b := newBrowser(t)
	ra, rb := twoReplicas(t)
	ctx := context.Background()
	hasher, err := password.NewHasher(password.DefaultParams(), 1)
	must(t, err)
	must(t, console.SetRootPassword(ctx, ra.srv.State().Writer, ra.srv.State().View, hasher, ra.account, consoleRootEmail, consoleRootPassword))
	within(t, propagation, "root password", func() error {
		if a, ok := rb.srv.State().View.Account(rb.account); !ok || a.V.RootPassword == "" {
			return fmt.Errorf("no root password yet")
		}
		return nil
	})
	proxy, served := roundRobin(t, ra, rb)
	// WebAuthn needs a domain, not an IP address, as relying party ID.
	base := strings.Replace(proxy.URL, "127.0.0.1", "localhost", 1)
	_, err = chromedp.Call(b.ctx, cdpwebauthn.Enable, cdpwebauthn.EnableParams{})
	must(t, err)
	_, err = chromedp.Call(b.ctx, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{Options: &cdpwebauthn.VirtualAuthenticatorOptions{
		Protocol: cdpwebauthn.AuthenticatorProtocolCtap2, Transport: cdpwebauthn.AuthenticatorTransportUsb,
		AutomaticPresenceSimulation: true,
	}})
	must(t, err)
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

	// A virtual MFA device: its seed is kept in the session cookie between
	// the page that shows it and the one that enables it.
	b.do("mfa enrol",
		chromedp.Navigate(base+"/console/security"),
		chromedp.WaitVisible(chromedp.CSS("#mfa-new")),
		chromedp.Click(chromedp.CSS("#mfa-new")),
		chromedp.WaitVisible(chromedp.CSS("#mfa-qr")),
	)
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

	// A security key: the registration's challenge is in the cookie.
	b.do("register key",
		chromedp.Navigate(base+"/console/security"),
		chromedp.WaitVisible(chromedp.CSS("[data-webauthn-register]")),
		b.clearFlash(),
		chromedp.Click(chromedp.CSS("[data-webauthn-register]")),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	if got := b.text("#flash"); !strings.Contains(got, "Security key registered") {
		t.Fatalf("flash after registering = %q (error: %q)", got, b.text("#key-error"))
	}
	b.signOut()

	// Sign in with a code.
	signIn()
	b.do("mfa code",
		chromedp.WaitVisible(chromedp.CSS("#code")),
		b.fill("#code", totp.TOTP(seed, now.Add(totp.Period))),
		chromedp.Click(chromedp.CSS("#mfa-submit")),
		chromedp.WaitVisible(chromedp.CSS("#tile-root-mfa")),
	)
	for _, page := range []string{"/console/users", "/console/policies", "/console/security", "/console/"} {
		b.do("page "+page, chromedp.Navigate(base+page), chromedp.WaitVisible(chromedp.CSS("#signout")))
	}
	b.signOut()

	// Sign in with the key.
	signIn()
	b.do("use key", chromedp.WaitVisible(chromedp.CSS("#use-key")), chromedp.Click(chromedp.CSS("#use-key")), chromedp.WaitVisible(chromedp.CSS("#tile-root-mfa")))
	if got := b.text("#tile-root-mfa .big"); got != "On" {
		t.Errorf("root MFA tile = %q, want On", got)
	}
	b.shot("replicas-signed-in-with-security-key")
	t.Logf("requests served: A %d, B %d", served[0].Load(), served[1].Load())
	if served[0].Load() == 0 || served[1].Load() == 0 {
		t.Errorf("one replica served nothing")
	}
}
