package iamapi

import (
	"context"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iam"
)

// The permissions boundary operations for users and roles. A boundary is a
// managed policy (AWS- or customer-managed) that caps what the holder's
// identity policies can grant; setting one touches a customer-managed
// policy so that a concurrent DeletePolicy conflicts.

// putBoundary implements Put{User,Role}PermissionsBoundary. The request's
// iam:PermissionsBoundary is the boundary being set.
func (s *Service) putBoundary(ctx context.Context, kind, action, name, arn string) error {
	c, h, err := s.lookupHolder(ctx, kind, action, name, holderAuth{extra: []authz.Option{withKey("iam:PermissionsBoundary", arn)}})
	if err != nil {
		return err
	}
	if h.protected {
		return holderProtected(h.name)
	}
	if err := s.checkPolicyARN(arn); err != nil {
		return err
	}
	return s.updateHolder(ctx, c.Account, kind, name, func(a *iam.AccountView, h *policyHolder) ([]iam.Mutation, error) {
		p, ok := s.resolvePolicy(a, c.Account, arn)
		if !ok {
			return nil, noSuchEntity("Scope ARN: %s does not exist or is not attachable.", arn)
		}
		canonical := s.canonicalPolicyARN(c.Account, p)
		if h.boundary == canonical {
			return nil, errHolderUnchanged
		}
		h.boundary = canonical
		return touchPolicy(c.Account, p), nil
	})
}

// deleteBoundary implements Delete{User,Role}PermissionsBoundary. The
// request's iam:PermissionsBoundary is the boundary being removed; removing
// it when there is none succeeds without change.
func (s *Service) deleteBoundary(ctx context.Context, kind, action, name string) error {
	c, h, err := s.lookupHolder(ctx, kind, action, name, holderAuth{boundaryKey: true})
	if err != nil {
		return err
	}
	if h.protected {
		return holderProtected(h.name)
	}
	return s.updateHolder(ctx, c.Account, kind, name, func(_ *iam.AccountView, h *policyHolder) ([]iam.Mutation, error) {
		if h.boundary == "" {
			return nil, errHolderUnchanged
		}
		h.boundary = ""
		return nil, nil
	})
}

// PutUserPermissionsBoundary sets or replaces a user's permissions boundary.
func (s *Service) PutUserPermissionsBoundary(ctx context.Context, in *PutUserPermissionsBoundaryRequest) (*PutUserPermissionsBoundaryResponse, error) {
	if err := s.putBoundary(ctx, iam.KindUser, "iam:PutUserPermissionsBoundary", in.UserName, in.PermissionsBoundary); err != nil {
		return nil, err
	}
	return &PutUserPermissionsBoundaryResponse{}, nil
}

// DeleteUserPermissionsBoundary removes a user's permissions boundary.
func (s *Service) DeleteUserPermissionsBoundary(ctx context.Context, in *DeleteUserPermissionsBoundaryRequest) (*DeleteUserPermissionsBoundaryResponse, error) {
	if err := s.deleteBoundary(ctx, iam.KindUser, "iam:DeleteUserPermissionsBoundary", in.UserName); err != nil {
		return nil, err
	}
	return &DeleteUserPermissionsBoundaryResponse{}, nil
}

// PutRolePermissionsBoundary sets or replaces a role's permissions boundary.
// Service-linked roles cannot have one.
func (s *Service) PutRolePermissionsBoundary(ctx context.Context, in *PutRolePermissionsBoundaryRequest) (*PutRolePermissionsBoundaryResponse, error) {
	if err := s.putBoundary(ctx, iam.KindRole, "iam:PutRolePermissionsBoundary", in.RoleName, in.PermissionsBoundary); err != nil {
		return nil, err
	}
	return &PutRolePermissionsBoundaryResponse{}, nil
}

// DeleteRolePermissionsBoundary removes a role's permissions boundary.
func (s *Service) DeleteRolePermissionsBoundary(ctx context.Context, in *DeleteRolePermissionsBoundaryRequest) (*DeleteRolePermissionsBoundaryResponse, error) {
	if err := s.deleteBoundary(ctx, iam.KindRole, "iam:DeleteRolePermissionsBoundary", in.RoleName); err != nil {
		return nil, err
	}
	return &DeleteRolePermissionsBoundaryResponse{}, nil
}
