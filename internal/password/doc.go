// Package password hashes console passwords with argon2id and checks new
// passwords against an AWS account password policy.
//
// Hashes use the PHC string format, $argon2id$v=19$m=…,t=…,p=…$salt$hash,
// so parameters can be raised later: NeedsRehash tells the login path when to
// re-hash a password it has just verified.
//
// Policy models AWS's PasswordPolicy (GetAccountPasswordPolicy,
// UpdateAccountPasswordPolicy) and Check applies it the way IAM does for
// CreateLoginProfile, UpdateLoginProfile and ChangePassword, returning
// IAM's PasswordPolicyViolation wording. With no policy set, Check applies
// AWS's documented default rules.
//
// The package stores nothing and does no rate limiting; callers keep hashes
// and throttle login attempts.
package password
