package authdetails

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/iamd/iamd/internal/iamapi"
)

// Target is the part of the IAM API Import calls, for the account of the
// caller in ctx; *iamapi.Service implements it.
type Target interface {
	CreatePolicy(context.Context, *iamapi.CreatePolicyRequest) (*iamapi.CreatePolicyResponse, error)
	CreatePolicyVersion(context.Context, *iamapi.CreatePolicyVersionRequest) (*iamapi.CreatePolicyVersionResponse, error)
	CreateGroup(context.Context, *iamapi.CreateGroupRequest) (*iamapi.CreateGroupResponse, error)
	PutGroupPolicy(context.Context, *iamapi.PutGroupPolicyRequest) (*iamapi.PutGroupPolicyResponse, error)
	AttachGroupPolicy(context.Context, *iamapi.AttachGroupPolicyRequest) (*iamapi.AttachGroupPolicyResponse, error)
	CreateUser(context.Context, *iamapi.CreateUserRequest) (*iamapi.CreateUserResponse, error)
	PutUserPolicy(context.Context, *iamapi.PutUserPolicyRequest) (*iamapi.PutUserPolicyResponse, error)
	AttachUserPolicy(context.Context, *iamapi.AttachUserPolicyRequest) (*iamapi.AttachUserPolicyResponse, error)
	AddUserToGroup(context.Context, *iamapi.AddUserToGroupRequest) (*iamapi.AddUserToGroupResponse, error)
	CreateRole(context.Context, *iamapi.CreateRoleRequest) (*iamapi.CreateRoleResponse, error)
	PutRolePolicy(context.Context, *iamapi.PutRolePolicyRequest) (*iamapi.PutRolePolicyResponse, error)
	AttachRolePolicy(context.Context, *iamapi.AttachRolePolicyRequest) (*iamapi.AttachRolePolicyResponse, error)
	CreateInstanceProfile(context.Context, *iamapi.CreateInstanceProfileRequest) (*iamapi.CreateInstanceProfileResponse, error)
	AddRoleToInstanceProfile(context.Context, *iamapi.AddRoleToInstanceProfileRequest) (*iamapi.AddRoleToInstanceProfileResponse, error)
}

// Validator checks an operation's parameters as the Query API does and
// decodes them into its input struct; *awsquery.Dispatcher implements it.
type Validator interface {
	Decode(action string, form url.Values) (any, error)
}

// Options configures Import.
type Options struct {
	// Validator, when set, checks every request as the Query API would
	// (names, paths, lengths) before Target sees it: a hand-edited file
	// then fails with the API's ValidationError.
	Validator Validator
}

// Stats counts what Import created.
type Stats struct {
	Policies, PolicyVersions, Groups, Users, Roles, InstanceProfiles int
}

// Import creates the entities of d in account (the caller's account in
// ctx): customer-managed policies with their versions, then groups, users
// (with their group memberships) and roles with their inline policies,
// attachments, boundaries, tags and instance profiles. References to the
// exported account's managed policies are rewritten to account's; policy
// documents are imported as they are. It stops at the first error, naming
// the entity; what was created before stays.
func Import(ctx context.Context, t Target, account string, d *Details, opts Options) (Stats, error) {
	im := &importer{t: t, v: opts.Validator, src: sourceAccount(d), dst: account}
	if err := im.run(ctx, d); err != nil {
		return im.stats, err
	}
	return im.stats, nil
}

type importer struct {
	t        Target
	v        Validator
	src, dst string
	stats    Stats
}

// call validates req as action's input (if a Validator is set) and passes
// it to fn.
func call[In, Out any](ctx context.Context, im *importer, action string, req *In, fn func(context.Context, *In) (*Out, error)) error {
	if im.v != nil {
		in, err := im.v.Decode(action, formOf(req))
		if err != nil {
			return err
		}
		req = in.(*In)
	}
	_, err := fn(ctx, req)
	return err
}

func (im *importer) run(ctx context.Context, d *Details) error {
	for _, p := range d.Policies {
		if !im.local(p.Arn) {
			continue // AWS-managed: every account has it
		}
		if err := im.policy(ctx, p); err != nil {
			return fmt.Errorf("policy %s: %w", p.PolicyName, err)
		}
	}
	for _, g := range d.GroupDetailList {
		if err := im.group(ctx, g); err != nil {
			return fmt.Errorf("group %s: %w", g.GroupName, err)
		}
	}
	for _, u := range d.UserDetailList {
		if err := im.user(ctx, u); err != nil {
			return fmt.Errorf("user %s: %w", u.UserName, err)
		}
	}
	profiles := map[string]bool{}
	for _, r := range d.RoleDetailList {
		if err := im.role(ctx, r, profiles); err != nil {
			return fmt.Errorf("role %s: %w", r.RoleName, err)
		}
	}
	return nil
}

func (im *importer) policy(ctx context.Context, p Policy) error {
	versions := slices.Clone(p.PolicyVersionList)
	if len(versions) == 0 {
		return fmt.Errorf("no versions")
	}
	// Oldest first: by creation, then by version number.
	slices.SortStableFunc(versions, func(a, b PolicyVersion) int {
		if c := a.CreateDate.Compare(b.CreateDate); c != 0 {
			return c
		}
		return cmp.Compare(versionNumber(a.VersionID), versionNumber(b.VersionID))
	})
	err := call(ctx, im, "CreatePolicy", &iamapi.CreatePolicyRequest{
		PolicyName: p.PolicyName, Path: p.Path, PolicyDocument: string(versions[0].Document), Description: p.Description,
	}, im.t.CreatePolicy)
	if err != nil {
		return err
	}
	im.stats.Policies++
	im.stats.PolicyVersions++
	arn := im.rewrite(p.Arn)
	for _, v := range versions[1:] {
		def := v.IsDefaultVersion
		if err := call(ctx, im, "CreatePolicyVersion", &iamapi.CreatePolicyVersionRequest{
			PolicyArn: arn, PolicyDocument: string(v.Document), SetAsDefault: &def,
		}, im.t.CreatePolicyVersion); err != nil {
			return fmt.Errorf("version %s: %w", v.VersionID, err)
		}
		im.stats.PolicyVersions++
	}
	return nil
}

func (im *importer) group(ctx context.Context, g Group) error {
	if err := call(ctx, im, "CreateGroup", &iamapi.CreateGroupRequest{Path: g.Path, GroupName: g.GroupName}, im.t.CreateGroup); err != nil {
		return err
	}
	im.stats.Groups++
	for _, p := range g.GroupPolicyList {
		if err := call(ctx, im, "PutGroupPolicy", &iamapi.PutGroupPolicyRequest{
			GroupName: g.GroupName, PolicyName: p.PolicyName, PolicyDocument: string(p.PolicyDocument),
		}, im.t.PutGroupPolicy); err != nil {
			return fmt.Errorf("inline policy %s: %w", p.PolicyName, err)
		}
	}
	for _, a := range g.AttachedManagedPolicies {
		if err := call(ctx, im, "AttachGroupPolicy", &iamapi.AttachGroupPolicyRequest{
			GroupName: g.GroupName, PolicyArn: im.rewrite(a.PolicyArn),
		}, im.t.AttachGroupPolicy); err != nil {
			return fmt.Errorf("attach %s: %w", a.PolicyArn, err)
		}
	}
	return nil
}

func (im *importer) user(ctx context.Context, u User) error {
	req := &iamapi.CreateUserRequest{Path: u.Path, UserName: u.UserName, Tags: tagsTo(u.Tags)}
	if u.PermissionsBoundary != nil {
		req.PermissionsBoundary = im.rewrite(u.PermissionsBoundary.PermissionsBoundaryArn)
	}
	if err := call(ctx, im, "CreateUser", req, im.t.CreateUser); err != nil {
		return err
	}
	im.stats.Users++
	for _, p := range u.UserPolicyList {
		if err := call(ctx, im, "PutUserPolicy", &iamapi.PutUserPolicyRequest{
			UserName: u.UserName, PolicyName: p.PolicyName, PolicyDocument: string(p.PolicyDocument),
		}, im.t.PutUserPolicy); err != nil {
			return fmt.Errorf("inline policy %s: %w", p.PolicyName, err)
		}
	}
	for _, a := range u.AttachedManagedPolicies {
		if err := call(ctx, im, "AttachUserPolicy", &iamapi.AttachUserPolicyRequest{
			UserName: u.UserName, PolicyArn: im.rewrite(a.PolicyArn),
		}, im.t.AttachUserPolicy); err != nil {
			return fmt.Errorf("attach %s: %w", a.PolicyArn, err)
		}
	}
	for _, g := range u.GroupList {
		if err := call(ctx, im, "AddUserToGroup", &iamapi.AddUserToGroupRequest{GroupName: g, UserName: u.UserName}, im.t.AddUserToGroup); err != nil {
			return fmt.Errorf("add to group %s: %w", g, err)
		}
	}
	return nil
}

func (im *importer) role(ctx context.Context, r Role, profiles map[string]bool) error {
	req := &iamapi.CreateRoleRequest{
		Path: r.Path, RoleName: r.RoleName, AssumeRolePolicyDocument: string(r.AssumeRolePolicyDocument), Tags: tagsTo(r.Tags),
	}
	if r.PermissionsBoundary != nil {
		req.PermissionsBoundary = im.rewrite(r.PermissionsBoundary.PermissionsBoundaryArn)
	}
	// RoleDetail lacks the description and session duration, but an
	// instance profile's copy of the role has them.
	for _, p := range r.InstanceProfileList {
		for _, pr := range p.Roles {
			if pr.RoleName == r.RoleName {
				req.Description = pr.Description
				if pr.MaxSessionDuration > 0 {
					msd := pr.MaxSessionDuration
					req.MaxSessionDuration = &msd
				}
			}
		}
	}
	if err := call(ctx, im, "CreateRole", req, im.t.CreateRole); err != nil {
		return err
	}
	im.stats.Roles++
	for _, p := range r.RolePolicyList {
		if err := call(ctx, im, "PutRolePolicy", &iamapi.PutRolePolicyRequest{
			RoleName: r.RoleName, PolicyName: p.PolicyName, PolicyDocument: string(p.PolicyDocument),
		}, im.t.PutRolePolicy); err != nil {
			return fmt.Errorf("inline policy %s: %w", p.PolicyName, err)
		}
	}
	for _, a := range r.AttachedManagedPolicies {
		if err := call(ctx, im, "AttachRolePolicy", &iamapi.AttachRolePolicyRequest{
			RoleName: r.RoleName, PolicyArn: im.rewrite(a.PolicyArn),
		}, im.t.AttachRolePolicy); err != nil {
			return fmt.Errorf("attach %s: %w", a.PolicyArn, err)
		}
	}
	for _, p := range r.InstanceProfileList {
		if !profiles[p.InstanceProfileName] {
			if err := call(ctx, im, "CreateInstanceProfile", &iamapi.CreateInstanceProfileRequest{
				InstanceProfileName: p.InstanceProfileName, Path: p.Path, Tags: tagsTo(p.Tags),
			}, im.t.CreateInstanceProfile); err != nil {
				return fmt.Errorf("instance profile %s: %w", p.InstanceProfileName, err)
			}
			profiles[p.InstanceProfileName] = true
			im.stats.InstanceProfiles++
		}
		if err := call(ctx, im, "AddRoleToInstanceProfile", &iamapi.AddRoleToInstanceProfileRequest{
			InstanceProfileName: p.InstanceProfileName, RoleName: r.RoleName,
		}, im.t.AddRoleToInstanceProfile); err != nil {
			return fmt.Errorf("instance profile %s: %w", p.InstanceProfileName, err)
		}
	}
	return nil
}

// sourceAccount returns the account the details were exported from, read
// from the first ARN that names one.
func sourceAccount(d *Details) string {
	var arns []string
	for _, u := range d.UserDetailList {
		arns = append(arns, u.Arn)
	}
	for _, g := range d.GroupDetailList {
		arns = append(arns, g.Arn)
	}
	for _, r := range d.RoleDetailList {
		arns = append(arns, r.Arn)
	}
	for _, p := range d.Policies {
		arns = append(arns, p.Arn)
	}
	for _, a := range arns {
		if acct := arnAccount(a); acct != "" && acct != "aws" {
			return acct
		}
	}
	return ""
}

// arnAccount returns the account field of an ARN.
func arnAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return ""
	}
	return parts[4]
}

// local reports whether a policy ARN names a customer-managed policy of the
// exported account.
func (im *importer) local(arn string) bool {
	a := arnAccount(arn)
	return a != "aws" && (a == im.src || im.src == "")
}

// rewrite points an ARN of the exported account at the target account.
func (im *importer) rewrite(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[4] != im.src || im.src == "" {
		return arn
	}
	parts[4] = im.dst
	return strings.Join(parts, ":")
}

// versionNumber returns N of a version ID "vN".
func versionNumber(id string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(id, "v"))
	return n
}

func tagsTo(list []Tag) []iamapi.Tag {
	if len(list) == 0 {
		return nil
	}
	out := make([]iamapi.Tag, len(list))
	for i, t := range list {
		out[i] = iamapi.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

// formOf encodes a request struct as Query API form values, as an SDK
// would: strings and numbers by member name, lists as Name.member.N, and
// structures in lists as Name.member.N.Field.
func formOf(req any) url.Values {
	form := url.Values{}
	encodeForm(form, "", reflect.ValueOf(req).Elem())
	return form
}

func encodeForm(form url.Values, prefix string, v reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		if !f.IsExported() {
			continue
		}
		key := prefix + f.Name
		switch fv.Kind() {
		case reflect.String:
			if fv.Len() > 0 {
				form.Set(key, fv.String())
			}
		case reflect.Pointer:
			if fv.IsNil() {
				continue
			}
			switch e := fv.Elem(); e.Kind() {
			case reflect.Bool:
				form.Set(key, strconv.FormatBool(e.Bool()))
			case reflect.Int32, reflect.Int64, reflect.Int:
				form.Set(key, strconv.FormatInt(e.Int(), 10))
			}
		case reflect.Bool:
			form.Set(key, strconv.FormatBool(fv.Bool()))
		case reflect.Slice:
			for j := range fv.Len() {
				ek := key + ".member." + strconv.Itoa(j+1)
				switch e := fv.Index(j); e.Kind() {
				case reflect.String:
					form.Set(ek, e.String())
				case reflect.Struct:
					encodeForm(form, ek+".", e)
				}
			}
		}
	}
}
