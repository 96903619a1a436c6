package console

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/oidc"
	"github.com/iamd/iamd/internal/stsapi"
)

// OIDC configures the console's sign-in through an OpenID Connect
// provider (authorization code flow with PKCE). The provider's ID token is
// then exchanged for a role's session by AssumeRoleWithWebIdentity, so the
// role's account must register the provider (CreateOpenIDConnectProvider
// with this client ID) and the role's trust policy must allow it.
type OIDC struct {
	// Issuer is the provider's issuer URL (https), as in its tokens' iss.
	Issuer string
	// ClientID and ClientSecret are the console's client at the provider;
	// an empty secret makes a public client (PKCE alone).
	ClientID     string
	ClientSecret string
	// RedirectURL is the callback registered at the provider
	// (https://IAMD-HOST/console/oidc/callback); empty means the request's
	// own origin.
	RedirectURL string
	// HTTPClient reaches the provider (discovery, token endpoint, keys);
	// nil means a client with a 10-second timeout.
	HTTPClient *http.Client
}

// WebIdentityAssumer is STS's web identity federation; *stsapi.Service
// implements it. The console's OpenID Connect sign-in assumes the role
// through it, so the token's signature, issuer, audience and validity and
// the role's trust policy decide as they do for the API.
type WebIdentityAssumer interface {
	AssumeRoleWithWebIdentity(ctx context.Context, in *stsapi.AssumeRoleWithWebIdentityRequest) (*stsapi.AssumeRoleWithWebIdentityResponse, error)
}

// OpenID Connect sign-in paths.
const (
	oidcStartPath    = Prefix + "/oidc/start"
	oidcCallbackPath = Prefix + "/oidc/callback"
	oidcChoosePath   = Prefix + "/oidc/choose"
)

// Sealing purposes of the flow cookie and the role chooser's field.
const (
	oidcFlowPurpose   = "iamd/console-oidc-flow/v1"
	oidcChoicePurpose = "iamd/console-oidc-choice/v1"
)

// oidcFlowTTL is how long a sign-in may take at the provider.
const oidcFlowTTL = 10 * time.Minute

// oidcCookie holds the flow in progress; over TLS it takes __Host-.
const (
	oidcCookie     = "iamd_oidc"
	hostOIDCCookie = "__Host-iamd_oidc"
)

// oidcScopes are the scopes asked for: the ID token, and the email that
// names the role session.
const oidcScopes = "openid email"

// maxOIDCResponse bounds the provider's documents and token responses.
const maxOIDCResponse = 1 << 20

// oidcFlow is a sign-in in progress, sealed in the browser's cookie
// between the start and the callback: what the callback checks the
// provider's answer against (state, nonce) and proves the code with (the
// PKCE verifier), and what the user asked for.
type oidcFlow struct {
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"`
	Redirect string    `json:"u"`
	Account  string    `json:"a"`
	Role     string    `json:"r,omitempty"`
	Next     string    `json:"x,omitempty"`
	Expires  time.Time `json:"e"`
}

// oidcChoice is what the role chooser's form carries, sealed: the verified
// ID token (used once a role is chosen), the session name, the roles
// offered.
type oidcChoice struct {
	ID      string    `json:"i"` // used once
	Token   string    `json:"t"`
	Name    string    `json:"n"`
	Roles   []string  `json:"o"`
	Next    string    `json:"x,omitempty"`
	Expires time.Time `json:"e"`
}

type oidcData struct {
	Issuer  string
	Account string
	Next    string
	Sealed  string
	Roles   []samlRoleOption
	Refused bool
}

// oidcClient is the console's OpenID Connect relying party.
type oidcClient struct {
	cfg  OIDC
	http *http.Client
	keys *oidc.Fetcher

	mu        sync.Mutex
	discovery *oidcDiscovery
	fetched   time.Time
	used      map[string]time.Time // states and choices used, until they expire
}

type oidcDiscovery struct {
	Issuer        string `json:"issuer"`
	Authorization string `json:"authorization_endpoint"`
	Token         string `json:"token_endpoint"`
}

// maxUsedStates bounds the used states and choices kept (per replica).
const maxUsedStates = 10000

// newOIDCClient checks cfg and returns the relying party it configures.
func newOIDCClient(cfg *OIDC, now func() time.Time) (*oidcClient, error) {
	c := &oidcClient{cfg: *cfg, http: cfg.HTTPClient, used: make(map[string]time.Time)}
	c.cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	if u, err := url.Parse(c.cfg.Issuer); err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("console: OpenID Connect issuer %q: want an https URL without query, fragment or user", cfg.Issuer)
	}
	if c.cfg.ClientID == "" {
		return nil, errors.New("console: OpenID Connect sign-in needs a client ID")
	}
	if c.cfg.RedirectURL != "" {
		u, err := url.Parse(c.cfg.RedirectURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != oidcCallbackPath || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("console: OpenID Connect redirect URL %q: want http(s)://HOST%s", cfg.RedirectURL, oidcCallbackPath)
		}
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: 10 * time.Second}
	}
	c.keys = &oidc.Fetcher{Client: c.http, Now: now}
	return c, nil
}

// errProvider means the provider could not be reached or answered
// unusably; the page says so without the details, which are logged.
var errProvider = errors.New("console: OpenID Connect provider")

// discover returns the provider's endpoints, cached for an hour.
func (c *oidcClient) discover(ctx context.Context, now time.Time) (*oidcDiscovery, error) {
	c.mu.Lock()
	d, fetched := c.discovery, c.fetched
	c.mu.Unlock()
	if d != nil && now.Sub(fetched) < time.Hour {
		return d, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.Issuer+"/.well-known/openid-configuration", nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errProvider, err)
	}
	req.Header.Set("Accept", "application/json")
	body, err := c.do(req)
	if err != nil {
		return nil, err
	}
	d = &oidcDiscovery{}
	if err := json.Unmarshal(body, d); err != nil {
		return nil, fmt.Errorf("%w: discovery document: %v", errProvider, err)
	}
	switch {
	case strings.TrimSuffix(d.Issuer, "/") != c.cfg.Issuer:
		return nil, fmt.Errorf("%w: discovery document names issuer %q", errProvider, d.Issuer)
	case !strings.HasPrefix(d.Authorization, "https://") || !strings.HasPrefix(d.Token, "https://"):
		return nil, fmt.Errorf("%w: discovery document has no https authorization and token endpoints", errProvider)
	}
	c.mu.Lock()
	c.discovery, c.fetched = d, now
	c.mu.Unlock()
	return d, nil
}

func (c *oidcClient) do(req *http.Request) ([]byte, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errProvider, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxOIDCResponse))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errProvider, err)
	}
	if resp.StatusCode != http.StatusOK {
		// The token endpoint's errors are JSON (RFC 6749 5.2): the code
		// and description, never the request, are worth logging.
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(body, &e)
		return nil, fmt.Errorf("%w: %s answered %s %s %s", errProvider, req.URL.Redacted(), resp.Status, e.Error, e.Description)
	}
	return body, nil
}

// exchange redeems the authorization code at the token endpoint with the
// PKCE verifier, returning the ID token.
func (c *oidcClient) exchange(ctx context.Context, d *oidcDiscovery, code, verifier, redirect string) (string, error) {
	v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
	if c.cfg.ClientSecret == "" {
		v.Set("client_id", c.cfg.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.Token, strings.NewReader(v.Encode()))
	if err != nil {
		return "", fmt.Errorf("%w: %v", errProvider, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if c.cfg.ClientSecret != "" {
		// client_secret_basic, each part form-encoded (RFC 6749 2.3.1).
		req.SetBasicAuth(url.QueryEscape(c.cfg.ClientID), url.QueryEscape(c.cfg.ClientSecret))
	}
	body, err := c.do(req)
	if err != nil {
		return "", err
	}
	var out struct {
		IDToken string `json:"id_token"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.IDToken == "" {
		return "", fmt.Errorf("%w: the token endpoint's answer has no id_token", errProvider)
	}
	return out.IDToken, nil
}

// verify checks the ID token as a relying party must (OpenID Connect Core
// 3.1.3.7): signed by the provider's keys, issued by it, for this client,
// not expired, with the flow's nonce. STS then checks it again against the
// role's account and trust policy.
func (c *oidcClient) verify(ctx context.Context, token, nonce string, now time.Time) (*oidc.Token, error) {
	tok, err := oidc.Parse(token)
	if err != nil {
		return nil, oidcInvalid("The identity provider's ID token is not a valid JWT.")
	}
	cl := &tok.Claims
	if strings.TrimSuffix(cl.Issuer, "/") != c.cfg.Issuer {
		return nil, oidcInvalid("The ID token was not issued by " + c.cfg.Issuer + ".")
	}
	ks, err := c.keys.KeySet(ctx, c.cfg.Issuer, tok.Header.Kid)
	if err != nil {
		return nil, fmt.Errorf("%w: keys: %v", errProvider, err)
	}
	if err := tok.Verify(ks); err != nil {
		return nil, oidcInvalid("The ID token's signature could not be verified.")
	}
	if !slices.Contains(cl.Audience, c.cfg.ClientID) || (cl.AuthorizedParty != "" && cl.AuthorizedParty != c.cfg.ClientID) {
		return nil, oidcInvalid("Incorrect token audience: the ID token is not for this console's client " + c.cfg.ClientID + ".")
	}
	if cl.Expiry.IsZero() || !now.Before(cl.Expiry) {
		return nil, &awsquery.Error{Code: "ExpiredTokenException", Message: "The ID token has expired: sign in again.", HTTPStatus: http.StatusBadRequest, Sender: true}
	}
	if n, _ := cl.StringClaim("nonce"); !equalToken(n, nonce) {
		return nil, oidcInvalid("The ID token's nonce is not this sign-in's: sign in again.")
	}
	return tok, nil
}

// useOnce records a flow's state, or a role choice's ID, as used until
// its expiry; false if it was already.
func (c *oidcClient) useOnce(state string, until, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, seen := c.used[state]; seen {
		return false
	}
	if len(c.used) >= maxUsedStates {
		for s, exp := range c.used {
			if !now.Before(exp) {
				delete(c.used, s)
			}
		}
		// Still full (a flood of sign-ins): forget some, in map order,
		// rather than refuse sign-ins. The flow's cookie is cleared at
		// the callback and the provider redeems a code once, so this is a
		// second line only.
		for s := range c.used {
			if len(c.used) < maxUsedStates/2 {
				break
			}
			delete(c.used, s)
		}
	}
	c.used[state] = until
	return true
}

func oidcInvalid(msg string) error {
	return &awsquery.Error{Code: "InvalidIdentityToken", Message: msg, HTTPStatus: http.StatusBadRequest, Sender: true}
}

func oidcUnavailable() error {
	return &awsquery.Error{Code: "NotFound", Message: "This server does not offer OpenID Connect sign-in.", HTTPStatus: http.StatusNotFound, Sender: true}
}

// oidcRoutes serves the OpenID Connect sign-in; without configuration,
// its pages say it is not offered.
func (h *Handler) oidcRoutes(m *http.ServeMux) {
	m.HandleFunc("GET "+oidcStartPath, h.oidcStart)
	m.HandleFunc("GET "+oidcCallbackPath, h.oidcCallback)
	m.HandleFunc("POST "+oidcChoosePath, h.oidcChoose)
}

func (h *Handler) oidcReady() bool {
	return h.oidc != nil && h.cfg.WebIdentity != nil && h.cfg.STSValidator != nil
}

// oidcStart sends the browser to the provider's authorization endpoint,
// with the flow (state, nonce, PKCE verifier) sealed in a cookie. ?role=ARN
// signs in as that role; ?account=ID-OR-ALIAS offers, after the sign-in,
// the account's roles whose trust policy names the provider.
func (h *Handler) oidcStart(w http.ResponseWriter, r *http.Request) {
	if !h.oidcReady() {
		h.oidcRefuse(w, r, "", oidcUnavailable())
		return
	}
	q := r.URL.Query()
	f := &oidcFlow{Role: strings.TrimSpace(q.Get("role")), Next: safeNext(q.Get("next"))}
	if f.Role != "" {
		acct, name := roleARNParts(f.Role)
		if !accountID.MatchString(acct) || !strings.Contains(f.Role, ":role/") || name == "" {
			h.oidcRefuse(w, r, "", &awsquery.Error{Code: "ValidationError", Message: "role must be a role's ARN, arn:aws:iam::ACCOUNT:role/NAME.", HTTPStatus: http.StatusBadRequest, Sender: true})
			return
		}
		f.Account = acct
	} else if a := strings.TrimSpace(q.Get("account")); a != "" {
		acct, ok := h.resolveAccount(a)
		if !ok {
			h.oidcRefuse(w, r, "", &awsquery.Error{Code: "ValidationError", Message: "No account " + a + ": check the account ID or alias.", HTTPStatus: http.StatusBadRequest, Sender: true})
			return
		}
		f.Account = acct
	} else {
		h.allowFormToProvider(w, r)
		h.render(w, http.StatusOK, "oidc", &view{Title: "Sign in with OpenID Connect", Data: &oidcData{Issuer: h.oidc.cfg.Issuer, Next: f.Next}})
		return
	}
	d, err := h.oidc.discover(r.Context(), h.now())
	if err != nil {
		h.oidcRefuse(w, r, f.Account, err)
		return
	}
	f.State, f.Nonce, f.Verifier = newToken(), newToken(), newToken()
	f.Redirect = h.oidcRedirect(r)
	f.Expires = h.now().Add(oidcFlowTTL)
	sealed, err := h.sealOIDC(f, oidcFlowPurpose)
	if err != nil {
		h.oidcRefuse(w, r, f.Account, err)
		return
	}
	setCookie(w, r, oidcCookie, hostOIDCCookie, sealed, int(oidcFlowTTL/time.Second))
	challenge := sha256.Sum256([]byte(f.Verifier))
	v := url.Values{
		"response_type": {"code"}, "client_id": {h.oidc.cfg.ClientID}, "redirect_uri": {f.Redirect},
		"scope": {oidcScopes}, "state": {f.State}, "nonce": {f.Nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(challenge[:])}, "code_challenge_method": {"S256"},
	}
	sep := "?"
	if strings.Contains(d.Authorization, "?") {
		sep = "&"
	}
	http.Redirect(w, r, d.Authorization+sep+v.Encode(), http.StatusSeeOther)
}

// allowFormToProvider lets the start page's form reach the provider: the
// form goes to oidcStart, whose answer redirects to the authorization
// endpoint, and browsers hold a form's redirects to the page's
// form-action too ('self' alone stops the sign-in there). The endpoint's
// origin is the discovered one, else the issuer's.
func (h *Handler) allowFormToProvider(w http.ResponseWriter, r *http.Request) {
	target := h.oidc.cfg.Issuer
	if d, err := h.oidc.discover(r.Context(), h.now()); err == nil {
		target = d.Authorization
	}
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "https" || u.Host == "" || strings.ContainsAny(u.Host, " ;,'") {
		return
	}
	csp := w.Header().Get("Content-Security-Policy")
	w.Header().Set("Content-Security-Policy", strings.Replace(csp, "form-action 'self'", "form-action 'self' https://"+u.Host, 1))
}

// oidcRedirect is the callback URL the provider sends the browser back to.
func (h *Handler) oidcRedirect(r *http.Request) string {
	if h.oidc.cfg.RedirectURL != "" {
		return h.oidc.cfg.RedirectURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + oidcCallbackPath
}

// oidcCallback receives the provider's answer: it checks the state
// against the flow's cookie (and that it is used once), redeems the code
// with the PKCE verifier, verifies the ID token, and signs in as the role
// asked for, or offers the roles that trust the provider.
func (h *Handler) oidcCallback(w http.ResponseWriter, r *http.Request) {
	if !h.oidcReady() {
		h.oidcRefuse(w, r, "", oidcUnavailable())
		return
	}
	now := h.now()
	cookie := readCookie(r, oidcCookie, hostOIDCCookie)
	setCookie(w, r, oidcCookie, hostOIDCCookie, "", -1) // a flow is answered once
	f := &oidcFlow{}
	if !h.openOIDC(cookie, oidcFlowPurpose, f) || !now.Before(f.Expires) {
		h.oidcRefuse(w, r, "", &awsquery.Error{Code: "ExpiredTokenException", Message: "The sign-in has expired or was not started in this browser: sign in again.", HTTPStatus: http.StatusBadRequest, Sender: true})
		return
	}
	q := r.URL.Query()
	if !equalToken(q.Get("state"), f.State) {
		h.oidcRefuse(w, r, f.Account, oidcInvalid("The answer's state is not this sign-in's: sign in again."))
		return
	}
	if !h.oidc.useOnce("state:"+f.State, f.Expires, now) {
		h.oidcRefuse(w, r, f.Account, oidcInvalid("This sign-in's answer has already been used: sign in again."))
		return
	}
	if e := q.Get("error"); e != "" {
		// The provider's words, shown and recorded: bounded and printable.
		msg := "The identity provider refused the sign-in (" + printable(e, 64) + ")"
		if d := printable(q.Get("error_description"), 300); d != "" {
			msg += ": " + d
		}
		h.oidcRefuse(w, r, f.Account, &awsquery.Error{Code: "AccessDenied", Message: msg + ".", HTTPStatus: http.StatusForbidden, Sender: true})
		return
	}
	code := q.Get("code")
	if code == "" {
		h.oidcRefuse(w, r, f.Account, oidcInvalid("The identity provider's answer has no authorization code."))
		return
	}
	d, err := h.oidc.discover(r.Context(), now)
	if err != nil {
		h.oidcRefuse(w, r, f.Account, err)
		return
	}
	token, err := h.oidc.exchange(r.Context(), d, code, f.Verifier, f.Redirect)
	if err != nil {
		h.oidcRefuse(w, r, f.Account, err)
		return
	}
	tok, err := h.oidc.verify(r.Context(), token, f.Nonce, now)
	if err != nil {
		h.oidcRefuse(w, r, f.Account, err)
		return
	}
	name := oidcSessionName(&tok.Claims)
	if f.Role != "" {
		h.oidcSignIn(w, r, token, f.Role, name, f.Next)
		return
	}
	roles := h.oidcRoles(f.Account)
	switch len(roles) {
	case 0:
		h.oidcRefuse(w, r, f.Account, &awsquery.Error{Code: awsquery.CodeAccessDenied, HTTPStatus: http.StatusForbidden, Sender: true,
			Message: "No role in account " + f.Account + " trusts " + h.oidc.cfg.Issuer + ": its trust policy must name the account's OpenID Connect provider for it (sts:AssumeRoleWithWebIdentity)."})
		return
	case 1:
		h.oidcSignIn(w, r, token, roles[0], name, f.Next)
		return
	}
	sealed, err := h.sealOIDC(&oidcChoice{ID: newToken(), Token: token, Name: name, Roles: roles, Next: f.Next, Expires: now.Add(samlChoiceTTL)}, oidcChoicePurpose)
	if err != nil {
		h.oidcRefuse(w, r, f.Account, err)
		return
	}
	data := &oidcData{Issuer: h.oidc.cfg.Issuer, Account: f.Account, Sealed: sealed}
	for i, arn := range roles {
		acct, rn := roleARNParts(arn)
		data.Roles = append(data.Roles, samlRoleOption{Index: i, Account: acct, Name: rn, RoleARN: arn})
	}
	h.render(w, http.StatusOK, "oidc", &view{Title: "Select a role", Data: data})
}

// oidcChoose signs in as the role chosen on the chooser page.
func (h *Handler) oidcChoose(w http.ResponseWriter, r *http.Request) {
	if !h.oidcReady() {
		h.oidcRefuse(w, r, "", oidcUnavailable())
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxSAMLForm)
	c := &oidcChoice{}
	if !h.openOIDC(r.PostFormValue("choice"), oidcChoicePurpose, c) || !h.now().Before(c.Expires) || len(c.Roles) == 0 {
		h.oidcRefuse(w, r, "", &awsquery.Error{Code: "ExpiredTokenException", Message: "The role selection has expired or is not valid: sign in again.", HTTPStatus: http.StatusBadRequest, Sender: true})
		return
	}
	acct, _ := roleARNParts(c.Roles[0])
	i, err := strconv.Atoi(r.PostFormValue("role"))
	if err != nil || i < 0 || i >= len(c.Roles) {
		h.oidcRefuse(w, r, acct, &awsquery.Error{Code: "ValidationError", Message: "Select one of the roles offered.", HTTPStatus: http.StatusBadRequest, Sender: true})
		return
	}
	// The choice carries a verified ID token: it signs in once.
	if !h.oidc.useOnce("choice:"+c.ID, c.Expires, h.now()) {
		h.oidcRefuse(w, r, acct, oidcInvalid("This role selection has already been used: sign in again."))
		return
	}
	h.oidcSignIn(w, r, c.Token, c.Roles[i], c.Name, c.Next)
}

// oidcSignIn assumes role with the ID token through
// AssumeRoleWithWebIdentity, as the API does, and starts the console
// session.
func (h *Handler) oidcSignIn(w http.ResponseWriter, r *http.Request, token, role, name, next string) {
	acct, _ := roleARNParts(role)
	in, err := h.cfg.STSValidator.Decode("AssumeRoleWithWebIdentity", form("RoleArn", role, "RoleSessionName", name, "WebIdentityToken", token))
	if err != nil {
		h.oidcRefuse(w, r, acct, err)
		return
	}
	req, ok := in.(*stsapi.AssumeRoleWithWebIdentityRequest)
	if !ok {
		h.oidcRefuse(w, r, acct, awsquery.InternalFailure())
		return
	}
	out, err := h.cfg.WebIdentity.AssumeRoleWithWebIdentity(r.Context(), req)
	if e := h.apiError(err); e != nil && e.Code == awsquery.CodeAccessDenied {
		err = &awsquery.Error{Code: e.Code, HTTPStatus: http.StatusForbidden, Sender: true,
			Message: e.Message + ": the role does not exist, or its trust policy does not allow this OpenID Connect provider (sts:AssumeRoleWithWebIdentity) for you."}
	}
	if err != nil {
		h.oidcRefuse(w, r, acct, err)
		return
	}
	h.startFederatedSession(w, r, role, out.Credentials, out.AssumedRoleUser.Arn, next, "OIDC")
}

// oidcRoles lists the roles of account whose trust policy names the
// account's OpenID Connect provider for the issuer: the roles to offer.
// The trust policy still decides when one is chosen.
func (h *Handler) oidcRoles(account string) []string {
	host := strings.TrimPrefix(h.oidc.cfg.Issuer, "https://")
	prov := stsapi.OIDCProviderARN(h.cfg.Partition, account, host)
	var out []string
	h.cfg.View.Read(account, func(a *iam.AccountView) {
		if _, ok := a.OIDCProvider(host); !ok {
			return
		}
		roles, _ := a.Roles("", 1000, func(ro *iam.Role) bool {
			return strings.Contains(ro.TrustPolicy, `"`+prov+`"`) && strings.Contains(ro.TrustPolicy, "AssumeRoleWithWebIdentity")
		})
		for _, ro := range roles {
			out = append(out, h.cfg.Partition.ARN(account, "role", ro.V.Path, ro.V.Name))
		}
	})
	return out
}

// sessionNameChars are the characters STS allows in a RoleSessionName.
var sessionNameChars = regexp.MustCompile(`[^\w+=,.@-]`)

// oidcSessionName names the role session after the user: the ID token's
// email, else its preferred_username, else its subject, in the characters
// and length STS allows.
func oidcSessionName(cl *oidc.Claims) string {
	name := cl.Subject
	for _, claim := range []string{"email", "preferred_username"} {
		if v, ok := cl.StringClaim(claim); ok && v != "" {
			name = v
			break
		}
	}
	name = sessionNameChars.ReplaceAllString(name, "-")
	if len(name) > 64 {
		name = name[:64]
	}
	for len(name) < 2 {
		name += "-"
	}
	return name
}

// oidcRefuse shows why an OpenID Connect sign-in was refused and records
// it as a failed ConsoleLogin in account, when the flow named one. Neither
// the code, the tokens nor the verifier are logged: the provider's errors
// are logged without the request.
func (h *Handler) oidcRefuse(w http.ResponseWriter, r *http.Request, account string, err error) {
	if errors.Is(err, errProvider) {
		h.log.Warn("console OIDC sign-in: identity provider", "err", err)
		err = &awsquery.Error{Code: "IDPCommunicationError", Message: "The identity provider could not be reached or gave an unusable answer: try again, or ask your administrator to check the console's OpenID Connect configuration.", HTTPStatus: http.StatusBadGateway}
	}
	e := h.apiError(err)
	h.log.Info("console OIDC sign-in refused", "code", e.Code, "account", account, "source_ip", sourceIP(r))
	provider := ""
	if h.oidc != nil {
		provider = strings.TrimPrefix(h.oidc.cfg.Issuer, "https://")
	}
	h.auditFederatedRefusal(r, account, "WebIdentityUser", provider, e.Message)
	h.render(w, http.StatusOK, "oidc", &view{Title: "Sign-in refused", Error: e, Data: &oidcData{Refused: true}})
}

// printable returns s with spaces for its control characters, cut to n
// bytes at a character boundary.
func printable(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func (h *Handler) sealOIDC(v any, purpose string) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	sealed, err := h.sessions.seal.Seal(plain, []byte(purpose))
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// openOIDC opens a sealed flow or choice into v; false if it does not.
func (h *Handler) openOIDC(s, purpose string, v any) bool {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) == 0 {
		return false
	}
	plain, err := h.sessions.seal.Open(raw, []byte(purpose))
	if err != nil {
		return false
	}
	return json.Unmarshal(plain, v) == nil
}
