package iamapi

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/policy"
)

// The inline-policy operations (Put/Get/Delete/List{User,Group,Role}Policy),
// and the policy holder abstraction that they share with attachments and
// permissions boundaries.
//
// Inline policy names are matched case-insensitively, as IAM matches every
// other entity name ("names are not distinguished by case"); replacing a
// policy keeps its position in the list and takes the new request's
// spelling of the name. Documents are stored and returned exactly as given.

// policyHolder is a user, group or role as the policy operations see it:
// one read of its record from the view, with the version to commit against.
type policyHolder struct {
	kind      string // iam.KindUser, iam.KindGroup or iam.KindRole
	name      string // stored name
	path      string
	id        string
	tags      []iam.Tag
	boundary  string
	inline    []iam.InlinePolicy
	attached  []string
	protected bool // a service-linked role, modifiable only by AWS
	version   int64

	user  *iam.User
	group *iam.Group
	role  *iam.Role
}

// holderARNType is the resource type of a holder kind in ARNs and messages.
func holderARNType(kind string) string {
	switch kind {
	case iam.KindUser:
		return "user"
	case iam.KindGroup:
		return "group"
	default:
		return "role"
	}
}

// arn is the holder's ARN in account.
func (h *policyHolder) arn(p iam.Partition, account string) string {
	return p.ARN(account, holderARNType(h.kind), h.path, h.name)
}

// record returns a new record for the holder: the one it was read from
// with the (possibly changed) inline policies, attachments and boundary.
func (h *policyHolder) record() any {
	switch h.kind {
	case iam.KindUser:
		u := *h.user
		u.Inline, u.Attached, u.Boundary = h.inline, h.attached, h.boundary
		return &u
	case iam.KindGroup:
		g := *h.group
		g.Inline, g.Attached = h.inline, h.attached
		return &g
	default:
		r := *h.role
		r.Inline, r.Attached, r.Boundary = h.inline, h.attached, h.boundary
		return &r
	}
}

// readHolder finds a user, group or role by name in a.
func readHolder(a *iam.AccountView, kind, name string) (*policyHolder, bool) {
	switch kind {
	case iam.KindUser:
		e, ok := a.User(name)
		if !ok {
			return nil, false
		}
		u := e.V
		return &policyHolder{kind: kind, name: u.Name, path: u.Path, id: u.ID, tags: u.Tags, boundary: u.Boundary,
			inline: u.Inline, attached: u.Attached, version: e.Version, user: u}, true
	case iam.KindGroup:
		e, ok := a.Group(name)
		if !ok {
			return nil, false
		}
		g := e.V
		return &policyHolder{kind: kind, name: g.Name, path: g.Path, id: g.ID,
			inline: g.Inline, attached: g.Attached, version: e.Version, group: g}, true
	default:
		e, ok := a.Role(name)
		if !ok {
			return nil, false
		}
		r := e.V
		return &policyHolder{kind: kind, name: r.Name, path: r.Path, id: r.ID, tags: r.Tags, boundary: r.Boundary,
			inline: r.Inline, attached: r.Attached, protected: r.ServiceLinked, version: e.Version, role: r}, true
	}
}

// noSuchHolder is IAM's NoSuchEntity for a missing user, group or role.
func noSuchHolder(kind, name string) error {
	switch kind {
	case iam.KindUser:
		return noSuchUser(name)
	case iam.KindGroup:
		return noSuchGroup(name)
	default:
		return noSuchEntity("The role with name %s cannot be found.", name)
	}
}

// holderProtected is IAM's answer to changing a service-linked role.
func holderProtected(name string) error {
	return unmodifiableEntity("Cannot perform the operation on the protected role '%s' - this role is only modifiable by AWS", name)
}

// holderAuth says which context keys an action on a holder carries.
type holderAuth struct {
	// boundaryKey adds iam:PermissionsBoundary with the holder's current
	// boundary (the operations that change a user's or role's permissions).
	boundaryKey bool
	// extra adds further request options.
	extra []authz.Option
}

// lookupHolder authorizes action on the named user, group or role and
// returns it. It authorizes before saying whether the entity exists.
func (s *Service) lookupHolder(ctx context.Context, kind, action, name string, how holderAuth) (*authz.Caller, *policyHolder, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	var h *policyHolder
	if err := s.read(c.Account, func(a *iam.AccountView) { h, _ = readHolder(a, kind, name) }); err != nil {
		return nil, nil, err
	}
	if h == nil {
		if _, err := s.authorize(ctx, action, s.partition.ARN(c.Account, holderARNType(kind), "/", name), how.extra...); err != nil {
			return nil, nil, err
		}
		return nil, nil, noSuchHolder(kind, name)
	}
	opts := append([]authz.Option{resourceTags(h.tags)}, how.extra...)
	if how.boundaryKey && h.boundary != "" {
		opts = append(opts, withKey("iam:PermissionsBoundary", h.boundary))
	}
	if _, err := s.authorize(ctx, action, h.arn(s.partition, c.Account), opts...); err != nil {
		return nil, nil, err
	}
	return c, h, nil
}

// errHolderUnchanged from an updateHolder change function means the request
// succeeds without writing anything (an idempotent repeat).
var errHolderUnchanged = errors.New("iamapi: nothing to change")

// updateHolder re-reads the named user, group or role, lets change modify
// the holder (and name extra mutations to commit with it), and commits the
// new record against the version read, retrying lost races.
func (s *Service) updateHolder(ctx context.Context, account, kind, name string, change func(a *iam.AccountView, h *policyHolder) ([]iam.Mutation, error)) error {
	return retry(ctx, func() error {
		var (
			verr error
			h    *policyHolder
			muts []iam.Mutation
		)
		if err := s.read(account, func(a *iam.AccountView) {
			var ok bool
			if h, ok = readHolder(a, kind, name); !ok {
				verr = noSuchHolder(kind, name)
				return
			}
			muts, verr = change(a, h)
		}); err != nil {
			return err
		}
		if errors.Is(verr, errHolderUnchanged) {
			return nil
		}
		if verr != nil {
			return verr
		}
		muts = append([]iam.Mutation{iam.Put(kind, account, iam.Key(h.name), h.record(), h.version)}, muts...)
		return s.commit(ctx, muts...)
	})
}

// Inline policy lists. Records are immutable, so every change builds a new
// slice.

func findInline(list []iam.InlinePolicy, name string) int {
	for i, p := range list {
		if strings.EqualFold(p.Name, name) {
			return i
		}
	}
	return -1
}

// withInline returns list with the named policy added, or replaced in place.
func withInline(list []iam.InlinePolicy, name, doc string) []iam.InlinePolicy {
	out := slices.Clone(list)
	if i := findInline(out, name); i >= 0 {
		out[i] = iam.InlinePolicy{Name: name, Document: doc}
		return out
	}
	return append(out, iam.InlinePolicy{Name: name, Document: doc})
}

// withoutInline returns list without the policy at index i.
func withoutInline(list []iam.InlinePolicy, i int) []iam.InlinePolicy {
	out := slices.Clone(list)
	out = slices.Delete(out, i, i+1)
	if len(out) == 0 {
		return nil
	}
	return out
}

// inlineSize is the aggregate size of a holder's inline policies as IAM
// counts it against the per-entity quota.
func inlineSize(list []iam.InlinePolicy) int {
	n := 0
	for _, p := range list {
		n += policy.Size([]byte(p.Document))
	}
	return n
}

// inlineLimit is the aggregate inline policy size quota of a holder kind.
func inlineLimit(kind string) int {
	switch kind {
	case iam.KindUser:
		return policy.UserInlineMaxSize
	case iam.KindGroup:
		return policy.GroupInlineMaxSize
	default:
		return policy.RoleInlineMaxSize
	}
}

// putInline implements Put{User,Group,Role}Policy.
func (s *Service) putInline(ctx context.Context, kind, action, name, policyName, doc string) error {
	c, h, err := s.lookupHolder(ctx, kind, action, name, holderAuth{boundaryKey: true})
	if err != nil {
		return err
	}
	if h.protected {
		return holderProtected(h.name)
	}
	if _, err := s.checkPolicyDocument(doc, policy.Identity, 0, false, ""); err != nil {
		return err
	}
	limit := inlineLimit(kind)
	return s.updateHolder(ctx, c.Account, kind, name, func(_ *iam.AccountView, h *policyHolder) ([]iam.Mutation, error) {
		next := withInline(h.inline, policyName, doc)
		if inlineSize(next) > limit {
			return nil, limitExceeded("Maximum policy size of %d bytes exceeded for %s %s", limit, holderARNType(kind), h.name)
		}
		h.inline = next
		return nil, nil
	})
}

// noSuchInline is IAM's NoSuchEntity for a missing inline policy.
func noSuchInline(kind, policyName string) error {
	return noSuchEntity("The %s policy with name %s cannot be found.", holderARNType(kind), policyName)
}

// getInline implements Get{User,Group,Role}Policy; it returns the holder's
// stored name and the policy as stored.
func (s *Service) getInline(ctx context.Context, kind, action, name, policyName string) (string, iam.InlinePolicy, error) {
	_, h, err := s.lookupHolder(ctx, kind, action, name, holderAuth{})
	if err != nil {
		return "", iam.InlinePolicy{}, err
	}
	i := findInline(h.inline, policyName)
	if i < 0 {
		return "", iam.InlinePolicy{}, noSuchInline(kind, policyName)
	}
	return h.name, h.inline[i], nil
}

// deleteInline implements Delete{User,Group,Role}Policy.
func (s *Service) deleteInline(ctx context.Context, kind, action, name, policyName string) error {
	c, h, err := s.lookupHolder(ctx, kind, action, name, holderAuth{boundaryKey: true})
	if err != nil {
		return err
	}
	if h.protected {
		return holderProtected(h.name)
	}
	return s.updateHolder(ctx, c.Account, kind, name, func(_ *iam.AccountView, h *policyHolder) ([]iam.Mutation, error) {
		i := findInline(h.inline, policyName)
		if i < 0 {
			return nil, noSuchInline(kind, policyName)
		}
		h.inline = withoutInline(h.inline, i)
		return nil, nil
	})
}

// listInline implements List{User,Group,Role}Policies: the names in the
// order the policies were first put.
func (s *Service) listInline(ctx context.Context, kind, action, name, marker string, max *int32) ([]string, bool, string, error) {
	_, h, err := s.lookupHolder(ctx, kind, action, name, holderAuth{})
	if err != nil {
		return nil, false, "", err
	}
	names := make([]string, len(h.inline))
	for i, p := range h.inline {
		names[i] = p.Name
	}
	page, next, err := pageOf(names, marker, maxItems(max))
	if err != nil {
		return nil, false, "", err
	}
	if page == nil {
		page = []string{}
	}
	return page, next != "", next, nil
}

// PutUserPolicy adds or replaces an inline policy of a user.
func (s *Service) PutUserPolicy(ctx context.Context, in *PutUserPolicyRequest) (*PutUserPolicyResponse, error) {
	if err := s.putInline(ctx, iam.KindUser, "iam:PutUserPolicy", in.UserName, in.PolicyName, in.PolicyDocument); err != nil {
		return nil, err
	}
	return &PutUserPolicyResponse{}, nil
}

// GetUserPolicy returns an inline policy of a user.
func (s *Service) GetUserPolicy(ctx context.Context, in *GetUserPolicyRequest) (*GetUserPolicyResponse, error) {
	holder, p, err := s.getInline(ctx, iam.KindUser, "iam:GetUserPolicy", in.UserName, in.PolicyName)
	if err != nil {
		return nil, err
	}
	return &GetUserPolicyResponse{UserName: holder, PolicyName: p.Name, PolicyDocument: p.Document}, nil
}

// DeleteUserPolicy deletes an inline policy of a user.
func (s *Service) DeleteUserPolicy(ctx context.Context, in *DeleteUserPolicyRequest) (*DeleteUserPolicyResponse, error) {
	if err := s.deleteInline(ctx, iam.KindUser, "iam:DeleteUserPolicy", in.UserName, in.PolicyName); err != nil {
		return nil, err
	}
	return &DeleteUserPolicyResponse{}, nil
}

// ListUserPolicies lists the names of a user's inline policies.
func (s *Service) ListUserPolicies(ctx context.Context, in *ListUserPoliciesRequest) (*ListUserPoliciesResponse, error) {
	names, truncated, marker, err := s.listInline(ctx, iam.KindUser, "iam:ListUserPolicies", in.UserName, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &ListUserPoliciesResponse{PolicyNames: names, IsTruncated: truncated, Marker: marker}, nil
}

// PutGroupPolicy adds or replaces an inline policy of a group.
func (s *Service) PutGroupPolicy(ctx context.Context, in *PutGroupPolicyRequest) (*PutGroupPolicyResponse, error) {
	if err := s.putInline(ctx, iam.KindGroup, "iam:PutGroupPolicy", in.GroupName, in.PolicyName, in.PolicyDocument); err != nil {
		return nil, err
	}
	return &PutGroupPolicyResponse{}, nil
}

// GetGroupPolicy returns an inline policy of a group.
func (s *Service) GetGroupPolicy(ctx context.Context, in *GetGroupPolicyRequest) (*GetGroupPolicyResponse, error) {
	holder, p, err := s.getInline(ctx, iam.KindGroup, "iam:GetGroupPolicy", in.GroupName, in.PolicyName)
	if err != nil {
		return nil, err
	}
	return &GetGroupPolicyResponse{GroupName: holder, PolicyName: p.Name, PolicyDocument: p.Document}, nil
}

// DeleteGroupPolicy deletes an inline policy of a group.
func (s *Service) DeleteGroupPolicy(ctx context.Context, in *DeleteGroupPolicyRequest) (*DeleteGroupPolicyResponse, error) {
	if err := s.deleteInline(ctx, iam.KindGroup, "iam:DeleteGroupPolicy", in.GroupName, in.PolicyName); err != nil {
		return nil, err
	}
	return &DeleteGroupPolicyResponse{}, nil
}

// ListGroupPolicies lists the names of a group's inline policies.
func (s *Service) ListGroupPolicies(ctx context.Context, in *ListGroupPoliciesRequest) (*ListGroupPoliciesResponse, error) {
	names, truncated, marker, err := s.listInline(ctx, iam.KindGroup, "iam:ListGroupPolicies", in.GroupName, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &ListGroupPoliciesResponse{PolicyNames: names, IsTruncated: truncated, Marker: marker}, nil
}

// PutRolePolicy adds or replaces an inline policy of a role.
func (s *Service) PutRolePolicy(ctx context.Context, in *PutRolePolicyRequest) (*PutRolePolicyResponse, error) {
	if err := s.putInline(ctx, iam.KindRole, "iam:PutRolePolicy", in.RoleName, in.PolicyName, in.PolicyDocument); err != nil {
		return nil, err
	}
	return &PutRolePolicyResponse{}, nil
}

// GetRolePolicy returns an inline policy of a role.
func (s *Service) GetRolePolicy(ctx context.Context, in *GetRolePolicyRequest) (*GetRolePolicyResponse, error) {
	holder, p, err := s.getInline(ctx, iam.KindRole, "iam:GetRolePolicy", in.RoleName, in.PolicyName)
	if err != nil {
		return nil, err
	}
	return &GetRolePolicyResponse{RoleName: holder, PolicyName: p.Name, PolicyDocument: p.Document}, nil
}

// DeleteRolePolicy deletes an inline policy of a role.
func (s *Service) DeleteRolePolicy(ctx context.Context, in *DeleteRolePolicyRequest) (*DeleteRolePolicyResponse, error) {
	if err := s.deleteInline(ctx, iam.KindRole, "iam:DeleteRolePolicy", in.RoleName, in.PolicyName); err != nil {
		return nil, err
	}
	return &DeleteRolePolicyResponse{}, nil
}

// ListRolePolicies lists the names of a role's inline policies.
func (s *Service) ListRolePolicies(ctx context.Context, in *ListRolePoliciesRequest) (*ListRolePoliciesResponse, error) {
	names, truncated, marker, err := s.listInline(ctx, iam.KindRole, "iam:ListRolePolicies", in.RoleName, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &ListRolePoliciesResponse{PolicyNames: names, IsTruncated: truncated, Marker: marker}, nil
}
