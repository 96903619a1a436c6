package stsapi

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/secrets"
	"github.com/iamd/iamd/internal/sigv4"
	"github.com/iamd/iamd/internal/ststoken"
	"github.com/iamd/iamd/policy"
)

// allowAll is an Authorizer that allows everything.
type allowAll struct{}

func (allowAll) Authorize(context.Context, *authz.Caller, *authz.Request) error { return nil }
func (allowAll) AuthorizeTrust(context.Context, *authz.Caller, *authz.TrustRequest) error {
	return nil
}
func (allowAll) TrustAllows(*authz.FederatedTrustRequest) bool { return true }

func newTestService(t testing.TB, now *time.Time) *Service {
	t.Helper()
	kr, err := secrets.New(secrets.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{View: iam.NewView(), Keyring: kr, Authorizer: allowAll{}, Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestKeyIDCarriesAccount(t *testing.T) {
	for _, account := range []string{"123456789012", "000000000001", "999999999999", "210987654321"} {
		for range 20 {
			id := newTemporaryKeyID(account)
			if !strings.HasPrefix(id, "ASIA") || len(id) != 20 {
				t.Fatalf("key ID %q", id)
			}
			if got, ok := accountOfKeyID(id); !ok || got != account {
				t.Fatalf("accountOfKeyID(%s) = %s, %v; want %s", id, got, ok, account)
			}
		}
	}
	// AWS's published example key decodes to its account.
	if got, _ := accountOfKeyID("ASIAY34FZKBOKMUTVV7A"); got != "609629065308" {
		t.Errorf("accountOfKeyID(AWS example) = %s", got)
	}
	if _, ok := accountOfKeyID("AKIA0000000000000000"); ok {
		t.Error("accepted a key ID that is not base32")
	}
}

func TestPackedSize(t *testing.T) {
	small := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"}]}`
	if pct := packedSize(small, nil, nil); pct <= 0 || pct > 50 {
		t.Errorf("small policy packs to %d%%", pct)
	}
	var tags []ststoken.Tag
	for i := range 50 {
		tags = append(tags, ststoken.Tag{Key: secrets.NewUniqueID("K") + strconv.Itoa(i), Value: secrets.NewSecretAccessKey() + secrets.NewSecretAccessKey()})
	}
	if _, err := checkPacked("", nil, tags); err == nil || err.(*awsquery.Error).Code != CodePackedPolicyTooLarge {
		t.Errorf("50 random tags: %v, want PackedPolicyTooLarge", err)
	}
	if n, err := checkPacked("", nil, nil); n != nil || err != nil {
		t.Errorf("nothing passed: %v, %v", n, err)
	}
}

func TestSessionCredentials(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newTestService(t, &now)
	sess := &ststoken.Session{
		Account: "123456789012", Kind: ststoken.KindAssumedRole,
		ARN: "arn:aws:sts::123456789012:assumed-role/app/s1", PrincipalID: "AROAEXAMPLE:s1",
		SourceARN: "arn:aws:iam::123456789012:role/svc/app", SourceID: "AROAEXAMPLE", SessionName: "s1",
		IssuedAt: now, Expiration: now.Add(15 * time.Minute), MFAAuthenticated: true, MFAAuthTime: now,
		Tags: []ststoken.Tag{{Key: "team", Value: "blue"}}, RoleChained: true,
	}
	creds, err := s.issue(sess)
	if err != nil {
		t.Fatal(err)
	}
	c := s.Credentials()
	for range 2 { // the second lookup comes from the cache
		got, err := c.Lookup(context.Background(), creds.AccessKeyId, creds.SessionToken)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.SecretAccessKey) != creds.SecretAccessKey {
			t.Error("wrong secret")
		}
		caller := got.Principal.(*authz.Caller)
		if caller.Type != authz.AssumedRole || caller.ARN != sess.ARN || caller.PrincipalARN != sess.SourceARN ||
			caller.UserID != "AROAEXAMPLE:s1" || caller.EntityID != "AROAEXAMPLE" || caller.Name != "app" ||
			caller.AccessKeyID != creds.AccessKeyId || caller.Session == nil || !caller.Session.MFA ||
			caller.Session.Tags["team"] != "blue" || !caller.Session.Chained {
			t.Errorf("caller = %+v, session %+v", caller, caller.Session)
		}
	}
	tests := []struct {
		name       string
		key, token string
		want       error
	}{
		{"tampered", creds.AccessKeyId, creds.SessionToken[:20] + "A" + creds.SessionToken[21:], sigv4.ErrInvalidClientTokenID},
		{"other key", newTemporaryKeyID("123456789012"), creds.SessionToken, sigv4.ErrInvalidClientTokenID},
		{"garbage", creds.AccessKeyId, "garbage", sigv4.ErrInvalidClientTokenID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.token == creds.SessionToken[:20]+"A"+creds.SessionToken[21:] && creds.SessionToken[20] == 'A' {
				tc.token = creds.SessionToken[:20] + "B" + creds.SessionToken[21:]
			}
			if _, err := c.Lookup(context.Background(), tc.key, tc.token); !errors.Is(err, tc.want) {
				t.Errorf("Lookup = %v, want %v", err, tc.want)
			}
		})
	}
	now = now.Add(15 * time.Minute)
	if _, err := c.Lookup(context.Background(), creds.AccessKeyId, creds.SessionToken); !errors.Is(err, sigv4.ErrExpiredToken) {
		t.Errorf("cached, expired: %v", err)
	}
	fresh := newCredentials(s.sealer, func() time.Time { return now })
	if _, err := fresh.Lookup(context.Background(), creds.AccessKeyId, creds.SessionToken); !errors.Is(err, sigv4.ErrExpiredToken) {
		t.Errorf("uncached, expired: %v", err)
	}
}

func TestCallerOfKinds(t *testing.T) {
	base := ststoken.Session{Account: "123456789012", AccessKeyID: "ASIAX", IssuedAt: time.Unix(1, 0), Expiration: time.Unix(2, 0)}
	tests := []struct {
		name     string
		kind     ststoken.Kind
		arn      string
		srcID    string
		wantType authz.PrincipalType
		wantName string
		entity   string
	}{
		{"user", ststoken.KindUser, "arn:aws:iam::123456789012:user/eng/bob", "AIDAX", authz.User, "bob", "AIDAX"},
		{"root", ststoken.KindRoot, "arn:aws:iam::123456789012:root", "123456789012", authz.Root, "", "123456789012"},
		{"federated", ststoken.KindFederatedUser, "arn:aws:sts::123456789012:federated-user/carol", "AIDAX", authz.FederatedUser, "carol", "AIDAX"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			s.Kind, s.ARN, s.SourceID = tc.kind, tc.arn, tc.srcID
			if tc.kind == ststoken.KindFederatedUser {
				s.SessionName = "carol"
			}
			c := callerOf(&s)
			if c.Type != tc.wantType || c.Name != tc.wantName || c.EntityID != tc.entity || c.PrincipalARN != tc.arn {
				t.Errorf("caller = %+v", c)
			}
		})
	}
}

func TestAuthorizationMessageRoundTrip(t *testing.T) {
	now := time.Now()
	s := newTestService(t, &now)
	c := &authz.Caller{Account: "123456789012", ARN: "arn:aws:iam::123456789012:user/bob", UserID: "AIDAX", Name: "bob"}
	ex := &policy.Explanation{Decision: policy.ImplicitDeny, Layer: policy.LayerIdentity, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Principal: c.ARN}
	enc, err := s.EncodeAuthorizationMessage(NewAuthorizationMessage(c, ex, []authz.KV{{Key: "aws:SourceIp", Values: []string{"10.0.0.1"}}}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := authz.WithCaller(context.Background(), c)
	out, err := s.DecodeAuthorizationMessage(ctx, &DecodeAuthorizationMessageRequest{EncodedMessage: enc})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out.DecodedMessage), &m); err != nil {
		t.Fatal(err)
	}
	if m["allowed"] != false || m["context"].(map[string]any)["action"] != "s3:GetObject" {
		t.Errorf("decoded = %s", out.DecodedMessage)
	}
	if strings.Contains(out.DecodedMessage, `"account"`) {
		t.Errorf("decoded message leaks the owning account: %s", out.DecodedMessage)
	}
	// One character changed, whatever it was (the message is random: a
	// fixed replacement is the same character once in 64 runs).
	swap := "x"
	if enc[10] == 'x' {
		swap = "y"
	}
	for _, tc := range []struct {
		name string
		c    *authz.Caller
		msg  string
	}{
		{"other account", &authz.Caller{Account: "210987654321"}, enc},
		{"tampered", c, enc[:10] + swap + enc[11:]},
		{"garbage", c, "!!!"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.DecodeAuthorizationMessage(authz.WithCaller(context.Background(), tc.c), &DecodeAuthorizationMessageRequest{EncodedMessage: tc.msg})
			var ae *awsquery.Error
			if !errors.As(err, &ae) || ae.Code != CodeInvalidAuthorizationMessage {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestParseRoleARN(t *testing.T) {
	for _, tc := range []struct {
		arn              string
		ok               bool
		acct, path, name string
	}{
		{"arn:aws:iam::123456789012:role/app", true, "123456789012", "/", "app"},
		{"arn:aws:iam::123456789012:role/a/b/app", true, "123456789012", "/a/b/", "app"},
		{"arn:aws:iam::123456789012:role/", false, "", "", ""},
		{"arn:aws:iam::12345:role/app", false, "", "", ""},
		{"arn:aws:iam::123456789012:user/app", false, "", "", ""},
		{"arn:aws:sts::123456789012:role/app", false, "", "", ""},
	} {
		r, ok := parseRoleARN("", tc.arn)
		if ok != tc.ok || ok && (r.account != tc.acct || r.path != tc.path || r.name != tc.name) {
			t.Errorf("parseRoleARN(%s) = %+v, %v", tc.arn, r, ok)
		}
	}
}

func BenchmarkLookupCached(b *testing.B) {
	now := time.Now()
	s := newTestService(b, &now)
	creds, err := s.issue(&ststoken.Session{Account: "123456789012", Kind: ststoken.KindAssumedRole, ARN: "arn:aws:sts::123456789012:assumed-role/a/b",
		IssuedAt: now, Expiration: now.Add(time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	c := s.Credentials()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Lookup(context.Background(), creds.AccessKeyId, creds.SessionToken); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIssue(b *testing.B) {
	now := time.Now()
	s := newTestService(b, &now)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.issue(&ststoken.Session{Account: "123456789012", Kind: ststoken.KindAssumedRole, ARN: "arn:aws:sts::123456789012:assumed-role/a/b",
			PrincipalID: "AROAX:b", SourceARN: "arn:aws:iam::123456789012:role/a", SourceID: "AROAX", SessionName: "b",
			IssuedAt: now, Expiration: now.Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
	}
}
