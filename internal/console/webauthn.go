package console

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/store"
)

// Security keys (WebAuthn). Each key is an MFADevice record of type
// "webauthn" whose Credential holds the go-webauthn credential as JSON,
// sealed with the keyring and bound to the device's serial number. A user
// may register several (spares), up to IAM's eight MFA devices per user.

const maxSecurityKeys = 8

// waUser adapts an identity to go-webauthn.
type waUser struct {
	id    []byte
	name  string
	creds []webauthn.Credential
	// devices[i] is the record of creds[i].
	devices []*iam.Entry[iam.MFADevice]
}

func (u *waUser) WebAuthnID() []byte                         { return u.id }
func (u *waUser) WebAuthnName() string                       { return u.name }
func (u *waUser) WebAuthnDisplayName() string                { return u.name }
func (u *waUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// rp returns the relying party for a request: the configured origin, or
// the request's own.
func (h *Handler) rp(r *http.Request) (*webauthn.WebAuthn, error) {
	origin := ""
	if len(h.cfg.Origins) > 0 {
		origin = h.cfg.Origins[0]
	} else {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		origin = scheme + "://" + r.Host
	}
	h.wmu.Lock()
	defer h.wmu.Unlock()
	if w, ok := h.webauthn[origin]; ok {
		return w, nil
	}
	u, err := url.Parse(origin)
	if err != nil {
		return nil, err
	}
	origins := h.cfg.Origins
	if len(origins) == 0 {
		origins = []string{origin}
	}
	w, err := webauthn.New(&webauthn.Config{
		RPID: u.Hostname(), RPDisplayName: "iamd", RPOrigins: origins,
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: 2 * time.Minute},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: 5 * time.Minute},
		},
	})
	if err != nil {
		return nil, err
	}
	if len(h.webauthn) > 16 {
		clear(h.webauthn) // many Host names: do not grow without bound
	}
	h.webauthn[origin] = w
	return w, nil
}

// waUserOf loads an identity's security keys.
func (h *Handler) waUserOf(s *session) *waUser {
	u := &waUser{id: []byte(s.Account + "/" + mfaUserID(s)), name: s.UserName}
	var devs []*iam.Entry[iam.MFADevice]
	h.cfg.View.Read(s.Account, func(a *iam.AccountView) { devs = a.MFADevicesFor(mfaUserID(s)) })
	for _, d := range devs {
		if d.V.Type != mfaTypeWebAuthn || len(d.V.Credential) == 0 {
			continue
		}
		plain, err := h.cfg.Secrets.Open(d.V.Credential, []byte(d.V.Serial))
		if err != nil {
			h.log.Error("console: open security key", "serial", d.V.Serial, "err", err)
			continue
		}
		var c webauthn.Credential
		if err := json.Unmarshal(plain, &c); err != nil {
			continue
		}
		u.creds = append(u.creds, c)
		u.devices = append(u.devices, d)
	}
	return u
}

func jsonError(w http.ResponseWriter, status int, e *awsquery.Error) {
	writeJSON(w, status, map[string]string{"code": e.Code, "message": e.Message})
}

// authorizeSelf checks an IAM action on the signed-in identity, as the
// corresponding API operation would.
func (h *Handler) authorizeSelf(q *req, action string) error {
	if h.cfg.Authorizer == nil {
		return nil
	}
	c := authz.CallerFrom(q.ctx)
	return h.cfg.Authorizer.Authorize(q.ctx, c, &authz.Request{Action: action, Resource: c.ARN})
}

func (h *Handler) webauthnRegisterBegin(q *req) {
	if err := h.authorizeSelf(q, "iam:EnableMFADevice"); err != nil {
		jsonError(q.w, http.StatusForbidden, h.apiError(err))
		return
	}
	rp, err := h.rp(q.r)
	if err != nil {
		jsonError(q.w, http.StatusInternalServerError, h.apiError(err))
		return
	}
	u := h.waUserOf(q.s)
	if len(u.creds) >= maxSecurityKeys {
		jsonError(q.w, http.StatusConflict, &awsquery.Error{Code: "LimitExceeded", Message: "Cannot exceed quota for MFADevicesPerUser: 8"})
		return
	}
	opts, sd, err := rp.BeginRegistration(u,
		webauthn.WithExclusions(webauthn.Credentials(u.creds).CredentialDescriptors()),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{UserVerification: protocol.VerificationDiscouraged}),
	)
	if err != nil {
		jsonError(q.w, http.StatusInternalServerError, h.apiError(err))
		return
	}
	q.s.WebAuthn = sd
	h.sessions.save(q.w, q.r, q.s)
	writeJSON(q.w, http.StatusOK, opts)
}

func (h *Handler) webauthnRegisterFinish(q *req) {
	sd := q.s.WebAuthn
	if sd == nil {
		jsonError(q.w, http.StatusBadRequest, &awsquery.Error{Code: "InvalidInput", Message: "No security key registration is in progress."})
		return
	}
	q.s.WebAuthn = nil
	h.sessions.save(q.w, q.r, q.s)
	rp, err := h.rp(q.r)
	if err != nil {
		jsonError(q.w, http.StatusInternalServerError, h.apiError(err))
		return
	}
	u := h.waUserOf(q.s)
	cred, err := rp.FinishRegistration(u, *sd, q.r)
	if err != nil {
		h.log.Warn("console: security key registration failed", "account", q.s.Account, "user", q.s.UserName, "err", err)
		jsonError(q.w, http.StatusBadRequest, &awsquery.Error{Code: "InvalidInput", Message: "The security key could not be registered."})
		return
	}
	sum := sha256.Sum256(cred.ID)
	name := "securitykey-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:10]))
	owner := "root"
	if !q.s.Root {
		owner = "user/" + q.s.UserName
	}
	serial := h.cfg.Partition.Prefix("iam") + q.s.Account + ":u2f/" + owner + "/" + name
	plain, _ := json.Marshal(cred)
	sealed, err := h.cfg.Secrets.Seal(plain, []byte(serial))
	if err != nil {
		jsonError(q.w, http.StatusInternalServerError, h.apiError(err))
		return
	}
	now := h.now().UTC().Truncate(time.Second)
	dev := &iam.MFADevice{Serial: serial, Name: name, Path: "/", Type: mfaTypeWebAuthn, Created: now,
		UserID: mfaUserID(q.s), EnableDate: now, Credential: sealed}
	err = iam.Retry(q.ctx, func() error {
		guard, err := h.ownerGuard(q.s)
		if err != nil {
			return err
		}
		return h.cfg.Writer.Commit(q.ctx, iam.Put(iam.KindMFADevice, q.s.Account, iam.MFADeviceKey(dev), dev, store.Absent), guard)
	})
	if err != nil {
		jsonError(q.w, http.StatusConflict, h.apiError(err))
		return
	}
	h.log.Info("console security key registered", "account", q.s.Account, "user", q.s.UserName, "serial", serial)
	q.s.Flash = "Security key registered."
	h.sessions.save(q.w, q.r, q.s)
	writeJSON(q.w, http.StatusOK, map[string]string{"redirect": Prefix + "/security"})
}

// ownerGuard touches the identity's record, so that deleting the user
// concurrently conflicts instead of orphaning the key.
func (h *Handler) ownerGuard(s *session) (iam.Mutation, error) {
	if s.Root {
		a, ok := h.cfg.View.Account(s.Account)
		if !ok {
			return iam.Mutation{}, errors.New("console: account gone")
		}
		return iam.Touch(iam.KindAccount, "", s.Account, a.Version), nil
	}
	var u *iam.Entry[iam.User]
	h.cfg.View.Read(s.Account, func(a *iam.AccountView) { u, _ = a.UserByID(s.UserID) })
	if u == nil {
		return iam.Mutation{}, &awsquery.Error{Code: "NoSuchEntity", Message: "The user with name " + s.UserName + " cannot be found.", HTTPStatus: http.StatusNotFound, Sender: true}
	}
	return iam.Touch(iam.KindUser, s.Account, iam.Key(u.V.Name), u.Version), nil
}

func (h *Handler) removeSecurityKey(q *req, serial string) error {
	if err := h.authorizeSelf(q, "iam:DeactivateMFADevice"); err != nil {
		return err
	}
	return iam.Retry(q.ctx, func() error {
		for _, d := range h.waUserOf(q.s).devices {
			if d.V.Serial == serial {
				return h.cfg.Writer.Commit(q.ctx, iam.Delete(iam.KindMFADevice, q.s.Account, iam.MFADeviceKey(d.V), d.Version))
			}
		}
		return &awsquery.Error{Code: "NoSuchEntity", Message: "MFA device with serial number " + serial + " doesn't exist.", HTTPStatus: http.StatusNotFound, Sender: true}
	})
}

// Sign-in with a security key (the MFA step).

func (h *Handler) webauthnLoginBegin(w http.ResponseWriter, r *http.Request) {
	s := h.pendingJSON(w, r)
	if s == nil {
		return
	}
	wait, err := h.limiter.Wait(r.Context(), mfaKey(s))
	if err != nil {
		h.log.Error("console: sign-in throttle", "err", err)
		jsonError(w, http.StatusServiceUnavailable, awsquery.ServiceUnavailable())
		return
	}
	if wait > 0 {
		jsonError(w, http.StatusTooManyRequests, &awsquery.Error{Code: "Throttling", Message: throttledMessage(wait)})
		return
	}
	rp, err := h.rp(r)
	if err != nil {
		jsonError(w, http.StatusInternalServerError, h.apiError(err))
		return
	}
	u := h.waUserOf(s)
	if len(u.creds) == 0 {
		jsonError(w, http.StatusBadRequest, &awsquery.Error{Code: "InvalidInput", Message: "No security key is registered."})
		return
	}
	opts, sd, err := rp.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationDiscouraged))
	if err != nil {
		jsonError(w, http.StatusInternalServerError, h.apiError(err))
		return
	}
	// The allowed credentials are the identity's, read again at the
	// finish: up to eight IDs of up to 1,023 bytes each need not make the
	// cookie too long for browsers.
	sd.AllowedCredentialIDs = nil
	s.WebAuthn = sd
	h.sessions.save(w, r, s)
	writeJSON(w, http.StatusOK, opts)
}

func (h *Handler) webauthnLoginFinish(w http.ResponseWriter, r *http.Request) {
	s := h.pendingJSON(w, r)
	if s == nil {
		return
	}
	sd := s.WebAuthn
	if sd == nil {
		jsonError(w, http.StatusBadRequest, &awsquery.Error{Code: "InvalidInput", Message: "No security key sign-in is in progress."})
		return
	}
	// The challenge is used once: finishing, whatever the outcome, ends
	// this step's session (promoted below to the next step or, on failure,
	// to a new MFA step), so its cookie cannot be replayed on any replica.
	s.WebAuthn = nil
	h.sessions.save(w, r, s)
	rp, err := h.rp(r)
	if err != nil {
		jsonError(w, http.StatusInternalServerError, h.apiError(err))
		return
	}
	u := h.waUserOf(s)
	for _, c := range u.creds {
		sd.AllowedCredentialIDs = append(sd.AllowedCredentialIDs, c.ID)
	}
	cred, err := rp.FinishLogin(u, *sd, r)
	if err != nil || cred.Authenticator.CloneWarning {
		failures, delay, ferr := h.limiter.Fail(r.Context(), mfaKey(s))
		if ferr != nil {
			h.log.Error("console: count failed security key", "err", ferr)
		}
		// A new MFA step, so that the challenge is not tried again; the
		// page's CSRF token stays valid for the next try.
		if _, err := h.sessions.promote(r.Context(), w, r, s, func(n *session) { n.CSRF = s.CSRF }); err != nil && !errors.Is(err, errUsed) {
			h.log.Error("console: renew the MFA step", "err", err)
		}
		h.log.Warn("console security key rejected", "account", s.Account, "user", s.UserName, "source_ip", sourceIP(r).String(), "failures", failures, "delay", delay.String(), "err", err)
		jsonError(w, http.StatusUnauthorized, &awsquery.Error{Code: "AccessDenied", Message: msgBadCode})
		return
	}
	if err := h.limiter.Reset(r.Context(), mfaKey(s)); err != nil {
		h.log.Warn("console: reset MFA throttle", "err", err)
	}
	// Store the new signature counter (clone detection).
	for i, c := range u.creds {
		if string(c.ID) != string(cred.ID) {
			continue
		}
		d := u.devices[i]
		plain, _ := json.Marshal(cred)
		if sealed, err := h.cfg.Secrets.Seal(plain, []byte(d.V.Serial)); err == nil {
			n := *d.V
			n.Credential = sealed
			if err := h.cfg.Writer.Commit(r.Context(), iam.Put(iam.KindMFADevice, s.Account, iam.MFADeviceKey(&n), &n, d.Version)); err != nil {
				h.log.Warn("console: record security key use", "err", err)
			}
		}
	}
	now := h.now()
	ns, err := h.sessions.promote(r.Context(), w, r, s, func(n *session) {
		n.MFA, n.MFATime, n.Stage = true, now, stageActive
		if n.Reason != "" {
			n.Stage = stagePassword
		}
	})
	if errors.Is(err, errUsed) {
		jsonError(w, http.StatusUnauthorized, &awsquery.Error{Code: "AccessDenied", Message: msgExpiredForm})
		return
	}
	if err != nil {
		h.log.Error("console: end the MFA step", "err", err)
		jsonError(w, http.StatusServiceUnavailable, awsquery.ServiceUnavailable())
		return
	}
	next := safeNext(r.URL.Query().Get("next"))
	to := Prefix + "/signin/password?next=" + url.QueryEscape(next)
	if ns.Stage == stageActive {
		h.recordSignIn(r.Context(), ns)
		to = next
		if to == "" {
			to = Prefix + "/"
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"redirect": to})
}

// pendingJSON is pending for the JSON endpoints of the MFA step.
func (h *Handler) pendingJSON(w http.ResponseWriter, r *http.Request) *session {
	s, err := h.sessions.get(r.Context(), r)
	if err != nil {
		h.log.Error("console: session", "err", err)
		jsonError(w, http.StatusServiceUnavailable, awsquery.ServiceUnavailable())
		return nil
	}
	if s == nil || s.Stage != stageMFA {
		jsonError(w, http.StatusUnauthorized, &awsquery.Error{Code: "AccessDenied", Message: msgExpiredForm})
		return nil
	}
	if !h.checkCSRF(r, s) {
		jsonError(w, http.StatusForbidden, &awsquery.Error{Code: "AccessDenied", Message: "Invalid or missing CSRF token."})
		return nil
	}
	return s
}
