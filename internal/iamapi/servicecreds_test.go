package iamapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/secrets"
	"github.com/iamd/iamd/internal/store"
	"github.com/iamd/iamd/internal/store/sqlite"
)

func TestServiceUserName(t *testing.T) {
	tests := []struct {
		user string
		slot int
		want string
	}{
		{"jane", 0, "jane-at-123456789012"},
		{"jane", 1, "jane+1-at-123456789012"},
		{"a.b@c", 0, "a.b@c-at-123456789012"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := serviceUserName(tc.user, "123456789012", tc.slot); got != tc.want {
				t.Errorf("serviceUserName = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNewServiceSecret(t *testing.T) {
	tests := []struct {
		name, prefix, alias string
	}{
		{"password", "", ""},
		{"Bedrock API key", "ABSK", "jane-at-123456789012"},
		{"CloudWatch Logs API key", "ACWL", "jane+1-at-123456789012"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newServiceSecret(tc.prefix, tc.alias), newServiceSecret(tc.prefix, tc.alias)
			if a == b {
				t.Fatal("two secrets are equal")
			}
			if tc.prefix == "" {
				if len(a) != 44 {
					t.Errorf("password %q: %d characters, want 44", a, len(a))
				}
				return
			}
			rest, ok := strings.CutPrefix(a, tc.prefix)
			if !ok {
				t.Fatalf("key %q lacks prefix %s", a, tc.prefix)
			}
			dec, err := base64.StdEncoding.DecodeString(rest)
			if err != nil || !strings.HasPrefix(string(dec), tc.alias+":") {
				t.Errorf("key decodes to %q, %v; want %s:SECRET", dec, err, tc.alias)
			}
		})
	}
}

func TestCredentialStatus(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	s := New(Config{Now: func() time.Time { return now }})
	tests := []struct {
		name string
		cred iam.ServiceCredential
		want string
	}{
		{"active, no expiry", iam.ServiceCredential{Status: "Active"}, "Active"},
		{"inactive, no expiry", iam.ServiceCredential{Status: "Inactive"}, "Inactive"},
		{"active, not yet expired", iam.ServiceCredential{Status: "Active", Expires: now.Add(time.Second)}, "Active"},
		{"active, expired", iam.ServiceCredential{Status: "Active", Expires: now}, "Expired"},
		{"inactive, expired", iam.ServiceCredential{Status: "Inactive", Expires: now.Add(-time.Hour)}, "Expired"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.credentialStatus(&tc.cred); got != tc.want {
				t.Errorf("status = %s, want %s", got, tc.want)
			}
		})
	}
}

type allowAll struct{}

func (allowAll) Authorize(context.Context, *authz.Caller, *authz.Request) error { return nil }

// TestServiceCredentialSecretSealed checks that a credential's password is
// stored only sealed, bound to the credential's ID, and that a reset
// replaces it.
func TestServiceCredentialSecretSealed(t *testing.T) {
	const acct = "123456789012"
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "iamd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := &iam.Writer{Store: st, View: iam.NewView()}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.Commit(ctx,
		iam.Put(iam.KindAccount, "", acct, &iam.Account{ID: acct}, store.Absent),
		iam.Put(iam.KindUser, acct, "git", &iam.User{Name: "git", Path: "/", ID: "AIDAAAAAAAAAAAAAAAAAA"}, store.Absent)))
	ring, err := secrets.New(secrets.GenerateKey())
	must(err)
	s := New(Config{View: w.View, Writer: w, Secrets: ring, Authorizer: allowAll{}})
	ctx = authz.WithCaller(ctx, &authz.Caller{Account: acct, Type: authz.Root, ARN: s.partition.RootARN(acct)})

	stored := func(id string) []byte {
		t.Helper()
		var data []byte
		_, err := st.Load(ctx, func(r store.Record) error {
			if r.Kind == iam.KindServiceCred && r.Key == id {
				data = append([]byte(nil), r.Data...)
			}
			return nil
		})
		must(err)
		return data
	}
	check := func(id, password string) {
		t.Helper()
		data := stored(id)
		if len(data) == 0 || strings.Contains(string(data), password) {
			t.Fatalf("record %s holds the password in clear (or is missing): %s", id, data)
		}
		var c iam.ServiceCredential
		must(json.Unmarshal(data, &c))
		got, err := ring.Open(c.Secret, []byte(id))
		if err != nil || string(got) != password {
			t.Fatalf("sealed secret opens to %q, %v", got, err)
		}
	}
	out, err := s.CreateServiceSpecificCredential(ctx, &CreateServiceSpecificCredentialRequest{UserName: "git", ServiceName: "codecommit.amazonaws.com"})
	must(err)
	id := out.ServiceSpecificCredential.ServiceSpecificCredentialId
	check(id, out.ServiceSpecificCredential.ServicePassword)
	reset, err := s.ResetServiceSpecificCredential(ctx, &ResetServiceSpecificCredentialRequest{UserName: "git", ServiceSpecificCredentialId: id})
	must(err)
	check(id, reset.ServiceSpecificCredential.ServicePassword)
}
