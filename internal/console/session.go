package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
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

// session is one browser's sign-in. Sessions are held in memory, keyed by
// the SHA-256 of their random 256-bit token, so a memory dump or a log of
// keys does not reveal usable tokens. A session value is never modified in
// place: changes replace it under the store's lock.
type session struct {
	key      [32]byte
	Account  string
	Root     bool
	UserID   string // IAM user's unique ID; empty for root
	UserName string // IAM user's name; the email for root
	Stage    stage
	// Reason says why the password must be changed (stagePassword).
	Reason string
	CSRF   string
	// Created is when the password was verified; LastSeen the last request.
	Created  time.Time
	LastSeen time.Time
	MFA      bool
	MFATime  time.Time
	// Flash is a one-time message shown on the next page.
	Flash string
	// Enrol is a virtual MFA device being enrolled: its seed is shown
	// until the device is enabled.
	Enrol *enrolment
	// WebAuthn holds a registration or assertion challenge in progress.
	WebAuthn *webauthn.SessionData
}

// enrolment is a virtual MFA device created but not yet enabled.
type enrolment struct {
	Serial string
	Seed   string // Base32
	QR     []byte // PNG
}

// sessionStore holds sessions in memory. With several iamd replicas, a
// session lives on the replica that created it: put the console behind a
// load balancer with sticky sessions (or sign in again after a fail-over).
type sessionStore struct {
	mu       sync.Mutex
	m        map[[32]byte]*session
	now      func() time.Time
	idle     time.Duration // expiry after inactivity
	absolute time.Duration // expiry after sign-in, whatever the activity
	pending  time.Duration // expiry of a sign-in waiting for MFA or a password change
}

func newSessionStore(now func() time.Time, idle, absolute time.Duration) *sessionStore {
	return &sessionStore{m: make(map[[32]byte]*session), now: now, idle: idle, absolute: absolute, pending: 5 * time.Minute}
}

// newToken returns a random 256-bit token, URL-safe base64.
func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func tokenKey(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// create stores a new session and returns its token.
func (s *sessionStore) create(v session) (string, *session) {
	token := newToken()
	now := s.now()
	v.key = tokenKey(token)
	v.CSRF = newToken()
	v.LastSeen = now
	if v.Created.IsZero() {
		v.Created = now
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	s.m[v.key] = &v
	return token, &v
}

func (s *sessionStore) expired(v *session, now time.Time) bool {
	if v.Stage != stageActive && now.Sub(v.LastSeen) > s.pending {
		return true
	}
	return now.Sub(v.LastSeen) > s.idle || now.Sub(v.Created) > s.absolute
}

// get returns the session for token and marks it used, or nil if there is
// none or it expired.
func (s *sessionStore) get(token string) *session {
	if token == "" {
		return nil
	}
	key := tokenKey(token)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok {
		return nil
	}
	if s.expired(v, now) {
		delete(s.m, key)
		return nil
	}
	n := *v
	n.LastSeen = now
	s.m[key] = &n
	return &n
}

// update replaces a session's values with change applied to a copy.
func (s *sessionStore) update(v *session, change func(*session)) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.m[v.key]
	if !ok {
		return nil
	}
	n := *cur
	change(&n)
	s.m[v.key] = &n
	return &n
}

// promote ends session v and starts a new one with change applied, so the
// token changes at each step of a sign-in (no session fixation).
func (s *sessionStore) promote(v *session, change func(*session)) (string, *session) {
	s.mu.Lock()
	cur, ok := s.m[v.key]
	delete(s.m, v.key)
	s.mu.Unlock()
	if !ok {
		return "", nil
	}
	n := *cur
	change(&n)
	return s.create(n)
}

// delete ends a session.
func (s *sessionStore) delete(v *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, v.key)
}

// deleteFor ends every session of an identity (after a password change by
// an administrator, for example), except keep.
func (s *sessionStore) deleteFor(account, userID string, root bool, keep *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.m {
		if v.Account == account && v.Root == root && v.UserID == userID && (keep == nil || k != keep.key) {
			delete(s.m, k)
		}
	}
}

// sweep drops expired sessions now and then; called with s.mu held.
func (s *sessionStore) sweep(now time.Time) {
	if len(s.m)%64 != 0 {
		return
	}
	for k, v := range s.m {
		if s.expired(v, now) {
			delete(s.m, k)
		}
	}
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

func setCookie(w http.ResponseWriter, r *http.Request, plain, host, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     cookieName(r, plain, host),
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
