package console

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/oidc"
	"github.com/iamd/iamd/internal/stsapi"
)

// testProvider is an OpenID Connect provider for the console's tests: its
// authorization endpoint is driven by the test (authorize), its token
// endpoint redeems a code once, with the PKCE verifier of the challenge
// it was issued for, and answers an ES256 ID token whose claims idToken
// chooses.
type testProvider struct {
	srv *httptest.Server
	key *ecdsa.PrivateKey

	mu      sync.Mutex
	grants  map[string]testGrant // by code
	idToken func(nonce string) map[string]any
	signer  *ecdsa.PrivateKey // signs the ID tokens; key unless a test changes it
}

type testGrant struct{ challenge, nonce, redirect string }

const testClientID = "iamd-console"

func newTestProvider(t *testing.T) *testProvider {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p := &testProvider{key: key, signer: key, grants: map[string]testGrant{}}
	p.idToken = p.validClaims
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{
			"issuer": p.srv.URL, "authorization_endpoint": p.srv.URL + "/authorize",
			"token_endpoint": p.srv.URL + "/token", "jwks_uri": p.srv.URL + "/keys",
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) {
		b64 := base64.RawURLEncoding
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "EC", "kid": "k1", "use": "sig", "alg": "ES256", "crv": "P-256",
			"x": b64.EncodeToString(key.X.FillBytes(make([]byte, 32))), "y": b64.EncodeToString(key.Y.FillBytes(make([]byte, 32))),
		}}})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		fail := func(code string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
		}
		p.mu.Lock()
		g, ok := p.grants[r.PostFormValue("code")]
		delete(p.grants, r.PostFormValue("code")) // a code is redeemed once
		claims := p.idToken(g.nonce)
		signer := p.signer
		p.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		switch {
		case r.PostFormValue("grant_type") != "authorization_code" || r.PostFormValue("client_id") != testClientID:
			fail("invalid_request")
		case !ok || r.PostFormValue("redirect_uri") != g.redirect:
			fail("invalid_grant")
		case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
			fail("invalid_grant") // PKCE: not the verifier of the challenge
		default:
			_ = json.NewEncoder(w).Encode(map[string]string{"token_type": "Bearer", "access_token": "at", "id_token": signES256(t, signer, claims)})
		}
	})
	p.srv = httptest.NewTLSServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *testProvider) validClaims(nonce string) map[string]any {
	now := time.Now()
	return map[string]any{"iss": p.srv.URL, "sub": "u-123", "aud": testClientID, "email": "alice@example.com",
		"nonce": nonce, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

// authorize plays the user signing in at the provider: it checks the
// authorization request the console redirected to, issues a code for its
// PKCE challenge and nonce, and returns the callback's query.
func (p *testProvider) authorize(t *testing.T, location string) url.Values {
	t.Helper()
	u, err := url.Parse(location)
	if err != nil || !strings.HasPrefix(location, p.srv.URL+"/authorize?") {
		t.Fatalf("redirected to %q, want the provider's authorization endpoint", location)
	}
	q := u.Query()
	for k, want := range map[string]string{"response_type": "code", "client_id": testClientID, "code_challenge_method": "S256", "scope": oidcScopes} {
		if q.Get(k) != want {
			t.Errorf("authorization request %s = %q, want %q", k, q.Get(k), want)
		}
	}
	if q.Get("state") == "" || q.Get("nonce") == "" || len(q.Get("code_challenge")) != 43 {
		t.Fatalf("authorization request without state, nonce or S256 challenge: %v", q)
	}
	code := newToken()
	p.mu.Lock()
	p.grants[code] = testGrant{challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), redirect: q.Get("redirect_uri")}
	p.mu.Unlock()
	return url.Values{"code": {code}, "state": {q.Get("state")}}
}

func signES256(t *testing.T, key *ecdsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	b64 := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"alg": "ES256", "kid": "k1", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	signed := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	sum := sha256.Sum256([]byte(signed))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + b64.EncodeToString(append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...))
}

// fakeWebIdentity stands for STS: it records what the console asks and
// refuses it, as for a role whose trust policy does not allow the
// provider. (The e2e test signs in for real.)
type fakeWebIdentity struct {
	mu    sync.Mutex
	calls []*stsapi.AssumeRoleWithWebIdentityRequest
}

func (f *fakeWebIdentity) AssumeRoleWithWebIdentity(_ context.Context, in *stsapi.AssumeRoleWithWebIdentityRequest) (*stsapi.AssumeRoleWithWebIdentityResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in)
	return nil, &awsquery.Error{Code: awsquery.CodeAccessDenied, Message: "Not authorized to perform sts:AssumeRoleWithWebIdentity", HTTPStatus: http.StatusForbidden, Sender: true}
}

func (f *fakeWebIdentity) called() []*stsapi.AssumeRoleWithWebIdentityRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*stsapi.AssumeRoleWithWebIdentityRequest(nil), f.calls...)
}

type fakeSTSValidator struct{}

func (fakeSTSValidator) Decode(action string, f url.Values) (any, error) {
	if action != "AssumeRoleWithWebIdentity" {
		return nil, fmt.Errorf("unexpected action %s", action)
	}
	return &stsapi.AssumeRoleWithWebIdentityRequest{RoleArn: f.Get("RoleArn"), RoleSessionName: f.Get("RoleSessionName"), WebIdentityToken: f.Get("WebIdentityToken")}, nil
}

// newOIDCTestHandler is a console with only the OpenID Connect sign-in,
// against p.
func newOIDCTestHandler(t *testing.T, p *testProvider, sts *fakeWebIdentity) *Handler {
	t.Helper()
	h := &Handler{
		cfg:      Config{View: iam.NewView(), STSValidator: fakeSTSValidator{}, WebIdentity: sts},
		log:      slog.New(slog.DiscardHandler),
		now:      time.Now,
		sessions: testSessions(t, testStore(t), time.Now, time.Hour, 12*time.Hour),
		csrf:     http.NewCrossOriginProtection(),
	}
	if err := h.parseTemplates(); err != nil {
		t.Fatal(err)
	}
	if p != nil {
		var err error
		if h.oidc, err = newOIDCClient(&OIDC{Issuer: p.srv.URL, ClientID: testClientID, HTTPClient: p.srv.Client()}, h.now); err != nil {
			t.Fatal(err)
		}
	}
	h.mux = http.NewServeMux()
	h.oidcRoutes(h.mux)
	return h
}

const testRoleARN = "arn:aws:iam::123456789012:role/ops"

// oidcStart begins a sign-in; it returns the flow's cookie and the
// provider's authorization URL.
func oidcStart(t *testing.T, h *Handler, query string) (*http.Cookie, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, oidcStartPath+"?"+query, nil))
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("start: %d, want 303\n%.500s", rec.Code, rec.Body)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == oidcCookie {
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge <= 0 {
				t.Errorf("flow cookie %+v: want HttpOnly, SameSite=Lax, Path=/, a max age", c)
			}
			return c, rec.Header().Get("Location")
		}
	}
	t.Fatal("start set no flow cookie")
	return nil, ""
}

func oidcCallback(h *Handler, cookie *http.Cookie, q url.Values) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, oidcCallbackPath+"?"+q.Encode(), nil)
	if cookie != nil {
		r.AddCookie(cookie)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// TestOIDCCallback: the callback signs in (here: asks STS) only with the
// flow's state, from the browser that started it, once, and with an ID
// token of this provider, for this client, unexpired, with the flow's
// nonce; the provider's refusal is shown.
func TestOIDCCallback(t *testing.T) {
	p := newTestProvider(t)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	claims := func(change func(map[string]any)) func(string) map[string]any {
		return func(nonce string) map[string]any {
			c := p.validClaims(nonce)
			change(c)
			return c
		}
	}
	tests := []struct {
		name    string
		idToken func(nonce string) map[string]any
		signer  *ecdsa.PrivateKey
		// callback turns the provider's answer into what reaches the
		// console, and the cookie it carries.
		callback func(q url.Values, c *http.Cookie) (url.Values, *http.Cookie)
		status   int
		want     string
		sts      bool // the sign-in reached STS
	}{
		{name: "valid", status: http.StatusForbidden, want: "trust policy does not allow this OpenID Connect provider", sts: true},
		{name: "missing state", callback: func(q url.Values, c *http.Cookie) (url.Values, *http.Cookie) { q.Del("state"); return q, c },
			status: http.StatusBadRequest, want: "state is not this sign-in"},
		{name: "bad state", callback: func(q url.Values, c *http.Cookie) (url.Values, *http.Cookie) { q.Set("state", newToken()); return q, c },
			status: http.StatusBadRequest, want: "state is not this sign-in"},
		{name: "no flow cookie", callback: func(q url.Values, _ *http.Cookie) (url.Values, *http.Cookie) { return q, nil },
			status: http.StatusBadRequest, want: "not started in this browser"},
		{name: "forged flow cookie", callback: func(q url.Values, c *http.Cookie) (url.Values, *http.Cookie) {
			return q, &http.Cookie{Name: c.Name, Value: "AAAA" + c.Value[4:]}
		}, status: http.StatusBadRequest, want: "not started in this browser"},
		{name: "provider error", callback: func(q url.Values, c *http.Cookie) (url.Values, *http.Cookie) {
			return url.Values{"state": q["state"], "error": {"access_denied"}, "error_description": {"The user\ncancelled <b>"}}, c
		}, status: http.StatusForbidden, want: "refused the sign-in (access_denied): The user cancelled &lt;b&gt;."},
		{name: "no code", callback: func(q url.Values, c *http.Cookie) (url.Values, *http.Cookie) { q.Del("code"); return q, c },
			status: http.StatusBadRequest, want: "no authorization code"},
		{name: "code of another sign-in (PKCE)", callback: func(q url.Values, c *http.Cookie) (url.Values, *http.Cookie) {
			code := newToken()
			p.mu.Lock()
			p.grants[code] = testGrant{challenge: "another-challenge", redirect: "http://example.com" + oidcCallbackPath}
			p.mu.Unlock()
			q.Set("code", code)
			return q, c
		}, status: http.StatusBadGateway, want: "IDPCommunicationError"},
		{name: "wrong nonce", idToken: claims(func(c map[string]any) { c["nonce"] = newToken() }), status: http.StatusBadRequest, want: "nonce is not this sign-in"},
		{name: "no nonce", idToken: claims(func(c map[string]any) { delete(c, "nonce") }), status: http.StatusBadRequest, want: "nonce is not this sign-in"},
		{name: "wrong audience", idToken: claims(func(c map[string]any) { c["aud"] = "another-client" }), status: http.StatusBadRequest, want: "Incorrect token audience"},
		{name: "another authorized party", idToken: claims(func(c map[string]any) { c["aud"] = []string{testClientID, "x"}; c["azp"] = "x" }), status: http.StatusBadRequest, want: "Incorrect token audience"},
		{name: "expired token", idToken: claims(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }), status: http.StatusBadRequest, want: "ExpiredTokenException"},
		{name: "no expiry", idToken: claims(func(c map[string]any) { delete(c, "exp") }), status: http.StatusBadRequest, want: "ExpiredTokenException"},
		{name: "another issuer", idToken: claims(func(c map[string]any) { c["iss"] = "https://elsewhere.example.com" }), status: http.StatusBadRequest, want: "was not issued by"},
		{name: "another key", signer: other, status: http.StatusBadRequest, want: "signature could not be verified"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sts := &fakeWebIdentity{}
			h := newOIDCTestHandler(t, p, sts)
			p.mu.Lock()
			p.idToken, p.signer = p.validClaims, p.key
			if tc.idToken != nil {
				p.idToken = tc.idToken
			}
			if tc.signer != nil {
				p.signer = tc.signer
			}
			p.mu.Unlock()
			t.Cleanup(func() {
				p.mu.Lock()
				p.idToken, p.signer = p.validClaims, p.key
				p.mu.Unlock()
			})
			cookie, location := oidcStart(t, h, "role="+url.QueryEscape(testRoleARN))
			q := p.authorize(t, location)
			if tc.callback != nil {
				q, cookie = tc.callback(q, cookie)
			}
			rec := oidcCallback(h, cookie, q)
			body := rec.Body.String()
			if rec.Code != tc.status || !strings.Contains(body, tc.want) || !strings.Contains(body, `id="error"`) && !strings.Contains(body, `id="denied"`) {
				t.Errorf("callback: %d, want %d with %q\n%.3000s", rec.Code, tc.status, tc.want, body)
			}
			if !strings.Contains(rec.Header().Get("Set-Cookie"), oidcCookie+"=;") {
				t.Errorf("the callback does not clear the flow cookie: %q", rec.Header().Get("Set-Cookie"))
			}
			calls := sts.called()
			if (len(calls) > 0) != tc.sts {
				t.Fatalf("STS called %d times, want a call: %v", len(calls), tc.sts)
			}
			if tc.sts {
				c := calls[0]
				tok, err := oidc.Parse(c.WebIdentityToken)
				if err != nil || c.RoleArn != testRoleARN || c.RoleSessionName != "alice@example.com" || tok.Claims.Subject != "u-123" {
					t.Errorf("AssumeRoleWithWebIdentity(%s, %s): %v", c.RoleArn, c.RoleSessionName, err)
				}
			}
		})
	}
}

// TestOIDCStateUsedOnce: the provider's answer, replayed with the flow's
// cookie (the browser clears it, an attacker might not), is refused.
func TestOIDCStateUsedOnce(t *testing.T) {
	p := newTestProvider(t)
	sts := &fakeWebIdentity{}
	h := newOIDCTestHandler(t, p, sts)
	cookie, location := oidcStart(t, h, "role="+url.QueryEscape(testRoleARN))
	q := p.authorize(t, location)
	if rec := oidcCallback(h, cookie, q); rec.Code != http.StatusForbidden || len(sts.called()) != 1 {
		t.Fatalf("first callback: %d, %d STS calls\n%.2000s", rec.Code, len(sts.called()), rec.Body)
	}
	rec := oidcCallback(h, cookie, q)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "already been used") || len(sts.called()) != 1 {
		t.Errorf("replayed callback: %d, %d STS calls\n%.2000s", rec.Code, len(sts.called()), rec.Body)
	}
}

// TestOIDCChooseUsedOnce: the role chooser's sealed field signs in once,
// and a forged or expired one not at all.
func TestOIDCChoose(t *testing.T) {
	p := newTestProvider(t)
	sts := &fakeWebIdentity{}
	h := newOIDCTestHandler(t, p, sts)
	seal := func(c any) string {
		s, err := h.sealOIDC(c, oidcChoicePurpose)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	roles := []string{testRoleARN, "arn:aws:iam::123456789012:role/dev"}
	valid := seal(&oidcChoice{ID: newToken(), Token: "header.payload.sig", Name: "alice", Roles: roles, Expires: time.Now().Add(time.Minute)})
	post := func(choice, role string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, oidcChoosePath, strings.NewReader(url.Values{"choice": {choice}, "role": {role}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	tests := []struct {
		name, choice, role string
		status             int
		want               string
		sts                int // STS calls so far
	}{
		{"role out of range", valid, "2", http.StatusBadRequest, "Select one of the roles offered", 0},
		{"role not a number", valid, "dev", http.StatusBadRequest, "Select one of the roles offered", 0},
		{"forged", "AAAA" + valid[4:], "0", http.StatusBadRequest, "expired or is not valid", 0},
		{"a flow, not a choice", seal(&oidcFlow{State: "s", Expires: time.Now().Add(time.Minute)}), "0", http.StatusBadRequest, "expired or is not valid", 0},
		{"expired", seal(&oidcChoice{ID: newToken(), Token: "t", Name: "alice", Roles: roles, Expires: time.Now().Add(-time.Second)}), "0", http.StatusBadRequest, "expired or is not valid", 0},
		{"chosen", valid, "1", http.StatusForbidden, "trust policy does not allow", 1},
		{"chosen again", valid, "0", http.StatusBadRequest, "already been used", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := post(tc.choice, tc.role)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("choose: %d, want %d with %q\n%.2000s", rec.Code, tc.status, tc.want, rec.Body)
			}
			if n := len(sts.called()); n != tc.sts {
				t.Errorf("%d STS calls, want %d", n, tc.sts)
			}
		})
	}
	if c := sts.called(); len(c) == 1 && c[0].RoleArn != roles[1] {
		t.Errorf("signed in as %s, want the chosen %s", c[0].RoleArn, roles[1])
	}
	// A cross-site form post is refused before the choice is looked at.
	r := httptest.NewRequest(http.MethodPost, oidcChoosePath, strings.NewReader(url.Values{"choice": {valid}, "role": {"0"}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusForbidden || strings.Contains(rec.Body.String(), "already been used") {
		t.Errorf("cross-site choose: %d %.300s", rec.Code, rec.Body)
	}
}

// TestOIDCNext: the page to go to after the sign-in stays in the console,
// whatever next says.
func TestOIDCNext(t *testing.T) {
	p := newTestProvider(t)
	h := newOIDCTestHandler(t, p, &fakeWebIdentity{})
	tests := []struct{ next, want string }{
		{"/console/users", "/console/users"},
		{"/console/roles?x=1", "/console/roles?x=1"},
		{"", ""},
		{"https://evil.example.com/console/", ""},
		{"//evil.example.com/console/", ""},
		{"/\\evil.example.com", ""},
		{"/console/\\\\evil.example.com", ""},
		{"/console/\r\nLocation: https://evil.example.com", ""},
		{"javascript:alert(1)", ""},
		{"/consolex", ""},
		{"console/users", ""},
	}
	for _, tc := range tests {
		t.Run(tc.next, func(t *testing.T) {
			cookie, _ := oidcStart(t, h, "role="+url.QueryEscape(testRoleARN)+"&next="+url.QueryEscape(tc.next))
			f := &oidcFlow{}
			if !h.openOIDC(cookie.Value, oidcFlowPurpose, f) {
				t.Fatal("the flow cookie does not open")
			}
			if f.Next != tc.want {
				t.Errorf("next %q kept as %q, want %q", tc.next, f.Next, tc.want)
			}
			// The start page's form carries only a safe next.
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, oidcStartPath+"?next="+url.QueryEscape(tc.next), nil))
			hasNext := strings.Contains(rec.Body.String(), `name="next"`)
			if rec.Code != http.StatusOK || hasNext != (tc.want != "") || strings.Contains(rec.Body.String(), "evil.example.com") {
				t.Errorf("start page with next %q: %d, next field %v\n%.2000s", tc.next, rec.Code, hasNext, rec.Body)
			}
		})
	}
}

func TestOIDCStartRefusals(t *testing.T) {
	p := newTestProvider(t)
	tests := []struct {
		name, query string
		provider    bool
		status      int
		want        string
	}{
		{"not configured", "account=123456789012", false, http.StatusNotFound, "does not offer OpenID Connect sign-in"},
		{"not a role ARN", "role=ops", true, http.StatusBadRequest, "must be a role&#39;s ARN"},
		{"a user ARN", "role=" + url.QueryEscape("arn:aws:iam::123456789012:user/ops"), true, http.StatusBadRequest, "must be a role&#39;s ARN"},
		{"unknown account", "account=no-such-alias", true, http.StatusBadRequest, "No account no-such-alias"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pp := p
			if !tc.provider {
				pp = nil
			}
			h := newOIDCTestHandler(t, pp, &fakeWebIdentity{})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, oidcStartPath+"?"+tc.query, nil))
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) || rec.Header().Get("Location") != "" {
				t.Errorf("start: %d, want %d with %q\n%.2000s", rec.Code, tc.status, tc.want, rec.Body)
			}
		})
	}
}

func TestOIDCSessionName(t *testing.T) {
	tests := []struct {
		name   string
		claims map[string]any
		want   string
	}{
		{"email", map[string]any{"sub": "u1", "email": "alice@example.com", "preferred_username": "alice"}, "alice@example.com"},
		{"preferred username", map[string]any{"sub": "u1", "preferred_username": "alice"}, "alice"},
		{"empty email", map[string]any{"sub": "u1", "email": "", "preferred_username": "alice"}, "alice"},
		{"email not a string", map[string]any{"sub": "u1", "email": 42}, "u1"},
		{"subject", map[string]any{"sub": "CiQwOGE4=="}, "CiQwOGE4=="},
		{"characters STS refuses", map[string]any{"sub": "u1", "preferred_username": "Zoë O'Brien/ops"}, "Zo--O-Brien-ops"},
		{"too long", map[string]any{"sub": strings.Repeat("a", 100)}, strings.Repeat("a", 64)},
		{"too short", map[string]any{"sub": "a"}, "a-"},
		{"nothing", map[string]any{}, "--"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cl := &oidc.Claims{Raw: tc.claims}
			cl.Subject, _ = tc.claims["sub"].(string)
			if got := oidcSessionName(cl); got != tc.want {
				t.Errorf("oidcSessionName = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNewOIDCClient(t *testing.T) {
	tests := []struct {
		name string
		cfg  OIDC
		ok   bool
	}{
		{"public client", OIDC{Issuer: "https://id.example.com/", ClientID: "c"}, true},
		{"redirect URL", OIDC{Issuer: "https://id.example.com/realms/x", ClientID: "c", RedirectURL: "https://iam.example.com/console/oidc/callback"}, true},
		{"http issuer", OIDC{Issuer: "http://id.example.com", ClientID: "c"}, false},
		{"issuer with a query", OIDC{Issuer: "https://id.example.com/?a=b", ClientID: "c"}, false},
		{"no client ID", OIDC{Issuer: "https://id.example.com"}, false},
		{"redirect URL elsewhere", OIDC{Issuer: "https://id.example.com", ClientID: "c", RedirectURL: "https://iam.example.com/other"}, false},
		{"relative redirect URL", OIDC{Issuer: "https://id.example.com", ClientID: "c", RedirectURL: "/console/oidc/callback"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := newOIDCClient(&tc.cfg, time.Now)
			if (err == nil) != tc.ok {
				t.Fatalf("newOIDCClient: %v, want ok %v", err, tc.ok)
			}
			if err == nil && strings.HasSuffix(c.cfg.Issuer, "/") {
				t.Errorf("issuer %q keeps its trailing slash", c.cfg.Issuer)
			}
		})
	}
}

func TestUseOnceBounded(t *testing.T) {
	c, err := newOIDCClient(&OIDC{Issuer: "https://id.example.com", ClientID: "c"}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if !c.useOnce("a", now.Add(time.Minute), now) || c.useOnce("a", now.Add(time.Minute), now) {
		t.Fatal("useOnce: a state is used once")
	}
	for i := range 3 * maxUsedStates {
		c.useOnce(fmt.Sprint(i), now.Add(time.Minute), now)
	}
	if n := len(c.used); n > maxUsedStates {
		t.Errorf("%d used states kept, want at most %d", n, maxUsedStates)
	}
}

func TestPrintable(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"plain", 10, "plain"},
		{"a\r\nb\x00c", 10, "a  b c"},
		{"ééé", 3, "é…"},
		{"abcdef", 3, "abc…"},
	}
	for _, tc := range tests {
		if got := printable(tc.in, tc.n); got != tc.want {
			t.Errorf("printable(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
