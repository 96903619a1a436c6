package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/iamd/iamd/internal/audit"
	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/password"
	"github.com/iamd/iamd/internal/totp"
	"github.com/iamd/iamd/policy"
)

// Messages of the sign-in pages. A failed sign-in says the same whatever
// was wrong (unknown account, user or email, no password, wrong password),
// as AWS's console does.
const (
	msgBadCredentials = "Your authentication information is incorrect. Please try again."
	msgBadCode        = "Your authentication information is incorrect. Please try again."
	msgExpiredForm    = "This sign-in page has expired. Please try again."
	msgHardExpired    = "Your password has expired and must be reset by an administrator."
)

// hiddenUser is logged instead of a user name that does not exist, as
// CloudTrail does for console sign-ins: people type passwords into the
// user name field.
const hiddenUser = "HIDDEN_DUE_TO_SECURITY_REASONS"

// dummyHash returns a function giving a hash of a random password, made
// once with the hasher's parameters, to verify against when the identity
// does not exist, so that such attempts take as long as real ones.
func dummyHash(h *password.Hasher) func() string {
	return sync.OnceValue(func() string {
		enc, err := h.Hash(context.Background(), newToken())
		if err != nil {
			panic(fmt.Sprintf("console: dummy password hash: %v", err))
		}
		return enc
	})
}

// signinData is the sign-in page's model.
type signinData struct {
	Root     bool
	Account  string
	UserName string
	Email    string
	Next     string
	Message  string
	// OIDC offers the sign-in through the OpenID Connect provider.
	OIDC bool
}

// signinCSRF returns the pre-session CSRF token (a double-submit cookie),
// setting it if absent.
func signinCSRF(w http.ResponseWriter, r *http.Request) string {
	if t := readCookie(r, signinCookie, hostSigninCookie); len(t) == 43 {
		return t
	}
	t := newToken()
	setCookie(w, r, signinCookie, hostSigninCookie, t, 0)
	return t
}

func (h *Handler) signinPage(w http.ResponseWriter, r *http.Request, status int, d signinData) {
	d.OIDC = h.oidcReady()
	v := &view{Title: "Sign in", CSRF: signinCSRF(w, r), Data: d}
	if d.Message != "" {
		v.Flash = ""
	}
	h.render(w, status, "signin", v)
}

// signinGet serves the sign-in form: /console/signin?account=ID-or-alias
// is an account's sign-in URL.
func (h *Handler) signinGet(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := signinData{Account: q.Get("account"), Root: q.Get("root") == "1", Next: safeNext(q.Get("next"))}
	h.signinPage(w, r, http.StatusOK, d)
}

// safeNext keeps a post-sign-in redirect inside the console.
func safeNext(next string) string {
	if strings.HasPrefix(next, Prefix+"/") && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") {
		return next
	}
	return ""
}

// principal is an identity a sign-in resolved to.
type principal struct {
	account string
	root    bool
	user    *iam.User // IAM users
	hash    string
	policy  *password.Policy
}

// throttleKeys are the limiter keys of a sign-in attempt.
func throttleKeys(root bool, account, user, email string, ip netip.Addr) (userKey, ipKey string) {
	if root {
		userKey = "root:" + strings.ToLower(email)
	} else {
		userKey = "user:" + strings.ToLower(account) + "/" + strings.ToLower(user)
	}
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return userKey, "ip:" + p.String()
	}
	return userKey, "ip:" + ip.String()
}

// resolveAccount turns an account ID or alias into an account ID.
func (h *Handler) resolveAccount(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if policy.ValidAccountID(s) {
		_, ok := h.cfg.View.Account(s)
		return s, ok
	}
	if id, ok := h.cfg.View.AliasAccount(strings.ToLower(s)); ok {
		return id, true
	}
	return "", false
}

// lookup finds who is signing in; nil if nobody can sign in so.
func (h *Handler) lookup(root bool, account, userName, email string) *principal {
	if root {
		email = strings.TrimSpace(email)
		if email == "" {
			return nil
		}
		for _, id := range h.cfg.View.Accounts() {
			a, ok := h.cfg.View.Account(id)
			if ok && a.V.RootPassword != "" && strings.EqualFold(a.V.Email, email) {
				return &principal{account: id, root: true, hash: a.V.RootPassword}
			}
		}
		return nil
	}
	id, ok := h.resolveAccount(account)
	if !ok || userName == "" {
		return nil
	}
	var p *principal
	h.cfg.View.Read(id, func(a *iam.AccountView) {
		if u, ok := a.User(userName); ok && u.V.Login != nil {
			p = &principal{account: id, user: u.V, hash: u.V.Login.PasswordHash}
		}
	})
	if p != nil {
		if acct, ok := h.cfg.View.Account(id); ok && acct.V.PasswordPolicy != nil {
			pp := acct.V.PasswordPolicy
			p.policy = &password.Policy{MaxPasswordAge: pp.MaxPasswordAge, HardExpiry: pp.HardExpiry, AllowUsersToChangePassword: pp.AllowUsersToChangePassword}
		}
	}
	return p
}

// signinPost checks a password.
func (h *Handler) signinPost(w http.ResponseWriter, r *http.Request) {
	d := signinData{
		Root:     r.PostFormValue("mode") == "root",
		Account:  strings.TrimSpace(r.PostFormValue("account")),
		UserName: strings.TrimSpace(r.PostFormValue("username")),
		Email:    strings.TrimSpace(r.PostFormValue("email")),
		Next:     safeNext(r.PostFormValue("next")),
	}
	if !equalToken(r.PostFormValue("csrf"), readCookie(r, signinCookie, hostSigninCookie)) {
		d.Message = msgExpiredForm
		h.signinPage(w, r, http.StatusForbidden, d)
		return
	}
	pw := r.PostFormValue("password")
	ip := sourceIP(r)
	userKey, ipKey := throttleKeys(d.Root, d.Account, d.UserName, d.Email, ip)
	wait, err := h.limiter.Wait(r.Context(), userKey)
	if err == nil {
		var ipWait time.Duration
		ipWait, err = h.ipLimit.Wait(r.Context(), ipKey)
		wait = max(wait, ipWait)
	}
	if err != nil {
		h.unavailable(w, err)
		return
	}
	if wait > 0 {
		h.log.Warn("console sign-in throttled", "kind", kind(d.Root), "account", d.Account, "source_ip", ip.String(), "retry_after", wait.Round(time.Second).String())
		w.Header().Set("Retry-After", fmt.Sprint(int((wait+time.Second-1)/time.Second)))
		d.Message = throttledMessage(wait)
		h.signinPage(w, r, http.StatusTooManyRequests, d)
		return
	}
	p := h.lookup(d.Root, d.Account, d.UserName, d.Email)
	hash := h.dummy()
	if p != nil {
		hash = p.hash
	}
	err = h.cfg.Passwords.Verify(r.Context(), hash, pw)
	if p == nil || err != nil {
		if err != nil && !errors.Is(err, password.ErrMismatch) {
			h.log.Error("console: verify password", "err", err)
		}
		failures, delay, ferr := h.limiter.Fail(r.Context(), userKey)
		ipFailures, ipDelay, iperr := h.ipLimit.Fail(r.Context(), ipKey)
		if err := errors.Join(ferr, iperr); err != nil {
			h.log.Error("console: count failed sign-in", "err", err)
		}
		who := hiddenUser
		if p != nil {
			who = d.UserName
			if d.Root {
				who = "root"
			}
		}
		h.log.Warn("console sign-in failed", "kind", kind(d.Root), "account", d.Account, "user", who,
			"source_ip", ip.String(), "failures", failures, "ip_failures", ipFailures, "delay", max(delay, ipDelay).String())
		if account, ok := h.signInAccount(p, d); ok {
			ev := audit.ConsoleSignIn(nil, account, who, false, msgFailedAuthentication, h.now())
			ev.SourceIPAddress, ev.UserAgent = ip.String(), r.UserAgent()
			h.auditSignIn(r, ev)
		}
		d.Message = msgBadCredentials
		h.signinPage(w, r, http.StatusUnauthorized, d)
		return
	}
	if err := h.limiter.Reset(r.Context(), userKey); err != nil {
		h.log.Warn("console: reset sign-in throttle", "err", err)
	}
	s := session{Account: p.account, Root: p.root, Stage: stageActive}
	if p.user != nil {
		s.UserID, s.UserName = p.user.ID, p.user.Name
		if p.policy != nil && p.policy.HardExpiry && p.policy.Expired(p.user.Login.PasswordChanged, h.now()) {
			h.log.Info("console sign-in refused: password expired", "account", p.account, "user", p.user.Name, "source_ip", ip.String())
			d.Message = msgHardExpired
			h.signinPage(w, r, http.StatusForbidden, d)
			return
		}
		s.Reason = passwordReason(p.user, p.policy, h.now())
		if s.Reason != "" {
			s.Stage = stagePassword
		}
	} else {
		s.UserName = d.Email
	}
	if h.hasMFA(p.account, mfaUserID(&s)) {
		s.Stage = stageMFA
	}
	h.log.Info("console password verified", "kind", kind(d.Root), "account", p.account, "user", s.UserName, "source_ip", ip.String())
	ns := h.sessions.create(w, r, s)
	h.startSession(w, r, ns, d.Next)
}

// msgFailedAuthentication is the errorMessage CloudTrail records for a
// console sign-in whose password (or MFA code) is wrong.
const msgFailedAuthentication = "Failed authentication"

// signInAccount is the account a failed password sign-in is recorded in:
// the account of the user or root user found, or the account an IAM
// user's sign-in named. A root sign-in with an unknown email names none,
// and is only logged.
func (h *Handler) signInAccount(p *principal, d signinData) (string, bool) {
	if p != nil {
		return p.account, true
	}
	if d.Root {
		return "", false
	}
	return h.resolveAccount(d.Account)
}

// auditSignIn records a console sign-in attempt (ConsoleLogin, from
// signin.amazonaws.com) in the audit trail, as CloudTrail does for
// successful and failed sign-ins; false if the trail could not take it.
func (h *Handler) auditSignIn(r *http.Request, ev *audit.Event) bool {
	if h.cfg.Trail == nil {
		return true
	}
	if err := h.cfg.Trail.Record(r.Context(), ev); err != nil {
		h.log.Warn("console: record the sign-in in the audit trail", "account", ev.RecipientAccountID, "err", err)
		return false
	}
	return true
}

// refuseUnaudited answers a successful sign-in whose ConsoleLogin event the
// audit trail could not take (a full disk, say): no session is handed out
// without its event. The session cookie set for it is taken back before
// it is sent.
func (h *Handler) refuseUnaudited(w http.ResponseWriter, r *http.Request) {
	w.Header().Del("Set-Cookie")
	setCookie(w, r, sessionCookie, hostSessionCook, "", -1)
	writeUnavailable(w)
}

// startSession sends the browser on to the next step of the sign-in, whose
// session cookie is set.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, s *session, next string) {
	switch s.Stage {
	case stageMFA:
		http.Redirect(w, r, Prefix+"/signin/mfa?next="+url.QueryEscape(next), http.StatusSeeOther)
	case stagePassword:
		http.Redirect(w, r, Prefix+"/signin/password?next="+url.QueryEscape(next), http.StatusSeeOther)
	default:
		if c, _, ok := h.caller(r, s); ok && !h.auditSignIn(r, audit.ConsoleSignIn(c, s.Account, "", s.MFA, "", h.now())) {
			h.refuseUnaudited(w, r)
			return
		}
		h.recordSignIn(r.Context(), s)
		if next == "" {
			next = Prefix + "/"
		}
		http.Redirect(w, r, next, http.StatusSeeOther)
	}
}

func kind(root bool) string {
	if root {
		return "root"
	}
	return "iam-user"
}

func throttledMessage(wait time.Duration) string {
	secs := int((wait + time.Second - 1) / time.Second)
	if secs < 120 {
		return fmt.Sprintf("Too many failed sign-in attempts. Wait %d seconds and try again.", secs)
	}
	return fmt.Sprintf("Too many failed sign-in attempts. Wait %d minutes and try again.", (secs+59)/60)
}

// passwordReason says why a user must change the password before going on:
// "reset" (PasswordResetRequired), "expired" (older than the policy's
// MaxPasswordAge), or "".
func passwordReason(u *iam.User, p *password.Policy, now time.Time) string {
	switch {
	case u.Login == nil:
		return ""
	case u.Login.ResetRequired:
		return "reset"
	case p != nil && p.Expired(u.Login.PasswordChanged, now):
		return "expired"
	}
	return ""
}

// mfaUserID is the MFADevice.UserID of a session's identity.
func mfaUserID(s *session) string {
	if s.Root {
		return "root"
	}
	return s.UserID
}

func (h *Handler) hasMFA(account, userID string) bool {
	has := false
	h.cfg.View.Read(account, func(a *iam.AccountView) { has = a.HasMFADeviceFor(userID) })
	return has
}

// pending returns the session of a sign-in at stage want, or redirects.
func (h *Handler) pending(w http.ResponseWriter, r *http.Request, want stage) *session {
	s, err := h.sessions.get(r.Context(), r)
	if err != nil {
		h.unavailable(w, err)
		return nil
	}
	if s == nil {
		http.Redirect(w, r, Prefix+"/signin", http.StatusSeeOther)
		return nil
	}
	if s.Stage != want {
		http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
		return nil
	}
	if r.Method == http.MethodPost && !h.checkCSRF(r, s) {
		http.Error(w, "Invalid or missing CSRF token. Reload the page and try again.", http.StatusForbidden)
		return nil
	}
	return s
}

// mfaData is the MFA step's model.
type mfaData struct {
	Next        string
	Message     string
	TOTP        bool
	SecurityKey bool
}

func (h *Handler) mfaDevices(s *session) (totpCount, keys int) {
	h.cfg.View.Read(s.Account, func(a *iam.AccountView) {
		for _, d := range a.MFADevicesFor(mfaUserID(s)) {
			if d.V.Type == mfaTypeWebAuthn {
				keys++
			} else {
				totpCount++
			}
		}
	})
	return
}

func (h *Handler) mfaPage(w http.ResponseWriter, s *session, status int, next, msg string) {
	t, k := h.mfaDevices(s)
	h.render(w, status, "mfa", &view{Title: "Multi-factor authentication", CSRF: s.CSRF,
		Data: mfaData{Next: next, Message: msg, TOTP: t > 0, SecurityKey: k > 0}})
}

func (h *Handler) mfaGet(w http.ResponseWriter, r *http.Request) {
	s := h.pending(w, r, stageMFA)
	if s == nil {
		return
	}
	h.mfaPage(w, s, http.StatusOK, safeNext(r.URL.Query().Get("next")), "")
}

// mfaKey is the limiter key for MFA codes of an identity.
func mfaKey(s *session) string { return "mfa:" + s.Account + "/" + mfaUserID(s) }

func (h *Handler) mfaPost(w http.ResponseWriter, r *http.Request) {
	s := h.pending(w, r, stageMFA)
	if s == nil {
		return
	}
	next := safeNext(r.PostFormValue("next"))
	key := mfaKey(s)
	ip := sourceIP(r)
	wait, err := h.limiter.Wait(r.Context(), key)
	if err != nil {
		h.unavailable(w, err)
		return
	}
	if wait > 0 {
		h.log.Warn("console MFA throttled", "account", s.Account, "user", s.UserName, "source_ip", ip.String())
		h.mfaPage(w, s, http.StatusTooManyRequests, next, throttledMessage(wait))
		return
	}
	ok, err := h.verifyTOTP(r.Context(), s.Account, mfaUserID(s), strings.TrimSpace(r.PostFormValue("code")))
	if err != nil {
		h.log.Error("console: verify MFA code", "err", err)
	}
	if !ok {
		failures, delay, err := h.limiter.Fail(r.Context(), key)
		if err != nil {
			h.log.Error("console: count failed MFA code", "err", err)
		}
		h.log.Warn("console MFA code rejected", "account", s.Account, "user", s.UserName, "source_ip", ip.String(), "failures", failures, "delay", delay.String())
		if c, _, ok := h.caller(r, s); ok {
			h.auditSignIn(r, audit.ConsoleSignIn(c, s.Account, "", true, msgFailedAuthentication, h.now()))
		}
		h.mfaPage(w, s, http.StatusUnauthorized, next, msgBadCode)
		return
	}
	if err := h.limiter.Reset(r.Context(), key); err != nil {
		h.log.Warn("console: reset MFA throttle", "err", err)
	}
	h.mfaDone(w, r, s, next)
}

// mfaDone moves a sign-in past its MFA step.
func (h *Handler) mfaDone(w http.ResponseWriter, r *http.Request, s *session, next string) {
	now := h.now()
	ns, err := h.sessions.promote(r.Context(), w, r, s, func(n *session) {
		n.MFA, n.MFATime, n.Stage = true, now, stageActive
		if n.Reason != "" {
			n.Stage = stagePassword
		}
	})
	if errors.Is(err, errUsed) {
		http.Redirect(w, r, Prefix+"/signin", http.StatusSeeOther)
		return
	}
	if err != nil {
		h.unavailable(w, err)
		return
	}
	h.startSession(w, r, ns, next)
}

// verifyTOTP checks a code against the identity's virtual MFA devices and
// records its time step, so that it is not accepted again (the
// compare-and-swap on the device makes that hold across replicas too).
func (h *Handler) verifyTOTP(ctx context.Context, account, userID, code string) (bool, error) {
	if len(code) != totp.Digits {
		return false, nil
	}
	ok := false
	err := iam.Retry(ctx, func() error {
		ok = false
		var devices []*iam.Entry[iam.MFADevice]
		h.cfg.View.Read(account, func(a *iam.AccountView) { devices = a.MFADevicesFor(userID) })
		for _, d := range devices {
			if d.V.Type == mfaTypeWebAuthn || len(d.V.Seed) == 0 {
				continue
			}
			seed, err := h.cfg.Secrets.Open(d.V.Seed, []byte(d.V.Serial))
			if err != nil {
				h.log.Error("console: open MFA seed", "serial", d.V.Serial, "err", err)
				continue
			}
			step, err := totp.Verify(seed, code, h.now(), uint64(max(d.V.LastStep, 0)))
			if err != nil {
				continue
			}
			n := *d.V
			n.LastStep = int64(step)
			if err := h.cfg.Writer.Commit(ctx, iam.Put(iam.KindMFADevice, account, iam.MFADeviceKey(&n), &n, d.Version)); err != nil {
				return err
			}
			ok = true
			return nil
		}
		return nil
	})
	return ok, err
}

// recordSignIn records when the password was last used.
func (h *Handler) recordSignIn(ctx context.Context, s *session) {
	now := h.now().UTC().Truncate(time.Second)
	err := iam.Retry(ctx, func() error {
		if s.Root {
			a, ok := h.cfg.View.Account(s.Account)
			if !ok {
				return nil
			}
			n := *a.V
			n.RootPasswordLastUsed = now
			return h.cfg.Writer.Commit(ctx, iam.Put(iam.KindAccount, "", s.Account, &n, a.Version))
		}
		var u *iam.Entry[iam.User]
		h.cfg.View.Read(s.Account, func(a *iam.AccountView) { u, _ = a.UserByID(s.UserID) })
		if u == nil {
			return nil
		}
		n := *u.V
		n.PasswordLastUsed = now
		return h.cfg.Writer.Commit(ctx, iam.Put(iam.KindUser, s.Account, iam.Key(n.Name), &n, u.Version))
	})
	if err != nil {
		h.log.Warn("console: record password use", "account", s.Account, "user", s.UserName, "err", err)
	}
}

// Forced password change.

type passwordData struct {
	Next    string
	Reason  string
	Message string
	Forced  bool
}

func (h *Handler) forcedGet(w http.ResponseWriter, r *http.Request) {
	s := h.pending(w, r, stagePassword)
	if s == nil {
		return
	}
	h.render(w, http.StatusOK, "forcedpassword", &view{Title: "Change your password", CSRF: s.CSRF,
		Data: passwordData{Next: safeNext(r.URL.Query().Get("next")), Reason: s.Reason, Forced: true}})
}

func (h *Handler) forcedPost(w http.ResponseWriter, r *http.Request) {
	s := h.pending(w, r, stagePassword)
	if s == nil {
		return
	}
	d := passwordData{Next: safeNext(r.PostFormValue("next")), Reason: s.Reason, Forced: true}
	fail := func(e *awsquery.Error) {
		h.render(w, http.StatusOK, "forcedpassword", &view{Title: "Change your password", CSRF: s.CSRF, Error: e, Data: d})
	}
	c, _, ok := h.caller(r, s)
	if !ok {
		setCookie(w, r, sessionCookie, hostSessionCook, "", -1)
		http.Redirect(w, r, Prefix+"/signin", http.StatusSeeOther)
		return
	}
	if err := h.changeOwnPassword(withCaller(r.Context(), c), r); err != nil {
		fail(h.apiError(err))
		return
	}
	h.log.Info("console password changed at sign-in", "account", s.Account, "user", s.UserName)
	ns, err := h.sessions.promote(r.Context(), w, r, s, func(n *session) {
		n.Stage, n.Reason, n.Flash = stageActive, "", "Your password has been changed."
	})
	if errors.Is(err, errUsed) {
		http.Redirect(w, r, Prefix+"/signin", http.StatusSeeOther)
		return
	}
	if err != nil {
		h.unavailable(w, err)
		return
	}
	h.startSession(w, r, ns, d.Next)
}

// signout ends the session.
func (h *Handler) signout(w http.ResponseWriter, r *http.Request) {
	s, err := h.sessions.get(r.Context(), r)
	if err != nil {
		h.unavailable(w, err)
		return
	}
	if s != nil {
		if !h.checkCSRF(r, s) {
			http.Error(w, "Invalid or missing CSRF token. Reload the page and try again.", http.StatusForbidden)
			return
		}
		if err := h.sessions.end(r.Context(), w, r, s); err != nil {
			// Not signed out everywhere: say so rather than pretend.
			h.unavailable(w, err)
			return
		}
		h.log.Info("console sign-out", "account", s.Account, "user", s.UserName)
	}
	setCookie(w, r, sessionCookie, hostSessionCook, "", -1)
	to := Prefix + "/signin"
	if s != nil && !s.Root {
		to += "?account=" + url.QueryEscape(s.Account)
	} else if s != nil {
		to += "?root=1"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}
