package iamapi

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/secrets"
	"github.com/iamd/iamd/internal/store"
	"github.com/iamd/iamd/policy"
)

// defaultMaxSessionDuration is the MaxSessionDuration of a role created
// without one, in seconds.
const defaultMaxSessionDuration = 3600

// serviceRolePath is the path prefix of service-linked roles; the service
// principal follows it.
const serviceRolePath = "/aws-service-role/"

func (s *Service) roleARN(account string, r *iam.Role) string {
	return s.partition.ARN(account, "role", r.Path, r.Name)
}

// roleOut renders a role as GetRole and CreateRole show it.
func (s *Service) roleOut(account string, r *iam.Role) Role {
	msd := int32(r.MaxSessionDuration)
	if msd == 0 {
		msd = defaultMaxSessionDuration
	}
	out := Role{
		Path:                     r.Path,
		RoleName:                 r.Name,
		RoleId:                   r.ID,
		Arn:                      s.roleARN(account, r),
		CreateDate:               r.Created,
		AssumeRolePolicyDocument: r.TrustPolicy,
		Description:              r.Description,
		MaxSessionDuration:       &msd,
		Tags:                     fromTags(r.Tags),
	}
	if r.Boundary != "" {
		out.PermissionsBoundary = boundaryOut(r.Boundary)
	}
	return out
}

// roleListOut renders a role as ListRoles shows it: IAM's listings leave out
// the permissions boundary, the tags and the last use.
func (s *Service) roleListOut(account string, r *iam.Role) Role {
	out := s.roleOut(account, r)
	out.Tags, out.PermissionsBoundary = nil, nil
	return out
}

// roleEmbeddedOut renders a role as it appears inside an instance profile.
func (s *Service) roleEmbeddedOut(account string, r *iam.Role) Role {
	return Role{
		Path:                     r.Path,
		RoleName:                 r.Name,
		RoleId:                   r.ID,
		Arn:                      s.roleARN(account, r),
		CreateDate:               r.Created,
		AssumeRolePolicyDocument: r.TrustPolicy,
	}
}

// roleLastUsedOut is the RoleLastUsed element GetRole always carries (empty
// for a role never assumed).
func roleLastUsedOut(a *iam.AccountView, roleID string) *RoleLastUsed {
	out := &RoleLastUsed{}
	if u, ok := a.RoleUsage(roleID); ok {
		out.LastUsedDate, out.Region = u.LastUsed, u.Region
	}
	return out
}

func noSuchRole(name string) error {
	return noSuchEntity("The role with name %s cannot be found.", name)
}

// protectedRole is the error for changing a role only its AWS service may
// change.
func protectedRole(name string) error {
	return unmodifiableEntity("Cannot perform the operation on the protected role '%s' - this role is only modifiable by AWS", name)
}

// roleProtected returns the UnmodifiableEntity error for a service-linked
// role, which only its service may change (trust policy, permissions,
// boundary, instance profiles, deletion through DeleteRole), or nil.
func roleProtected(r *iam.Role) error {
	if r.ServiceLinked {
		return protectedRole(r.Name)
	}
	return nil
}

// checkTrustPolicy validates a role trust policy as CreateRole and
// UpdateAssumeRolePolicy do, including that the IAM users and roles it
// names as principals exist when iamd hosts their account.
func (s *Service) checkTrustPolicy(doc string) error {
	parsed, err := s.checkPolicyDocument(doc, policy.Trust, policy.TrustPolicyMaxSize, false,
		fmt.Sprintf("Cannot exceed quota for ACLSizePerRole: %d", policy.TrustPolicyMaxSize))
	if err != nil {
		return err
	}
	for _, st := range parsed.Statements {
		for _, ps := range []*policy.Principals{st.Principal, st.NotPrincipal} {
			if ps == nil {
				continue
			}
			for _, p := range ps.AWS {
				if !s.principalExists(p) {
					return malformedPolicy("Invalid principal in policy: \"AWS\":\"%s\"", p)
				}
			}
		}
	}
	return nil
}

// principalExists reports whether an AWS principal of a trust policy names
// something that exists. IAM resolves user and role ARNs when it stores a
// trust policy and rejects those it cannot find; iamd can only tell for the
// accounts it hosts, and accepts the rest.
func (s *Service) principalExists(p string) bool {
	rest, ok := s.partition.CutIAM(p)
	if !ok {
		return true // account ID, "*", or not an IAM ARN: the parser's business
	}
	account, res, ok := strings.Cut(rest, ":")
	if !ok {
		return true
	}
	kind, rest, ok := strings.Cut(res, "/")
	if !ok || (kind != "user" && kind != "role") {
		return true
	}
	if _, hosted := s.view.Account(account); !hosted {
		return true
	}
	i := strings.LastIndexByte(rest, '/')
	path, name := "/"+rest[:i+1], rest[i+1:]
	found := false
	s.view.Read(account, func(a *iam.AccountView) {
		switch kind {
		case "user":
			if e, ok := a.User(name); ok {
				found = e.V.Path == path && e.V.Name == name
			}
		case "role":
			if e, ok := a.Role(name); ok {
				found = e.V.Path == path && e.V.Name == name
			}
		}
	})
	return found
}

// CreateRole creates a role with a trust policy and no permissions.
func (s *Service) CreateRole(ctx context.Context, in *CreateRoleRequest) (*CreateRoleResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	path := pathOrDefault(in.Path)
	arn := s.partition.ARN(c.Account, "role", path, in.RoleName)
	opts := []authz.Option{tagOptions(in.Tags)}
	if in.PermissionsBoundary != "" {
		opts = append(opts, withKey("iam:PermissionsBoundary", in.PermissionsBoundary))
	}
	if _, err := s.authorize(ctx, "iam:CreateRole", arn, opts...); err != nil {
		return nil, err
	}
	if len(in.Tags) > 0 {
		if _, err := s.authorize(ctx, "iam:TagRole", arn, tagOptions(in.Tags)); err != nil {
			return nil, err
		}
	}
	if err := checkNewTags(in.Tags); err != nil {
		return nil, err
	}
	maxSession := defaultMaxSessionDuration
	if in.MaxSessionDuration != nil {
		maxSession = int(*in.MaxSessionDuration)
	}
	if err := s.checkTrustPolicy(in.AssumeRolePolicyDocument); err != nil {
		return nil, err
	}
	r := &iam.Role{
		Name:               in.RoleName,
		Path:               path,
		ID:                 secrets.NewUniqueID("AROA"),
		Created:            s.timestamp(),
		TrustPolicy:        in.AssumeRolePolicyDocument,
		Description:        in.Description,
		MaxSessionDuration: maxSession,
		Tags:               toTags(in.Tags),
		Boundary:           in.PermissionsBoundary,
	}
	if err := s.putNewRole(ctx, c.Account, r, func(name string) error {
		return entityAlreadyExists("Role with name %s already exists.", name)
	}); err != nil {
		return nil, err
	}
	return &CreateRoleResponse{Role: s.roleOut(c.Account, r)}, nil
}

// putNewRole stores a new role, checking the name, the quota and the
// permissions boundary; taken is the error for a name in use.
func (s *Service) putNewRole(ctx context.Context, account string, r *iam.Role, taken func(name string) error) error {
	return retry(ctx, func() error {
		var (
			verr error
			muts []iam.Mutation
		)
		if err := s.read(account, func(a *iam.AccountView) {
			if _, exists := a.Role(r.Name); exists {
				verr = taken(r.Name)
				return
			}
			if a.RoleCount() >= s.quotas.RolesPerAccount {
				verr = limitExceeded("Cannot exceed quota for RolesPerAccount: %d", s.quotas.RolesPerAccount)
				return
			}
			if r.Boundary != "" {
				mp, ok := s.resolvePolicy(a, account, r.Boundary)
				if !ok {
					verr = s.checkBoundary(a, account, r.Boundary)
					return
				}
				// A concurrent DeletePolicy must see the new use.
				if mp.Entry != nil {
					muts = append(muts, iam.TouchExisting(iam.KindPolicy, account, iam.Key(mp.Entry.V.Name)))
				}
			}
		}); err != nil {
			return err
		}
		if verr != nil {
			return verr
		}
		muts = append([]iam.Mutation{iam.Put(iam.KindRole, account, iam.Key(r.Name), r, store.Absent)}, muts...)
		return s.commit(ctx, muts...)
	})
}

// lookupRole authorizes action on the named role and returns it with its
// version. It does not reveal whether a role exists to a caller who may not
// act on it.
func (s *Service) lookupRole(ctx context.Context, action, name string, opts ...authz.Option) (*authz.Caller, *iam.Entry[iam.Role], error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	var e *iam.Entry[iam.Role]
	if err := s.read(c.Account, func(a *iam.AccountView) { e, _ = a.Role(name) }); err != nil {
		return nil, nil, err
	}
	if e == nil {
		if _, err := s.authorize(ctx, action, s.partition.ARN(c.Account, "role", "/", name), opts...); err != nil {
			return nil, nil, err
		}
		return nil, nil, noSuchRole(name)
	}
	opts = append(opts, resourceTags(e.V.Tags))
	if _, err := s.authorize(ctx, action, s.roleARN(c.Account, e.V), opts...); err != nil {
		return nil, nil, err
	}
	return c, e, nil
}

// updateRole re-reads the named role, applies change to a copy and commits
// it, retrying lost races.
func (s *Service) updateRole(ctx context.Context, account, name string, change func(a *iam.AccountView, r *iam.Role) error) (*iam.Role, error) {
	var next iam.Role
	err := retry(ctx, func() error {
		var (
			verr error
			ver  int64
		)
		if err := s.read(account, func(a *iam.AccountView) {
			e, ok := a.Role(name)
			if !ok {
				verr = noSuchRole(name)
				return
			}
			next = *e.V
			ver = e.Version
			verr = change(a, &next)
		}); err != nil {
			return err
		}
		if verr != nil {
			return verr
		}
		return s.commit(ctx, iam.Put(iam.KindRole, account, iam.Key(next.Name), &next, ver))
	})
	if err != nil {
		return nil, err
	}
	return &next, nil
}

// GetRole returns a role with its trust policy, tags, boundary and last use.
func (s *Service) GetRole(ctx context.Context, in *GetRoleRequest) (*GetRoleResponse, error) {
	c, e, err := s.lookupRole(ctx, "iam:GetRole", in.RoleName)
	if err != nil {
		return nil, err
	}
	out := s.roleOut(c.Account, e.V)
	if err := s.read(c.Account, func(a *iam.AccountView) { out.RoleLastUsed = roleLastUsedOut(a, e.V.ID) }); err != nil {
		return nil, err
	}
	return &GetRoleResponse{Role: out}, nil
}

// UpdateRole changes a role's description or maximum session duration.
func (s *Service) UpdateRole(ctx context.Context, in *UpdateRoleRequest) (*UpdateRoleResponse, error) {
	c, e, err := s.lookupRole(ctx, "iam:UpdateRole", in.RoleName)
	if err != nil {
		return nil, err
	}
	if e.V.ServiceLinked && in.MaxSessionDuration != nil {
		return nil, unmodifiableEntity("%s is an AWS service linked role, max session duration cannot be changed.", e.V.Name)
	}
	_, err = s.updateRole(ctx, c.Account, in.RoleName, func(_ *iam.AccountView, r *iam.Role) error {
		if in.Description != "" {
			r.Description = in.Description
		}
		if in.MaxSessionDuration != nil {
			r.MaxSessionDuration = int(*in.MaxSessionDuration)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &UpdateRoleResponse{}, nil
}

// UpdateRoleDescription sets a role's description (an empty one clears it)
// and returns the role.
func (s *Service) UpdateRoleDescription(ctx context.Context, in *UpdateRoleDescriptionRequest) (*UpdateRoleDescriptionResponse, error) {
	c, _, err := s.lookupRole(ctx, "iam:UpdateRoleDescription", in.RoleName)
	if err != nil {
		return nil, err
	}
	r, err := s.updateRole(ctx, c.Account, in.RoleName, func(_ *iam.AccountView, r *iam.Role) error {
		r.Description = in.Description
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := s.roleOut(c.Account, r)
	if err := s.read(c.Account, func(a *iam.AccountView) { out.RoleLastUsed = roleLastUsedOut(a, r.ID) }); err != nil {
		return nil, err
	}
	return &UpdateRoleDescriptionResponse{Role: &out}, nil
}

// UpdateAssumeRolePolicy replaces a role's trust policy.
func (s *Service) UpdateAssumeRolePolicy(ctx context.Context, in *UpdateAssumeRolePolicyRequest) (*UpdateAssumeRolePolicyResponse, error) {
	c, e, err := s.lookupRole(ctx, "iam:UpdateAssumeRolePolicy", in.RoleName)
	if err != nil {
		return nil, err
	}
	if err := roleProtected(e.V); err != nil {
		return nil, err
	}
	if err := s.checkTrustPolicy(in.PolicyDocument); err != nil {
		return nil, err
	}
	_, err = s.updateRole(ctx, c.Account, in.RoleName, func(_ *iam.AccountView, r *iam.Role) error {
		r.TrustPolicy = in.PolicyDocument
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &UpdateAssumeRolePolicyResponse{}, nil
}

// DeleteRole deletes a role that is in no instance profile and has no
// policies left. Service-linked roles are deleted with
// DeleteServiceLinkedRole.
func (s *Service) DeleteRole(ctx context.Context, in *DeleteRoleRequest) (*DeleteRoleResponse, error) {
	c, e, err := s.lookupRole(ctx, "iam:DeleteRole", in.RoleName)
	if err != nil {
		return nil, err
	}
	if err := roleProtected(e.V); err != nil {
		return nil, err
	}
	if err := s.deleteRole(ctx, c.Account, in.RoleName, true); err != nil {
		return nil, err
	}
	return &DeleteRoleResponse{}, nil
}

// deleteRole deletes the named role once nothing blocks it; policies block
// it only when checkPolicies is set (a service-linked role's service removes
// its own policies).
func (s *Service) deleteRole(ctx context.Context, account, name string, checkPolicies bool) error {
	// The lock pairs with AddRoleToInstanceProfile's: see there.
	s.mu.Lock()
	defer s.mu.Unlock()
	return retry(ctx, func() error {
		var (
			verr error
			cur  *iam.Entry[iam.Role]
		)
		if err := s.read(account, func(a *iam.AccountView) {
			var ok bool
			if cur, ok = a.Role(name); !ok {
				verr = noSuchRole(name)
				return
			}
			verr = roleDeleteConflict(a, cur.V, checkPolicies)
		}); err != nil {
			return err
		}
		if verr != nil {
			return verr
		}
		return s.commit(ctx, iam.Delete(iam.KindRole, account, iam.Key(cur.V.Name), cur.Version))
	})
}

// roleDeleteConflict says what still blocks deleting a role, in IAM's order
// and words.
func roleDeleteConflict(a *iam.AccountView, r *iam.Role, checkPolicies bool) error {
	switch {
	case len(a.InstanceProfilesOf(r.ID)) > 0:
		return deleteConflict("Cannot delete entity, must remove roles from instance profile first.")
	case !checkPolicies:
		return nil
	case len(r.Attached) > 0:
		return deleteConflict("Cannot delete entity, must detach all policies first.")
	case len(r.Inline) > 0:
		return deleteConflict("Cannot delete entity, must delete policies first.")
	}
	return nil
}

// ListRoles lists roles in name order.
func (s *Service) ListRoles(ctx context.Context, in *ListRolesRequest) (*ListRolesResponse, error) {
	c, err := s.authorize(ctx, "iam:ListRoles", s.partition.ARN(callerAccount(ctx), "role", pathOrDefault(in.PathPrefix), ""))
	if err != nil {
		return nil, err
	}
	marker, err := decodeMarker(in.Marker)
	if err != nil {
		return nil, err
	}
	out := &ListRolesResponse{Roles: []Role{}}
	if err := s.read(c.Account, func(a *iam.AccountView) {
		page, next := a.Roles(marker, maxItems(in.MaxItems), func(r *iam.Role) bool { return iam.PathPrefixMatch(r.Path, in.PathPrefix) })
		for _, e := range page {
			out.Roles = append(out.Roles, s.roleListOut(c.Account, e.V))
		}
		if next != "" {
			out.IsTruncated, out.Marker = true, encodeMarker(next)
		}
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// TagRole adds or replaces tags on a role.
func (s *Service) TagRole(ctx context.Context, in *TagRoleRequest) (*TagRoleResponse, error) {
	c, _, err := s.lookupRole(ctx, "iam:TagRole", in.RoleName, tagOptions(in.Tags))
	if err != nil {
		return nil, err
	}
	_, err = s.updateRole(ctx, c.Account, in.RoleName, func(_ *iam.AccountView, r *iam.Role) error {
		tags, err := mergeTags(r.Tags, in.Tags)
		r.Tags = tags
		return err
	})
	if err != nil {
		return nil, err
	}
	return &TagRoleResponse{}, nil
}

// UntagRole removes tags from a role.
func (s *Service) UntagRole(ctx context.Context, in *UntagRoleRequest) (*UntagRoleResponse, error) {
	c, _, err := s.lookupRole(ctx, "iam:UntagRole", in.RoleName, tagKeysOption(in.TagKeys))
	if err != nil {
		return nil, err
	}
	_, err = s.updateRole(ctx, c.Account, in.RoleName, func(_ *iam.AccountView, r *iam.Role) error {
		r.Tags = removeTags(r.Tags, in.TagKeys)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &UntagRoleResponse{}, nil
}

// ListRoleTags lists a role's tags.
func (s *Service) ListRoleTags(ctx context.Context, in *ListRoleTagsRequest) (*ListRoleTagsResponse, error) {
	_, e, err := s.lookupRole(ctx, "iam:ListRoleTags", in.RoleName)
	if err != nil {
		return nil, err
	}
	page, next, err := pageOf(sortedTags(e.V.Tags), in.Marker, maxItems(in.MaxItems))
	if err != nil {
		return nil, err
	}
	out := &ListRoleTagsResponse{Tags: page, IsTruncated: next != "", Marker: next}
	if out.Tags == nil {
		out.Tags = []Tag{}
	}
	return out, nil
}

// Service-linked roles.

// maxRoleName is the length limit of role names.
const maxRoleName = 64

// CreateServiceLinkedRole creates the role an AWS service uses on the
// account's behalf: named for the service, under
// /aws-service-role/SERVICE/, trusted by the service principal, with the
// service's managed policy attached. Only the service may change it.
func (s *Service) CreateServiceLinkedRole(ctx context.Context, in *CreateServiceLinkedRoleRequest) (*CreateServiceLinkedRoleResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	service := in.AWSServiceName
	// aws-cn also names services SERVICE.amazonaws.com.cn; their roles
	// are those of SERVICE.amazonaws.com.
	lookup := service
	if base, ok := s.partition.ServiceOfPrincipal(service); ok {
		lookup = base + ".amazonaws.com"
	}
	name, known, ok := serviceLinkedRoleName(lookup, s.services())
	if !ok {
		// AWS refuses a principal of no AWS service with
		// InvalidInput. Its message could not
		// be confirmed in AWS's documentation or in public code or
		// issues, so this wording is iamd's, not a verified copy.
		return nil, invalidInput("Invalid service name %s.", service)
	}
	path := serviceRolePath + service + "/"
	if in.CustomSuffix != "" {
		name += "_" + in.CustomSuffix
	}
	if _, err := s.authorize(ctx, "iam:CreateServiceLinkedRole", s.partition.ARN(c.Account, "role", path, name), withKey("iam:AWSServiceName", service)); err != nil {
		return nil, err
	}
	if in.CustomSuffix != "" && !known.suffix {
		return nil, invalidInput("Custom suffix is not allowed for %s", service)
	}
	if len(name) > maxRoleName {
		return nil, invalidInput("The role name %s exceeds the %d-character limit of role names.", name, maxRoleName)
	}
	trust, err := json.Marshal(map[string]any{
		"Version": policy.Version2012,
		"Statement": []map[string]any{{
			"Effect":    "Allow",
			"Principal": map[string][]string{"Service": {service}},
			"Action":    []string{"sts:AssumeRole"},
		}},
	})
	if err != nil {
		return nil, err
	}
	r := &iam.Role{
		Name:               name,
		Path:               path,
		ID:                 secrets.NewUniqueID("AROA"),
		Created:            s.timestamp(),
		TrustPolicy:        string(trust),
		Description:        in.Description,
		MaxSessionDuration: defaultMaxSessionDuration,
		ServiceLinked:      true,
	}
	if known.policy != "" && s.managed != nil {
		arn := s.partition.AWSPolicyARN(serviceRolePolicyPath, known.policy)
		if _, ok := s.managed().Get(arn); ok {
			r.Attached = []string{arn}
		}
	}
	if err := s.putNewRole(ctx, c.Account, r, func(name string) error {
		return invalidInput("Service role name %s has been taken in this account, please try a different suffix.", name)
	}); err != nil {
		return nil, err
	}
	out := s.roleOut(c.Account, r)
	return &CreateServiceLinkedRoleResponse{Role: &out}, nil
}

// deletionTaskPrefix starts every service-linked role deletion task ID.
const deletionTaskPrefix = "task/aws-service-role/"

// taskKeys are the keys that authenticate deletion task IDs, newest first;
// *secrets.Keyring provides them.
type taskKeys interface {
	DeriveKeys(purpose string) [][]byte
}

const deletionTaskPurpose = "iamd/slr-deletion-task/v1"

// deletionTaskUUID makes the UUID of a deletion task ID: 8 random bytes and
// 8 bytes of a MAC over the account, the service, the role and those random
// bytes, so that the status of a task can be answered without storing it
// and only in the account that deleted the role.
func (s *Service) deletionTaskUUID(account, service, role string, nonce []byte, key []byte) string {
	var u [16]byte
	copy(u[:8], nonce)
	u[6] = u[6]&0x0f | 0x40 // version 4
	if key != nil {
		m := hmac.New(sha256.New, key)
		fmt.Fprintf(m, "%s\x00%s\x00%s\x00%x", account, service, role, u[:8])
		copy(u[8:], m.Sum(nil))
	} else {
		copy(u[8:], nonce[8:])
	}
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// taskKeyList returns the keys deletion task IDs are authenticated with, or
// nil when the server has none (the task IDs are then only checked for
// form).
func (s *Service) taskKeyList() [][]byte {
	if k, ok := s.secrets.(taskKeys); ok {
		return k.DeriveKeys(deletionTaskPurpose)
	}
	return nil
}

// DeleteServiceLinkedRole deletes a service-linked role. iamd has no
// service resources that could still use the role, so the deletion is
// done when the call returns and its task has succeeded.
func (s *Service) DeleteServiceLinkedRole(ctx context.Context, in *DeleteServiceLinkedRoleRequest) (*DeleteServiceLinkedRoleResponse, error) {
	c, e, err := s.lookupRole(ctx, "iam:DeleteServiceLinkedRole", in.RoleName)
	if err != nil {
		return nil, err
	}
	service, isSLR := strings.CutPrefix(e.V.Path, serviceRolePath)
	service = strings.TrimSuffix(service, "/")
	if !e.V.ServiceLinked || !isSLR || service == "" {
		return nil, noSuchEntity("The service-linked role %s cannot be found.", in.RoleName)
	}
	if err := s.deleteRole(ctx, c.Account, e.V.Name, false); err != nil {
		return nil, err
	}
	nonce := make([]byte, 16)
	rand.Read(nonce)
	var key []byte
	if keys := s.taskKeyList(); len(keys) > 0 {
		key = keys[0]
	}
	id := deletionTaskPrefix + service + "/" + e.V.Name + "/" + s.deletionTaskUUID(c.Account, service, e.V.Name, nonce, key)
	return &DeleteServiceLinkedRoleResponse{DeletionTaskId: id}, nil
}

// parseDeletionTask splits task/aws-service-role/SERVICE/ROLE/UUID.
func parseDeletionTask(id string) (service, role, uuid string, ok bool) {
	rest, found := strings.CutPrefix(id, deletionTaskPrefix)
	if !found {
		return "", "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || len(parts[2]) != 36 {
		return "", "", "", false
	}
	raw, err := hex.DecodeString(strings.ReplaceAll(parts[2], "-", ""))
	if err != nil || len(raw) != 16 {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// GetServiceLinkedRoleDeletionStatus reports on a deletion task started by
// DeleteServiceLinkedRole in the caller's account.
func (s *Service) GetServiceLinkedRoleDeletionStatus(ctx context.Context, in *GetServiceLinkedRoleDeletionStatusRequest) (*GetServiceLinkedRoleDeletionStatusResponse, error) {
	service, role, uuid, ok := parseDeletionTask(in.DeletionTaskId)
	resource := "*"
	if ok {
		resource = s.partition.ARN(callerAccount(ctx), "role", serviceRolePath+service+"/", role)
	}
	c, err := s.authorize(ctx, "iam:GetServiceLinkedRoleDeletionStatus", resource)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalidInput("Invalid deletion task id %s.", in.DeletionTaskId)
	}
	keys := s.taskKeyList()
	if len(keys) > 0 {
		raw, _ := hex.DecodeString(strings.ReplaceAll(uuid, "-", ""))
		valid := false
		for _, k := range keys {
			if hmac.Equal([]byte(s.deletionTaskUUID(c.Account, service, role, raw, k)), []byte(uuid)) {
				valid = true
				break
			}
		}
		if !valid {
			return nil, noSuchEntity("Deletion task %s cannot be found.", in.DeletionTaskId)
		}
	}
	return &GetServiceLinkedRoleDeletionStatusResponse{Status: "SUCCEEDED"}, nil
}

// sortedTags returns tags sorted by key, the order in which IAM lists the
// tags of roles and instance profiles.
func sortedTags(tags []iam.Tag) []Tag {
	out := fromTags(tags)
	slices.SortStableFunc(out, func(x, y Tag) int { return strings.Compare(x.Key, y.Key) })
	return out
}
