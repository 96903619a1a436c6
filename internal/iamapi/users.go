package iamapi

import (
	"context"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/secrets"
	"github.com/iamd/iamd/internal/store"
)

func (s *Service) userOut(account string, u *iam.User) User {
	return userWithARN(u, s.partition.ARN(account, "user", u.Path, u.Name))
}

// userWithARN is userOut for a caller that already has the user's ARN.
func userWithARN(u *iam.User, arn string) User {
	out := User{
		Path:             u.Path,
		UserName:         u.Name,
		UserId:           u.ID,
		Arn:              arn,
		CreateDate:       u.Created,
		PasswordLastUsed: u.PasswordLastUsed,
		Tags:             fromTags(u.Tags),
	}
	if u.Boundary != "" {
		out.PermissionsBoundary = boundaryOut(u.Boundary)
	}
	return out
}

func boundaryOut(arn string) *AttachedPermissionsBoundary {
	return &AttachedPermissionsBoundary{PermissionsBoundaryType: "PermissionsBoundaryPolicy", PermissionsBoundaryArn: arn}
}

func noSuchUser(name string) error {
	return noSuchEntity("The user with name %s cannot be found.", name)
}

// CreateUser creates an IAM user with no permissions.
func (s *Service) CreateUser(ctx context.Context, in *CreateUserRequest) (*CreateUserResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	path := pathOrDefault(in.Path)
	arn := s.partition.ARN(c.Account, "user", path, in.UserName)
	opts := []authz.Option{tagOptions(in.Tags)}
	if in.PermissionsBoundary != "" {
		opts = append(opts, withKey("iam:PermissionsBoundary", in.PermissionsBoundary))
	}
	if _, err := s.authorize(ctx, "iam:CreateUser", arn, opts...); err != nil {
		return nil, err
	}
	if len(in.Tags) > 0 {
		if _, err := s.authorize(ctx, "iam:TagUser", arn, tagOptions(in.Tags)); err != nil {
			return nil, err
		}
	}
	if err := checkNewTags(in.Tags); err != nil {
		return nil, err
	}
	u := &iam.User{
		Name:     in.UserName,
		Path:     path,
		ID:       secrets.NewUniqueID("AIDA"),
		Created:  s.timestamp(),
		Tags:     toTags(in.Tags),
		Boundary: in.PermissionsBoundary,
	}
	err = retry(ctx, func() error {
		var verr error
		if err := s.read(c.Account, func(a *iam.AccountView) {
			if _, exists := a.User(in.UserName); exists {
				verr = entityAlreadyExists("User with name %s already exists.", in.UserName)
				return
			}
			if a.UserCount() >= s.quotas.UsersPerAccount {
				verr = limitExceeded("Cannot exceed quota for UsersPerAccount: %d", s.quotas.UsersPerAccount)
				return
			}
			if u.Boundary != "" {
				verr = s.checkBoundary(a, c.Account, u.Boundary)
			}
		}); err != nil {
			return err
		}
		if verr != nil {
			return verr
		}
		return s.commit(ctx, iam.Put(iam.KindUser, c.Account, iam.Key(u.Name), u, store.Absent))
	})
	if err != nil {
		return nil, err
	}
	out := s.userOut(c.Account, u)
	return &CreateUserResponse{User: &out}, nil
}

// GetUser returns a user, or the caller itself when no name is given.
func (s *Service) GetUser(ctx context.Context, in *GetUserRequest) (*GetUserResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	name := in.UserName
	if name == "" {
		switch c.Type {
		case authz.Root:
			if _, err := s.authorize(ctx, "iam:GetUser", c.ARN); err != nil {
				return nil, err
			}
			acct, ok := s.view.Account(c.Account)
			if !ok {
				return nil, noSuchEntity("The account %s does not exist.", c.Account)
			}
			return &GetUserResponse{User: User{
				UserId: c.Account, Arn: c.ARN, CreateDate: acct.V.Created,
				PasswordLastUsed: acct.V.RootPasswordLastUsed,
			}}, nil
		case authz.User:
			name = c.Name
		default:
			return nil, validationError("Must specify userName when calling with non-User credentials")
		}
	}
	var u *iam.User
	if err := s.read(c.Account, func(a *iam.AccountView) {
		if e, ok := a.User(name); ok {
			u = e.V
		}
	}); err != nil {
		return nil, err
	}
	if u == nil {
		if _, err := s.authorize(ctx, "iam:GetUser", s.partition.ARN(c.Account, "user", "/", name)); err != nil {
			return nil, err
		}
		return nil, noSuchUser(name)
	}
	arn := s.partition.ARN(c.Account, "user", u.Path, u.Name)
	if _, err := s.authorize(ctx, "iam:GetUser", arn, resourceTags(u.Tags)); err != nil {
		return nil, err
	}
	return &GetUserResponse{User: userWithARN(u, arn)}, nil
}

// lookupUser authorizes action on the named user (with any further
// request context opts give) and returns it with its version.
func (s *Service) lookupUser(ctx context.Context, action, name string, opts ...authz.Option) (*authz.Caller, *iam.Entry[iam.User], error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	var e *iam.Entry[iam.User]
	if err := s.read(c.Account, func(a *iam.AccountView) { e, _ = a.User(name) }); err != nil {
		return nil, nil, err
	}
	if e == nil {
		if _, err := s.authorize(ctx, action, s.partition.ARN(c.Account, "user", "/", name), opts...); err != nil {
			return nil, nil, err
		}
		return nil, nil, noSuchUser(name)
	}
	if _, err := s.authorize(ctx, action, s.partition.ARN(c.Account, "user", e.V.Path, e.V.Name), append([]authz.Option{resourceTags(e.V.Tags)}, opts...)...); err != nil {
		return nil, nil, err
	}
	return c, e, nil
}

// updateUser re-reads the named user, applies change to a copy and commits
// it, retrying lost races.
func (s *Service) updateUser(ctx context.Context, account, name string, change func(a *iam.AccountView, u *iam.User) error, extra ...func(a *iam.AccountView, u *iam.User) []iam.Mutation) error {
	return retry(ctx, func() error {
		var (
			verr error
			next iam.User
			ver  int64
			muts []iam.Mutation
		)
		if err := s.read(account, func(a *iam.AccountView) {
			e, ok := a.User(name)
			if !ok {
				verr = noSuchUser(name)
				return
			}
			next = *e.V
			ver = e.Version
			if verr = change(a, &next); verr != nil {
				return
			}
			for _, x := range extra {
				muts = append(muts, x(a, &next)...)
			}
		}); err != nil {
			return err
		}
		if verr != nil {
			return verr
		}
		muts = append([]iam.Mutation{iam.Put(iam.KindUser, account, iam.Key(next.Name), &next, ver)}, muts...)
		return s.commit(ctx, muts...)
	})
}

// UpdateUser renames a user or changes its path.
func (s *Service) UpdateUser(ctx context.Context, in *UpdateUserRequest) (*UpdateUserResponse, error) {
	c, e, err := s.lookupUser(ctx, "iam:UpdateUser", in.UserName)
	if err != nil {
		return nil, err
	}
	newName, newPath := e.V.Name, e.V.Path
	if in.NewUserName != "" {
		newName = in.NewUserName
	}
	if in.NewPath != "" {
		newPath = in.NewPath
	}
	if newName != e.V.Name || newPath != e.V.Path {
		if _, err := s.authorize(ctx, "iam:UpdateUser", s.partition.ARN(c.Account, "user", newPath, newName)); err != nil {
			return nil, err
		}
	}
	err = renaming[iam.User]{
		kind:     iam.KindUser,
		get:      (*iam.AccountView).User,
		notFound: noSuchUser,
		taken:    func(name string) error { return entityAlreadyExists("User with name %s already exists.", name) },
		nameOf:   func(u *iam.User) string { return u.Name },
		renamed: func(u *iam.User) *iam.User {
			next := *u
			next.Name, next.Path = newName, newPath
			return &next
		},
	}.commit(ctx, s, c.Account, in.UserName, newName)
	if err != nil {
		return nil, err
	}
	return &UpdateUserResponse{}, nil
}

// DeleteUser deletes a user that has nothing left attached.
func (s *Service) DeleteUser(ctx context.Context, in *DeleteUserRequest) (*DeleteUserResponse, error) {
	c, _, err := s.lookupUser(ctx, "iam:DeleteUser", in.UserName)
	if err != nil {
		return nil, err
	}
	err = retry(ctx, func() error {
		var (
			verr error
			cur  *iam.Entry[iam.User]
		)
		if err := s.read(c.Account, func(a *iam.AccountView) {
			var ok bool
			if cur, ok = a.User(in.UserName); !ok {
				verr = noSuchUser(in.UserName)
				return
			}
			verr = s.userDeleteConflict(a, cur.V, c.Account)
		}); err != nil {
			return err
		}
		if verr != nil {
			return verr
		}
		return s.commit(ctx, iam.Delete(iam.KindUser, c.Account, iam.Key(cur.V.Name), cur.Version))
	})
	if err != nil {
		return nil, err
	}
	return &DeleteUserResponse{}, nil
}

// userDeleteConflict says what still blocks deleting a user, in AWS's order
// and words.
func (s *Service) userDeleteConflict(a *iam.AccountView, u *iam.User, account string) error {
	switch {
	case u.Login != nil:
		return deleteConflict("Cannot delete entity, must delete login profile first.")
	case a.AccessKeyCount(u.ID) > 0:
		return deleteConflict("Cannot delete entity, must delete access keys first.")
	case a.SigningCertificateCount(u.ID) > 0:
		return deleteConflict("Cannot delete entity, must delete signing certificates first.")
	case a.SSHPublicKeyCount(u.ID) > 0:
		return deleteConflict("Cannot delete entity, must delete SSH public keys first.")
	case a.ServiceCredentialCount(u.ID) > 0:
		// AWS's wording for service-specific credentials could not be
		// confirmed; it follows the others'.
		return deleteConflict("Cannot delete entity, must delete service specific credentials first.")
	case a.HasMFADeviceFor(u.ID):
		return deleteConflict("Cannot delete entity, must delete MFA device first.")
	case len(u.Inline) > 0:
		return deleteConflict("Cannot delete entity, must delete policies first.")
	case len(u.Attached) > 0:
		return deleteConflict("Cannot delete entity, must detach all policies first.")
	case len(u.Groups) > 0:
		return deleteConflict("Cannot delete entity, must remove users from group first.")
	}
	return nil
}

// ListUsers lists users in name order.
func (s *Service) ListUsers(ctx context.Context, in *ListUsersRequest) (*ListUsersResponse, error) {
	c, err := s.authorize(ctx, "iam:ListUsers", s.partition.ARN(callerAccount(ctx), "user", pathOrDefault(in.PathPrefix), ""))
	if err != nil {
		return nil, err
	}
	marker, err := decodeMarker(in.Marker)
	if err != nil {
		return nil, err
	}
	out := &ListUsersResponse{Users: []User{}}
	if err := s.read(c.Account, func(a *iam.AccountView) {
		page, next := a.Users(marker, maxItems(in.MaxItems), func(u *iam.User) bool { return iam.PathPrefixMatch(u.Path, in.PathPrefix) })
		for _, e := range page {
			u := s.userOut(c.Account, e.V)
			// ListUsers returns neither tags nor the boundary, as AWS
			// documents.
			u.Tags, u.PermissionsBoundary = nil, nil
			out.Users = append(out.Users, u)
		}
		if next != "" {
			out.IsTruncated, out.Marker = true, encodeMarker(next)
		}
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// callerAccount returns the caller's account, or "" without a caller (the
// authorization that follows then fails).
func callerAccount(ctx context.Context) string {
	if c := authz.CallerFrom(ctx); c != nil {
		return c.Account
	}
	return ""
}

// TagUser adds or replaces tags on a user.
func (s *Service) TagUser(ctx context.Context, in *TagUserRequest) (*TagUserResponse, error) {
	c, _, err := s.lookupUser(ctx, "iam:TagUser", in.UserName)
	if err != nil {
		return nil, err
	}
	if _, err := s.authorize(ctx, "iam:TagUser", s.partition.ARN(c.Account, "user", "/", in.UserName), tagOptions(in.Tags)); err != nil {
		return nil, err
	}
	err = s.updateUser(ctx, c.Account, in.UserName, func(_ *iam.AccountView, u *iam.User) error {
		tags, err := mergeTags(u.Tags, in.Tags)
		u.Tags = tags
		return err
	})
	if err != nil {
		return nil, err
	}
	return &TagUserResponse{}, nil
}

// UntagUser removes tags from a user.
func (s *Service) UntagUser(ctx context.Context, in *UntagUserRequest) (*UntagUserResponse, error) {
	c, _, err := s.lookupUser(ctx, "iam:UntagUser", in.UserName)
	if err != nil {
		return nil, err
	}
	if _, err := s.authorize(ctx, "iam:UntagUser", s.partition.ARN(c.Account, "user", "/", in.UserName), tagKeysOption(in.TagKeys)); err != nil {
		return nil, err
	}
	err = s.updateUser(ctx, c.Account, in.UserName, func(_ *iam.AccountView, u *iam.User) error {
		u.Tags = removeTags(u.Tags, in.TagKeys)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &UntagUserResponse{}, nil
}

// ListUserTags lists a user's tags.
func (s *Service) ListUserTags(ctx context.Context, in *ListUserTagsRequest) (*ListUserTagsResponse, error) {
	_, e, err := s.lookupUser(ctx, "iam:ListUserTags", in.UserName)
	if err != nil {
		return nil, err
	}
	page, next, err := pageOf(fromTags(e.V.Tags), in.Marker, maxItems(in.MaxItems))
	if err != nil {
		return nil, err
	}
	out := &ListUserTagsResponse{Tags: page, IsTruncated: next != "", Marker: next}
	if out.Tags == nil {
		out.Tags = []Tag{}
	}
	return out, nil
}
