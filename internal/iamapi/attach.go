package iamapi

import (
	"context"
	"slices"
	"strings"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iam"
)

// The managed policy attachment operations: Attach/Detach/ListAttached for
// users, groups and roles. A holder stores the ARNs of its attached
// policies in the order they were attached.

// serviceRolePolicyPath is the path of AWS's service-role policies, which
// only service-linked roles may have attached.
const serviceRolePolicyPath = "/aws-service-role/"

// policyQuotaName is the name of the attachment quota in IAM's
// LimitExceeded message.
func policyQuotaName(kind string) string {
	switch kind {
	case iam.KindUser:
		return "PoliciesPerUser"
	case iam.KindGroup:
		return "PoliciesPerGroup"
	default:
		return "PoliciesPerRole"
	}
}

// serviceRolePolicyTarget names the holder kind in IAM's PolicyNotAttachable
// message for service-role policies.
func serviceRolePolicyTarget(kind string) string {
	switch kind {
	case iam.KindUser:
		return "a User"
	case iam.KindGroup:
		return "a Group"
	default:
		return "a Customer Role"
	}
}

// canonicalPolicyARN is the ARN a resolved policy is stored under: for a
// customer-managed policy the ARN built from its stored path and name (names
// match case-insensitively), for an AWS-managed one the catalogue's ARN.
func (s *Service) canonicalPolicyARN(account string, p managedPolicy) string {
	if p.Entry != nil {
		return s.partition.ARN(account, "policy", p.Entry.V.Path, p.Entry.V.Name)
	}
	return p.ARN
}

// attachedIndex finds arn among attached ARNs; customer-managed policy names
// compare case-insensitively as IAM names do.
func attachedIndex(attached []string, arn string) int {
	if i := slices.Index(attached, arn); i >= 0 {
		return i
	}
	for i, a := range attached {
		if strings.EqualFold(a, arn) {
			return i
		}
	}
	return -1
}

// attachPolicy implements Attach{User,Group,Role}Policy.
func (s *Service) attachPolicy(ctx context.Context, kind, action, name, arn string) error {
	c, h, err := s.lookupHolder(ctx, kind, action, name, holderAuth{boundaryKey: true, extra: policyARNOption(arn)})
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
			return nil, noSuchEntity("Policy %s does not exist or is not attachable.", arn)
		}
		if p.AWS {
			if pa, _ := iam.ParsePolicyARN(p.ARN); strings.HasPrefix(pa.Path, serviceRolePolicyPath) {
				return nil, policyNotAttachable("Cannot attach a Service Role Policy to %s.", serviceRolePolicyTarget(kind))
			}
		}
		canonical := s.canonicalPolicyARN(c.Account, p)
		if attachedIndex(h.attached, canonical) >= 0 {
			return nil, errHolderUnchanged
		}
		if len(h.attached) >= s.quotas.ManagedPoliciesPerEntity {
			return nil, limitExceeded("Cannot exceed quota for %s: %d", policyQuotaName(kind), s.quotas.ManagedPoliciesPerEntity)
		}
		h.attached = append(slices.Clip(h.attached), canonical)
		return touchPolicy(c.Account, p), nil
	})
}

// checkPolicyARN refuses what is not a managed policy ARN at all, or one
// of another partition.
func (s *Service) checkPolicyARN(arn string) error {
	if err := s.checkPartition(arn); err != nil {
		return err
	}
	if _, ok := iam.ParsePolicyARN(arn); !ok {
		return invalidInput("ARN %s is not valid.", arn)
	}
	return nil
}

// touchPolicy makes a concurrent deletion of a customer-managed policy
// conflict with a write that starts to use it; writes that attach the same
// policy to other holders do not conflict with each other.
func touchPolicy(account string, p managedPolicy) []iam.Mutation {
	if p.Entry == nil {
		return nil
	}
	return []iam.Mutation{iam.TouchExisting(iam.KindPolicy, account, iam.Key(p.Entry.V.Name))}
}

// detachPolicy implements Detach{User,Group,Role}Policy.
func (s *Service) detachPolicy(ctx context.Context, kind, action, name, arn string) error {
	c, h, err := s.lookupHolder(ctx, kind, action, name, holderAuth{boundaryKey: true, extra: policyARNOption(arn)})
	if err != nil {
		return err
	}
	if h.protected {
		return holderProtected(h.name)
	}
	if err := s.checkPolicyARN(arn); err != nil {
		return err
	}
	return s.updateHolder(ctx, c.Account, kind, name, func(_ *iam.AccountView, h *policyHolder) ([]iam.Mutation, error) {
		i := attachedIndex(h.attached, arn)
		if i < 0 {
			return nil, noSuchEntity("Policy %s was not found.", arn)
		}
		next := slices.Delete(slices.Clone(h.attached), i, i+1)
		if len(next) == 0 {
			next = nil
		}
		h.attached = next
		return nil, nil
	})
}

// listAttached implements ListAttached{User,Group,Role}Policies: the
// policies whose path starts with pathPrefix, in the order attached.
func (s *Service) listAttached(ctx context.Context, kind, action, name, pathPrefix, marker string, max *int32) ([]AttachedPolicy, bool, string, error) {
	_, h, err := s.lookupHolder(ctx, kind, action, name, holderAuth{})
	if err != nil {
		return nil, false, "", err
	}
	all := make([]AttachedPolicy, 0, len(h.attached))
	for _, arn := range h.attached {
		p, ok := iam.ParsePolicyARN(arn)
		if !ok || !iam.PathPrefixMatch(p.Path, pathPrefix) {
			continue
		}
		all = append(all, AttachedPolicy{PolicyName: p.Name, PolicyArn: arn})
	}
	page, next, err := pageOf(all, marker, maxItems(max))
	if err != nil {
		return nil, false, "", err
	}
	if page == nil {
		page = []AttachedPolicy{}
	}
	return page, next != "", next, nil
}

// policyARNOption gives iam:PolicyARN for attach and detach requests.
func policyARNOption(arn string) []authz.Option {
	return []authz.Option{withKey("iam:PolicyARN", arn)}
}

// AttachUserPolicy attaches a managed policy to a user.
func (s *Service) AttachUserPolicy(ctx context.Context, in *AttachUserPolicyRequest) (*AttachUserPolicyResponse, error) {
	if err := s.attachPolicy(ctx, iam.KindUser, "iam:AttachUserPolicy", in.UserName, in.PolicyArn); err != nil {
		return nil, err
	}
	return &AttachUserPolicyResponse{}, nil
}

// AttachGroupPolicy attaches a managed policy to a group.
func (s *Service) AttachGroupPolicy(ctx context.Context, in *AttachGroupPolicyRequest) (*AttachGroupPolicyResponse, error) {
	if err := s.attachPolicy(ctx, iam.KindGroup, "iam:AttachGroupPolicy", in.GroupName, in.PolicyArn); err != nil {
		return nil, err
	}
	return &AttachGroupPolicyResponse{}, nil
}

// AttachRolePolicy attaches a managed policy to a role.
func (s *Service) AttachRolePolicy(ctx context.Context, in *AttachRolePolicyRequest) (*AttachRolePolicyResponse, error) {
	if err := s.attachPolicy(ctx, iam.KindRole, "iam:AttachRolePolicy", in.RoleName, in.PolicyArn); err != nil {
		return nil, err
	}
	return &AttachRolePolicyResponse{}, nil
}

// DetachUserPolicy detaches a managed policy from a user.
func (s *Service) DetachUserPolicy(ctx context.Context, in *DetachUserPolicyRequest) (*DetachUserPolicyResponse, error) {
	if err := s.detachPolicy(ctx, iam.KindUser, "iam:DetachUserPolicy", in.UserName, in.PolicyArn); err != nil {
		return nil, err
	}
	return &DetachUserPolicyResponse{}, nil
}

// DetachGroupPolicy detaches a managed policy from a group.
func (s *Service) DetachGroupPolicy(ctx context.Context, in *DetachGroupPolicyRequest) (*DetachGroupPolicyResponse, error) {
	if err := s.detachPolicy(ctx, iam.KindGroup, "iam:DetachGroupPolicy", in.GroupName, in.PolicyArn); err != nil {
		return nil, err
	}
	return &DetachGroupPolicyResponse{}, nil
}

// DetachRolePolicy detaches a managed policy from a role.
func (s *Service) DetachRolePolicy(ctx context.Context, in *DetachRolePolicyRequest) (*DetachRolePolicyResponse, error) {
	if err := s.detachPolicy(ctx, iam.KindRole, "iam:DetachRolePolicy", in.RoleName, in.PolicyArn); err != nil {
		return nil, err
	}
	return &DetachRolePolicyResponse{}, nil
}

// ListAttachedUserPolicies lists the managed policies attached to a user.
func (s *Service) ListAttachedUserPolicies(ctx context.Context, in *ListAttachedUserPoliciesRequest) (*ListAttachedUserPoliciesResponse, error) {
	page, truncated, marker, err := s.listAttached(ctx, iam.KindUser, "iam:ListAttachedUserPolicies", in.UserName, in.PathPrefix, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &ListAttachedUserPoliciesResponse{AttachedPolicies: page, IsTruncated: truncated, Marker: marker}, nil
}

// ListAttachedGroupPolicies lists the managed policies attached to a group.
func (s *Service) ListAttachedGroupPolicies(ctx context.Context, in *ListAttachedGroupPoliciesRequest) (*ListAttachedGroupPoliciesResponse, error) {
	page, truncated, marker, err := s.listAttached(ctx, iam.KindGroup, "iam:ListAttachedGroupPolicies", in.GroupName, in.PathPrefix, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &ListAttachedGroupPoliciesResponse{AttachedPolicies: page, IsTruncated: truncated, Marker: marker}, nil
}

// ListAttachedRolePolicies lists the managed policies attached to a role.
func (s *Service) ListAttachedRolePolicies(ctx context.Context, in *ListAttachedRolePoliciesRequest) (*ListAttachedRolePoliciesResponse, error) {
	page, truncated, marker, err := s.listAttached(ctx, iam.KindRole, "iam:ListAttachedRolePolicies", in.RoleName, in.PathPrefix, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &ListAttachedRolePoliciesResponse{AttachedPolicies: page, IsTruncated: truncated, Marker: marker}, nil
}
