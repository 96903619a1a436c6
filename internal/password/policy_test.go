package password

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCheckCustomPolicy(t *testing.T) {
	t.Parallel()
	strict := &Policy{
		MinimumPasswordLength:      14,
		RequireSymbols:             true,
		RequireNumbers:             true,
		RequireUppercaseCharacters: true,
		RequireLowercaseCharacters: true,
	}
	lenOnly := &Policy{MinimumPasswordLength: 6}
	tests := []struct {
		name     string
		policy   *Policy
		password string
		user     string
		want     []string // nil: accepted
	}{
		{"strict ok", strict, "Correct-Horse-9", "alice", nil},
		{"strict too short", strict, "Aa1!", "alice", []string{"Password should have a minimum length of 14"}},
		{"no uppercase", strict, "correct-horse-9", "alice", []string{"Password should have at least one uppercase letter"}},
		{"no lowercase", strict, "CORRECT-HORSE-9", "alice", []string{"Password should have at least one lowercase letter"}},
		{"no number", strict, "Correct-Horse-x", "alice", []string{"Password should have at least one number"}},
		{"no symbol", strict, "CorrectHorse99x", "alice", []string{"Password should have at least one symbol"}},
		{"dot is not a symbol", strict, "Correct.Horse.9", "alice", []string{"Password should have at least one symbol"}},
		{"space is not a symbol", strict, "Correct Horse 9", "alice", []string{"Password should have at least one symbol"}},
		{"apostrophe is a symbol", strict, "Correct'Horse'9", "alice", nil},
		{"every violation, fixed order", strict, "é", "alice", []string{
			"Password should have a minimum length of 14",
			"Password should have at least one uppercase letter",
			"Password should have at least one lowercase letter",
			"Password should have at least one number",
			"Password should have at least one symbol",
		}},
		{"non-Latin letters are not uppercase", &Policy{MinimumPasswordLength: 6, RequireUppercaseCharacters: true}, "ÄÖÜäöü", "alice", []string{"Password should have at least one uppercase letter"}},
		{"length counts characters not bytes", lenOnly, "ééééé", "alice", []string{"Password should have a minimum length of 6"}},
		{"length 6 ok", lenOnly, "ÿÿÿÿÿÿ", "alice", nil},
		{"too long", lenOnly, strings.Repeat("a", 129), "alice", []string{"Password should have a maximum length of 128"}},
		{"128 ok", lenOnly, strings.Repeat("a", 128), "alice", nil},
		{"same as user name", lenOnly, "alice1", "ALICE1", []string{msgName}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assertViolation(t, Check(tc.policy, tc.password, tc.user), tc.want)
		})
	}
}

func TestCheckDefaultRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		password string
		names    []string
		want     []string
	}{
		{"three types", "Password1", nil, nil},
		{"upper lower symbol", "Pass-word", nil, nil},
		{"all four", "Pa$$w0rd", nil, nil},
		{"two types", "password1", nil, []string{msgThreeTypes}},
		{"short", "Pa1!", nil, []string{"Password should have a minimum length of 8"}},
		{"short and simple", "abc", nil, []string{"Password should have a minimum length of 8", msgThreeTypes}},
		{"equals email", "Root@Example.com1", []string{"root@example.com1"}, []string{msgName}},
		{"equals alias", "My-Alias-2024", []string{"", "my-alias-2024"}, []string{msgName}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assertViolation(t, Check(nil, tc.password, tc.names...), tc.want)
		})
	}
}

func assertViolation(t *testing.T, err error, want []string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("Check = %v, want nil", err)
		}
		return
	}
	if !errors.Is(err, ErrPolicyViolation) {
		t.Fatalf("Check = %v, want ErrPolicyViolation", err)
	}
	var v *ViolationError
	if !errors.As(err, &v) {
		t.Fatalf("Check = %T, want *ViolationError", err)
	}
	if strings.Join(v.Reasons, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Reasons = %q, want %q", v.Reasons, want)
	}
	if err.Error() != want[0] {
		t.Errorf("Error() = %q, want %q", err.Error(), want[0])
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    Policy
		want string // "" for valid
	}{
		{"defaults", NewPolicy(), ""},
		{"max everything", Policy{MinimumPasswordLength: 128, MaxPasswordAge: 1095, PasswordReusePrevention: 24}, ""},
		{"min everything", Policy{MinimumPasswordLength: 6, MaxPasswordAge: 1, PasswordReusePrevention: 1}, ""},
		{"zero value", Policy{}, "1 validation error detected: Value '0' at 'minimumPasswordLength' failed to satisfy constraint: Member must have value greater than or equal to 6"},
		{"length 5", Policy{MinimumPasswordLength: 5}, "1 validation error detected: Value '5' at 'minimumPasswordLength' failed to satisfy constraint: Member must have value greater than or equal to 6"},
		{"length 129", Policy{MinimumPasswordLength: 129}, "1 validation error detected: Value '129' at 'minimumPasswordLength' failed to satisfy constraint: Member must have value less than or equal to 128"},
		{"age 1096 and reuse 25", Policy{MinimumPasswordLength: 8, MaxPasswordAge: 1096, PasswordReusePrevention: 25},
			"2 validation errors detected: Value '1096' at 'maxPasswordAge' failed to satisfy constraint: Member must have value less than or equal to 1095; " +
				"Value '25' at 'passwordReusePrevention' failed to satisfy constraint: Member must have value less than or equal to 24"},
		{"negative age", Policy{MinimumPasswordLength: 8, MaxPasswordAge: -1}, "1 validation error detected: Value '-1' at 'maxPasswordAge' failed to satisfy constraint: Member must have value greater than or equal to 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.p.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidPolicy) || err.Error() != tc.want {
				t.Fatalf("Validate = %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	changed := time.Date(2025, 1, 31, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		maxAge  int
		now     time.Time
		expired bool
	}{
		{"never expires", 0, changed.AddDate(10, 0, 0), false},
		{"before", 90, changed.AddDate(0, 0, 89), false},
		{"at expiry", 90, changed.AddDate(0, 0, 90), true},
		{"after", 1, changed.Add(25 * time.Hour), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := Policy{MinimumPasswordLength: 8, MaxPasswordAge: tc.maxAge}
			if p.ExpirePasswords() != (tc.maxAge > 0) {
				t.Error("ExpirePasswords wrong")
			}
			if got := p.Expired(changed, tc.now); got != tc.expired {
				t.Errorf("Expired = %v, want %v", got, tc.expired)
			}
		})
	}
}

func TestCheckReuse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHasher(t, cheap)
	var history []string // newest first
	for _, pw := range []string{"pw-3", "pw-2", "pw-1"} {
		enc, _ := h.Hash(ctx, pw)
		history = append(history, enc)
	}
	history = append(history, "not-a-hash")
	tests := []struct {
		name     string
		policy   *Policy
		password string
		reused   bool
	}{
		{"no policy", nil, "pw-3", false},
		{"no reuse prevention", &Policy{MinimumPasswordLength: 6}, "pw-3", false},
		{"newest reused", &Policy{MinimumPasswordLength: 6, PasswordReusePrevention: 1}, "pw-3", true},
		{"older outside window", &Policy{MinimumPasswordLength: 6, PasswordReusePrevention: 2}, "pw-1", false},
		{"older inside window", &Policy{MinimumPasswordLength: 6, PasswordReusePrevention: 3}, "pw-1", true},
		{"new password", &Policy{MinimumPasswordLength: 6, PasswordReusePrevention: 24}, "pw-4", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := h.CheckReuse(ctx, tc.policy, tc.password, history)
			if got := errors.Is(err, ErrPolicyViolation); got != tc.reused {
				t.Fatalf("CheckReuse = %v, reused want %v", err, tc.reused)
			}
			if !tc.reused && err != nil {
				t.Fatal(err)
			}
		})
	}
}

func FuzzCheck(f *testing.F) {
	f.Add("Correct-Horse-9", "alice", 14, true)
	f.Add("", "", 6, false)
	f.Fuzz(func(t *testing.T, pw, user string, minLen int, strict bool) {
		p := &Policy{MinimumPasswordLength: minLen, RequireSymbols: strict, RequireNumbers: strict,
			RequireUppercaseCharacters: strict, RequireLowercaseCharacters: strict}
		for _, pol := range []*Policy{nil, p} {
			err := Check(pol, pw, user)
			var v *ViolationError
			if err != nil && (!errors.As(err, &v) || len(v.Reasons) == 0) {
				t.Fatalf("Check returned %v", err)
			}
		}
	})
}

func BenchmarkCheck(b *testing.B) {
	p := &Policy{MinimumPasswordLength: 14, RequireSymbols: true, RequireNumbers: true,
		RequireUppercaseCharacters: true, RequireLowercaseCharacters: true}
	b.ReportAllocs()
	for b.Loop() {
		Check(p, "Correct-Horse-9", "alice")
	}
}
