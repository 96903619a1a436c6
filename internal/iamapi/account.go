package iamapi

import (
	"context"
	"slices"
	"strings"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/managedpolicies"
	"github.com/iamd/iamd/policy"
)

// Fixed IAM quotas that GetAccountSummary reports and iamd does not make
// configurable.
const (
	quotaServerCertificates     = 20
	quotaSigningCertsPerUser    = 2
	quotaAccessKeysPerUser      = 2
	quotaPolicyVersionsInUse    = 10000
	entityFilterUser            = "User"
	entityFilterGroup           = "Group"
	entityFilterRole            = "Role"
	entityFilterLocalPolicy     = "LocalManagedPolicy"
	entityFilterAWSPolicy       = "AWSManagedPolicy"
	summaryAccountAccessKeysKey = "AccountAccessKeysPresent"
)

// GetAccountSummary reports the account's IAM entity usage and quotas, with
// the keys AWS returns.
func (s *Service) GetAccountSummary(ctx context.Context, _ *GetAccountSummaryRequest) (*GetAccountSummaryResponse, error) {
	c, err := s.authorize(ctx, "iam:GetAccountSummary", "*")
	if err != nil {
		return nil, err
	}
	// AccessKeys takes the view's lock itself, so it is read outside s.read.
	rootKeys := len(s.view.AccessKeys(c.Account, ""))
	m := map[string]int32{
		"UsersQuota":                        int32(s.quotas.UsersPerAccount),
		"GroupsQuota":                       int32(s.quotas.GroupsPerAccount),
		"RolesQuota":                        int32(s.quotas.RolesPerAccount),
		"PoliciesQuota":                     int32(s.quotas.PoliciesPerAccount),
		"InstanceProfilesQuota":             int32(s.quotas.InstanceProfilesPerAccount),
		"GroupsPerUserQuota":                int32(s.quotas.GroupsPerUser),
		"AttachedPoliciesPerUserQuota":      int32(s.quotas.ManagedPoliciesPerEntity),
		"AttachedPoliciesPerGroupQuota":     int32(s.quotas.ManagedPoliciesPerEntity),
		"AttachedPoliciesPerRoleQuota":      int32(s.quotas.ManagedPoliciesPerEntity),
		"ServerCertificates":                0,
		"ServerCertificatesQuota":           quotaServerCertificates,
		"UserPolicySizeQuota":               policy.UserInlineMaxSize,
		"GroupPolicySizeQuota":              policy.GroupInlineMaxSize,
		"RolePolicySizeQuota":               policy.RoleInlineMaxSize,
		"PolicySizeQuota":                   policy.ManagedPolicyMaxSize,
		"AssumeRolePolicySizeQuota":         policy.TrustPolicyMaxSize,
		"SigningCertificatesPerUserQuota":   quotaSigningCertsPerUser,
		"AccessKeysPerUserQuota":            quotaAccessKeysPerUser,
		"AccountSigningCertificatesPresent": 0,
		"PolicyVersionsInUseQuota":          quotaPolicyVersionsInUse,
		"VersionsPerPolicyQuota":            maxPolicyVersions,
		"GlobalEndpointTokenVersion":        s.stsTokenVersion(c.Account),
		summaryAccountAccessKeysKey:         summaryFlag(rootKeys > 0),
	}
	if err := s.read(c.Account, func(a *iam.AccountView) {
		m["Users"] = int32(a.UserCount())
		m["Groups"] = int32(a.GroupCount())
		m["Roles"] = int32(a.RoleCount())
		m["Policies"] = int32(a.PolicyCount())
		m["InstanceProfiles"] = int32(a.InstanceProfileCount())
		m["Providers"] = int32(a.OIDCProviderCount() + a.SAMLProviderCount())
		m["MFADevices"] = int32(a.MFADeviceCount())
		inUse := 0
		devices, _ := a.MFADevices("", a.MFADeviceCount()+1, nil)
		for _, d := range devices {
			if d.V.UserID != "" {
				inUse++
			}
		}
		m["MFADevicesInUse"] = int32(inUse)
		m["AccountMFAEnabled"] = summaryFlag(a.HasMFADeviceFor("root"))
		m["PolicyVersionsInUse"] = int32(attachmentsInUse(a))
		m["ServerCertificates"] = int32(a.ServerCertificateCount())
		m["AccountSigningCertificatesPresent"] = summaryFlag(a.SigningCertificateCount("") > 0)
	}); err != nil {
		return nil, err
	}
	return &GetAccountSummaryResponse{SummaryMap: m}, nil
}

func summaryFlag(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// attachmentsInUse counts the managed policy attachments of the account's
// users, groups and roles.
func attachmentsInUse(a *iam.AccountView) int {
	n := 0
	users, _ := a.Users("", a.UserCount()+1, nil)
	for _, u := range users {
		n += len(u.V.Attached)
	}
	groups, _ := a.Groups("", a.GroupCount()+1, nil)
	for _, g := range groups {
		n += len(g.V.Attached)
	}
	roles, _ := a.Roles("", a.RoleCount()+1, nil)
	for _, r := range roles {
		n += len(r.V.Attached)
	}
	return n
}

// ListEntitiesForPolicy lists the groups, users and roles that a managed
// policy is attached to (or, with PolicyUsageFilter PermissionsBoundary,
// that use it as their permissions boundary), groups first, each in name
// order.
func (s *Service) ListEntitiesForPolicy(ctx context.Context, in *ListEntitiesForPolicyRequest) (*ListEntitiesForPolicyResponse, error) {
	t, err := s.lookupPolicy(ctx, "iam:ListEntitiesForPolicy", in.PolicyArn, false)
	if err != nil {
		return nil, err
	}
	arn := in.PolicyArn
	if t.entry != nil {
		arn = s.partition.ARN(t.caller.Account, "policy", t.entry.V.Path, t.entry.V.Name)
	}
	// entity is one listed principal, kept as its output row.
	type entity struct {
		group *PolicyGroup
		user  *PolicyUser
		role  *PolicyRole
	}
	uses := func(attached []string, boundary string) bool {
		switch in.PolicyUsageFilter {
		case policyUsagePermissions:
			return slices.Contains(attached, arn)
		case policyUsageBoundary:
			return boundary == arn
		}
		return slices.Contains(attached, arn) || boundary == arn
	}
	want := func(kind string) bool { return in.EntityFilter == "" || in.EntityFilter == kind }
	var all []entity
	if err := s.read(t.caller.Account, func(a *iam.AccountView) {
		if want(entityFilterGroup) && in.PolicyUsageFilter != policyUsageBoundary {
			groups, _ := a.Groups("", a.GroupCount()+1, func(g *iam.Group) bool {
				return iam.PathPrefixMatch(g.Path, in.PathPrefix) && uses(g.Attached, "")
			})
			for _, g := range groups {
				all = append(all, entity{group: &PolicyGroup{GroupName: g.V.Name, GroupId: g.V.ID}})
			}
		}
		if want(entityFilterUser) {
			users, _ := a.Users("", a.UserCount()+1, func(u *iam.User) bool {
				return iam.PathPrefixMatch(u.Path, in.PathPrefix) && uses(u.Attached, u.Boundary)
			})
			for _, u := range users {
				all = append(all, entity{user: &PolicyUser{UserName: u.V.Name, UserId: u.V.ID}})
			}
		}
		if want(entityFilterRole) {
			roles, _ := a.Roles("", a.RoleCount()+1, func(r *iam.Role) bool {
				return iam.PathPrefixMatch(r.Path, in.PathPrefix) && uses(r.Attached, r.Boundary)
			})
			for _, r := range roles {
				all = append(all, entity{role: &PolicyRole{RoleName: r.V.Name, RoleId: r.V.ID}})
			}
		}
	}); err != nil {
		return nil, err
	}
	page, next, err := pageOf(all, in.Marker, maxItems(in.MaxItems))
	if err != nil {
		return nil, err
	}
	out := &ListEntitiesForPolicyResponse{
		PolicyGroups: []PolicyGroup{}, PolicyUsers: []PolicyUser{}, PolicyRoles: []PolicyRole{},
		IsTruncated: next != "", Marker: next,
	}
	for _, e := range page {
		switch {
		case e.group != nil:
			out.PolicyGroups = append(out.PolicyGroups, *e.group)
		case e.user != nil:
			out.PolicyUsers = append(out.PolicyUsers, *e.user)
		case e.role != nil:
			out.PolicyRoles = append(out.PolicyRoles, *e.role)
		}
	}
	return out, nil
}

// authDetailsItem is one entry of GetAccountAuthorizationDetails' combined
// listing: users, then groups, then roles, then policies.
type authDetailsItem struct {
	user   *iam.User
	group  *iam.Group
	role   *iam.Role
	local  *iam.Policy
	awsPol *managedpolicies.Policy
}

// GetAccountAuthorizationDetails returns a snapshot of the account's users,
// groups, roles and managed policies with their relationships. Marker and
// MaxItems paginate across the combined lists. Customer-managed policies are
// all returned; AWS-managed ones only where the account uses them.
func (s *Service) GetAccountAuthorizationDetails(ctx context.Context, in *GetAccountAuthorizationDetailsRequest) (*GetAccountAuthorizationDetailsResponse, error) {
	c, err := s.authorize(ctx, "iam:GetAccountAuthorizationDetails", "*")
	if err != nil {
		return nil, err
	}
	want := func(kind string) bool { return len(in.Filter) == 0 || slices.Contains(in.Filter, kind) }
	var catalogue []*managedpolicies.Policy
	if want(entityFilterAWSPolicy) && s.managed != nil {
		catalogue = s.managed().All()
	}
	out := &GetAccountAuthorizationDetailsResponse{
		UserDetailList: []UserDetail{}, GroupDetailList: []GroupDetail{},
		RoleDetailList: []RoleDetail{}, Policies: []ManagedPolicyDetail{},
	}
	var perr error
	if err := s.read(c.Account, func(a *iam.AccountView) {
		var all []authDetailsItem
		if want(entityFilterUser) {
			users, _ := a.Users("", a.UserCount()+1, nil)
			for _, u := range users {
				all = append(all, authDetailsItem{user: u.V})
			}
		}
		if want(entityFilterGroup) {
			groups, _ := a.Groups("", a.GroupCount()+1, nil)
			for _, g := range groups {
				all = append(all, authDetailsItem{group: g.V})
			}
		}
		if want(entityFilterRole) {
			roles, _ := a.Roles("", a.RoleCount()+1, nil)
			for _, r := range roles {
				all = append(all, authDetailsItem{role: r.V})
			}
		}
		if want(entityFilterLocalPolicy) {
			policies, _ := a.Policies("", a.PolicyCount()+1, nil)
			for _, p := range policies {
				all = append(all, authDetailsItem{local: p.V})
			}
		}
		for _, m := range catalogue {
			if a.AttachmentCount(m.ARN) > 0 || a.BoundaryCount(m.ARN) > 0 {
				all = append(all, authDetailsItem{awsPol: m})
			}
		}
		page, next, err := pageOf(all, in.Marker, maxItems(in.MaxItems))
		if err != nil {
			perr = err
			return
		}
		out.IsTruncated, out.Marker = next != "", next
		for _, it := range page {
			switch {
			case it.user != nil:
				out.UserDetailList = append(out.UserDetailList, s.userDetailOut(a, c.Account, it.user))
			case it.group != nil:
				out.GroupDetailList = append(out.GroupDetailList, s.groupDetailOut(c.Account, it.group))
			case it.role != nil:
				out.RoleDetailList = append(out.RoleDetailList, s.roleDetailOut(a, c.Account, it.role))
			case it.local != nil:
				out.Policies = append(out.Policies, s.localPolicyDetailOut(a, c.Account, it.local))
			case it.awsPol != nil:
				out.Policies = append(out.Policies, awsPolicyDetailOut(a, it.awsPol))
			}
		}
	}); err != nil {
		return nil, err
	}
	if perr != nil {
		return nil, perr
	}
	return out, nil
}

func authDetailsInline(list []iam.InlinePolicy) []PolicyDetail {
	out := make([]PolicyDetail, len(list))
	for i, p := range list {
		out[i] = PolicyDetail{PolicyName: p.Name, PolicyDocument: p.Document}
	}
	slices.SortFunc(out, func(x, y PolicyDetail) int { return strings.Compare(x.PolicyName, y.PolicyName) })
	return out
}

func authDetailsAttached(arns []string) []AttachedPolicy {
	out := make([]AttachedPolicy, len(arns))
	for i, arn := range arns {
		out[i] = AttachedPolicy{PolicyName: iam.EntityName(arn), PolicyArn: arn}
	}
	return out
}

func (s *Service) userDetailOut(a *iam.AccountView, account string, u *iam.User) UserDetail {
	d := UserDetail{
		Path:                    u.Path,
		UserName:                u.Name,
		UserId:                  u.ID,
		Arn:                     s.partition.ARN(account, "user", u.Path, u.Name),
		CreateDate:              u.Created,
		UserPolicyList:          authDetailsInline(u.Inline),
		GroupList:               []string{},
		AttachedManagedPolicies: authDetailsAttached(u.Attached),
		Tags:                    fromTags(u.Tags),
	}
	for _, id := range u.Groups {
		if g, ok := a.GroupByID(id); ok {
			d.GroupList = append(d.GroupList, g.V.Name)
		}
	}
	if u.Boundary != "" {
		d.PermissionsBoundary = boundaryOut(u.Boundary)
	}
	return d
}

func (s *Service) groupDetailOut(account string, g *iam.Group) GroupDetail {
	return GroupDetail{
		Path:                    g.Path,
		GroupName:               g.Name,
		GroupId:                 g.ID,
		Arn:                     s.partition.ARN(account, "group", g.Path, g.Name),
		CreateDate:              g.Created,
		GroupPolicyList:         authDetailsInline(g.Inline),
		AttachedManagedPolicies: authDetailsAttached(g.Attached),
	}
}

// detailRole is a role as an instance profile in the details lists it.
func (s *Service) detailRole(account string, r *iam.Role) Role {
	out := Role{
		Path:                     r.Path,
		RoleName:                 r.Name,
		RoleId:                   r.ID,
		Arn:                      s.partition.ARN(account, "role", r.Path, r.Name),
		CreateDate:               r.Created,
		AssumeRolePolicyDocument: r.TrustPolicy,
		Description:              r.Description,
	}
	if r.MaxSessionDuration > 0 {
		out.MaxSessionDuration = policyInt32(r.MaxSessionDuration)
	}
	return out
}

func (s *Service) roleDetailOut(a *iam.AccountView, account string, r *iam.Role) RoleDetail {
	d := RoleDetail{
		Path:                     r.Path,
		RoleName:                 r.Name,
		RoleId:                   r.ID,
		Arn:                      s.partition.ARN(account, "role", r.Path, r.Name),
		CreateDate:               r.Created,
		AssumeRolePolicyDocument: r.TrustPolicy,
		InstanceProfileList:      []InstanceProfile{},
		RolePolicyList:           authDetailsInline(r.Inline),
		AttachedManagedPolicies:  authDetailsAttached(r.Attached),
		Tags:                     fromTags(r.Tags),
		RoleLastUsed:             &RoleLastUsed{},
	}
	if r.Boundary != "" {
		d.PermissionsBoundary = boundaryOut(r.Boundary)
	}
	if u, ok := a.RoleUsage(r.ID); ok {
		d.RoleLastUsed = &RoleLastUsed{LastUsedDate: u.LastUsed, Region: u.Region}
	}
	for _, key := range a.InstanceProfilesOf(r.ID) {
		e, ok := a.InstanceProfile(key)
		if !ok {
			continue
		}
		p := e.V
		ip := InstanceProfile{
			Path:                p.Path,
			InstanceProfileName: p.Name,
			InstanceProfileId:   p.ID,
			Arn:                 s.partition.ARN(account, "instance-profile", p.Path, p.Name),
			CreateDate:          p.Created,
			Roles:               []Role{},
			Tags:                fromTags(p.Tags),
		}
		for _, id := range p.Roles {
			if re, ok := a.RoleByID(id); ok {
				ip.Roles = append(ip.Roles, s.detailRole(account, re.V))
			}
		}
		d.InstanceProfileList = append(d.InstanceProfileList, ip)
	}
	return d
}

func (s *Service) localPolicyDetailOut(a *iam.AccountView, account string, p *iam.Policy) ManagedPolicyDetail {
	o := s.customerPolicyOut(a, account, p)
	return ManagedPolicyDetail{
		PolicyName:                    o.PolicyName,
		PolicyId:                      o.PolicyId,
		Arn:                           o.Arn,
		Path:                          o.Path,
		DefaultVersionId:              o.DefaultVersionId,
		AttachmentCount:               o.AttachmentCount,
		PermissionsBoundaryUsageCount: o.PermissionsBoundaryUsageCount,
		IsAttachable:                  o.IsAttachable,
		Description:                   o.Description,
		CreateDate:                    o.CreateDate,
		UpdateDate:                    o.UpdateDate,
		PolicyVersionList:             versionsNewestFirst(p, true),
	}
}

func awsPolicyDetailOut(a *iam.AccountView, m *managedpolicies.Policy) ManagedPolicyDetail {
	o := awsPolicyOut(a, m)
	return ManagedPolicyDetail{
		PolicyName:                    o.PolicyName,
		PolicyId:                      o.PolicyId,
		Arn:                           o.Arn,
		Path:                          o.Path,
		DefaultVersionId:              o.DefaultVersionId,
		AttachmentCount:               o.AttachmentCount,
		PermissionsBoundaryUsageCount: o.PermissionsBoundaryUsageCount,
		IsAttachable:                  o.IsAttachable,
		CreateDate:                    o.CreateDate,
		UpdateDate:                    o.UpdateDate,
		PolicyVersionList:             []PolicyVersion{awsPolicyVersion(m, true)},
	}
}
