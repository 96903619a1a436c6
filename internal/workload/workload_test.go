package workload

import (
	"strings"
	"testing"

	"github.com/iamd/iamd/internal/iam"
)

func TestTokens(t *testing.T) {
	token, hash := newToken()
	other, _ := newToken()
	if !strings.HasPrefix(token, tokenPrefix) || len(token) != len(tokenPrefix)+43 || token == other {
		t.Fatalf("newToken = %q, %q", token, other)
	}
	if strings.ContainsAny(token, "\r\n ") {
		t.Fatalf("token %q is not a valid header value", token)
	}
	tests := []struct {
		name, token, hash string
		want              bool
	}{
		{"right token", token, hash, true},
		{"another token", other, hash, false},
		{"prefix of the token", token[:len(token)-1], hash, false},
		{"no stored hash", token, "", false},
		{"malformed stored hash", token, "zz", false},
		{"empty token", "", hash, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tokenMatches(tc.token, tc.hash); got != tc.want {
				t.Errorf("tokenMatches = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNamesAndURLs(t *testing.T) {
	for name, valid := range map[string]bool{"billing-api": true, "a": false, "a b": false, "x@y.z+=,_-": true, strings.Repeat("n", 65): false} {
		if validName.MatchString(name) != valid {
			t.Errorf("validName(%q) = %v", name, !valid)
		}
	}
	if got := URL("http://127.0.0.1:8080/", "123456789012", "web"); got != "http://127.0.0.1:8080/_iamd/credentials/123456789012/web" {
		t.Errorf("URL = %s", got)
	}
	if got := ARN("", "123456789012", "web"); got != "arn:aws:iamd::123456789012:workload/web" {
		t.Errorf("ARN = %s", got)
	}
	if got := ARN(iam.PartitionChina, "123456789012", "web"); got != "arn:aws-cn:iamd::123456789012:workload/web" {
		t.Errorf("ARN in aws-cn = %s", got)
	}
}
