package password

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of the PasswordPolicy fields, from the IAM API reference for
// UpdateAccountPasswordPolicy.
const (
	MinMinimumPasswordLength   = 6
	MaxMinimumPasswordLength   = 128
	MinMaxPasswordAge          = 1
	MaxMaxPasswordAge          = 1095
	MinPasswordReusePrevention = 1
	MaxPasswordReusePrevention = 24
	// MaxLength is the longest password IAM accepts.
	MaxLength = 128
	// DefaultMinimumPasswordLength is the minimum length under AWS's default
	// rules, which apply when the account has no password policy.
	DefaultMinimumPasswordLength = 8
)

// Symbols are the non-alphanumeric characters that satisfy RequireSymbols,
// as IAM lists them.
const Symbols = "!@#$%^&*()_+-=[]{}|'"

// Errors returned by this package's policy functions; check with errors.Is.
var (
	// ErrPolicyViolation is matched by every *ViolationError; IAM's error
	// code for it is PasswordPolicyViolation.
	ErrPolicyViolation = errors.New("password: policy violation")
	// ErrInvalidPolicy is matched by every *InvalidPolicyError; IAM's error
	// code for it is ValidationError.
	ErrInvalidPolicy = errors.New("password: invalid password policy")
)

// Policy is an account password policy, with IAM's field names. The zero
// Policy is not a valid stored policy (MinimumPasswordLength is 0); use
// NewPolicy for UpdateAccountPasswordPolicy's defaults.
type Policy struct {
	MinimumPasswordLength      int
	RequireSymbols             bool
	RequireNumbers             bool
	RequireUppercaseCharacters bool
	RequireLowercaseCharacters bool
	AllowUsersToChangePassword bool
	// MaxPasswordAge is the number of days a password is valid; 0 means
	// passwords do not expire.
	MaxPasswordAge int
	// PasswordReusePrevention is how many previous passwords may not be
	// reused; 0 means no restriction.
	PasswordReusePrevention int
	HardExpiry              bool
}

// NewPolicy returns the policy UpdateAccountPasswordPolicy stores when no
// parameter is given: minimum length 6 and every other field false or 0.
// (IAM resets unspecified parameters to these defaults on every update.)
func NewPolicy() Policy {
	return Policy{MinimumPasswordLength: MinMinimumPasswordLength}
}

// ExpirePasswords reports whether passwords expire, as GetAccountPasswordPolicy
// returns it.
func (p Policy) ExpirePasswords() bool { return p.MaxPasswordAge > 0 }

// ExpiresAt returns when a password set at changed expires under p, and
// false if passwords do not expire.
func (p Policy) ExpiresAt(changed time.Time) (time.Time, bool) {
	if !p.ExpirePasswords() {
		return time.Time{}, false
	}
	return changed.AddDate(0, 0, p.MaxPasswordAge), true
}

// Expired reports whether a password set at changed has expired at now.
func (p Policy) Expired(changed, now time.Time) bool {
	at, ok := p.ExpiresAt(changed)
	return ok && !now.Before(at)
}

// InvalidPolicyError reports policy fields out of range, in the wording of
// IAM's ValidationError ("1 validation error detected: Value '5' at
// 'minimumPasswordLength' failed to satisfy constraint: …").
type InvalidPolicyError struct {
	Problems []string
}

func (e *InvalidPolicyError) Error() string {
	n := len(e.Problems)
	s := "s"
	if n == 1 {
		s = ""
	}
	return fmt.Sprintf("%d validation error%s detected: %s", n, s, strings.Join(e.Problems, "; "))
}

// Is makes errors.Is(err, ErrInvalidPolicy) true.
func (e *InvalidPolicyError) Is(target error) bool { return target == ErrInvalidPolicy }

// Validate checks the fields' ranges: MinimumPasswordLength 6–128,
// MaxPasswordAge 0 or 1–1095, PasswordReusePrevention 0 or 1–24.
func (p Policy) Validate() error {
	var probs []string
	rangeCheck := func(v, lo, hi int, member string, zeroOK bool) {
		if zeroOK && v == 0 {
			return
		}
		if v < lo {
			probs = append(probs, fmt.Sprintf("Value '%d' at '%s' failed to satisfy constraint: Member must have value greater than or equal to %d", v, member, lo))
		} else if v > hi {
			probs = append(probs, fmt.Sprintf("Value '%d' at '%s' failed to satisfy constraint: Member must have value less than or equal to %d", v, member, hi))
		}
	}
	rangeCheck(p.MinimumPasswordLength, MinMinimumPasswordLength, MaxMinimumPasswordLength, "minimumPasswordLength", false)
	rangeCheck(p.MaxPasswordAge, MinMaxPasswordAge, MaxMaxPasswordAge, "maxPasswordAge", true)
	rangeCheck(p.PasswordReusePrevention, MinPasswordReusePrevention, MaxPasswordReusePrevention, "passwordReusePrevention", true)
	if len(probs) > 0 {
		return &InvalidPolicyError{Problems: probs}
	}
	return nil
}

// Messages of PasswordPolicyViolation. The ones for a custom policy follow
// IAM's wording; the default-rule and reuse messages are iamd's own.
const (
	msgUpper      = "Password should have at least one uppercase letter"
	msgLower      = "Password should have at least one lowercase letter"
	msgNumber     = "Password should have at least one number"
	msgSymbol     = "Password should have at least one symbol"
	msgMinLength  = "Password should have a minimum length of %d"
	msgMaxLength  = "Password should have a maximum length of %d"
	msgThreeTypes = "Password should contain at least three of the following character types: uppercase letters, lowercase letters, numbers and symbols"
	msgName       = "Password should not be the same as the user name, account alias or email address"
	msgReused     = "Password should not be one of the %d previous passwords"
)

// ViolationError reports why a password does not satisfy a policy.
// Reasons lists every rule broken, in a fixed order; Error returns the
// first, which is what IAM's PasswordPolicyViolation message carries.
type ViolationError struct {
	Reasons []string
}

func (e *ViolationError) Error() string { return e.Reasons[0] }

// Is makes errors.Is(err, ErrPolicyViolation) true.
func (e *ViolationError) Is(target error) bool { return target == ErrPolicyViolation }

type classes struct{ upper, lower, number, symbol bool }

func classify(pw string) classes {
	var c classes
	for i := 0; i < len(pw); i++ {
		switch b := pw[i]; {
		case 'A' <= b && b <= 'Z':
			c.upper = true
		case 'a' <= b && b <= 'z':
			c.lower = true
		case '0' <= b && b <= '9':
			c.number = true
		case strings.IndexByte(Symbols, b) >= 0:
			c.symbol = true
		}
	}
	return c
}

// Check reports whether password satisfies policy p, returning a
// *ViolationError (matching ErrPolicyViolation) if not. names are the
// identities the password must not equal (compared case-insensitively): pass
// the user name, and for the root user the account name, alias and email.
//
// With p == nil (the account has no password policy) AWS's default rules
// apply: at least 8 characters and at least three of the four character
// types (uppercase, lowercase, numbers, symbols). Characters other than
// those still count towards the length.
func Check(p *Policy, password string, names ...string) error {
	var reasons []string
	n := utf8.RuneCountInString(password)
	c := classify(password)
	if p == nil {
		if n < DefaultMinimumPasswordLength {
			reasons = append(reasons, fmt.Sprintf(msgMinLength, DefaultMinimumPasswordLength))
		}
		types := 0
		for _, ok := range []bool{c.upper, c.lower, c.number, c.symbol} {
			if ok {
				types++
			}
		}
		if types < 3 {
			reasons = append(reasons, msgThreeTypes)
		}
	} else {
		if n < p.MinimumPasswordLength {
			reasons = append(reasons, fmt.Sprintf(msgMinLength, p.MinimumPasswordLength))
		}
		if p.RequireUppercaseCharacters && !c.upper {
			reasons = append(reasons, msgUpper)
		}
		if p.RequireLowercaseCharacters && !c.lower {
			reasons = append(reasons, msgLower)
		}
		if p.RequireNumbers && !c.number {
			reasons = append(reasons, msgNumber)
		}
		if p.RequireSymbols && !c.symbol {
			reasons = append(reasons, msgSymbol)
		}
	}
	if n > MaxLength {
		reasons = append(reasons, fmt.Sprintf(msgMaxLength, MaxLength))
	}
	for _, name := range names {
		if name != "" && strings.EqualFold(name, password) {
			reasons = append(reasons, msgName)
			break
		}
	}
	if len(reasons) > 0 {
		return &ViolationError{Reasons: reasons}
	}
	return nil
}

// CheckReuse reports whether password matches one of the previous password
// hashes that p's PasswordReusePrevention forbids reusing. previous holds
// hashes made by Hash, newest first; only the first PasswordReusePrevention
// are checked, so callers may keep more. It costs one argon2id computation
// per checked hash (up to 24), so call it only after Check passes.
// Malformed hashes in previous are skipped.
func (h *Hasher) CheckReuse(ctx context.Context, p *Policy, password string, previous []string) error {
	if p == nil || p.PasswordReusePrevention <= 0 {
		return nil
	}
	previous = previous[:min(len(previous), p.PasswordReusePrevention)]
	for _, enc := range previous {
		err := h.Verify(ctx, enc, password)
		switch {
		case err == nil:
			return &ViolationError{Reasons: []string{fmt.Sprintf(msgReused, p.PasswordReusePrevention)}}
		case errors.Is(err, ErrMismatch), errors.Is(err, ErrMalformedHash):
		default:
			return err
		}
	}
	return nil
}
