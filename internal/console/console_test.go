package console

import (
	"testing"
	"time"
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

func TestLimiterWaitFailReset(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewLimiter(1, time.Second, time.Minute, func() time.Time { return now })
	if w := l.Wait("k"); w != 0 {
		t.Fatalf("fresh key waits %v", w)
	}
	l.Fail("k")
	if w := l.Wait("k"); w != 0 {
		t.Fatalf("after a free failure, wait %v", w)
	}
	if n, d := l.Fail("k", "other"); n != 2 || d != time.Second {
		t.Fatalf("Fail = %d, %v; want 2, 1s", n, d)
	}
	if w := l.Wait("x", "k"); w != time.Second {
		t.Fatalf("Wait = %v, want 1s", w)
	}
	now = now.Add(time.Second)
	if w := l.Wait("k"); w != 0 {
		t.Fatalf("after the delay, wait %v", w)
	}
	// Failures are forgotten after a day without any.
	now = now.Add(25 * time.Hour)
	if n, _ := l.Fail("k"); n != 1 {
		t.Fatalf("after Forget, failures = %d, want 1", n)
	}
	l.Reset("k")
	if n := l.Failures("k"); n != 0 {
		t.Fatalf("after Reset, failures = %d", n)
	}
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
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := now
			st := newSessionStore(func() time.Time { return clock }, time.Hour, 3*time.Hour)
			token, _ := st.create(session{Account: "123456789012", Stage: tc.stage})
			var s *session
			for _, d := range tc.steps {
				clock = clock.Add(d)
				s = st.get(token)
			}
			if (s != nil) != tc.alive {
				t.Fatalf("session alive = %v, want %v", s != nil, tc.alive)
			}
		})
	}
}

func TestSessionTokens(t *testing.T) {
	now := time.Now()
	st := newSessionStore(func() time.Time { return now }, time.Hour, time.Hour)
	token, s := st.create(session{Account: "123456789012", Stage: stageMFA})
	if len(token) != 43 || len(s.CSRF) != 43 {
		t.Fatalf("token %q / CSRF %q are not 256-bit base64url", token, s.CSRF)
	}
	for k := range st.m {
		if string(k[:]) == token {
			t.Fatal("sessions are keyed by the token itself")
		}
	}
	newToken, ns := st.promote(s, func(n *session) { n.Stage = stageActive })
	if newToken == token || ns.CSRF == s.CSRF {
		t.Fatal("promote kept the token or CSRF token")
	}
	if st.get(token) != nil {
		t.Fatal("the pre-MFA token still works after promotion")
	}
	if got := st.get(newToken); got == nil || got.Stage != stageActive {
		t.Fatalf("promoted session = %+v", got)
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
