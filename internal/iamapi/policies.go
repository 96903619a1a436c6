package iamapi

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/managedpolicies"
	"github.com/iamd/iamd/internal/secrets"
	"github.com/iamd/iamd/internal/store"
	"github.com/iamd/iamd/policy"
)

// maxPolicyVersions is how many versions a customer-managed policy may keep.
const maxPolicyVersions = 5

// Messages IAM gives for managed policies.
const (
	msgPolicyAttached      = "Cannot delete a policy attached to entities."
	msgPolicyHasVersions   = "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy."
	msgDeleteDefault       = "Cannot delete the default version of a policy."
	msgTooManyVersions     = "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version."
	policyUsagePermissions = "PermissionsPolicy"
	policyUsageBoundary    = "PermissionsBoundary"
)

func noSuchManagedPolicy(arn string) error {
	return noSuchEntity("Policy %s was not found.", arn)
}

func noSuchManagedPolicyVersion(arn, version string) error {
	return noSuchEntity("Policy %s version %s does not exist or is not attachable.", arn, version)
}

// policyTarget is the managed policy a request names: AWS-managed (from the
// catalogue) or customer-managed in the caller's account.
type policyTarget struct {
	caller *authz.Caller
	arn    string
	aws    *managedpolicies.Policy
	entry  *iam.Entry[iam.Policy]
}

// foreignResource makes an authorization request about a resource owned by
// another account (AWS for AWS-managed policies), so that only a
// resource-based policy, which policies do not have, could allow it.
func foreignResource(account string) authz.Option {
	return func(r *authz.Request) { r.ResourceAccount = account }
}

// lookupPolicy authorizes action on the managed policy arn and returns it.
// write says whether the action changes the policy: AWS-managed policies
// and other accounts' policies are then refused as AWS refuses them, with
// AccessDenied.
func (s *Service) lookupPolicy(ctx context.Context, action, arn string, write bool, opts ...authz.Option) (*policyTarget, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.checkPartition(arn); err != nil {
		return nil, err
	}
	p, ok := iam.ParsePolicyARN(arn)
	if !ok {
		if _, err := s.authorize(ctx, action, arn, opts...); err != nil {
			return nil, err
		}
		return nil, invalidInput("ARN %s is not valid.", arn)
	}
	if p.Account != c.Account {
		if write || p.Account != iam.AWSManagedAccount {
			o := append([]authz.Option{foreignResource(p.Account)}, opts...)
			if _, err := s.authorize(ctx, action, arn, o...); err != nil {
				return nil, err
			}
		}
		var m *managedpolicies.Policy
		if p.Account == iam.AWSManagedAccount && s.managed != nil {
			m, _ = s.managed().Get(arn)
		}
		if m == nil {
			if _, err := s.authorize(ctx, action, arn, opts...); err != nil {
				return nil, err
			}
			return nil, noSuchManagedPolicy(arn)
		}
		if write {
			return nil, accessDenied("User: %s is not authorized to perform: %s on resource: %s", c.ARN, action, arn)
		}
		if _, err := s.authorize(ctx, action, arn, opts...); err != nil {
			return nil, err
		}
		return &policyTarget{caller: c, arn: arn, aws: m}, nil
	}
	var e *iam.Entry[iam.Policy]
	if err := s.read(c.Account, func(a *iam.AccountView) {
		if x, ok := a.Policy(p.Name); ok && x.V.Name == p.Name && x.V.Path == p.Path {
			e = x
		}
	}); err != nil {
		return nil, err
	}
	if e == nil {
		if _, err := s.authorize(ctx, action, arn, opts...); err != nil {
			return nil, err
		}
		return nil, noSuchManagedPolicy(arn)
	}
	o := append([]authz.Option{resourceTags(e.V.Tags)}, opts...)
	if _, err := s.authorize(ctx, action, arn, o...); err != nil {
		return nil, err
	}
	return &policyTarget{caller: c, arn: arn, entry: e}, nil
}

// updatePolicy re-reads the customer-managed policy named by arn, applies
// change to a copy and commits it, retrying lost races.
func (s *Service) updatePolicy(ctx context.Context, account, arn string, change func(p *iam.Policy) error) error {
	pa, _ := iam.ParsePolicyARN(arn)
	return retry(ctx, func() error {
		var (
			verr error
			next iam.Policy
			ver  int64
		)
		if err := s.read(account, func(a *iam.AccountView) {
			e, ok := a.Policy(pa.Name)
			if !ok || e.V.Name != pa.Name || e.V.Path != pa.Path {
				verr = noSuchManagedPolicy(arn)
				return
			}
			next = *e.V
			next.Versions = slices.Clone(e.V.Versions)
			next.Tags = slices.Clone(e.V.Tags)
			ver = e.Version
			verr = change(&next)
		}); err != nil {
			return err
		}
		if verr != nil {
			return verr
		}
		return s.commit(ctx, iam.Put(iam.KindPolicy, account, iam.Key(next.Name), &next, ver))
	})
}

// policyUpdated is the policy's UpdateDate: when its newest version was
// created.
func policyUpdated(p *iam.Policy) time.Time {
	t := p.Created
	for _, v := range p.Versions {
		if v.Created.After(t) {
			t = v.Created
		}
	}
	return t
}

// customerPolicyOut describes a customer-managed policy with its attachment
// counts in the account.
func (s *Service) customerPolicyOut(a *iam.AccountView, account string, p *iam.Policy) Policy {
	arn := s.partition.ARN(account, "policy", p.Path, p.Name)
	return Policy{
		PolicyName:                    p.Name,
		PolicyId:                      p.ID,
		Arn:                           arn,
		Path:                          p.Path,
		DefaultVersionId:              p.DefaultVersion,
		AttachmentCount:               policyInt32(a.AttachmentCount(arn)),
		PermissionsBoundaryUsageCount: policyInt32(a.BoundaryCount(arn)),
		IsAttachable:                  policyBool(true),
		Description:                   p.Description,
		CreateDate:                    p.Created,
		UpdateDate:                    policyUpdated(p),
		Tags:                          fromTags(p.Tags),
	}
}

// awsPolicyOut describes an AWS-managed policy with its attachment counts in
// the caller's account.
func awsPolicyOut(a *iam.AccountView, m *managedpolicies.Policy) Policy {
	return Policy{
		PolicyName:                    m.Name,
		PolicyId:                      m.ID,
		Arn:                           m.ARN,
		Path:                          m.Path,
		DefaultVersionId:              m.DefaultVersionID,
		AttachmentCount:               policyInt32(a.AttachmentCount(m.ARN)),
		PermissionsBoundaryUsageCount: policyInt32(a.BoundaryCount(m.ARN)),
		IsAttachable:                  policyBool(awsPolicyAttachable(m)),
		CreateDate:                    m.Created,
		UpdateDate:                    m.Updated,
	}
}

// awsPolicyAttachable says whether customers may attach an AWS-managed
// policy: service-linked roles' policies are reserved to those roles.
func awsPolicyAttachable(m *managedpolicies.Policy) bool {
	return m.Path != "/aws-service-role/"
}

func policyInt32(n int) *int32 { v := int32(n); return &v }

func policyBool(b bool) *bool { return &b }

// versionsNewestFirst returns a policy's versions as IAM lists them.
func versionsNewestFirst(p *iam.Policy, withDocuments bool) []PolicyVersion {
	out := make([]PolicyVersion, 0, len(p.Versions))
	for i := len(p.Versions) - 1; i >= 0; i-- {
		v := p.Versions[i]
		pv := PolicyVersion{VersionId: v.ID, IsDefaultVersion: policyBool(v.ID == p.DefaultVersion), CreateDate: v.Created}
		if withDocuments {
			pv.Document = v.Document
		}
		out = append(out, pv)
	}
	return out
}

// awsPolicyVersion is the one version of an AWS-managed policy iamd serves:
// its default.
func awsPolicyVersion(m *managedpolicies.Policy, withDocument bool) PolicyVersion {
	pv := PolicyVersion{VersionId: m.DefaultVersionID, IsDefaultVersion: policyBool(true), CreateDate: m.Updated}
	if withDocument {
		pv.Document = m.Document
	}
	return pv
}

// CreatePolicy creates a customer-managed policy with its first version.
func (s *Service) CreatePolicy(ctx context.Context, in *CreatePolicyRequest) (*CreatePolicyResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	path := pathOrDefault(in.Path)
	arn := s.partition.ARN(c.Account, "policy", path, in.PolicyName)
	if _, err := s.authorize(ctx, "iam:CreatePolicy", arn, tagOptions(in.Tags)); err != nil {
		return nil, err
	}
	if len(in.Tags) > 0 {
		if _, err := s.authorize(ctx, "iam:TagPolicy", arn, tagOptions(in.Tags)); err != nil {
			return nil, err
		}
	}
	if _, err := s.checkPolicyDocument(in.PolicyDocument, policy.Identity, policy.ManagedPolicyMaxSize, true, ""); err != nil {
		return nil, err
	}
	if err := checkNewTags(in.Tags); err != nil {
		return nil, err
	}
	now := s.timestamp()
	p := &iam.Policy{
		Name:           in.PolicyName,
		Path:           path,
		ID:             secrets.NewUniqueID("ANPA"),
		Created:        now,
		Updated:        now,
		Description:    in.Description,
		Tags:           toTags(in.Tags),
		DefaultVersion: "v1",
		Versions:       []iam.PolicyVersion{{ID: "v1", Document: in.PolicyDocument, Created: now}},
		NextVersion:    2,
	}
	err = retry(ctx, func() error {
		var verr error
		if err := s.read(c.Account, func(a *iam.AccountView) {
			if _, exists := a.Policy(in.PolicyName); exists {
				verr = entityAlreadyExists("A policy called %s already exists. Duplicate names are not allowed.", in.PolicyName)
				return
			}
			if a.PolicyCount() >= s.quotas.PoliciesPerAccount {
				verr = limitExceeded("Cannot exceed quota for PoliciesPerAccount: %d", s.quotas.PoliciesPerAccount)
			}
		}); err != nil {
			return err
		}
		if verr != nil {
			return verr
		}
		return s.commit(ctx, iam.Put(iam.KindPolicy, c.Account, iam.Key(p.Name), p, store.Absent))
	})
	if err != nil {
		return nil, err
	}
	out := Policy{
		PolicyName:                    p.Name,
		PolicyId:                      p.ID,
		Arn:                           arn,
		Path:                          p.Path,
		DefaultVersionId:              p.DefaultVersion,
		AttachmentCount:               policyInt32(0),
		PermissionsBoundaryUsageCount: policyInt32(0),
		IsAttachable:                  policyBool(true),
		// AWS does not return the description in CreatePolicy's response
		// (GetPolicy does).
		CreateDate: p.Created,
		UpdateDate: p.Updated,
		Tags:       fromTags(p.Tags),
	}
	return &CreatePolicyResponse{Policy: &out}, nil
}

// GetPolicy describes a managed policy, AWS-managed or the caller's own.
func (s *Service) GetPolicy(ctx context.Context, in *GetPolicyRequest) (*GetPolicyResponse, error) {
	t, err := s.lookupPolicy(ctx, "iam:GetPolicy", in.PolicyArn, false)
	if err != nil {
		return nil, err
	}
	var out Policy
	if err := s.read(t.caller.Account, func(a *iam.AccountView) {
		if t.aws != nil {
			out = awsPolicyOut(a, t.aws)
			out.Tags = tagList(nil) // AWS-managed policies have none
			return
		}
		out = s.customerPolicyOut(a, t.caller.Account, t.entry.V)
		out.Tags = tagList(t.entry.V.Tags)
	}); err != nil {
		return nil, err
	}
	return &GetPolicyResponse{Policy: &out}, nil
}

// DeletePolicy deletes a customer-managed policy that is attached to
// nothing and has only its default version left.
func (s *Service) DeletePolicy(ctx context.Context, in *DeletePolicyRequest) (*DeletePolicyResponse, error) {
	t, err := s.lookupPolicy(ctx, "iam:DeletePolicy", in.PolicyArn, true)
	if err != nil {
		return nil, err
	}
	account, name := t.caller.Account, t.entry.V.Name
	err = retry(ctx, func() error {
		var (
			verr error
			cur  *iam.Entry[iam.Policy]
		)
		if err := s.read(account, func(a *iam.AccountView) {
			e, ok := a.Policy(name)
			if !ok || e.V.ID != t.entry.V.ID {
				verr = noSuchManagedPolicy(in.PolicyArn)
				return
			}
			cur = e
			switch {
			case a.AttachmentCount(in.PolicyArn) > 0 || a.BoundaryCount(in.PolicyArn) > 0:
				verr = deleteConflict(msgPolicyAttached)
			case len(e.V.Versions) > 1:
				verr = deleteConflict(msgPolicyHasVersions)
			}
		}); err != nil {
			return err
		}
		if verr != nil {
			return verr
		}
		return s.commit(ctx, iam.Delete(iam.KindPolicy, account, iam.Key(name), cur.Version))
	})
	if err != nil {
		return nil, err
	}
	return &DeletePolicyResponse{}, nil
}

// policyListItem is one entry of the merged AWS-managed and
// customer-managed listing.
type policyListItem struct {
	name, arn string
	aws       *managedpolicies.Policy
	local     *iam.Policy
}

// policyListKey orders the listing: by name, then ARN (an account may hold
// a policy named like an AWS-managed one).
func policyListKey(name, arn string) string { return name + "\x00" + arn }

// ListPolicies lists AWS-managed and customer-managed policies in name
// order. The AWS-managed catalogue is already sorted, so a page costs a
// binary search and a scan of at most the filtered entries it skips.
func (s *Service) ListPolicies(ctx context.Context, in *ListPoliciesRequest) (*ListPoliciesResponse, error) {
	c, err := s.authorize(ctx, "iam:ListPolicies", "*")
	if err != nil {
		return nil, err
	}
	marker, err := decodeMarker(in.Marker)
	if err != nil {
		return nil, err
	}
	scope := in.Scope
	if scope == "" {
		scope = "All"
	}
	onlyAttached := in.OnlyAttached != nil && *in.OnlyAttached
	max := maxItems(in.MaxItems)
	var catalogue []*managedpolicies.Policy
	if scope != "Local" && s.managed != nil {
		catalogue = s.managed().All()
	}
	out := &ListPoliciesResponse{Policies: []Policy{}}
	if err := s.read(c.Account, func(a *iam.AccountView) {
		keep := func(path, arn string) bool {
			if !iam.PathPrefixMatch(path, in.PathPrefix) {
				return false
			}
			attached, boundary := a.AttachmentCount(arn) > 0, a.BoundaryCount(arn) > 0
			switch in.PolicyUsageFilter {
			case policyUsageBoundary:
				return boundary
			case policyUsagePermissions:
				return !onlyAttached || attached
			}
			return !onlyAttached || attached || boundary
		}
		var local []policyListItem
		if scope != "AWS" {
			all, _ := a.Policies("", a.PolicyCount()+1, nil)
			for _, e := range all {
				arn := s.partition.ARN(c.Account, "policy", e.V.Path, e.V.Name)
				if keep(e.V.Path, arn) {
					local = append(local, policyListItem{name: e.V.Name, arn: arn, local: e.V})
				}
			}
			slices.SortFunc(local, func(x, y policyListItem) int {
				return strings.Compare(policyListKey(x.name, x.arn), policyListKey(y.name, y.arn))
			})
		}
		i, j := 0, 0
		if marker != "" {
			i, _ = slices.BinarySearchFunc(local, marker, func(x policyListItem, m string) int {
				return strings.Compare(policyListKey(x.name, x.arn), m)
			})
			j, _ = slices.BinarySearchFunc(catalogue, marker, func(x *managedpolicies.Policy, m string) int {
				return strings.Compare(policyListKey(x.Name, x.ARN), m)
			})
		}
		// next returns the next AWS-managed policy that passes the filters.
		next := func() *managedpolicies.Policy {
			for ; j < len(catalogue); j++ {
				if m := catalogue[j]; keep(m.Path, m.ARN) {
					return m
				}
			}
			return nil
		}
		for {
			m := next()
			var item policyListItem
			switch {
			case m == nil && i == len(local):
				return
			case m == nil || i < len(local) && policyListKey(local[i].name, local[i].arn) < policyListKey(m.Name, m.ARN):
				item = local[i]
				i++
			default:
				item = policyListItem{name: m.Name, arn: m.ARN, aws: m}
				j++
			}
			if len(out.Policies) == max {
				out.IsTruncated, out.Marker = true, encodeMarker(policyListKey(item.name, item.arn))
				return
			}
			var p Policy
			if item.aws != nil {
				p = awsPolicyOut(a, item.aws)
			} else {
				p = s.customerPolicyOut(a, c.Account, item.local)
			}
			// ListPolicies returns neither descriptions nor tags.
			p.Description, p.Tags = "", nil
			out.Policies = append(out.Policies, p)
		}
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// CreatePolicyVersion adds a version to a customer-managed policy.
func (s *Service) CreatePolicyVersion(ctx context.Context, in *CreatePolicyVersionRequest) (*CreatePolicyVersionResponse, error) {
	t, err := s.lookupPolicy(ctx, "iam:CreatePolicyVersion", in.PolicyArn, true)
	if err != nil {
		return nil, err
	}
	if _, err := s.checkPolicyDocument(in.PolicyDocument, policy.Identity, policy.ManagedPolicyMaxSize, true, ""); err != nil {
		return nil, err
	}
	setDefault := in.SetAsDefault != nil && *in.SetAsDefault
	var v iam.PolicyVersion
	err = s.updatePolicy(ctx, t.caller.Account, in.PolicyArn, func(p *iam.Policy) error {
		if len(p.Versions) >= maxPolicyVersions {
			return limitExceeded(msgTooManyVersions)
		}
		n := max(p.NextVersion, 2)
		v = iam.PolicyVersion{ID: "v" + strconv.Itoa(n), Document: in.PolicyDocument, Created: s.timestamp()}
		p.NextVersion = n + 1
		p.Versions = append(p.Versions, v)
		p.Updated = v.Created
		if setDefault {
			p.DefaultVersion = v.ID
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &CreatePolicyVersionResponse{PolicyVersion: &PolicyVersion{
		VersionId: v.ID, IsDefaultVersion: policyBool(setDefault), CreateDate: v.Created,
	}}, nil
}

// GetPolicyVersion returns one version of a managed policy with its
// document. Of AWS-managed policies only the default version is served.
func (s *Service) GetPolicyVersion(ctx context.Context, in *GetPolicyVersionRequest) (*GetPolicyVersionResponse, error) {
	t, err := s.lookupPolicy(ctx, "iam:GetPolicyVersion", in.PolicyArn, false)
	if err != nil {
		return nil, err
	}
	if t.aws != nil {
		if in.VersionId != t.aws.DefaultVersionID {
			return nil, noSuchManagedPolicyVersion(in.PolicyArn, in.VersionId)
		}
		pv := awsPolicyVersion(t.aws, true)
		return &GetPolicyVersionResponse{PolicyVersion: &pv}, nil
	}
	p := t.entry.V
	v := p.Version(in.VersionId)
	if v == nil {
		return nil, noSuchManagedPolicyVersion(in.PolicyArn, in.VersionId)
	}
	return &GetPolicyVersionResponse{PolicyVersion: &PolicyVersion{
		Document: v.Document, VersionId: v.ID, IsDefaultVersion: policyBool(v.ID == p.DefaultVersion), CreateDate: v.Created,
	}}, nil
}

// DeletePolicyVersion deletes a non-default version of a customer-managed
// policy.
func (s *Service) DeletePolicyVersion(ctx context.Context, in *DeletePolicyVersionRequest) (*DeletePolicyVersionResponse, error) {
	t, err := s.lookupPolicy(ctx, "iam:DeletePolicyVersion", in.PolicyArn, true)
	if err != nil {
		return nil, err
	}
	err = s.updatePolicy(ctx, t.caller.Account, in.PolicyArn, func(p *iam.Policy) error {
		i := slices.IndexFunc(p.Versions, func(v iam.PolicyVersion) bool { return v.ID == in.VersionId })
		switch {
		case i < 0:
			return noSuchManagedPolicyVersion(in.PolicyArn, in.VersionId)
		case in.VersionId == p.DefaultVersion:
			return deleteConflict(msgDeleteDefault)
		}
		p.Versions = slices.Delete(p.Versions, i, i+1)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &DeletePolicyVersionResponse{}, nil
}

// ListPolicyVersions lists a managed policy's versions, newest first,
// without their documents.
func (s *Service) ListPolicyVersions(ctx context.Context, in *ListPolicyVersionsRequest) (*ListPolicyVersionsResponse, error) {
	t, err := s.lookupPolicy(ctx, "iam:ListPolicyVersions", in.PolicyArn, false)
	if err != nil {
		return nil, err
	}
	var all []PolicyVersion
	if t.aws != nil {
		all = []PolicyVersion{awsPolicyVersion(t.aws, false)}
	} else {
		all = versionsNewestFirst(t.entry.V, false)
	}
	page, next, err := pageOf(all, in.Marker, maxItems(in.MaxItems))
	if err != nil {
		return nil, err
	}
	return &ListPolicyVersionsResponse{Versions: page, IsTruncated: next != "", Marker: next}, nil
}

// SetDefaultPolicyVersion makes a version the one that is in effect.
func (s *Service) SetDefaultPolicyVersion(ctx context.Context, in *SetDefaultPolicyVersionRequest) (*SetDefaultPolicyVersionResponse, error) {
	t, err := s.lookupPolicy(ctx, "iam:SetDefaultPolicyVersion", in.PolicyArn, true)
	if err != nil {
		return nil, err
	}
	err = s.updatePolicy(ctx, t.caller.Account, in.PolicyArn, func(p *iam.Policy) error {
		if p.Version(in.VersionId) == nil {
			return noSuchManagedPolicyVersion(in.PolicyArn, in.VersionId)
		}
		p.DefaultVersion = in.VersionId
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &SetDefaultPolicyVersionResponse{}, nil
}

// TagPolicy adds or replaces tags on a customer-managed policy.
func (s *Service) TagPolicy(ctx context.Context, in *TagPolicyRequest) (*TagPolicyResponse, error) {
	t, err := s.lookupPolicy(ctx, "iam:TagPolicy", in.PolicyArn, true, tagOptions(in.Tags))
	if err != nil {
		return nil, err
	}
	err = s.updatePolicy(ctx, t.caller.Account, in.PolicyArn, func(p *iam.Policy) error {
		tags, err := mergeTags(p.Tags, in.Tags)
		p.Tags = tags
		return err
	})
	if err != nil {
		return nil, err
	}
	return &TagPolicyResponse{}, nil
}

// UntagPolicy removes tags from a customer-managed policy.
func (s *Service) UntagPolicy(ctx context.Context, in *UntagPolicyRequest) (*UntagPolicyResponse, error) {
	t, err := s.lookupPolicy(ctx, "iam:UntagPolicy", in.PolicyArn, true, tagKeysOption(in.TagKeys))
	if err != nil {
		return nil, err
	}
	err = s.updatePolicy(ctx, t.caller.Account, in.PolicyArn, func(p *iam.Policy) error {
		p.Tags = removeTags(p.Tags, in.TagKeys)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &UntagPolicyResponse{}, nil
}

// ListPolicyTags lists a managed policy's tags (AWS-managed policies have
// none).
func (s *Service) ListPolicyTags(ctx context.Context, in *ListPolicyTagsRequest) (*ListPolicyTagsResponse, error) {
	t, err := s.lookupPolicy(ctx, "iam:ListPolicyTags", in.PolicyArn, false)
	if err != nil {
		return nil, err
	}
	var tags []Tag
	if t.entry != nil {
		tags = fromTags(t.entry.V.Tags)
	}
	page, next, err := pageOf(tags, in.Marker, maxItems(in.MaxItems))
	if err != nil {
		return nil, err
	}
	out := &ListPolicyTagsResponse{Tags: page, IsTruncated: next != "", Marker: next}
	if out.Tags == nil {
		out.Tags = []Tag{}
	}
	return out, nil
}
