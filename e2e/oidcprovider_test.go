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
	"math/big"
	"net/http"
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
	signer  *issuer  // signs the ID tokens: the provider itself unless set
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
		claims, signer := p.claims(g.nonce), p.signer
		p.mu.Unlock()
		if signer == nil {
			signer = p.issuer
		}
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		switch {
		case id != clientID || pw != secret:
			fail("invalid_client")
		case r.PostFormValue("grant_type") != "authorization_code" || !ok || r.PostFormValue("redirect_uri") != g.redirect:
			fail("invalid_grant")
		case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
			fail("invalid_grant")
		default:
			tok := signer.token(t, "RS256", claims)
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

// setSigner has the token endpoint sign ID tokens with another key under
// the provider's key ID (nil: the provider's own key).
func (p *codeProvider) setSigner(k *rsa.PrivateKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if k == nil {
		p.signer = nil
		return
	}
	p.signer = &issuer{rsa: k}
}

// oidcConsole is iamd with its console's OpenID Connect sign-in through a
// test provider, which the account registers as an OpenID Connect
// provider with the console's client ID.
type oidcConsole struct {
	*env
	p       *codeProvider
	provARN string
	host    string // the provider's host, its condition keys' prefix
}

// Test console client's credentials at the provider.
const oidcClientID, oidcClientSecret = "iamd-console", "s3cret-of-the-console"

func startOIDCConsole(t *testing.T, change func(*server.Config)) *oidcConsole {
	t.Helper()
	p := newCodeProvider(t, oidcClientID, oidcClientSecret)
	e := startWith(t, func(c *server.Config) {
		c.HTTPClient = p.srv.Client()
		c.ConsoleOIDC = &console.OIDC{Issuer: p.srv.URL, ClientID: oidcClientID, ClientSecret: oidcClientSecret}
		change(c)
	})
	prov, err := e.rootIAM().CreateOpenIDConnectProvider(context.Background(), &iam.CreateOpenIDConnectProviderInput{Url: aws.String(p.srv.URL), ClientIDList: []string{oidcClientID}})
	must(t, err)
	return &oidcConsole{env: e, p: p, provARN: aws.ToString(prov.OpenIDConnectProviderArn), host: strings.TrimPrefix(p.srv.URL, "https://")}
}

func (o *oidcConsole) roleARN(name string) string {
	return "arn:aws:iam::" + o.account + ":role/" + name
}

// role creates a role whose trust policy lets principal's web identities
// (for the console's client ID) assume it, and which may read users.
func (o *oidcConsole) role(t *testing.T, name, principal string) {
	t.Helper()
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + principal +
		`"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"` + o.host + `:aud":"` + oidcClientID + `"}}}]}`
	ctx, root := context.Background(), o.rootIAM()
	_, err := root.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)})
	must(t, err)
	_, err = root.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String("ReadUsers"), PolicyDocument: aws.String(allowDoc("iam:ListUsers", "iam:GetUser"))})
	must(t, err)
}
