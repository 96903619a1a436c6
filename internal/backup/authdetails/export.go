package authdetails

import (
	"context"
	"fmt"

	"github.com/iamd/iamd/internal/iamapi"
)

// Source answers GetAccountAuthorizationDetails for the account of the
// caller in ctx; *iamapi.Service implements it.
type Source interface {
	GetAccountAuthorizationDetails(ctx context.Context, in *iamapi.GetAccountAuthorizationDetailsRequest) (*iamapi.GetAccountAuthorizationDetailsResponse, error)
}

// Export pages through GetAccountAuthorizationDetails and returns every
// user, group, role and managed policy (customer-managed, and AWS-managed
// ones the account uses) of the caller's account.
func Export(ctx context.Context, src Source) (*Details, error) {
	d := &Details{UserDetailList: []User{}, GroupDetailList: []Group{}, RoleDetailList: []Role{}, Policies: []Policy{}}
	maxItems := int32(1000)
	for marker := ""; ; {
		out, err := src.GetAccountAuthorizationDetails(ctx, &iamapi.GetAccountAuthorizationDetailsRequest{Marker: marker, MaxItems: &maxItems})
		if err != nil {
			return nil, fmt.Errorf("GetAccountAuthorizationDetails: %w", err)
		}
		for _, u := range out.UserDetailList {
			d.UserDetailList = append(d.UserDetailList, userFrom(u))
		}
		for _, g := range out.GroupDetailList {
			d.GroupDetailList = append(d.GroupDetailList, Group{
				Path: g.Path, GroupName: g.GroupName, GroupID: g.GroupId, Arn: g.Arn, CreateDate: g.CreateDate,
				GroupPolicyList: inlineFrom(g.GroupPolicyList), AttachedManagedPolicies: attachedFrom(g.AttachedManagedPolicies),
			})
		}
		for _, r := range out.RoleDetailList {
			d.RoleDetailList = append(d.RoleDetailList, roleFrom(r))
		}
		for _, p := range out.Policies {
			d.Policies = append(d.Policies, policyFrom(p))
		}
		if !out.IsTruncated {
			return d, nil
		}
		if out.Marker == "" || out.Marker == marker {
			return nil, fmt.Errorf("GetAccountAuthorizationDetails: truncated without a new marker")
		}
		marker = out.Marker
	}
}

func userFrom(u iamapi.UserDetail) User {
	return User{
		Path: u.Path, UserName: u.UserName, UserID: u.UserId, Arn: u.Arn, CreateDate: u.CreateDate,
		UserPolicyList: inlineFrom(u.UserPolicyList), GroupList: nonNil(u.GroupList),
		AttachedManagedPolicies: attachedFrom(u.AttachedManagedPolicies), PermissionsBoundary: boundaryFrom(u.PermissionsBoundary),
		Tags: tagsFrom(u.Tags),
	}
}

func roleFrom(r iamapi.RoleDetail) Role {
	out := Role{
		Path: r.Path, RoleName: r.RoleName, RoleID: r.RoleId, Arn: r.Arn, CreateDate: r.CreateDate,
		AssumeRolePolicyDocument: Document(r.AssumeRolePolicyDocument), InstanceProfileList: []InstanceProfile{},
		RolePolicyList: inlineFrom(r.RolePolicyList), AttachedManagedPolicies: attachedFrom(r.AttachedManagedPolicies),
		PermissionsBoundary: boundaryFrom(r.PermissionsBoundary), Tags: tagsFrom(r.Tags),
	}
	if u := r.RoleLastUsed; u != nil {
		out.RoleLastUsed = &RoleLastUsed{Region: u.Region}
		if !u.LastUsedDate.IsZero() {
			t := u.LastUsedDate
			out.RoleLastUsed.LastUsedDate = &t
		}
	}
	for _, p := range r.InstanceProfileList {
		ip := InstanceProfile{
			Path: p.Path, InstanceProfileName: p.InstanceProfileName, InstanceProfileID: p.InstanceProfileId,
			Arn: p.Arn, CreateDate: p.CreateDate, Roles: []ProfileRole{}, Tags: tagsFrom(p.Tags),
		}
		for _, pr := range p.Roles {
			var msd int32
			if pr.MaxSessionDuration != nil {
				msd = *pr.MaxSessionDuration
			}
			ip.Roles = append(ip.Roles, ProfileRole{
				Path: pr.Path, RoleName: pr.RoleName, RoleID: pr.RoleId, Arn: pr.Arn, CreateDate: pr.CreateDate,
				AssumeRolePolicyDocument: Document(pr.AssumeRolePolicyDocument), Description: pr.Description, MaxSessionDuration: msd,
			})
		}
		out.InstanceProfileList = append(out.InstanceProfileList, ip)
	}
	return out
}

func policyFrom(p iamapi.ManagedPolicyDetail) Policy {
	out := Policy{
		PolicyName: p.PolicyName, PolicyID: p.PolicyId, Arn: p.Arn, Path: p.Path, DefaultVersionID: p.DefaultVersionId,
		AttachmentCount: deref(p.AttachmentCount), PermissionsBoundaryUsageCount: deref(p.PermissionsBoundaryUsageCount),
		IsAttachable: p.IsAttachable == nil || *p.IsAttachable, Description: p.Description,
		CreateDate: p.CreateDate, UpdateDate: p.UpdateDate, PolicyVersionList: []PolicyVersion{},
	}
	for _, v := range p.PolicyVersionList {
		out.PolicyVersionList = append(out.PolicyVersionList, PolicyVersion{
			Document: Document(v.Document), VersionID: v.VersionId,
			IsDefaultVersion: v.IsDefaultVersion != nil && *v.IsDefaultVersion, CreateDate: v.CreateDate,
		})
	}
	return out
}

func inlineFrom(list []iamapi.PolicyDetail) []InlinePolicy {
	out := make([]InlinePolicy, len(list))
	for i, p := range list {
		out[i] = InlinePolicy{PolicyName: p.PolicyName, PolicyDocument: Document(p.PolicyDocument)}
	}
	return out
}

func attachedFrom(list []iamapi.AttachedPolicy) []AttachedPolicy {
	out := make([]AttachedPolicy, len(list))
	for i, p := range list {
		out[i] = AttachedPolicy{PolicyName: p.PolicyName, PolicyArn: p.PolicyArn}
	}
	return out
}

func boundaryFrom(b *iamapi.AttachedPermissionsBoundary) *Boundary {
	if b == nil || b.PermissionsBoundaryArn == "" {
		return nil
	}
	return &Boundary{PermissionsBoundaryType: b.PermissionsBoundaryType, PermissionsBoundaryArn: b.PermissionsBoundaryArn}
}

func tagsFrom(list []iamapi.Tag) []Tag {
	out := make([]Tag, len(list))
	for i, t := range list {
		out[i] = Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}
