package iam

import (
	"testing"
	"time"
)

// TestAccessedKeepsNewest checks what the tracker keeps of repeated uses:
// the newest use of each action and service, and within one second the
// region of the last call.
func TestAccessedKeepsNewest(t *testing.T) {
	tr := NewAccessTracker(&Writer{View: NewView()})
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tr.Accessed("a", "AIDA1", "iam:GetUser", "us-east-1", t0)
	tr.Accessed("a", "AIDA1", "iam:GetUser", "us-east-1", t0.Add(300*time.Millisecond))
	tr.Accessed("a", "AIDA1", "iam:GetUser", "eu-west-1", t0.Add(600*time.Millisecond))
	tr.Accessed("a", "AIDA1", "IAM:ListUsers", "us-east-1", t0.Add(-time.Second))
	tr.Accessed("a", "AIDA1", "iam:GetUser", "us-west-2", t0.Add(-time.Second))
	r := tr.pending[accessKey{"a", "AIDA1"}]
	s := r.Services["iam"]
	if !s.Last.Equal(t0) || s.Region != "eu-west-1" {
		t.Errorf("service = %v %s, want %v eu-west-1", s.Last, s.Region, t0)
	}
	if a := s.Actions["GetUser"]; !a.Last.Equal(t0) || a.Region != "eu-west-1" {
		t.Errorf("GetUser = %+v", a)
	}
	if a := s.Actions["ListUsers"]; !a.Last.Equal(t0.Add(-time.Second)) || a.Region != "us-east-1" {
		t.Errorf("ListUsers = %+v", a)
	}
}

// BenchmarkAccessed records the same action of one entity again and
// again, as every allowed request of a busy caller does.
func BenchmarkAccessed(b *testing.B) {
	tr := NewAccessTracker(&Writer{View: NewView()})
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		tr.Accessed("123456789012", "AIDAAAAAAAAAAAAAAAAAA", "iam:GetUser", "us-east-1", at)
	}
}
