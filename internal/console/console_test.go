package console

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/iamd/iamd/internal/secrets"
	"github.com/iamd/iamd/internal/store"
	"github.com/iamd/iamd/internal/store/sqlite"
)

func TestLimiterDelays(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewLimiter(3, time.Second, 30*time.Second, func() time.Time { return now })
	tests := []struct {
		failures int
		want     time.Duration
	}{
		{1, 0}, {2, 0}, {3, 0}, {4, time.Second}, {5, 2 * time.Second}, {6, 4 * time.Second},
		{8, 16 * time.Second}, {9, 30 * time.Second}, {40, 30 * time.Second}, {2000, 30 * time.Second},
	}
	for _, tc := range tests {
		if got := l.Delay(tc.failures); got != tc.want {
			t.Errorf("Delay(%d) = %v, want %v", tc.failures, got, tc.want)
		}
	}
}

// testStore is a fresh SQLite store.
func testStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "iamd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestLimiterWaitFailReset(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := testStore(t)
	l := NewLimiter(1, time.Second, time.Minute, func() time.Time { return now })
	l.Store = st
	wait := func(keys ...string) time.Duration {
		t.Helper()
		w, err := l.Wait(ctx, keys...)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	fail := func(keys ...string) (int, time.Duration) {
		t.Helper()
		n, d, err := l.Fail(ctx, keys...)
		if err != nil {
			t.Fatal(err)
		}
		return n, d
	}
	if w := wait("k"); w != 0 {
		t.Fatalf("fresh key waits %v", w)
	}
	fail("k")
	if w := wait("k"); w != 0 {
		t.Fatalf("after a free failure, wait %v", w)
	}
	if n, d := fail("k", "other"); n != 2 || d != time.Second {
		t.Fatalf("Fail = %d, %v; want 2, 1s", n, d)
	}
	if w := wait("x", "k"); w != time.Second {
		t.Fatalf("Wait = %v, want 1s", w)
	}
	// Another replica's limiter, over the same store, sees the same count.
	other := NewLimiter(1, time.Second, time.Minute, func() time.Time { return now })
	other.Store = st
	if n, d, err := other.Fail(ctx, "k"); err != nil || n != 3 || d != 2*time.Second {
		t.Fatalf("Fail on another replica = %d, %v, %v; want 3, 2s", n, d, err)
	}
	// A limiter with other settings counts apart.
	apart := NewLimiter(5, time.Second, time.Minute, func() time.Time { return now })
	apart.Store = st
	if n, _ := apart.Failures(ctx, "k"); n != 0 {
		t.Fatalf("a limiter with other settings sees %d failures", n)
	}
	now = now.Add(2 * time.Second)
	if w := wait("k"); w != 0 {
		t.Fatalf("after the delay, wait %v", w)
	}
	// Failures are forgotten after a day without any.
	now = now.Add(25 * time.Hour)
	if n, _ := fail("k"); n != 1 {
		t.Fatalf("after Forget, failures = %d, want 1", n)
	}
	if err := l.Reset(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if n, _ := l.Failures(ctx, "k"); n != 0 {
		t.Fatalf("after Reset, failures = %d", n)
	}
}

// testSessions returns sessions over a fresh store, on the given clock.
func testSessions(t *testing.T, st store.Store, now func() time.Time, idle, absolute time.Duration) *sessions {
	t.Helper()
	kr, err := secrets.New(secrets.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	ss, err := newSessions(kr, st, slog.New(slog.DiscardHandler), now, idle, absolute)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// withCookie returns a request carrying the session cookie rec set.
func withCookie(t *testing.T, rec *httptest.ResponseRecorder) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/console/", nil)
	var n int
	for _, c := range rec.Result().Cookies() {
		if c.Name == sessionCookie {
			r.AddCookie(c)
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d session cookies set, want 1", n)
	}
	return r
}

func TestSessionExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		stage stage
		steps []time.Duration // time between successive uses
		alive bool
	}{
		{"active, used often", stageActive, []time.Duration{50 * time.Minute, 50 * time.Minute, 50 * time.Minute}, true},
		{"active, idle too long", stageActive, []time.Duration{61 * time.Minute}, false},
		{"active, past absolute expiry", stageActive, []time.Duration{55 * time.Minute, 55 * time.Minute, 55 * time.Minute, 55 * time.Minute}, false},
		{"MFA step, prompt", stageMFA, []time.Duration{4 * time.Minute}, true},
		{"MFA step, abandoned", stageMFA, []time.Duration{6 * time.Minute}, false},
	}
	st := testStore(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := now
			ss := testSessions(t, st, func() time.Time { return clock }, time.Hour, 3*time.Hour)
			rec := httptest.NewRecorder()
			ss.create(rec, httptest.NewRequest(http.MethodPost, "/console/signin", nil), session{Account: "123456789012", Stage: tc.stage})
			var s *session
			for _, d := range tc.steps {
				clock = clock.Add(d)
				var err error
				if s, err = ss.get(context.Background(), withCookie(t, rec)); err != nil {
					t.Fatal(err)
				}
				if s == nil {
					break
				}
				rec = httptest.NewRecorder()
				ss.save(rec, httptest.NewRequest(http.MethodGet, "/console/", nil), s)
			}
			if (s != nil) != tc.alive {
				t.Fatalf("session alive = %v, want %v", s != nil, tc.alive)
			}
		})
	}
}

func TestSessionCookies(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	clock := func() time.Time { return now }
	st := testStore(t)
	a := testSessions(t, st, clock, time.Hour, time.Hour)
	// Replica b shares the master key (and so the sealing key) and store.
	b := &sessions{seal: a.seal, revoked: a.revoked, log: a.log, now: clock, idle: time.Hour, absolute: time.Hour, pending: 5 * time.Minute}
	get := func(ss *sessions, rec *httptest.ResponseRecorder) *session {
		t.Helper()
		s, err := ss.get(ctx, withCookie(t, rec))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	signin := httptest.NewRequest(http.MethodPost, "/console/signin", nil)

	rec := httptest.NewRecorder()
	s := a.create(rec, signin, session{Account: "123456789012", UserID: "AIDAEXAMPLE", UserName: "alice", Stage: stageMFA})
	if len(s.ID) != 43 || len(s.CSRF) != 43 {
		t.Fatalf("ID %q / CSRF %q are not 256-bit base64url", s.ID, s.CSRF)
	}
	value := rec.Result().Cookies()[0].Value
	if strings.Contains(value, s.CSRF) || strings.Contains(value, "alice") {
		t.Fatal("the cookie shows the session in clear")
	}
	if got := get(b, rec); got == nil || got.ID != s.ID || got.UserName != "alice" {
		t.Fatalf("replica b reads %+v", got)
	}

	t.Run("tampered or foreign cookies are refused", func(t *testing.T) {
		raw := []byte(value)
		raw[len(raw)/2] ^= 1
		r := httptest.NewRequest(http.MethodGet, "/console/", nil)
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: string(raw)})
		if s, err := a.get(ctx, r); s != nil || err != nil {
			t.Fatalf("tampered cookie: %v, %v", s, err)
		}
		other := testSessions(t, st, clock, time.Hour, time.Hour) // another master key
		if s, err := other.get(ctx, withCookie(t, rec)); s != nil || err != nil {
			t.Fatalf("cookie under another key: %v, %v", s, err)
		}
	})

	// Finishing the MFA step on a ends the step's cookie on b; doing it
	// again with the same cookie fails.
	pending := rec
	rec = httptest.NewRecorder()
	ns, err := a.promote(ctx, rec, signin, s, func(n *session) { n.Stage = stageActive })
	if err != nil {
		t.Fatal(err)
	}
	if ns.ID == s.ID || ns.CSRF == s.CSRF {
		t.Fatal("promote kept the ID or CSRF token")
	}
	if get(b, pending) != nil {
		t.Fatal("the MFA step's cookie still works after promotion")
	}
	if _, err := b.promote(ctx, httptest.NewRecorder(), signin, s, func(n *session) { n.Stage = stageActive }); !errors.Is(err, errUsed) {
		t.Fatalf("promoting a used step again: %v, want errUsed", err)
	}
	if got := get(b, rec); got == nil || got.Stage != stageActive {
		t.Fatalf("promoted session on b = %+v", got)
	}

	t.Run("a password change ends the identity's other sessions", func(t *testing.T) {
		other := httptest.NewRecorder()
		a.create(other, signin, session{Account: "123456789012", UserID: "AIDAEXAMPLE", UserName: "alice", Stage: stageActive})
		now = now.Add(time.Second)
		if err := b.endOthers(ctx, ns); err != nil {
			t.Fatal(err)
		}
		if get(a, other) != nil {
			t.Fatal("another session survived the password change")
		}
		if get(a, rec) == nil {
			t.Fatal("the session that changed the password was ended")
		}
		later := httptest.NewRecorder()
		a.create(later, signin, session{Account: "123456789012", UserID: "AIDAEXAMPLE", UserName: "alice", Stage: stageActive})
		if get(b, later) == nil {
			t.Fatal("a session started after the change was refused")
		}
	})

	// Signing out on b ends the session on a.
	if err := b.end(ctx, httptest.NewRecorder(), signin, ns); err != nil {
		t.Fatal(err)
	}
	if get(a, rec) != nil {
		t.Fatal("the session works on a after signing out on b")
	}
	if equalToken("", "") || equalToken("a", "b") || !equalToken(ns.CSRF, ns.CSRF) {
		t.Fatal("equalToken")
	}
}

func TestSafeNext(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/console/users", "/console/users"},
		{"/console/policy?arn=x", "/console/policy?arn=x"},
		{"https://evil.example/console/", ""},
		{"//evil.example/console/", ""},
		{"/consolex", ""},
		{"/console/\\evil", ""},
		{"", ""},
	}
	for _, tc := range tests {
		if got := safeNext(tc.in); got != tc.want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCheckDocument(t *testing.T) {
	tests := []struct {
		name, doc, kind, message string
	}{
		{"valid", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`, "identity", ""},
		{"no resource", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*"}]}`, "identity", "Policy statement must contain resources."},
		{"not JSON", `{"Version":`, "identity", "Syntax errors in policy."},
		{"old version in a managed policy", `{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`, "identity", "Policy document must be version 2012-10-17 or greater."},
		{"trust without principal", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}`, "trust", "Missing required field Principal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := checkDocument(tc.doc, tc.kind)
			if tc.message == "" {
				if got["valid"] != true {
					t.Fatalf("checkDocument = %v, want valid", got)
				}
				return
			}
			if got["valid"] != false || got["message"] != tc.message {
				t.Fatalf("checkDocument = %v, want message %q", got, tc.message)
			}
		})
	}
}

// TestSessionCookieSize fills a session with the most it can hold (an MFA
// enrolment, a security key registration in progress, a message) and
// checks that its cookie still fits in what browsers keep.
func TestSessionCookieSize(t *testing.T) {
	now := time.Now()
	ss := testSessions(t, testStore(t), func() time.Time { return now }, time.Hour, time.Hour)
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/console/security/webauthn/begin", nil)
	s := ss.create(rec, r, session{
		Account: "123456789012", UserID: "AIDA" + strings.Repeat("X", 17), UserName: strings.Repeat("u", 64), Stage: stageActive,
		Flash: strings.Repeat("m", 200),
		Enrol: &enrolment{Serial: "arn:aws:iam::123456789012:mfa/" + strings.Repeat("d", 64), Seed: strings.Repeat("A", 64),
			URI: "otpauth://totp/" + strings.Repeat("d", 64) + "@" + strings.Repeat("a", 63) + "?secret=" + strings.Repeat("A", 64)},
	})
	sd := &webauthn.SessionData{Challenge: newToken(), RelyingPartyID: "iam.example.com", UserID: []byte(s.Account + "/" + s.UserID),
		Expires: now.Add(5 * time.Minute), UserVerification: protocol.VerificationDiscouraged}
	for _, alg := range []webauthncose.COSEAlgorithmIdentifier{-7, -35, -36, -257, -258, -259, -37, -38, -39, -8} {
		sd.CredParams = append(sd.CredParams, protocol.CredentialParameter{Type: protocol.PublicKeyCredentialType, Algorithm: alg})
	}
	s.WebAuthn = sd
	rec = httptest.NewRecorder()
	ss.save(rec, r, s)
	c := rec.Result().Cookies()
	if len(c) != 1 || len(c[0].Value) > maxCookie {
		t.Fatalf("cookie of %d bytes, want at most %d", len(c[0].Value), maxCookie)
	}
	t.Logf("a full session's cookie: %d bytes", len(c[0].Value))
}

// TestPromoteKeepsCSRF renews an MFA step after a failed security key, as
// webauthnLoginFinish does: a new ID, the page's CSRF token kept.
func TestPromoteKeepsCSRF(t *testing.T) {
	now := time.Now()
	ss := testSessions(t, testStore(t), func() time.Time { return now }, time.Hour, time.Hour)
	r := httptest.NewRequest(http.MethodPost, "/console/signin", nil)
	s := ss.create(httptest.NewRecorder(), r, session{Account: "123456789012", Stage: stageMFA})
	ns, err := ss.promote(context.Background(), httptest.NewRecorder(), r, s, func(n *session) { n.CSRF = s.CSRF })
	if err != nil {
		t.Fatal(err)
	}
	if ns.ID == s.ID || ns.CSRF != s.CSRF || ns.Stage != stageMFA {
		t.Fatalf("renewed step = %+v, want a new ID with the CSRF token and stage kept", ns)
	}
}
