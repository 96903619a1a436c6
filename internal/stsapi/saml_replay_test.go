package stsapi

import (
	"testing"
	"time"
)

// TestSAMLReplay: an assertion is claimed once until it expires; a refused
// assumption releases it.
func TestSAMLReplay(t *testing.T) {
	var r samlReplay
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	until := now.Add(5 * time.Minute)
	if !r.claim("idp\x00a1", until, now) {
		t.Fatal("first use refused")
	}
	if r.claim("idp\x00a1", until, now.Add(time.Minute)) {
		t.Error("replay within validity accepted")
	}
	if !r.claim("other\x00a1", until, now) {
		t.Error("another issuer's assertion of the same ID refused")
	}
	r.release("idp\x00a1")
	if !r.claim("idp\x00a1", until, now) {
		t.Error("released assertion refused")
	}
	if !r.claim("idp\x00a1", until, until.Add(clockSkew)) {
		t.Error("expired entry still blocks")
	}
}
