package iamapi

import (
	"context"
	"errors"
	"time"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/password"
)

// Console passwords (login profiles) and the account password policy.
// Passwords are stored as argon2id hashes on the user record; earlier hashes
// are kept, newest first, for the policy's PasswordReusePrevention.

// maxPreviousPasswords is how many earlier password hashes a login profile
// keeps: the most PasswordReusePrevention can ask for.
const maxPreviousPasswords = password.MaxPasswordReusePrevention

func noSuchLoginProfile(user string) error {
	return noSuchEntity("Login Profile for User %s cannot be found.", user)
}

// toPasswordPolicy converts a stored policy to package password's (nil for
// none, so that password.Check applies AWS's default rules).
func toPasswordPolicy(p *iam.PasswordPolicy) *password.Policy {
	if p == nil {
		return nil
	}
	return &password.Policy{
		MinimumPasswordLength:      p.MinimumPasswordLength,
		RequireSymbols:             p.RequireSymbols,
		RequireNumbers:             p.RequireNumbers,
		RequireUppercaseCharacters: p.RequireUppercaseCharacters,
		RequireLowercaseCharacters: p.RequireLowercaseCharacters,
		AllowUsersToChangePassword: p.AllowUsersToChangePassword,
		MaxPasswordAge:             p.MaxPasswordAge,
		PasswordReusePrevention:    p.PasswordReusePrevention,
		HardExpiry:                 p.HardExpiry,
	}
}

func fromPasswordPolicy(p password.Policy) *iam.PasswordPolicy {
	return &iam.PasswordPolicy{
		MinimumPasswordLength:      p.MinimumPasswordLength,
		RequireSymbols:             p.RequireSymbols,
		RequireNumbers:             p.RequireNumbers,
		RequireUppercaseCharacters: p.RequireUppercaseCharacters,
		RequireLowercaseCharacters: p.RequireLowercaseCharacters,
		AllowUsersToChangePassword: p.AllowUsersToChangePassword,
		MaxPasswordAge:             p.MaxPasswordAge,
		PasswordReusePrevention:    p.PasswordReusePrevention,
		HardExpiry:                 p.HardExpiry,
	}
}

// accountPasswordPolicy returns the account's password policy, or nil.
func (s *Service) accountPasswordPolicy(account string) *password.Policy {
	acct, ok := s.view.Account(account)
	if !ok {
		return nil
	}
	return toPasswordPolicy(acct.V.PasswordPolicy)
}

// policyError maps package password's errors to IAM's.
func policyError(err error) error {
	var ve *password.ViolationError
	if errors.As(err, &ve) {
		return passwordPolicyViolation("%s", ve.Error())
	}
	return err
}

// checkNewPassword applies the account password policy to a new password
// for user, including reuse of the current and previous passwords (prof may
// be nil), and returns its hash.
func (s *Service) checkNewPassword(ctx context.Context, account, user, pw string, prof *iam.LoginProfile) (string, error) {
	pol := s.accountPasswordPolicy(account)
	if err := password.Check(pol, pw, user); err != nil {
		return "", policyError(err)
	}
	if prof != nil {
		prev := append([]string{prof.PasswordHash}, prof.Previous...)
		if err := s.passwords.CheckReuse(ctx, pol, pw, prev); err != nil {
			return "", policyError(err)
		}
	}
	return s.passwords.Hash(ctx, pw)
}

// setPassword records a new password hash on a login profile copy, keeping
// the one it replaces for reuse prevention.
func setPassword(p *iam.LoginProfile, hash string, now time.Time) {
	prev := append([]string{p.PasswordHash}, p.Previous...)
	if len(prev) > maxPreviousPasswords {
		prev = prev[:maxPreviousPasswords]
	}
	p.Previous = prev
	p.PasswordHash = hash
	p.PasswordChanged = now
}

// loginUserName is the user a login profile operation acts on: the named
// one, or the calling IAM user.
func loginUserName(ctx context.Context, name string) (string, error) {
	if name != "" {
		return name, nil
	}
	c, err := caller(ctx)
	if err != nil {
		return "", err
	}
	if c.Type != authz.User {
		return "", validationError("Must specify userName when calling with non-User credentials")
	}
	return c.Name, nil
}

func loginProfileOut(name string, p *iam.LoginProfile) LoginProfile {
	reset := p.ResetRequired
	return LoginProfile{UserName: name, CreateDate: p.Created, PasswordResetRequired: &reset}
}

// CreateLoginProfile gives a user a console password.
func (s *Service) CreateLoginProfile(ctx context.Context, in *CreateLoginProfileRequest) (*CreateLoginProfileResponse, error) {
	name, err := loginUserName(ctx, in.UserName)
	if err != nil {
		return nil, err
	}
	c, e, err := s.lookupUser(ctx, "iam:CreateLoginProfile", name)
	if err != nil {
		return nil, err
	}
	if e.V.Login != nil {
		return nil, entityAlreadyExists("Login Profile for user %s already exists.", e.V.Name)
	}
	if in.Password == "" {
		return nil, validationError("Password is required to create a login profile for an IAM user.")
	}
	hash, err := s.checkNewPassword(ctx, c.Account, e.V.Name, in.Password, nil)
	if err != nil {
		return nil, err
	}
	now := s.timestamp()
	prof := &iam.LoginProfile{
		Created: now, PasswordHash: hash, PasswordChanged: now,
		ResetRequired: in.PasswordResetRequired != nil && *in.PasswordResetRequired,
	}
	var userName string
	err = s.updateUser(ctx, c.Account, name, func(_ *iam.AccountView, u *iam.User) error {
		if u.Login != nil {
			return entityAlreadyExists("Login Profile for user %s already exists.", u.Name)
		}
		u.Login = prof
		userName = u.Name
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &CreateLoginProfileResponse{LoginProfile: loginProfileOut(userName, prof)}, nil
}

// GetLoginProfile returns when a user's console password was created and
// whether it must be reset; never the password.
func (s *Service) GetLoginProfile(ctx context.Context, in *GetLoginProfileRequest) (*GetLoginProfileResponse, error) {
	name, err := loginUserName(ctx, in.UserName)
	if err != nil {
		return nil, err
	}
	_, e, err := s.lookupUser(ctx, "iam:GetLoginProfile", name)
	if err != nil {
		return nil, err
	}
	if e.V.Login == nil {
		return nil, noSuchLoginProfile(e.V.Name)
	}
	return &GetLoginProfileResponse{LoginProfile: loginProfileOut(e.V.Name, e.V.Login)}, nil
}

// UpdateLoginProfile sets a user's console password and/or whether it must
// be reset at the next sign-in.
func (s *Service) UpdateLoginProfile(ctx context.Context, in *UpdateLoginProfileRequest) (*UpdateLoginProfileResponse, error) {
	c, e, err := s.lookupUser(ctx, "iam:UpdateLoginProfile", in.UserName)
	if err != nil {
		return nil, err
	}
	if e.V.Login == nil {
		return nil, noSuchLoginProfile(e.V.Name)
	}
	var hash string
	if in.Password != "" {
		if hash, err = s.checkNewPassword(ctx, c.Account, e.V.Name, in.Password, e.V.Login); err != nil {
			return nil, err
		}
	}
	now := s.timestamp()
	err = s.updateUser(ctx, c.Account, in.UserName, func(_ *iam.AccountView, u *iam.User) error {
		if u.Login == nil {
			return noSuchLoginProfile(u.Name)
		}
		p := *u.Login
		if hash != "" {
			setPassword(&p, hash, now)
		}
		if in.PasswordResetRequired != nil {
			p.ResetRequired = *in.PasswordResetRequired
		}
		u.Login = &p
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &UpdateLoginProfileResponse{}, nil
}

// DeleteLoginProfile removes a user's console password.
func (s *Service) DeleteLoginProfile(ctx context.Context, in *DeleteLoginProfileRequest) (*DeleteLoginProfileResponse, error) {
	name, err := loginUserName(ctx, in.UserName)
	if err != nil {
		return nil, err
	}
	c, _, err := s.lookupUser(ctx, "iam:DeleteLoginProfile", name)
	if err != nil {
		return nil, err
	}
	err = s.updateUser(ctx, c.Account, name, func(_ *iam.AccountView, u *iam.User) error {
		if u.Login == nil {
			return noSuchLoginProfile(u.Name)
		}
		u.Login = nil
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &DeleteLoginProfileResponse{}, nil
}

// ChangePassword changes the calling IAM user's own console password. The
// caller needs iam:ChangePassword on itself unless the account password
// policy allows users to change their own passwords.
func (s *Service) ChangePassword(ctx context.Context, in *ChangePasswordRequest) (*ChangePasswordResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if c.Type != authz.User {
		return nil, InvalidUserTypeError("Only IAM users can change their own password.")
	}
	var e *iam.Entry[iam.User]
	if err := s.read(c.Account, func(a *iam.AccountView) { e, _ = a.UserByID(c.EntityID) }); err != nil {
		return nil, err
	}
	if e == nil {
		return nil, noSuchUser(c.Name)
	}
	pol := s.accountPasswordPolicy(c.Account)
	if _, err := s.authorize(ctx, "iam:ChangePassword", s.partition.ARN(c.Account, "user", e.V.Path, e.V.Name), resourceTags(e.V.Tags)); err != nil {
		if !usersMayChangePasswords(pol, err) {
			return nil, err
		}
	}
	if e.V.Login == nil {
		return nil, noSuchLoginProfile(e.V.Name)
	}
	if pol != nil && pol.HardExpiry && pol.Expired(e.V.Login.PasswordChanged, s.now()) {
		return nil, EntityTemporarilyUnmodifiableError("Your password has expired; an administrator must reset it.")
	}
	if err := s.passwords.Verify(ctx, e.V.Login.PasswordHash, in.OldPassword); err != nil {
		if errors.Is(err, password.ErrMismatch) {
			return nil, accessDenied("The old password is incorrect.")
		}
		return nil, err
	}
	hash, err := s.checkNewPassword(ctx, c.Account, e.V.Name, in.NewPassword, e.V.Login)
	if err != nil {
		return nil, err
	}
	now := s.timestamp()
	oldHash := e.V.Login.PasswordHash
	err = s.updateUser(ctx, c.Account, e.V.Name, func(_ *iam.AccountView, u *iam.User) error {
		if u.ID != e.V.ID || u.Login == nil {
			return noSuchLoginProfile(e.V.Name)
		}
		if u.Login.PasswordHash != oldHash {
			// Changed concurrently: the old password verified above is no
			// longer the current one.
			return accessDenied("The old password is incorrect.")
		}
		p := *u.Login
		setPassword(&p, hash, now)
		p.ResetRequired = false
		u.Login = &p
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ChangePasswordResponse{}, nil
}

// UpdateAccountPasswordPolicy sets the account password policy. Parameters
// left out take their defaults, as in IAM: the call replaces the whole
// policy.
func (s *Service) UpdateAccountPasswordPolicy(ctx context.Context, in *UpdateAccountPasswordPolicyRequest) (*UpdateAccountPasswordPolicyResponse, error) {
	c, err := s.authorize(ctx, "iam:UpdateAccountPasswordPolicy", "*")
	if err != nil {
		return nil, err
	}
	p := password.NewPolicy()
	setInt := func(dst *int, v *int32) {
		if v != nil {
			*dst = int(*v)
		}
	}
	setBool := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	setInt(&p.MinimumPasswordLength, in.MinimumPasswordLength)
	setBool(&p.RequireSymbols, in.RequireSymbols)
	setBool(&p.RequireNumbers, in.RequireNumbers)
	setBool(&p.RequireUppercaseCharacters, in.RequireUppercaseCharacters)
	setBool(&p.RequireLowercaseCharacters, in.RequireLowercaseCharacters)
	setBool(&p.AllowUsersToChangePassword, in.AllowUsersToChangePassword)
	setInt(&p.MaxPasswordAge, in.MaxPasswordAge)
	setInt(&p.PasswordReusePrevention, in.PasswordReusePrevention)
	setBool(&p.HardExpiry, in.HardExpiry)
	if err := p.Validate(); err != nil {
		var ie *password.InvalidPolicyError
		if errors.As(err, &ie) {
			return nil, validationError("%s", ie.Error())
		}
		return nil, err
	}
	stored := fromPasswordPolicy(p)
	err = s.updateAccount(ctx, c.Account, func(a *iam.Account) error {
		a.PasswordPolicy = stored
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &UpdateAccountPasswordPolicyResponse{}, nil
}

// GetAccountPasswordPolicy returns the account password policy.
func (s *Service) GetAccountPasswordPolicy(ctx context.Context, _ *GetAccountPasswordPolicyRequest) (*GetAccountPasswordPolicyResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	pol := s.accountPasswordPolicy(c.Account)
	if _, err := s.authorize(ctx, "iam:GetAccountPasswordPolicy", "*"); err != nil {
		// Users who may change their own password may read the policy
		// that governs it, as AWS documents.
		if c.Type != authz.User || !usersMayChangePasswords(pol, err) {
			return nil, err
		}
	}
	if pol == nil {
		return nil, noSuchEntity("The Password Policy with domain name %s cannot be found.", c.Account)
	}
	minLen := int32(pol.MinimumPasswordLength)
	out := PasswordPolicy{
		MinimumPasswordLength:      &minLen,
		RequireSymbols:             &pol.RequireSymbols,
		RequireNumbers:             &pol.RequireNumbers,
		RequireUppercaseCharacters: &pol.RequireUppercaseCharacters,
		RequireLowercaseCharacters: &pol.RequireLowercaseCharacters,
		AllowUsersToChangePassword: &pol.AllowUsersToChangePassword,
	}
	expire := pol.ExpirePasswords()
	out.ExpirePasswords = &expire
	if pol.MaxPasswordAge > 0 {
		age := int32(pol.MaxPasswordAge)
		out.MaxPasswordAge = &age
	}
	if pol.PasswordReusePrevention > 0 {
		reuse := int32(pol.PasswordReusePrevention)
		out.PasswordReusePrevention = &reuse
	}
	if pol.HardExpiry || pol.MaxPasswordAge > 0 {
		out.HardExpiry = &pol.HardExpiry
	}
	return &GetAccountPasswordPolicyResponse{PasswordPolicy: out}, nil
}

// DeleteAccountPasswordPolicy removes the account password policy, so that
// AWS's default rules apply again.
func (s *Service) DeleteAccountPasswordPolicy(ctx context.Context, _ *DeleteAccountPasswordPolicyRequest) (*DeleteAccountPasswordPolicyResponse, error) {
	c, err := s.authorize(ctx, "iam:DeleteAccountPasswordPolicy", "*")
	if err != nil {
		return nil, err
	}
	err = s.updateAccount(ctx, c.Account, func(a *iam.Account) error {
		if a.PasswordPolicy == nil {
			return noSuchEntity("The account policy with name PasswordPolicy cannot be found.")
		}
		a.PasswordPolicy = nil
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &DeleteAccountPasswordPolicyResponse{}, nil
}

// updateAccount re-reads the account record, applies change to a copy and
// commits it, retrying lost races.
func (s *Service) updateAccount(ctx context.Context, account string, change func(a *iam.Account) error) error {
	return retry(ctx, func() error {
		acct, ok := s.view.Account(account)
		if !ok {
			return noSuchEntity("The account %s does not exist.", account)
		}
		next := *acct.V
		if err := change(&next); err != nil {
			return err
		}
		return s.commit(ctx, iam.Put(iam.KindAccount, "", account, &next, acct.Version))
	})
}

// usersMayChangePasswords reports whether the account's password policy
// lets IAM users change their own password, and so grants them
// iam:ChangePassword on themselves and iam:GetAccountPasswordPolicy,
// where denied is the refusal without it: like any allow, the implied one
// does not override an explicit deny.
func usersMayChangePasswords(pol *password.Policy, denied error) bool {
	return pol != nil && pol.AllowUsersToChangePassword && authz.ImplicitlyDenied(denied)
}
