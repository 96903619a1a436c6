package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamd/iamd/internal/console"
	"github.com/iamd/iamd/internal/server"
)

// codeProvider is an OpenID Connect provider with the authorization code
// flow: discovery, keys, an authorization endpoint that signs the user in
// at once and redirects back with a code, and a token endpoint that
// authenticates the client, redeems a code once with the PKCE verifier of
// its challenge, and answers an RS256 ID token (the issuer's signer).
type codeProvider struct {
	*issuer
	clientID, secret string

	mu      sync.Mutex
	grants  map[string]codeGrant // by code
	claims  func(nonce string) map[string]any
	secrets []string // codes and ID tokens issued: none may be logged
}

type codeGrant struct{ challenge, nonce, redirect string }

func newCodeProvider(t *testing.T, clientID, secret string) *codeProvider {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err)
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	p := &codeProvider{issuer: &issuer{rsa: rk, ec: ek}, clientID: clientID, secret: secret, grants: map[string]codeGrant{}}
	p.claims = p.validClaims
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": p.srv.URL, "jwks_uri": p.srv.URL + "/keys",
			"authorization_endpoint": p.srv.URL + "/authorize", "token_endpoint": p.srv.URL + "/token",
			"response_types_supported": []string{"code"}, "code_challenge_methods_supported": []string{"S256"}})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) {
		b64 := base64.RawURLEncoding
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]any{
			{"kty": "RSA", "kid": "r1", "use": "sig", "alg": "RS256", "n": b64.EncodeToString(rk.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(rk.E)).Bytes())},
		}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("response_type") != "code" || q.Get("client_id") != clientID || q.Get("code_challenge_method") != "S256" ||
			q.Get("code_challenge") == "" || q.Get("state") == "" || q.Get("nonce") == "" || !strings.Contains(q.Get("scope"), "openid") {
			http.Error(w, "bad authorization request: "+q.Encode(), http.StatusBadRequest)
			return
		}
		code := base64.RawURLEncoding.EncodeToString(big.NewInt(time.Now().UnixNano()).Bytes()) + "-code"
		p.mu.Lock()
		p.grants[code] = codeGrant{challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), redirect: q.Get("redirect_uri")}
		p.secrets = append(p.secrets, code)
		p.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		fail := func(code string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": code})
		}
		id, pw, _ := r.BasicAuth()
		id, _ = url.QueryUnescape(id)
		pw, _ = url.QueryUnescape(pw)
		code := r.PostFormValue("code")
		p.mu.Lock()
		g, ok := p.grants[code]
		delete(p.grants, code)
		claims := p.claims(g.nonce)
		p.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		switch {
		case id != clientID || pw != secret:
			fail("invalid_client")
		case r.PostFormValue("grant_type") != "authorization_code" || !ok || r.PostFormValue("redirect_uri") != g.redirect:
			fail("invalid_grant")
		case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
			fail("invalid_grant")
		default:
			tok := p.token(t, "RS256", claims)
			p.mu.Lock()
			p.secrets = append(p.secrets, tok)
			p.mu.Unlock()
			json.NewEncoder(w).Encode(map[string]string{"token_type": "Bearer", "access_token": "opaque", "id_token": tok})
		}
	})
	p.srv = httptest.NewTLSServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *codeProvider) validClaims(nonce string) map[string]any {
	now := time.Now()
	return map[string]any{"iss": p.srv.URL, "sub": "0a8f-alice", "aud": p.clientID, "email": "alice@example.com", "nonce": nonce,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

func (p *codeProvider) setClaims(c func(nonce string) map[string]any) {
	p.mu.Lock()
	p.claims = c
	p.mu.Unlock()
}

// TestConsoleOIDC signs in to the console through an OpenID Connect
// provider (authorization code with PKCE): the sign-in page links to it,
// the browser goes to the provider and back, and lands in the console as
// the account's role that trusts the provider, or on the role chooser when
// several do. A role that does not trust the provider, an ID token with
// another nonce and an answer with another state are refused with a
// clear page and recorded as failed ConsoleLogins; the successful one as
// ConsoleLogin by the role session. Nothing logged (codes, ID tokens, the
// client secret) would let a sign-in be replayed.
func TestConsoleOIDC(t *testing.T) {
	const clientID, secret = "iamd-console", "s3cret-of-the-console"
	p := newCodeProvider(t, clientID, secret)
	logs := &syncBuffer{}
	e := startWith(t, func(c *server.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
		c.HTTPClient = p.srv.Client()
		c.ConsoleOIDC = &console.OIDC{Issuer: p.srv.URL, ClientID: clientID, ClientSecret: secret}
	})
	ctx := context.Background()
	root := e.rootIAM()
	prov, err := root.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: aws.String(p.srv.URL), ClientIDList: []string{clientID}})
	must(t, err)
	host := strings.TrimPrefix(p.srv.URL, "https://")
	trust := func(principal string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + principal +
			`"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"` + host + `:aud":"` + clientID + `"}}}]}`
	}
	roleARN := func(name string) string { return "arn:aws:iam::" + e.account + ":role/" + name }
	mkRole := func(name, principal string) {
		_, err := root.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust(principal))})
		must(t, err)
		_, err = root.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String("ReadUsers"), PolicyDocument: aws.String(allowDoc("iam:ListUsers", "iam:GetUser"))})
		must(t, err)
	}
	mkRole("ops", aws.ToString(prov.OpenIDConnectProviderArn))
	mkRole("untrusting", "arn:aws:iam::"+e.account+":oidc-provider/elsewhere.example.com")

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
	mkRole("dev", aws.ToString(prov.OpenIDConnectProviderArn))
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
	signOut()
	// The choice signs in once.
	r, err = browser.PostForm(e.url+"/console/oidc/choose", url.Values{"choice": {choice}, "role": {devIndex}})
	must(t, err)
	b, _ = io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "already been used") {
		t.Errorf("choice used again: %d\n%.2000s", r.StatusCode, b)
	}

	// Refusals: a clear page, no session.
	otherNonce := func(nonce string) map[string]any { c := p.validClaims(nonce); c["nonce"] = "not-" + nonce; return c }
	cases := []struct {
		name, start string
		claims      func(string) map[string]any
		tamper      func(url.Values)
		status      int
		want        string
	}{
		{"role not trusting the provider", "role=" + url.QueryEscape(roleARN("untrusting")), nil, nil, http.StatusForbidden, "trust policy does not allow this OpenID Connect provider"},
		{"another nonce", "role=" + url.QueryEscape(roleARN("ops")), otherNonce, nil, http.StatusBadRequest, "nonce is not this sign-in"},
		{"another state", "role=" + url.QueryEscape(roleARN("ops")), nil, func(q url.Values) { q.Set("state", "forged") }, http.StatusBadRequest, "state is not this sign-in"},
		{"another code", "account=" + e.account, nil, func(q url.Values) { q.Set("code", "forged-code") }, http.StatusBadGateway, "IDPCommunicationError"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.claims != nil {
				p.setClaims(tc.claims)
				defer p.setClaims(p.validClaims)
			}
			tamper = tc.tamper
			defer func() { tamper = nil }()
			status, path, body := get(e.url + "/console/oidc/start?" + tc.start)
			if status != tc.status || path != "/console/oidc/callback" || !strings.Contains(body, tc.want) || !strings.Contains(body, "OpenID Connect sign-in refused") {
				t.Errorf("%d at %s, want %d with %q\n%.3000s", status, path, tc.status, tc.want, body)
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
	if strings.Contains(out, secret) || strings.Contains(out, "SessionToken") || strings.Contains(out, "code_verifier") {
		t.Errorf("the log names the client secret, a session token or a PKCE verifier")
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
