package ststoken

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func mustSealer(t testing.TB, keys ...[]byte) *Sealer {
	t.Helper()
	s, err := New(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var issued = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func roleSession() Session {
	return Session{
		AccessKeyID:       "ASIAIOSFODNN7EXAMPLE",
		SecretAccessKey:   "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		Account:           "123456789012",
		Kind:              KindAssumedRole,
		ARN:               "arn:aws:sts::123456789012:assumed-role/Deploy/ci-run-42",
		PrincipalID:       "AROA3XFRBF535PLBIFPI4:ci-run-42",
		SourceARN:         "arn:aws:iam::123456789012:role/Deploy",
		SourceID:          "AROA3XFRBF535PLBIFPI4",
		SessionName:       "ci-run-42",
		IssuedAt:          issued,
		Expiration:        issued.Add(time.Hour),
		MFAAuthenticated:  true,
		MFAAuthTime:       issued.Add(-5 * time.Minute),
		SourceIdentity:    "alice",
		Tags:              []Tag{{"Project", "iamd"}, {"CostCenter", "42"}},
		TransitiveTagKeys: []string{"Project"},
		Policy:            `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`,
		PolicyARNs:        []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"},
		RoleChained:       true,
	}
}

// bigPolicy is a session policy near IAM's packed-size limit.
func bigPolicy() string {
	var b strings.Builder
	b.WriteString(`{"Version":"2012-10-17","Statement":[`)
	for i := range 20 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::bucket-` + strings.Repeat("x", i) + `/*"}`)
	}
	b.WriteString(`]}`)
	return b.String()
}

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	s := mustSealer(t, key(1))
	big := roleSession()
	big.Policy = bigPolicy()
	big.PolicyARNs = []string{"arn:aws:iam::aws:policy/A", "arn:aws:iam::aws:policy/B", "arn:aws:iam::123456789012:policy/C"}
	tests := []struct {
		name string
		sess Session
	}{
		{"assumed role, everything set", roleSession()},
		{"large session policy", big},
		{"federated user", Session{
			AccessKeyID: "ASIAFEDERATED0000001", SecretAccessKey: "s", Account: "123456789012", Kind: KindFederatedUser,
			ARN: "arn:aws:sts::123456789012:federated-user/Bob", PrincipalID: "123456789012:Bob",
			SourceARN: "arn:aws:iam::123456789012:user/admin", SourceID: "AIDAJQABLZS4A3QDU576Q",
			IssuedAt: issued, Expiration: issued.Add(12 * time.Hour), Policy: `{"Version":"2012-10-17"}`,
		}},
		{"user session token", Session{
			AccessKeyID: "ASIAUSER000000000001", SecretAccessKey: "s", Account: "123456789012", Kind: KindUser,
			ARN: "arn:aws:iam::123456789012:user/alice", PrincipalID: "AIDAJQABLZS4A3QDU576Q",
			IssuedAt: issued, Expiration: issued.Add(36 * time.Hour), MFAAuthenticated: true, MFAAuthTime: issued,
		}},
		{"root session token", Session{
			AccessKeyID: "ASIAROOT000000000001", SecretAccessKey: "s", Account: "123456789012", Kind: KindRoot,
			ARN: "arn:aws:iam::123456789012:root", PrincipalID: "123456789012",
			IssuedAt: issued, Expiration: issued.Add(time.Hour),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok, err := s.Seal(tc.sess)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := base64.StdEncoding.DecodeString(tok); err != nil {
				t.Fatalf("token is not base64: %v", err)
			}
			if len(tok) >= 4096 {
				t.Errorf("token is %d characters, want < 4096", len(tok))
			}
			if strings.Contains(tok, "wJalr") {
				t.Error("token leaks the secret")
			}
			got, err := s.Open(tc.sess.AccessKeyID, tok, issued.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.sess) {
				t.Errorf("Open =\n%+v\nwant\n%+v", got, tc.sess)
			}
		})
	}
}

func TestTokenSize(t *testing.T) {
	t.Parallel()
	s := mustSealer(t, key(1))
	sess := roleSession()
	plain, _ := s.Seal(sess)
	sess.Policy = bigPolicy()
	big, _ := s.Seal(sess)
	t.Logf("token length: typical %d, with %d-byte policy %d", len(plain), len(sess.Policy), len(big))
	if len(big) > len(sess.Policy) {
		t.Errorf("large policy not compressed: token %d > policy %d", len(big), len(sess.Policy))
	}
}

func TestOpenRejects(t *testing.T) {
	t.Parallel()
	s := mustSealer(t, key(1))
	sess := roleSession()
	tok, _ := s.Seal(sess)
	raw, _ := base64.StdEncoding.DecodeString(tok)
	flip := func(i int) string {
		r := bytes.Clone(raw)
		r[i] ^= 0x80
		return base64.StdEncoding.EncodeToString(r)
	}
	now := issued.Add(time.Minute)
	tests := []struct {
		name   string
		sealer *Sealer
		akid   string
		token  string
		now    time.Time
		want   error
	}{
		{"other access key ID", s, "ASIAOTHER00000000000", tok, now, ErrInvalid},
		{"empty access key ID", s, "", tok, now, ErrInvalid},
		{"other sealer key", mustSealer(t, key(2)), sess.AccessKeyID, tok, now, ErrInvalid},
		{"version flipped", s, sess.AccessKeyID, flip(0), now, ErrInvalid},
		{"key id flipped", s, sess.AccessKeyID, flip(1), now, ErrInvalid},
		{"nonce flipped", s, sess.AccessKeyID, flip(10), now, ErrInvalid},
		{"body flipped", s, sess.AccessKeyID, flip(headerSize + 3), now, ErrInvalid},
		{"tag flipped", s, sess.AccessKeyID, flip(len(raw) - 1), now, ErrInvalid},
		{"truncated", s, sess.AccessKeyID, base64.StdEncoding.EncodeToString(raw[:len(raw)-1]), now, ErrInvalid},
		{"not base64", s, sess.AccessKeyID, "IQoJb3JpZ2luX2VjE!!", now, ErrInvalid},
		{"url-safe base64", s, sess.AccessKeyID, base64.URLEncoding.EncodeToString(raw), now, ErrInvalid},
		{"empty", s, sess.AccessKeyID, "", now, ErrInvalid},
		{"huge", s, sess.AccessKeyID, strings.Repeat("A", MaxTokenLen+4), now, ErrInvalid},
		{"expired at expiry", s, sess.AccessKeyID, tok, sess.Expiration, ErrExpired},
		{"expired later", s, sess.AccessKeyID, tok, sess.Expiration.Add(time.Hour), ErrExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.sealer.Open(tc.akid, tc.token, tc.now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open err = %v, want %v", err, tc.want)
			}
			if !reflect.DeepEqual(got, Session{}) {
				t.Error("Open returned a session with an error")
			}
		})
	}
	// The rejections above must come from the changes, not a broken token.
	if _, err := s.Open(sess.AccessKeyID, tok, now); err != nil {
		t.Fatalf("original token no longer opens: %v", err)
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	old := mustSealer(t, key(1))
	tok, _ := old.Seal(roleSession())
	rotated := mustSealer(t, key(2), key(1))
	if _, err := rotated.Open("ASIAIOSFODNN7EXAMPLE", tok, issued); err != nil {
		t.Fatalf("rotated sealer cannot open old token: %v", err)
	}
	tok2, _ := rotated.Seal(roleSession())
	if _, err := old.Open("ASIAIOSFODNN7EXAMPLE", tok2, issued); !errors.Is(err, ErrInvalid) {
		t.Fatalf("old sealer opened token of new key: %v", err)
	}
}

func TestSealRejects(t *testing.T) {
	t.Parallel()
	s := mustSealer(t, key(1))
	mod := func(f func(*Session)) Session { x := roleSession(); f(&x); return x }
	tests := []struct {
		name string
		sess Session
	}{
		{"no access key ID", mod(func(s *Session) { s.AccessKeyID = "" })},
		{"no kind", mod(func(s *Session) { s.Kind = 0 })},
		{"unknown kind", mod(func(s *Session) { s.Kind = 9 })},
		{"expiry before issue", mod(func(s *Session) { s.Expiration = s.IssuedAt.Add(-time.Second) })},
		{"zero times", mod(func(s *Session) { s.IssuedAt, s.Expiration = time.Time{}, time.Time{} })},
		{"too large", mod(func(s *Session) {
			// Random data does not compress.
			r := make([]byte, MaxTokenLen)
			rand.Read(r)
			s.Policy = base64.StdEncoding.EncodeToString(r)
		})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := s.Seal(tc.sess); !errors.Is(err, ErrInvalidSession) {
				t.Fatalf("Seal err = %v, want ErrInvalidSession", err)
			}
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		keys [][]byte
	}{
		{"none", nil},
		{"short", [][]byte{make([]byte, 16)}},
		{"second bad", [][]byte{key(1), make([]byte, 31)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := New(tc.keys...); !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("New err = %v, want ErrInvalidKey", err)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		k    Kind
		want string
	}{
		{KindAssumedRole, "assumed-role"}, {KindFederatedUser, "federated-user"},
		{KindUser, "user"}, {KindRoot, "root"}, {Kind(7), "Kind(7)"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			if got := tc.k.String(); got != tc.want {
				t.Errorf("String = %q", got)
			}
		})
	}
}

func FuzzOpen(f *testing.F) {
	s := mustSealer(f, key(1))
	tok, _ := s.Seal(roleSession())
	big := roleSession()
	big.Policy = bigPolicy()
	bigTok, _ := s.Seal(big)
	f.Add("ASIAIOSFODNN7EXAMPLE", tok)
	f.Add("ASIAIOSFODNN7EXAMPLE", bigTok)
	f.Add("", "")
	f.Add("ASIA", "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, akid, token string) {
		sess, err := s.Open(akid, token, issued)
		if err == nil && (sess.AccessKeyID != akid || !sess.Kind.valid()) {
			t.Fatalf("Open accepted %q for %q: %+v", token, akid, sess)
		}
	})
}

func BenchmarkSeal(b *testing.B) {
	s := mustSealer(b, key(1))
	sess := roleSession()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Seal(sess); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, bc := range []struct {
		name   string
		policy string
	}{{"typical", roleSession().Policy}, {"large policy", bigPolicy()}} {
		b.Run(bc.name, func(b *testing.B) {
			s := mustSealer(b, key(1))
			sess := roleSession()
			sess.Policy = bc.policy
			tok, _ := s.Seal(sess)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Open(sess.AccessKeyID, tok, issued); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
