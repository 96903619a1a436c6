package managedpolicies

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/iamd/iamd/policy"
)

func TestLoad(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() < 1000 {
		t.Fatalf("catalogue has %d policies, want the full set", c.Len())
	}
	for _, tc := range []struct{ name, arn string }{
		{"AdministratorAccess", "arn:aws:iam::aws:policy/AdministratorAccess"},
		{"ReadOnlyAccess", "arn:aws:iam::aws:policy/ReadOnlyAccess"},
		{"PowerUserAccess", "arn:aws:iam::aws:policy/PowerUserAccess"},
		{"IAMFullAccess", "arn:aws:iam::aws:policy/IAMFullAccess"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, ok := c.Get(tc.arn)
			if !ok {
				t.Fatalf("%s missing", tc.arn)
			}
			if p.Name != tc.name || !strings.HasPrefix(p.ID, "ANPA") || len(p.ID) != 21 {
				t.Errorf("got %+v", p)
			}
			var doc map[string]any
			if err := json.Unmarshal([]byte(p.Document), &doc); err != nil {
				t.Errorf("document: %v", err)
			}
			if doc["Version"] != "2012-10-17" {
				t.Errorf("Version = %v", doc["Version"])
			}
		})
	}
}

func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		if _, err := Load(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEveryPolicyValidates parses every AWS-managed policy with iamd's
// validator: AWS accepted each of them, so a rejection is a validator bug.
func TestEveryPolicyValidates(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range c.All() {
		if _, err := policy.Parse([]byte(p.Document), policy.Identity); err != nil {
			t.Errorf("%s: %v", p.Name, err)
		}
	}
}
