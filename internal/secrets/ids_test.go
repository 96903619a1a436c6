package secrets

import (
	"encoding/base64"
	"regexp"
	"testing"
)

func TestIDs(t *testing.T) {
	tests := []struct {
		name string
		gen  func() string
		re   *regexp.Regexp
	}{
		{"access key", func() string { return NewAccessKeyID(PrefixAccessKey) }, regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`)},
		{"temporary access key", func() string { return NewAccessKeyID(PrefixTemporaryAccessKey) }, regexp.MustCompile(`^ASIA[A-Z2-7]{16}$`)},
		{"user", func() string { return NewUniqueID(PrefixUser) }, regexp.MustCompile(`^AIDA[A-Z2-7]{17}$`)},
		{"role", func() string { return NewUniqueID(PrefixRole) }, regexp.MustCompile(`^AROA[A-Z2-7]{17}$`)},
		{"policy", func() string { return NewUniqueID(PrefixManagedPolicy) }, regexp.MustCompile(`^ANPA[A-Z2-7]{17}$`)},
		{"secret", NewSecretAccessKey, regexp.MustCompile(`^[A-Za-z0-9+/]{40}$`)},
		{"overlong prefix", func() string { return NewAccessKeyID("ABCDEFGHIJKLMNOPQRSTUVWXYZ") }, regexp.MustCompile(`^ABCDEFGHIJKLMNOPQRST$`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]bool{}
			for range 200 {
				id := tc.gen()
				if !tc.re.MatchString(id) {
					t.Fatalf("%q does not match %v", id, tc.re)
				}
				seen[id] = true
			}
			if tc.name != "overlong prefix" && len(seen) != 200 {
				t.Errorf("only %d distinct values in 200", len(seen))
			}
		})
	}
}

func TestSecretAccessKeyEntropy(t *testing.T) {
	b, err := base64.StdEncoding.DecodeString(NewSecretAccessKey())
	if err != nil || len(b) != 30 {
		t.Fatalf("decode = %d bytes, %v", len(b), err)
	}
}

func BenchmarkNewAccessKeyID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		NewAccessKeyID(PrefixTemporaryAccessKey)
	}
}
