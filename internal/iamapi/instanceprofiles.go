package iamapi

import (
	"context"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/secrets"
	"github.com/iamd/iamd/internal/store"
)

// maxRolesPerInstanceProfile is IAM's fixed limit (quota
// InstanceSessionsPerInstanceProfile); it cannot be raised.
const maxRolesPerInstanceProfile = 1

func (s *Service) profileARN(account string, p *iam.InstanceProfile) string {
	return s.partition.ARN(account, "instance-profile", p.Path, p.Name)
}

// profileOut renders an instance profile with its role, which must be
// resolved under the same read as the profile.
func (s *Service) profileOut(a *iam.AccountView, account string, p *iam.InstanceProfile) InstanceProfile {
	out := InstanceProfile{
		Path:                p.Path,
		InstanceProfileName: p.Name,
		InstanceProfileId:   p.ID,
		Arn:                 s.profileARN(account, p),
		CreateDate:          p.Created,
		Roles:               []Role{},
		Tags:                fromTags(p.Tags),
	}
	for _, id := range p.Roles {
		if r, ok := a.RoleByID(id); ok {
			out.Roles = append(out.Roles, s.roleEmbeddedOut(account, r.V))
		}
	}
	return out
}

func noSuchProfile(name string) error {
	return noSuchEntity("Instance Profile %s cannot be found.", name)
}

// CreateInstanceProfile creates an empty instance profile.
func (s *Service) CreateInstanceProfile(ctx context.Context, in *CreateInstanceProfileRequest) (*CreateInstanceProfileResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	path := pathOrDefault(in.Path)
	arn := s.partition.ARN(c.Account, "instance-profile", path, in.InstanceProfileName)
	if _, err := s.authorize(ctx, "iam:CreateInstanceProfile", arn, tagOptions(in.Tags)); err != nil {
		return nil, err
	}
	if len(in.Tags) > 0 {
		if _, err := s.authorize(ctx, "iam:TagInstanceProfile", arn, tagOptions(in.Tags)); err != nil {
			return nil, err
		}
	}
	if err := checkNewTags(in.Tags); err != nil {
		return nil, err
	}
	p := &iam.InstanceProfile{
		Name:    in.InstanceProfileName,
		Path:    path,
		ID:      secrets.NewUniqueID("AIPA"),
		Created: s.timestamp(),
		Tags:    toTags(in.Tags),
	}
	var out InstanceProfile
	err = retry(ctx, func() error {
		var verr error
		if err := s.read(c.Account, func(a *iam.AccountView) {
			if _, exists := a.InstanceProfile(p.Name); exists {
				verr = entityAlreadyExists("Instance Profile %s already exists.", p.Name)
				return
			}
			if a.InstanceProfileCount() >= s.quotas.InstanceProfilesPerAccount {
				verr = limitExceeded("Cannot exceed quota for InstanceProfilesPerAccount: %d", s.quotas.InstanceProfilesPerAccount)
				return
			}
			out = s.profileOut(a, c.Account, p)
		}); err != nil {
			return err
		}
		if verr != nil {
			return verr
		}
		return s.commit(ctx, iam.Put(iam.KindInstanceProfile, c.Account, iam.Key(p.Name), p, store.Absent))
	})
	if err != nil {
		return nil, err
	}
	return &CreateInstanceProfileResponse{InstanceProfile: out}, nil
}

// lookupProfile authorizes action on the named instance profile and returns
// it with its version, without revealing whether it exists to a caller who
// may not act on it.
func (s *Service) lookupProfile(ctx context.Context, action, name string, opts ...authz.Option) (*authz.Caller, *iam.Entry[iam.InstanceProfile], error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	var e *iam.Entry[iam.InstanceProfile]
	if err := s.read(c.Account, func(a *iam.AccountView) { e, _ = a.InstanceProfile(name) }); err != nil {
		return nil, nil, err
	}
	if e == nil {
		if _, err := s.authorize(ctx, action, s.partition.ARN(c.Account, "instance-profile", "/", name), opts...); err != nil {
			return nil, nil, err
		}
		return nil, nil, noSuchProfile(name)
	}
	opts = append(opts, resourceTags(e.V.Tags))
	if _, err := s.authorize(ctx, action, s.profileARN(c.Account, e.V), opts...); err != nil {
		return nil, nil, err
	}
	return c, e, nil
}

// updateProfile re-reads the named instance profile, applies change to a
// copy and commits it with the mutations change returns, retrying lost
// races.
func (s *Service) updateProfile(ctx context.Context, account, name string, change func(a *iam.AccountView, p *iam.InstanceProfile) ([]iam.Mutation, error)) error {
	return retry(ctx, func() error {
		var (
			verr  error
			next  iam.InstanceProfile
			ver   int64
			extra []iam.Mutation
		)
		if err := s.read(account, func(a *iam.AccountView) {
			e, ok := a.InstanceProfile(name)
			if !ok {
				verr = noSuchProfile(name)
				return
			}
			next = *e.V
			next.Roles = append([]string(nil), e.V.Roles...)
			ver = e.Version
			extra, verr = change(a, &next)
		}); err != nil {
			return err
		}
		if verr != nil {
			return verr
		}
		muts := append([]iam.Mutation{iam.Put(iam.KindInstanceProfile, account, iam.Key(next.Name), &next, ver)}, extra...)
		return s.commit(ctx, muts...)
	})
}

// GetInstanceProfile returns an instance profile with its role.
func (s *Service) GetInstanceProfile(ctx context.Context, in *GetInstanceProfileRequest) (*GetInstanceProfileResponse, error) {
	c, e, err := s.lookupProfile(ctx, "iam:GetInstanceProfile", in.InstanceProfileName)
	if err != nil {
		return nil, err
	}
	var out InstanceProfile
	if err := s.read(c.Account, func(a *iam.AccountView) { out = s.profileOut(a, c.Account, e.V) }); err != nil {
		return nil, err
	}
	out.Tags = tagList(e.V.Tags)
	return &GetInstanceProfileResponse{InstanceProfile: out}, nil
}

// DeleteInstanceProfile deletes an instance profile that holds no role.
func (s *Service) DeleteInstanceProfile(ctx context.Context, in *DeleteInstanceProfileRequest) (*DeleteInstanceProfileResponse, error) {
	c, _, err := s.lookupProfile(ctx, "iam:DeleteInstanceProfile", in.InstanceProfileName)
	if err != nil {
		return nil, err
	}
	err = retry(ctx, func() error {
		var (
			verr error
			cur  *iam.Entry[iam.InstanceProfile]
		)
		if err := s.read(c.Account, func(a *iam.AccountView) {
			var ok bool
			if cur, ok = a.InstanceProfile(in.InstanceProfileName); !ok {
				verr = noSuchProfile(in.InstanceProfileName)
				return
			}
			if len(cur.V.Roles) > 0 {
				verr = deleteConflict("Cannot delete entity, must remove roles from instance profile first.")
			}
		}); err != nil {
			return err
		}
		if verr != nil {
			return verr
		}
		return s.commit(ctx, iam.Delete(iam.KindInstanceProfile, c.Account, iam.Key(cur.V.Name), cur.Version))
	})
	if err != nil {
		return nil, err
	}
	return &DeleteInstanceProfileResponse{}, nil
}

// ListInstanceProfiles lists instance profiles in name order, with their
// roles but without their tags, as IAM's listing does.
func (s *Service) ListInstanceProfiles(ctx context.Context, in *ListInstanceProfilesRequest) (*ListInstanceProfilesResponse, error) {
	c, err := s.authorize(ctx, "iam:ListInstanceProfiles", s.partition.ARN(callerAccount(ctx), "instance-profile", pathOrDefault(in.PathPrefix), ""))
	if err != nil {
		return nil, err
	}
	marker, err := decodeMarker(in.Marker)
	if err != nil {
		return nil, err
	}
	out := &ListInstanceProfilesResponse{InstanceProfiles: []InstanceProfile{}}
	if err := s.read(c.Account, func(a *iam.AccountView) {
		page, next := a.InstanceProfiles(marker, maxItems(in.MaxItems), func(p *iam.InstanceProfile) bool {
			return iam.PathPrefixMatch(p.Path, in.PathPrefix)
		})
		for _, e := range page {
			p := s.profileOut(a, c.Account, e.V)
			p.Tags = nil
			out.InstanceProfiles = append(out.InstanceProfiles, p)
		}
		if next != "" {
			out.IsTruncated, out.Marker = true, encodeMarker(next)
		}
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// passRoleToEC2 gives the authorization of iam:PassRole the context of a
// role passed through an instance profile: to EC2, for any instance of the
// account.
func (s *Service) passRoleToEC2(account string) authz.Option {
	return func(r *authz.Request) {
		r.Context = append(r.Context,
			authz.KV{Key: "iam:PassedToService", Values: []string{"ec2.amazonaws.com"}},
			authz.KV{Key: "iam:AssociatedResourceArn", Values: []string{"arn:" + s.partition.String() + ":ec2:*:" + account + ":instance/*"}},
		)
	}
}

// AddRoleToInstanceProfile puts a role in an instance profile, which holds
// at most one. The caller must also be allowed iam:PassRole on the role.
func (s *Service) AddRoleToInstanceProfile(ctx context.Context, in *AddRoleToInstanceProfileRequest) (*AddRoleToInstanceProfileResponse, error) {
	c, _, err := s.lookupProfile(ctx, "iam:AddRoleToInstanceProfile", in.InstanceProfileName)
	if err != nil {
		return nil, err
	}
	_, role, err := s.lookupRole(ctx, "iam:PassRole", in.RoleName, s.passRoleToEC2(c.Account))
	if err != nil {
		return nil, err
	}
	if err := roleProtected(role.V); err != nil {
		return nil, err
	}
	// The role's membership lives in the profile record, so a DeleteRole
	// that loses the race on the role's version and reloads only the role
	// record could see the touched role before this process has applied the
	// profile record and delete a role still in a profile. Holding the
	// service lock across the read and the commit of both operations keeps
	// them in order within this process; across replicas the versions still
	// decide.
	s.mu.Lock()
	defer s.mu.Unlock()
	err = s.updateProfile(ctx, c.Account, in.InstanceProfileName, func(a *iam.AccountView, p *iam.InstanceProfile) ([]iam.Mutation, error) {
		r, ok := a.Role(in.RoleName)
		if !ok {
			return nil, noSuchRole(in.RoleName)
		}
		if len(p.Roles) >= maxRolesPerInstanceProfile {
			return nil, limitExceeded("Cannot exceed quota for InstanceSessionsPerInstanceProfile: %d", maxRolesPerInstanceProfile)
		}
		p.Roles = append(p.Roles, r.V.ID)
		// A concurrent DeleteRole must see the role's new place.
		return []iam.Mutation{iam.TouchExisting(iam.KindRole, c.Account, iam.Key(r.V.Name))}, nil
	})
	if err != nil {
		return nil, err
	}
	return &AddRoleToInstanceProfileResponse{}, nil
}

// RemoveRoleFromInstanceProfile takes a role out of an instance profile.
func (s *Service) RemoveRoleFromInstanceProfile(ctx context.Context, in *RemoveRoleFromInstanceProfileRequest) (*RemoveRoleFromInstanceProfileResponse, error) {
	c, _, err := s.lookupProfile(ctx, "iam:RemoveRoleFromInstanceProfile", in.InstanceProfileName)
	if err != nil {
		return nil, err
	}
	var role *iam.Entry[iam.Role]
	if err := s.read(c.Account, func(a *iam.AccountView) { role, _ = a.Role(in.RoleName) }); err != nil {
		return nil, err
	}
	if role == nil {
		return nil, noSuchRole(in.RoleName)
	}
	if err := roleProtected(role.V); err != nil {
		return nil, err
	}
	err = s.updateProfile(ctx, c.Account, in.InstanceProfileName, func(a *iam.AccountView, p *iam.InstanceProfile) ([]iam.Mutation, error) {
		r, ok := a.Role(in.RoleName)
		if !ok {
			return nil, noSuchRole(in.RoleName)
		}
		kept := p.Roles[:0]
		for _, id := range p.Roles {
			if id != r.V.ID {
				kept = append(kept, id)
			}
		}
		if len(kept) == len(p.Roles) {
			return nil, noSuchEntity("The role with name %s cannot be found in instance profile %s.", in.RoleName, p.Name)
		}
		p.Roles = kept
		if len(p.Roles) == 0 {
			p.Roles = nil
		}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	return &RemoveRoleFromInstanceProfileResponse{}, nil
}

// ListInstanceProfilesForRole lists the instance profiles that hold a role.
func (s *Service) ListInstanceProfilesForRole(ctx context.Context, in *ListInstanceProfilesForRoleRequest) (*ListInstanceProfilesForRoleResponse, error) {
	c, e, err := s.lookupRole(ctx, "iam:ListInstanceProfilesForRole", in.RoleName)
	if err != nil {
		return nil, err
	}
	var all []InstanceProfile
	if err := s.read(c.Account, func(a *iam.AccountView) {
		for _, key := range a.InstanceProfilesOf(e.V.ID) {
			if p, ok := a.InstanceProfile(key); ok {
				out := s.profileOut(a, c.Account, p.V)
				out.Tags = nil
				all = append(all, out)
			}
		}
	}); err != nil {
		return nil, err
	}
	page, next, err := pageOf(all, in.Marker, maxItems(in.MaxItems))
	if err != nil {
		return nil, err
	}
	out := &ListInstanceProfilesForRoleResponse{InstanceProfiles: page, IsTruncated: next != "", Marker: next}
	if out.InstanceProfiles == nil {
		out.InstanceProfiles = []InstanceProfile{}
	}
	return out, nil
}

// TagInstanceProfile adds or replaces tags on an instance profile.
func (s *Service) TagInstanceProfile(ctx context.Context, in *TagInstanceProfileRequest) (*TagInstanceProfileResponse, error) {
	c, _, err := s.lookupProfile(ctx, "iam:TagInstanceProfile", in.InstanceProfileName, tagOptions(in.Tags))
	if err != nil {
		return nil, err
	}
	err = s.updateProfile(ctx, c.Account, in.InstanceProfileName, func(_ *iam.AccountView, p *iam.InstanceProfile) ([]iam.Mutation, error) {
		tags, err := mergeTags(p.Tags, in.Tags)
		p.Tags = tags
		return nil, err
	})
	if err != nil {
		return nil, err
	}
	return &TagInstanceProfileResponse{}, nil
}

// UntagInstanceProfile removes tags from an instance profile.
func (s *Service) UntagInstanceProfile(ctx context.Context, in *UntagInstanceProfileRequest) (*UntagInstanceProfileResponse, error) {
	c, _, err := s.lookupProfile(ctx, "iam:UntagInstanceProfile", in.InstanceProfileName, tagKeysOption(in.TagKeys))
	if err != nil {
		return nil, err
	}
	err = s.updateProfile(ctx, c.Account, in.InstanceProfileName, func(_ *iam.AccountView, p *iam.InstanceProfile) ([]iam.Mutation, error) {
		p.Tags = removeTags(p.Tags, in.TagKeys)
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	return &UntagInstanceProfileResponse{}, nil
}

// ListInstanceProfileTags lists an instance profile's tags.
func (s *Service) ListInstanceProfileTags(ctx context.Context, in *ListInstanceProfileTagsRequest) (*ListInstanceProfileTagsResponse, error) {
	_, e, err := s.lookupProfile(ctx, "iam:ListInstanceProfileTags", in.InstanceProfileName)
	if err != nil {
		return nil, err
	}
	page, next, err := pageOf(sortedTags(e.V.Tags), in.Marker, maxItems(in.MaxItems))
	if err != nil {
		return nil, err
	}
	out := &ListInstanceProfileTagsResponse{Tags: page, IsTruncated: next != "", Marker: next}
	if out.Tags == nil {
		out.Tags = []Tag{}
	}
	return out, nil
}
