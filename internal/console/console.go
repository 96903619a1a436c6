// Package console is iamd's web console: sign-in for root users (email and
// password) and IAM users (account, user name and password), MFA with TOTP
// codes and WebAuthn security keys, forced password changes, and pages to
// manage users, groups, roles, policies, access keys and MFA devices.
//
// The console is a client of the IAM API, not a second implementation of
// it: every action calls the same iamapi operations the Query API serves,
// with the signed-in identity as the caller, so it is authorized by the
// same policies and a user without permission sees the same AccessDenied.
// Only the sign-in itself (verifying a password or an MFA code and
// recording its use) and what AWS offers only in its console (the root
// user's password and MFA) read and write records directly.
//
// Nothing a browser sees is held by one replica: sessions are sealed into
// their cookies, and revocations (sign-out) and sign-in throttles are kept
// in the store, so that a load balancer may send each request to any
// replica.
package console

import (
	"context"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/iamd/iamd/internal/audit"
	"github.com/iamd/iamd/internal/authn"
	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/iamapi"
	"github.com/iamd/iamd/internal/password"
	"github.com/iamd/iamd/internal/sar"
	"github.com/iamd/iamd/internal/uuid"
)

// Prefix is the path the console is served under.
const Prefix = "/console"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Validator checks an operation's parameters as the Query API does
// (required members, lengths, patterns, enums) and decodes them into the
// operation's input struct; *awsquery.Dispatcher's Decode implements it.
type Validator interface {
	Decode(action string, form url.Values) (any, error)
}

// Codec is the IAM API's Validator that also gives the answer the API
// would have sent, which the audit trail records (its response elements,
// or its error): an awsquery.Dispatcher.
type Codec interface {
	Validator
	AppendResponse(b []byte, action string, out any, requestID string) ([]byte, error)
	WriteError(w http.ResponseWriter, err error, requestID string) error
}

// Config configures the console.
type Config struct {
	// IAM is the IAM API the console calls, with the signed-in identity as
	// the caller.
	IAM iamapi.Server
	// Validator validates parameters before IAM is called, as the Query
	// API does, and encodes the answers the audit trail records.
	Validator Codec
	// View, Writer and Secrets give the sign-in read access to login
	// profiles and MFA devices and let it record their use.
	View    *iam.View
	Writer  *iam.Writer
	Secrets iam.Sealer
	// Authorizer authorizes the few console actions that have no API
	// operation (registering and removing security keys) as the
	// corresponding ones (iam:EnableMFADevice, iam:DeactivateMFADevice).
	Authorizer iamapi.Authorizer
	// Passwords verifies password hashes; it should be the IAM service's.
	Passwords *password.Hasher
	Now       func() time.Time
	Log       *slog.Logger
	// Limiter throttles failed sign-ins per account and user; IPLimiter per
	// source address. Defaults: 3 free failures then 1s doubling to 15
	// minutes per user; 20 free then 1s doubling to 15 minutes per address.
	// A limiter without a Store is given the Writer's.
	Limiter   *Limiter
	IPLimiter *Limiter
	// IdleTimeout ends a session after inactivity (default 1 hour);
	// MaxSessionAge after sign-in (default 12 hours, as AWS's console).
	IdleTimeout   time.Duration
	MaxSessionAge time.Duration
	// Origins are the console's public origins (https://iam.example.com),
	// for WebAuthn and cross-origin checks. When empty, the origin of each
	// request's Host is used, which suits local use; set it in production.
	Origins []string
	// Events answers the event history's lookups; nil when there is no
	// audit trail.
	Events EventLookup
	// Trail is the audit trail: every IAM call the console makes for a
	// signed-in user is recorded there, as the Query API records its own,
	// and the least-privilege policy generator (the Access Advisor's
	// "generate a policy") reads it; nil when there is none.
	Trail *audit.Log
	// STS assumes roles for Switch role, with STSValidator (STS's
	// dispatcher) checking its parameters as the Query API does; Sessions
	// resolves the temporary credentials it issues into each request's
	// caller. Without them the console offers no role switching.
	STS          RoleAssumer
	STSValidator Validator
	Sessions     authn.TemporaryCredentials
	// SAML signs in through a SAML identity provider (POST /saml, as
	// AWS's https://signin.aws.amazon.com/saml), with STSValidator and
	// Sessions; nil offers no SAML sign-in.
	SAML SAMLAssumer
	// OIDC signs in through an OpenID Connect provider
	// (/console/oidc/start), assuming the role through WebIdentity with
	// STSValidator and Sessions; nil (or no WebIdentity) offers no OpenID
	// Connect sign-in.
	OIDC        *OIDC
	WebIdentity WebIdentityAssumer
	// Catalog is the service authorization reference the policy summaries
	// are computed with; nil loads the embedded one on first use.
	Catalog func() *sar.Catalog
	// Partition is the partition of the signed-in callers' ARNs.
	Partition iam.Partition
}

// Handler serves the console.
type Handler struct {
	cfg      Config
	iam      iamapi.Server
	log      *slog.Logger
	now      func() time.Time
	sessions *sessions
	limiter  *Limiter
	ipLimit  *Limiter
	pages    map[string]*template.Template
	mux      *http.ServeMux
	entities map[string]*entity // users, groups and roles, by URL segment
	csrf     *http.CrossOriginProtection
	dummy    func() string // a hash to verify against when there is no user
	wmu      sync.Mutex
	webauthn map[string]*webauthn.WebAuthn // by origin
	oidc     *oidcClient                   // nil without OpenID Connect sign-in
}

// New returns the console handler, to be mounted at Prefix+"/".
func New(cfg Config) (*Handler, error) {
	if cfg.IAM == nil || cfg.Validator == nil || cfg.View == nil || cfg.Writer == nil || cfg.Secrets == nil {
		return nil, errors.New("console: IAM, Validator, View, Writer and Secrets are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Passwords == nil {
		cfg.Passwords, _ = password.NewHasher(password.DefaultParams(), 2)
	}
	if cfg.Limiter == nil {
		cfg.Limiter = NewLimiter(3, time.Second, 15*time.Minute, cfg.Now)
	}
	if cfg.IPLimiter == nil {
		cfg.IPLimiter = NewLimiter(20, time.Second, 15*time.Minute, cfg.Now)
	}
	if cfg.Catalog == nil {
		cfg.Catalog = sar.Lazy(cfg.Log)
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = time.Hour
	}
	if cfg.MaxSessionAge == 0 {
		cfg.MaxSessionAge = 12 * time.Hour
	}
	for _, l := range []*Limiter{cfg.Limiter, cfg.IPLimiter} {
		if l.Store == nil {
			l.Store = cfg.Writer.Store
		}
	}
	ss, err := newSessions(cfg.Secrets, cfg.Writer.Store, cfg.Log, cfg.Now, cfg.IdleTimeout, cfg.MaxSessionAge)
	if err != nil {
		return nil, err
	}
	h := &Handler{
		cfg: cfg, iam: cfg.IAM, log: cfg.Log, now: cfg.Now,
		sessions: ss,
		limiter:  cfg.Limiter, ipLimit: cfg.IPLimiter,
		csrf:     http.NewCrossOriginProtection(),
		webauthn: make(map[string]*webauthn.WebAuthn),
	}
	for _, o := range cfg.Origins {
		if err := h.csrf.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("console: origin %q: %w", o, err)
		}
	}
	// An identity provider posts SAML responses from its own origin.
	for _, p := range []string{"POST " + samlPath, "POST " + Prefix + samlPath} {
		h.csrf.AddInsecureBypassPattern(p)
	}
	h.csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.log.Warn("console: cross-origin request refused", "path", r.URL.Path, "origin", r.Header.Get("Origin"), "source_ip", sourceIP(r))
		http.Error(w, "Cross-origin request refused.", http.StatusForbidden)
	}))
	h.dummy = dummyHash(cfg.Passwords)
	if cfg.OIDC != nil {
		if h.oidc, err = newOIDCClient(cfg.OIDC, cfg.Now); err != nil {
			return nil, err
		}
	}
	if err := h.parseTemplates(); err != nil {
		return nil, err
	}
	h.routes()
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			h.log.Error("console: panic", "path", r.URL.Path, "panic", p)
			http.Error(w, "Internal error.", http.StatusInternalServerError)
		}
	}()
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	if r.TLS != nil {
		hd.Set("Strict-Transport-Security", "max-age=31536000")
	}
	if !strings.HasPrefix(r.URL.Path, Prefix+"/static/") {
		hd.Set("Cache-Control", "no-store")
	}
	h.csrf.Handler(h.mux).ServeHTTP(w, r)
}

// Templates.

func (h *Handler) parseTemplates() error {
	funcs := template.FuncMap{
		"p": func(parts ...string) string {
			out := Prefix
			for _, s := range parts {
				out += "/" + strings.TrimPrefix(s, "/")
			}
			return out
		},
		"esc": url.PathEscape,
		"q":   url.QueryEscape,
		"date": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		},
		"ago": func(t time.Time) string {
			if t.IsZero() {
				return "never"
			}
			return ago(h.now().Sub(t))
		},
		"deref": func(b *bool) bool { return b != nil && *b },
		"summaryRows": func(effect string, rows []serviceRow) map[string]any {
			return map[string]any{"Effect": effect, "Rows": rows}
		},
		"keytab": func(keys []iamapi.AccessKeyMetadata, csrf, action string) map[string]any {
			return map[string]any{"Keys": keys, "CSRF": csrf, "Action": action}
		},
		"perms": func(p permissions, csrf, link string) map[string]any {
			return map[string]any{"P": p, "CSRF": csrf, "Link": link}
		},
		"hasPrefix": strings.HasPrefix,
		"arnPage":   arnPage,
		"arnName":   arnName,
		"dataURL": func(mime string, b []byte) template.URL {
			return template.URL("data:" + mime + ";base64," + b64(b))
		},
	}
	// summary.html holds the policy summary shared by the pages that show
	// a policy; permissions.html the permission section of users', groups'
	// and roles' pages.
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/summary.html", "templates/permissions.html")
	if err != nil {
		return err
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	h.pages = make(map[string]*template.Template)
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" || name == "summary" || name == "permissions" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return fmt.Errorf("console: template %s: %w", n, err)
		}
		h.pages[name] = t
	}
	return nil
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d minutes ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours ago", int(d/time.Hour))
	}
	return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
}

// view is what every page template receives.
type view struct {
	Title  string
	Who    *identity // nil on sign-in pages
	CSRF   string
	Flash  string
	Error  *awsquery.Error
	Denied bool
	Nav    string
	Data   any
}

// identity describes the signed-in principal for the page header.
type identity struct {
	Name    string
	Account string
	Alias   string
	Root    bool
	ARN     string
	MFA     bool
	// Role is the role the user switched to (in Account), User the user's
	// own name, Display the name the user gave the switch.
	Role, User, Display string
	// Federated is set for a SAML or OpenID Connect sign-in's role
	// session (User is then the session's name).
	Federated bool
}

// render writes a page. An *awsquery.Error in v.Error sets the status
// (403 for AccessDenied).
func (h *Handler) render(w http.ResponseWriter, status int, page string, v *view) {
	t, ok := h.pages[page]
	if !ok {
		h.log.Error("console: no template", "page", page)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	if v.Error != nil && status == http.StatusOK {
		status = v.Error.HTTPStatus
		if status == 0 {
			status = http.StatusBadRequest
		}
		v.Denied = v.Error.Code == awsquery.CodeAccessDenied
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout.html", v); err != nil {
		h.log.Error("console: render", "page", page, "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// apiError returns err as the AWS error to show; unexpected errors are
// logged and shown as InternalFailure.
func (h *Handler) apiError(err error) *awsquery.Error {
	if err == nil {
		return nil
	}
	if ae, ok := awsquery.As(err); ok {
		return ae
	}
	h.log.Error("console: internal failure", "err", err)
	return awsquery.InternalFailure()
}

// call validates form as the Query API would for action, then runs op with
// the decoded input, and records the call in the audit trail as the Query
// API would: a call whose event cannot be recorded fails.
func call[In, Out any](h *Handler, ctx context.Context, action string, form url.Values, op func(context.Context, *In) (*Out, error)) (*Out, error) {
	rec := h.beginCall(ctx, "iam", iamAPIVersion, action, form)
	defer rec.Close()
	v, err := h.cfg.Validator.Decode(action, form)
	var out *Out
	if err == nil {
		in, ok := v.(*In)
		if !ok {
			return nil, fmt.Errorf("console: %s decoded to %T", action, v)
		}
		out, err = op(ctx, in)
	}
	if ferr := h.finishCall(ctx, rec, h.cfg.Validator, action, out, err); ferr != nil {
		return nil, ferr
	}
	return out, err
}

// requestKey is the context key of a signed-in request's *http.Request,
// which the audit trail's events describe (source address, user agent).
type requestKey struct{}

// beginCall starts recording, in the audit trail, a call the console makes
// to service (iam, sts; its API version) for the signed-in user in ctx:
// the Query API records every call, so the console does too (CloudTrail
// records the console's calls as API calls). It returns nil (which needs no
// Close) when there is no trail.
func (h *Handler) beginCall(ctx context.Context, service, version, action string, form url.Values) *audit.Call {
	r, _ := ctx.Value(requestKey{}).(*http.Request)
	caller := authz.CallerFrom(ctx)
	if h.cfg.Trail == nil || r == nil || caller == nil {
		return nil
	}
	c := h.cfg.Trail.Begin(discardResponse{}, r, uuid.New(), h.now())
	params := make(url.Values, len(form)+2)
	for k, v := range form {
		params[k] = v
	}
	params.Set("Action", action)
	params.Set("Version", version)
	c.SetService(service, "")
	c.SetForm(params)
	c.SetCaller(caller)
	return c
}

// finishCall records the call's answer (out, or err as the API would
// have sent it, in codec's encoding; with no codec, only its status) and
// its event; the error is the trail's, if it cannot take the event: the
// console then shows that, as the API would answer.
func (h *Handler) finishCall(ctx context.Context, c *audit.Call, codec Codec, action string, out any, err error) error {
	if c == nil {
		return nil
	}
	requestID := c.RequestID()
	switch {
	case codec == nil && err != nil:
		c.WriteHeader(http.StatusBadRequest)
	case codec == nil:
	case err != nil:
		_ = codec.WriteError(c, err, requestID)
	default:
		if b, aerr := codec.AppendResponse(nil, action, out, requestID); aerr == nil {
			_, _ = c.Write(b)
		}
	}
	if ferr := c.Finish(ctx); ferr != nil {
		if errors.Is(ferr, audit.ErrUnavailable) {
			return awsquery.ServiceUnavailable() // the trail says why, once
		}
		return fmt.Errorf("console: audit event of %s not recorded: %w", action, ferr)
	}
	return nil
}

// discardResponse is where a recorded console call's answer goes once the
// trail has it: the page shows the call's result, not the API's XML.
type discardResponse struct{}

func (discardResponse) Header() http.Header         { return http.Header{} }
func (discardResponse) Write(p []byte) (int, error) { return len(p), nil }
func (discardResponse) WriteHeader(int)             {}

// The API versions of the calls the console records.
const (
	iamAPIVersion = "2010-05-08"
	stsAPIVersion = "2011-06-15"
)

// Requests from signed-in users.

// req is a signed-in request.
type req struct {
	w   http.ResponseWriter
	r   *http.Request
	s   *session
	ctx context.Context // carries the caller
	who *identity
	// flash is the message to show on this page (cleared in the session).
	flash string
}

// caller builds the authz caller for a session: the same principal the API
// sees for the user's access keys, with a console session (for
// aws:MultiFactorAuthPresent). ok is false if the identity is gone.
func (h *Handler) caller(r *http.Request, s *session) (*authz.Caller, *identity, bool) {
	acct, ok := h.cfg.View.Account(s.Account)
	if !ok {
		return nil, nil, false
	}
	var c *authz.Caller
	who := &identity{Account: s.Account, Alias: acct.V.Alias, Root: s.Root, MFA: s.MFA}
	if s.Root {
		c = authn.RootCaller(h.cfg.Partition, s.Account, "")
		who.Name = "root"
		if acct.V.Email != "" {
			who.Name = acct.V.Email
		}
	} else if s.Role != nil && s.Role.Federated {
		// A SAML sign-in: the role session is the identity.
		who.Name = s.UserName
		rc, ok := h.roleCaller(r.Context(), s, who)
		if !ok {
			return nil, nil, false
		}
		c = rc
	} else {
		h.cfg.View.Read(s.Account, func(a *iam.AccountView) {
			if u, ok := a.UserByID(s.UserID); ok && u.V.Login != nil {
				c = authn.UserCaller(h.cfg.Partition, s.Account, u.V, "")
				who.Name = u.V.Name
			}
		})
		if c == nil {
			return nil, nil, false
		}
	}
	if s.Role != nil && !s.Role.Federated {
		if rc, ok := h.roleCaller(r.Context(), s, who); ok {
			c = rc
		} else {
			s.Role, s.Flash = nil, "The role session has ended: you are working as "+who.Name+" again."
		}
	}
	who.ARN = c.ARN
	c.Time = h.now()
	c.SourceIP = sourceIP(r)
	c.SecureTransport = r.TLS != nil
	c.SetRequest(h.cfg.Partition.GlobalRegion(), r.UserAgent()) // the console calls IAM, global, in its partition's global region (us-east-1 in aws)
	if s.Role != nil {
		return c, who, true // the role session's own Session
	}
	c.Session = &authz.Session{Name: who.Name, IssuedAt: s.Created, Expires: s.Created.Add(h.cfg.MaxSessionAge), MFA: s.MFA, MFAAuthTime: s.MFATime, Console: true}
	return c, who, true
}

// authed wraps a handler for signed-in users; POSTs must carry the
// session's CSRF token.
func (h *Handler) authed(fn func(q *req)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := h.sessions.get(r.Context(), r)
		if err != nil {
			h.unavailable(w, err)
			return
		}
		if s == nil {
			h.toSignin(w, r)
			return
		}
		switch s.Stage {
		case stageMFA:
			http.Redirect(w, r, Prefix+"/signin/mfa", http.StatusSeeOther)
			return
		case stagePassword:
			http.Redirect(w, r, Prefix+"/signin/password", http.StatusSeeOther)
			return
		}
		c, who, ok := h.caller(r, s)
		if !ok {
			setCookie(w, r, sessionCookie, hostSessionCook, "", -1)
			h.toSignin(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !h.checkCSRF(r, s) {
			h.log.Warn("console: CSRF token mismatch", "path", r.URL.Path, "source_ip", sourceIP(r))
			http.Error(w, "Invalid or missing CSRF token. Reload the page and try again.", http.StatusForbidden)
			return
		}
		q := &req{w: w, r: r, s: s, ctx: context.WithValue(authz.WithCaller(r.Context(), c), requestKey{}, r), who: who}
		if s.Flash != "" && r.Method == http.MethodGet {
			// Shown once: on this page, and no longer in the cookie.
			q.flash, s.Flash = s.Flash, ""
		}
		h.sessions.save(w, r, s) // LastSeen
		fn(q)
	}
}

func (h *Handler) checkCSRF(r *http.Request, s *session) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return equalToken(got, s.CSRF)
}

// unavailable answers when the store cannot say whether a session was
// revoked or a sign-in throttled: the console fails closed.
func (h *Handler) unavailable(w http.ResponseWriter, err error) {
	h.log.Error("console: store unavailable", "err", err)
	writeUnavailable(w)
}

// writeUnavailable answers 503, to be retried in a few seconds.
func writeUnavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "5")
	http.Error(w, awsquery.MessageServiceUnavailable, http.StatusServiceUnavailable)
}

func (h *Handler) toSignin(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		http.Redirect(w, r, Prefix+"/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, Prefix+"/signin", http.StatusSeeOther)
}

// page renders a page for a signed-in user.
func (q *req) view(title, nav string, data any) *view {
	return &view{Title: title, Who: q.who, CSRF: q.s.CSRF, Flash: q.flash, Nav: nav, Data: data}
}

// flash sets a message for the next page and redirects there.
func (h *Handler) redirect(q *req, to, flash string) {
	if flash != "" {
		q.s.Flash = flash
		h.sessions.save(q.w, q.r, q.s)
	}
	http.Redirect(q.w, q.r, Prefix+to, http.StatusSeeOther)
}

// sourceIP is the request's peer address. The console does not trust
// X-Forwarded-For: behind a proxy, all sign-ins share the proxy's address
// for per-address throttling (per-user throttling is unaffected).
func sourceIP(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		a, _ := netip.ParseAddr(r.RemoteAddr)
		return a.Unmap()
	}
	return ap.Addr().Unmap()
}
