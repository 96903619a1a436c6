package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/secrets"
	"github.com/iamd/iamd/internal/store"
	"github.com/iamd/iamd/internal/totp"
)

// stage is how far a sign-in has got.
type stage uint8

const (
	// stageMFA: the password was right; an MFA code or security key is
	// due.
	stageMFA stage = iota + 1
	// stagePassword: signed in, but the password must be changed first
	// (PasswordResetRequired, or expired under the password policy).
	stagePassword
	// stageActive: signed in.
	stageActive
)

// session is one browser's sign-in. It lives in the browser's cookie,
// sealed (AES-256-GCM under a key derived from the master key), so any
// replica can open it and none holds it in memory: every response that
// changes it, or only its LastSeen, sets the cookie again. What must hold
// everywhere at once, ending a session, is a revocation in the store (see
// sessions).
type session struct {
	// ID names the session for revocation; it changes at each step of a
	// sign-in (no session fixation, and a step's cookie is used once).
	ID       string `json:"id"`
	Account  string `json:"a"`
	Root     bool   `json:"r,omitempty"`
	UserID   string `json:"u,omitempty"` // IAM user's unique ID; empty for root
	UserName string `json:"n"`           // IAM user's name; the email for root
	Stage    stage  `json:"s"`
	// Reason says why the password must be changed (stagePassword).
	Reason string `json:"why,omitempty"`
	CSRF   string `json:"c"`
	// Created is when the password was verified; LastSeen the last request.
	Created  time.Time `json:"t"`
	LastSeen time.Time `json:"l"`
	MFA      bool      `json:"m,omitempty"`
	MFATime  time.Time `json:"mt,omitzero"`
	// Flash is a one-time message shown on the next page.
	Flash string `json:"f,omitempty"`
	// Enrol is a virtual MFA device being enrolled: its seed is shown
	// until the device is enabled.
	Enrol *enrolment `json:"e,omitempty"`
	// WebAuthn holds a registration or assertion challenge in progress.
	WebAuthn *webauthn.SessionData `json:"w,omitempty"`
	// Role is the role the user switched to, if any.
	Role *assumed `json:"sr,omitempty"`
}

// enrolment is a virtual MFA device created but not yet enabled.
type enrolment struct {
	Serial string `json:"s"`
	Seed   string `json:"k"` // Base32
	URI    string `json:"u"` // otpauth:// URI, shown as a QR code
}

// QR is the enrolment's QR code, a PNG.
func (e *enrolment) QR() ([]byte, error) { return totp.QRCodePNG(e.URI) }

// revocation ends sessions before they expire. Stored under "session/ID"
// it ends one session (sign-out, or a sign-in step done); under
// "identity/ACCOUNT/USERID" every session of the identity created before
// Before, except Keep (a password change).
type revocation struct {
	Before time.Time `json:"b,omitzero"`
	Keep   string    `json:"k,omitempty"`
}

// revocationKind is the record kind of revocations. They are few (one per
// sign-out or sign-in step, each kept until the session it ends would have
// expired), so buckets are not capped: dropping one would revive a session.
const (
	revocationKind    = "console-revocation"
	revocationBuckets = 256
)

// sessionPurpose derives the sealing key of session cookies from the master
// keys.
const sessionPurpose = "iamd/console-session/v1"

// maxCookie is the longest cookie value browsers are sure to keep.
const maxCookie = 4000

// sessions seals sessions into cookies and keeps their revocations.
type sessions struct {
	seal     iam.Sealer
	revoked  *iam.Ephemeral[revocation]
	log      *slog.Logger
	now      func() time.Time
	idle     time.Duration // expiry after inactivity
	absolute time.Duration // expiry after sign-in, whatever the activity
	pending  time.Duration // expiry of a sign-in waiting for MFA or a password change
}

// keyDeriver is implemented by *secrets.Keyring.
type keyDeriver interface {
	DeriveKeys(purpose string) [][]byte
}

func newSessions(sealer iam.Sealer, st store.Store, log *slog.Logger, now func() time.Time, idle, absolute time.Duration) (*sessions, error) {
	if d, ok := sealer.(keyDeriver); ok {
		kr, err := secrets.New(d.DeriveKeys(sessionPurpose)...)
		if err != nil {
			return nil, fmt.Errorf("console: session keys: %w", err)
		}
		sealer = kr
	}
	return &sessions{
		seal:    sealer,
		revoked: &iam.Ephemeral[revocation]{Store: st, Kind: revocationKind, Buckets: revocationBuckets},
		log:     log, now: now, idle: idle, absolute: absolute, pending: 5 * time.Minute,
	}, nil
}

// newToken returns a random 256-bit token, URL-safe base64.
func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *sessions) expired(v *session, now time.Time) bool {
	if v.Stage != stageActive && now.Sub(v.LastSeen) > s.pending {
		return true
	}
	return now.Sub(v.LastSeen) > s.idle || now.Sub(v.Created) > s.absolute
}

// expires is when a session ends at the latest, whatever its activity.
func (s *sessions) expires(v *session) time.Time {
	if v.Stage != stageActive {
		return minTime(v.LastSeen.Add(s.pending), v.Created.Add(s.absolute))
	}
	return v.Created.Add(s.absolute)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func identityID(account, userID string, root bool) string {
	if root {
		userID = "root"
	}
	return "identity/" + account + "/" + userID
}

// get returns the request's session, marked used now, or nil if there is
// none, it does not open, it expired or it was revoked. The error is the
// store's, when it cannot say whether the session was revoked.
func (s *sessions) get(ctx context.Context, r *http.Request) (*session, error) {
	// A cookie that does not decode, open or parse is no session (a
	// forged or stale cookie), not an error.
	raw, err := base64.RawURLEncoding.DecodeString(readCookie(r, sessionCookie, hostSessionCook))
	if err != nil || len(raw) == 0 {
		return nil, nil //nolint:nilerr // see above
	}
	plain, err := s.seal.Open(raw, []byte(sessionPurpose))
	if err != nil {
		return nil, nil //nolint:nilerr // see above
	}
	v := &session{}
	if err := json.Unmarshal(plain, v); err != nil || v.ID == "" {
		return nil, nil //nolint:nilerr // see above
	}
	now := s.now()
	if s.expired(v, now) {
		return nil, nil
	}
	if _, ok, err := s.revoked.Get(ctx, "session/"+v.ID, now); err != nil || ok {
		return nil, err
	}
	rv, ok, err := s.revoked.Get(ctx, identityID(v.Account, v.UserID, v.Root), now)
	if err != nil {
		return nil, err
	}
	if ok && v.Created.Before(rv.Before) && !equalToken(v.ID, rv.Keep) {
		return nil, nil
	}
	v.LastSeen = now
	return v, nil
}

// save sets the session's cookie, replacing any set earlier in the
// response.
func (s *sessions) save(w http.ResponseWriter, r *http.Request, v *session) {
	plain, err := json.Marshal(v)
	if err == nil {
		var sealed []byte
		if sealed, err = s.seal.Seal(plain, []byte(sessionPurpose)); err == nil {
			value := base64.RawURLEncoding.EncodeToString(sealed)
			if len(value) > maxCookie {
				s.log.Warn("console: session cookie may be too long for browsers", "bytes", len(value))
			}
			setCookie(w, r, sessionCookie, hostSessionCook, value, 0)
			return
		}
	}
	s.log.Error("console: seal session", "err", err)
	setCookie(w, r, sessionCookie, hostSessionCook, "", -1)
}

// create starts a session with v's values and a new ID, and a new CSRF
// token unless v has one, and sets its cookie.
func (s *sessions) create(w http.ResponseWriter, r *http.Request, v session) *session {
	now := s.now()
	v.ID = newToken()
	if v.CSRF == "" {
		v.CSRF = newToken()
	}
	v.LastSeen = now
	if v.Created.IsZero() {
		v.Created = now
	}
	s.save(w, r, &v)
	return &v
}

// errUsed means a session was revoked while the request using it ran:
// another request (on any replica) finished the same sign-in step first.
var errUsed = errors.New("console: session already ended")

// revoke ends session v everywhere. It returns errUsed if v was already
// revoked: the store's compare-and-swap lets exactly one of two requests
// racing with the same cookie revoke it.
func (s *sessions) revoke(ctx context.Context, v *session) error {
	now := s.now()
	until := s.expires(v)
	used := false
	_, err := s.revoked.Update(ctx, "session/"+v.ID, now, func(_ revocation, ok bool) (revocation, time.Time, bool) {
		used = ok
		return revocation{}, until, true
	})
	if err == nil && used {
		return errUsed
	}
	return err
}

// promote ends session v and starts a new one with change applied, so the
// ID changes at each step of a sign-in and the cookie of a finished step
// (with the WebAuthn challenge it held) cannot be used again. It returns
// errUsed if v has been ended meanwhile. The new session has a new CSRF
// token unless change sets one.
func (s *sessions) promote(ctx context.Context, w http.ResponseWriter, r *http.Request, v *session, change func(*session)) (*session, error) {
	if err := s.revoke(ctx, v); err != nil {
		return nil, err
	}
	n := *v
	n.WebAuthn, n.CSRF = nil, ""
	change(&n)
	return s.create(w, r, n), nil
}

// end signs session v out, on every replica, and clears its cookie.
func (s *sessions) end(ctx context.Context, w http.ResponseWriter, r *http.Request, v *session) error {
	err := s.revoke(ctx, v)
	setCookie(w, r, sessionCookie, hostSessionCook, "", -1)
	return err
}

// endOthers ends every other session of v's identity (after a password
// change).
func (s *sessions) endOthers(ctx context.Context, v *session) error {
	now := s.now()
	_, err := s.revoked.Update(ctx, identityID(v.Account, v.UserID, v.Root), now, func(revocation, bool) (revocation, time.Time, bool) {
		return revocation{Before: now, Keep: v.ID}, now.Add(s.absolute), true
	})
	return err
}

// equalToken compares secrets in constant time.
func equalToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// Cookies. Over TLS the session cookie takes the __Host- prefix, which
// browsers accept only with Secure, Path=/ and no Domain.
const (
	sessionCookie    = "iamd_console"
	hostSessionCook  = "__Host-iamd_console"
	signinCookie     = "iamd_signin"
	hostSigninCookie = "__Host-iamd_signin"
)

func cookieName(r *http.Request, plain, host string) string {
	if r.TLS != nil {
		return host
	}
	return plain
}

// setCookie sets a cookie, replacing any Set-Cookie of the same name
// earlier in the response.
func setCookie(w http.ResponseWriter, r *http.Request, plain, host, value string, maxAge int) {
	name := cookieName(r, plain, host)
	hd := w.Header()
	if old := hd.Values("Set-Cookie"); len(old) > 0 {
		kept := old[:0:0]
		for _, c := range old {
			if !strings.HasPrefix(c, name+"=") {
				kept = append(kept, c)
			}
		}
		hd["Set-Cookie"] = kept
	}
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteLaxMode,
	})
}

func readCookie(r *http.Request, plain, host string) string {
	c, err := r.Cookie(cookieName(r, plain, host))
	if err != nil {
		return ""
	}
	return c.Value
}
