package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
)

const ec2Trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

var (
	roleIDPattern     = regexp.MustCompile(`^AROA[A-Z2-7]{17}$`)
	profileIDPattern  = regexp.MustCompile(`^AIPA[A-Z2-7]{17}$`)
	deletionTaskRegex = regexp.MustCompile(`^task/aws-service-role/autoscaling\.amazonaws\.com/AWSServiceRoleForAutoScaling/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

// wantRoleError fails the test unless err is an API error with code and,
// when message is not empty, that message.
func wantRoleError(t *testing.T, err error, code, message string) {
	t.Helper()
	wantCode(t, err, code)
	var ae smithy.APIError
	if message != "" && errors.As(err, &ae) && ae.ErrorMessage() != message {
		t.Fatalf("%s message = %q, want %q", code, ae.ErrorMessage(), message)
	}
}

func createRole(t *testing.T, c *iam.Client, name, path, trust string) *types.Role {
	t.Helper()
	in := &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)}
	if path != "" {
		in.Path = aws.String(path)
	}
	out, err := c.CreateRole(context.Background(), in)
	must(t, err)
	return out.Role
}

// trustOf decodes the URL-encoded trust policy IAM returns.
func trustOf(t *testing.T, r *types.Role) map[string]any {
	t.Helper()
	doc, err := url.QueryUnescape(aws.ToString(r.AssumeRolePolicyDocument))
	must(t, err)
	var m map[string]any
	must(t, json.Unmarshal([]byte(doc), &m))
	return m
}

func TestRolesLifecycle(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()

	created, err := c.CreateRole(ctx, &iam.CreateRoleInput{
		RoleName:                 aws.String("app"),
		Path:                     aws.String("/svc/"),
		AssumeRolePolicyDocument: aws.String(ec2Trust),
		Description:              aws.String("the app"),
		Tags:                     []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}},
	})
	must(t, err)
	r := created.Role
	if got, want := aws.ToString(r.Arn), "arn:aws:iam::123456789012:role/svc/app"; got != want {
		t.Errorf("Arn = %s, want %s", got, want)
	}
	if !roleIDPattern.MatchString(aws.ToString(r.RoleId)) {
		t.Errorf("RoleId = %s", aws.ToString(r.RoleId))
	}
	if aws.ToInt32(r.MaxSessionDuration) != 3600 || aws.ToString(r.Description) != "the app" || len(r.Tags) != 1 {
		t.Errorf("CreateRole = %+v", r)
	}

	_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("APP"), AssumeRolePolicyDocument: aws.String(ec2Trust)})
	wantRoleError(t, err, "EntityAlreadyExists", "Role with name APP already exists.")

	got, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("app")})
	must(t, err)
	if trust := trustOf(t, got.Role); trust["Version"] != "2012-10-17" {
		t.Errorf("trust policy = %v", trust)
	}
	if got.Role.RoleLastUsed == nil || got.Role.RoleLastUsed.LastUsedDate != nil {
		t.Errorf("RoleLastUsed = %+v, want present and empty", got.Role.RoleLastUsed)
	}
	if aws.ToString(got.Role.RoleId) != aws.ToString(r.RoleId) || len(got.Role.Tags) != 1 {
		t.Errorf("GetRole = %+v", got.Role)
	}
	_, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("nobody")})
	wantRoleError(t, err, "NoSuchEntity", "The role with name nobody cannot be found.")

	_, err = c.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: aws.String("app"), MaxSessionDuration: aws.Int32(7200)})
	must(t, err)
	desc, err := c.UpdateRoleDescription(ctx, &iam.UpdateRoleDescriptionInput{RoleName: aws.String("app"), Description: aws.String("new")})
	must(t, err)
	if aws.ToString(desc.Role.Description) != "new" || aws.ToInt32(desc.Role.MaxSessionDuration) != 7200 {
		t.Errorf("UpdateRoleDescription = %+v", desc.Role)
	}
	_, err = c.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: aws.String("app"), MaxSessionDuration: aws.Int32(43201)})
	wantCode(t, err, "ValidationError")

	lambdaTrust := strings.ReplaceAll(ec2Trust, "ec2.amazonaws.com", "lambda.amazonaws.com")
	_, err = c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("app"), PolicyDocument: aws.String(lambdaTrust)})
	must(t, err)
	got, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("app")})
	must(t, err)
	if !strings.Contains(aws.ToString(got.Role.AssumeRolePolicyDocument), "lambda.amazonaws.com") {
		t.Errorf("trust policy after update = %s", aws.ToString(got.Role.AssumeRolePolicyDocument))
	}

	_, err = c.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String("app"), Tags: []types.Tag{
		{Key: aws.String("b"), Value: aws.String("2")}, {Key: aws.String("TEAM"), Value: aws.String("z")},
	}})
	must(t, err)
	_, err = c.UntagRole(ctx, &iam.UntagRoleInput{RoleName: aws.String("app"), TagKeys: []string{"b"}})
	must(t, err)
	tags, err := c.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: aws.String("app")})
	must(t, err)
	if len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "TEAM" || aws.ToString(tags.Tags[0].Value) != "z" {
		t.Errorf("ListRoleTags = %+v", tags.Tags)
	}

	createRole(t, c, "other", "", ec2Trust)
	list, err := c.ListRoles(ctx, &iam.ListRolesInput{PathPrefix: aws.String("/svc/")})
	must(t, err)
	if len(list.Roles) != 1 || aws.ToString(list.Roles[0].RoleName) != "app" {
		t.Fatalf("ListRoles(/svc/) = %+v", list.Roles)
	}
	if l := list.Roles[0]; l.Tags != nil || l.RoleLastUsed != nil || aws.ToInt32(l.MaxSessionDuration) != 7200 || l.AssumeRolePolicyDocument == nil {
		t.Errorf("ListRoles entry = %+v, want no tags or last use, with session duration and trust policy", l)
	}

	_, err = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("app")})
	must(t, err)
	_, err = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("app")})
	wantRoleError(t, err, "NoSuchEntity", "The role with name app cannot be found.")
}

func TestListRolesPagination(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	for _, n := range []string{"r5", "r1", "r3", "r2", "r4"} {
		createRole(t, c, n, "", ec2Trust)
	}
	var names []string
	p := iam.NewListRolesPaginator(c, &iam.ListRolesInput{MaxItems: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		must(t, err)
		for _, r := range page.Roles {
			names = append(names, aws.ToString(r.RoleName))
		}
	}
	if strings.Join(names, ",") != "r1,r2,r3,r4,r5" {
		t.Errorf("names = %v", names)
	}
}

func TestCreateRoleValidation(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice"), Path: aws.String("/eng/")})
	must(t, err)

	trustFor := func(principal string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + principal + `"},"Action":"sts:AssumeRole"}]}`
	}
	big := `{"Version":"2012-10-17","Statement":[{"Sid":"` + strings.Repeat("a", 2100) + `","Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	tests := []struct {
		name     string
		in       iam.CreateRoleInput
		code     string
		message  string
		succeeds bool
	}{
		{name: "not JSON", in: iam.CreateRoleInput{AssumeRolePolicyDocument: aws.String("{not json")}, code: "MalformedPolicyDocument"},
		{name: "resource in trust policy", in: iam.CreateRoleInput{AssumeRolePolicyDocument: aws.String(
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Resource":"*"}]}`)},
			code: "MalformedPolicyDocument"},
		{name: "too large", in: iam.CreateRoleInput{AssumeRolePolicyDocument: aws.String(big)},
			code: "LimitExceeded", message: "Cannot exceed quota for ACLSizePerRole: 2048"},
		{name: "session too short", in: iam.CreateRoleInput{AssumeRolePolicyDocument: aws.String(ec2Trust), MaxSessionDuration: aws.Int32(100)},
			code: "ValidationError"},
		{name: "missing boundary", in: iam.CreateRoleInput{AssumeRolePolicyDocument: aws.String(ec2Trust),
			PermissionsBoundary: aws.String("arn:aws:iam::123456789012:policy/nope")},
			code: "NoSuchEntity", message: "Scope ARN: arn:aws:iam::123456789012:policy/nope does not exist or is not attachable."},
		{name: "unknown user principal", in: iam.CreateRoleInput{AssumeRolePolicyDocument: aws.String(trustFor("arn:aws:iam::123456789012:user/bob"))},
			code: "MalformedPolicyDocument", message: `Invalid principal in policy: "AWS":"arn:aws:iam::123456789012:user/bob"`},
		{name: "user principal with wrong path", in: iam.CreateRoleInput{AssumeRolePolicyDocument: aws.String(trustFor("arn:aws:iam::123456789012:user/alice"))},
			code: "MalformedPolicyDocument"},
		{name: "existing user principal", in: iam.CreateRoleInput{AssumeRolePolicyDocument: aws.String(trustFor("arn:aws:iam::123456789012:user/eng/alice"))},
			succeeds: true},
		{name: "account principal", in: iam.CreateRoleInput{AssumeRolePolicyDocument: aws.String(trustFor("123456789012"))}, succeeds: true},
		{name: "foreign account user", in: iam.CreateRoleInput{AssumeRolePolicyDocument: aws.String(trustFor("arn:aws:iam::210987654321:user/x"))}, succeeds: true},
		{name: "AWS-managed boundary", in: iam.CreateRoleInput{AssumeRolePolicyDocument: aws.String(ec2Trust),
			PermissionsBoundary: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess"), MaxSessionDuration: aws.Int32(43200)}, succeeds: true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.RoleName = aws.String("role" + string(rune('a'+i)))
			out, err := c.CreateRole(ctx, &in)
			if tc.succeeds {
				must(t, err)
				if in.PermissionsBoundary != nil && aws.ToString(out.Role.PermissionsBoundary.PermissionsBoundaryArn) != aws.ToString(in.PermissionsBoundary) {
					t.Errorf("PermissionsBoundary = %+v", out.Role.PermissionsBoundary)
				}
				return
			}
			wantRoleError(t, err, tc.code, tc.message)
			_, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: in.RoleName})
			wantCode(t, err, "NoSuchEntity")
		})
	}
}

func TestInstanceProfiles(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	role := createRole(t, c, "web", "", ec2Trust)
	createRole(t, c, "db", "", ec2Trust)

	out, err := c.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{
		InstanceProfileName: aws.String("web-profile"), Path: aws.String("/app/"),
		Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}},
	})
	must(t, err)
	ip := out.InstanceProfile
	if aws.ToString(ip.Arn) != "arn:aws:iam::123456789012:instance-profile/app/web-profile" || !profileIDPattern.MatchString(aws.ToString(ip.InstanceProfileId)) || len(ip.Roles) != 0 {
		t.Errorf("CreateInstanceProfile = %+v", ip)
	}
	_, err = c.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("WEB-PROFILE")})
	wantRoleError(t, err, "EntityAlreadyExists", "Instance Profile WEB-PROFILE already exists.")
	_, err = c.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String("nope")})
	wantRoleError(t, err, "NoSuchEntity", "Instance Profile nope cannot be found.")

	_, err = c.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String("web-profile"), RoleName: aws.String("ghost")})
	wantRoleError(t, err, "NoSuchEntity", "The role with name ghost cannot be found.")
	_, err = c.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String("web-profile"), RoleName: aws.String("web")})
	must(t, err)
	for _, again := range []string{"web", "db"} {
		_, err = c.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String("web-profile"), RoleName: aws.String(again)})
		wantRoleError(t, err, "LimitExceeded", "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1")
	}

	got, err := c.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String("web-profile")})
	must(t, err)
	if len(got.InstanceProfile.Roles) != 1 || aws.ToString(got.InstanceProfile.Roles[0].RoleId) != aws.ToString(role.RoleId) ||
		aws.ToString(got.InstanceProfile.Roles[0].Arn) != aws.ToString(role.Arn) || len(got.InstanceProfile.Tags) != 1 {
		t.Fatalf("GetInstanceProfile = %+v", got.InstanceProfile)
	}
	if trustOf(t, &got.InstanceProfile.Roles[0])["Statement"] == nil {
		t.Errorf("embedded role has no trust policy")
	}

	_, err = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("web")})
	wantRoleError(t, err, "DeleteConflict", "Cannot delete entity, must remove roles from instance profile first.")
	_, err = c.DeleteInstanceProfile(ctx, &iam.DeleteInstanceProfileInput{InstanceProfileName: aws.String("web-profile")})
	wantRoleError(t, err, "DeleteConflict", "Cannot delete entity, must remove roles from instance profile first.")

	forRole, err := c.ListInstanceProfilesForRole(ctx, &iam.ListInstanceProfilesForRoleInput{RoleName: aws.String("web")})
	must(t, err)
	if len(forRole.InstanceProfiles) != 1 || aws.ToString(forRole.InstanceProfiles[0].InstanceProfileName) != "web-profile" {
		t.Errorf("ListInstanceProfilesForRole = %+v", forRole.InstanceProfiles)
	}
	_, err = c.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("spare")})
	must(t, err)
	all, err := c.ListInstanceProfiles(ctx, &iam.ListInstanceProfilesInput{})
	must(t, err)
	if len(all.InstanceProfiles) != 2 || aws.ToString(all.InstanceProfiles[0].InstanceProfileName) != "spare" ||
		len(all.InstanceProfiles[1].Roles) != 1 || all.InstanceProfiles[1].Tags != nil {
		t.Errorf("ListInstanceProfiles = %+v", all.InstanceProfiles)
	}
	byPath, err := c.ListInstanceProfiles(ctx, &iam.ListInstanceProfilesInput{PathPrefix: aws.String("/app/")})
	must(t, err)
	if len(byPath.InstanceProfiles) != 1 {
		t.Errorf("ListInstanceProfiles(/app/) = %+v", byPath.InstanceProfiles)
	}

	_, err = c.TagInstanceProfile(ctx, &iam.TagInstanceProfileInput{InstanceProfileName: aws.String("web-profile"), Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("1")}}})
	must(t, err)
	_, err = c.UntagInstanceProfile(ctx, &iam.UntagInstanceProfileInput{InstanceProfileName: aws.String("web-profile"), TagKeys: []string{"K"}})
	must(t, err)
	ptags, err := c.ListInstanceProfileTags(ctx, &iam.ListInstanceProfileTagsInput{InstanceProfileName: aws.String("web-profile")})
	must(t, err)
	if len(ptags.Tags) != 1 || aws.ToString(ptags.Tags[0].Key) != "a" {
		t.Errorf("ListInstanceProfileTags = %+v", ptags.Tags)
	}

	_, err = c.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{InstanceProfileName: aws.String("web-profile"), RoleName: aws.String("db")})
	wantCode(t, err, "NoSuchEntity")
	_, err = c.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{InstanceProfileName: aws.String("web-profile"), RoleName: aws.String("web")})
	must(t, err)
	forRole, err = c.ListInstanceProfilesForRole(ctx, &iam.ListInstanceProfilesForRoleInput{RoleName: aws.String("web")})
	must(t, err)
	if len(forRole.InstanceProfiles) != 0 {
		t.Errorf("ListInstanceProfilesForRole after removal = %+v", forRole.InstanceProfiles)
	}
	_, err = c.DeleteInstanceProfile(ctx, &iam.DeleteInstanceProfileInput{InstanceProfileName: aws.String("web-profile")})
	must(t, err)
	_, err = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("web")})
	must(t, err)
}

func TestRoleDeleteConflicts(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	createRole(t, c, "busy", "", ec2Trust)
	_, err := c.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("p")})
	must(t, err)
	_, err = c.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String("p"), RoleName: aws.String("busy")})
	must(t, err)
	_, err = c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("busy"), PolicyArn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")})
	must(t, err)
	_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("busy"), PolicyName: aws.String("inline"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)})
	must(t, err)

	steps := []struct {
		message string
		clear   func() error
	}{
		{"Cannot delete entity, must remove roles from instance profile first.", func() error {
			_, err := c.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{InstanceProfileName: aws.String("p"), RoleName: aws.String("busy")})
			return err
		}},
		{"Cannot delete entity, must detach all policies first.", func() error {
			_, err := c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("busy"), PolicyArn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")})
			return err
		}},
		{"Cannot delete entity, must delete policies first.", func() error {
			_, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("busy"), PolicyName: aws.String("inline")})
			return err
		}},
	}
	for _, st := range steps {
		_, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("busy")})
		wantRoleError(t, err, "DeleteConflict", st.message)
		must(t, st.clear())
	}
	_, err = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("busy")})
	must(t, err)
}

// TestAddRoleToInstanceProfileRacesDeleteRole checks that a role is never
// left deleted inside an instance profile, nor an add lost.
func TestAddRoleToInstanceProfileRacesDeleteRole(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	for i := range 10 {
		name := "racer" + string(rune('a'+i))
		createRole(t, c, name, "", ec2Trust)
		_, err := c.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String(name)})
		must(t, err)
		var wg sync.WaitGroup
		var addErr, delErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, addErr = c.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String(name), RoleName: aws.String(name)})
		}()
		go func() {
			defer wg.Done()
			_, delErr = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String(name)})
		}()
		wg.Wait()
		got, err := c.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(name)})
		must(t, err)
		_, roleErr := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
		switch {
		case addErr == nil && delErr == nil:
			t.Fatalf("both the add and the delete of %s succeeded: profile %+v, GetRole err %v", name, got.InstanceProfile.Roles, roleErr)
		case addErr == nil:
			wantCode(t, delErr, "DeleteConflict")
			if len(got.InstanceProfile.Roles) != 1 || roleErr != nil {
				t.Fatalf("after add won: profile roles %d, GetRole err %v", len(got.InstanceProfile.Roles), roleErr)
			}
		default:
			wantCode(t, addErr, "NoSuchEntity")
			if len(got.InstanceProfile.Roles) != 0 || errCode(roleErr) != "NoSuchEntity" {
				t.Fatalf("after delete won: profile roles %d, GetRole err %v", len(got.InstanceProfile.Roles), roleErr)
			}
		}
	}
}

func TestServiceLinkedRoles(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()

	out, err := c.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String("autoscaling.amazonaws.com"), Description: aws.String("d")})
	must(t, err)
	r := out.Role
	if aws.ToString(r.RoleName) != "AWSServiceRoleForAutoScaling" || aws.ToString(r.Path) != "/aws-service-role/autoscaling.amazonaws.com/" ||
		aws.ToString(r.Arn) != "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling" ||
		aws.ToString(r.Description) != "d" {
		t.Errorf("CreateServiceLinkedRole = %+v", r)
	}
	trust, _ := json.Marshal(trustOf(t, r))
	if !strings.Contains(string(trust), `"Service":["autoscaling.amazonaws.com"]`) {
		t.Errorf("trust policy = %s", trust)
	}
	if attached, err := c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: r.RoleName}); err == nil {
		if len(attached.AttachedPolicies) != 1 || aws.ToString(attached.AttachedPolicies[0].PolicyArn) != "arn:aws:iam::aws:policy/aws-service-role/AutoScalingServiceRolePolicy" {
			t.Errorf("attached policies = %+v", attached.AttachedPolicies)
		}
	}

	_, err = c.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String("autoscaling.amazonaws.com")})
	wantRoleError(t, err, "InvalidInput", "Service role name AWSServiceRoleForAutoScaling has been taken in this account, please try a different suffix.")
	suffixed, err := c.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String("autoscaling.amazonaws.com"), CustomSuffix: aws.String("blue")})
	must(t, err)
	if aws.ToString(suffixed.Role.RoleName) != "AWSServiceRoleForAutoScaling_blue" {
		t.Errorf("suffixed role = %s", aws.ToString(suffixed.Role.RoleName))
	}
	_, err = c.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String("ecs.amazonaws.com"), CustomSuffix: aws.String("x")})
	wantRoleError(t, err, "InvalidInput", "Custom suffix is not allowed for ecs.amazonaws.com")
	// A principal of no service with a service-linked role is refused,
	// not given a role name made up from it.
	_, err = c.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String("example-thing.amazonaws.com")})
	wantRoleError(t, err, "InvalidInput", "Invalid service name example-thing.amazonaws.com.")
	if _, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("AWSServiceRoleForExampleThing")}); errCode(err) != "NoSuchEntity" {
		t.Errorf("GetRole(AWSServiceRoleForExampleThing) = %v, want NoSuchEntity", err)
	}
	// An AWS service the table of role names does not list still has its
	// service-linked role, named after its principal.
	lex, err := c.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String("lex.amazonaws.com")})
	must(t, err)
	if got := aws.ToString(lex.Role.RoleName); got != "AWSServiceRoleForLex" || aws.ToString(lex.Role.Path) != "/aws-service-role/lex.amazonaws.com/" {
		t.Errorf("lex.amazonaws.com's role = %s at %s", got, aws.ToString(lex.Role.Path))
	}
	custom, err := c.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String("custom-resource.application-autoscaling.amazonaws.com")})
	must(t, err)
	if aws.ToString(custom.Role.RoleName) != "AWSServiceRoleForApplicationAutoScaling_CustomResource" {
		t.Errorf("custom-resource role = %s", aws.ToString(custom.Role.RoleName))
	}
	if attached, err := c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: custom.Role.RoleName}); err != nil ||
		len(attached.AttachedPolicies) != 1 || aws.ToString(attached.AttachedPolicies[0].PolicyArn) != "arn:aws:iam::aws:policy/aws-service-role/AWSApplicationAutoScalingCustomResourcePolicy" {
		t.Errorf("custom-resource role's policies = %+v, %v", attached, err)
	}

	protected := "Cannot perform the operation on the protected role 'AWSServiceRoleForAutoScaling' - this role is only modifiable by AWS"
	_, err = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: r.RoleName})
	wantRoleError(t, err, "UnmodifiableEntity", protected)
	_, err = c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: r.RoleName, PolicyDocument: aws.String(ec2Trust)})
	wantRoleError(t, err, "UnmodifiableEntity", protected)
	_, err = c.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: r.RoleName, MaxSessionDuration: aws.Int32(7200)})
	wantCode(t, err, "UnmodifiableEntity")
	_, err = c.UpdateRoleDescription(ctx, &iam.UpdateRoleDescriptionInput{RoleName: r.RoleName, Description: aws.String("edited")})
	must(t, err)

	createRole(t, c, "plain", "", ec2Trust)
	_, err = c.DeleteServiceLinkedRole(ctx, &iam.DeleteServiceLinkedRoleInput{RoleName: aws.String("plain")})
	wantCode(t, err, "NoSuchEntity")

	del, err := c.DeleteServiceLinkedRole(ctx, &iam.DeleteServiceLinkedRoleInput{RoleName: r.RoleName})
	must(t, err)
	task := aws.ToString(del.DeletionTaskId)
	if !deletionTaskRegex.MatchString(task) {
		t.Fatalf("DeletionTaskId = %s", task)
	}
	status, err := c.GetServiceLinkedRoleDeletionStatus(ctx, &iam.GetServiceLinkedRoleDeletionStatusInput{DeletionTaskId: aws.String(task)})
	must(t, err)
	if status.Status != types.DeletionTaskStatusTypeSucceeded {
		t.Errorf("Status = %s", status.Status)
	}
	_, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: r.RoleName})
	wantCode(t, err, "NoSuchEntity")

	forged := task[:len(task)-12] + "000000000000"
	_, err = c.GetServiceLinkedRoleDeletionStatus(ctx, &iam.GetServiceLinkedRoleDeletionStatusInput{DeletionTaskId: aws.String(forged)})
	wantCode(t, err, "NoSuchEntity")
	_, err = c.GetServiceLinkedRoleDeletionStatus(ctx, &iam.GetServiceLinkedRoleDeletionStatusInput{DeletionTaskId: aws.String("task/nonsense")})
	wantCode(t, err, "InvalidInput")
}

// TestAddRoleToInstanceProfileNeedsPassRole checks that adding a role to an
// instance profile also needs iam:PassRole on the role, as in AWS.
func TestAddRoleToInstanceProfileNeedsPassRole(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	createRole(t, c, "worker", "", ec2Trust)
	_, err := c.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("wp")})
	must(t, err)

	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("ops")})
	must(t, err)
	grant := func(actions ...string) {
		doc, _ := json.Marshal(map[string]any{
			"Version":   "2012-10-17",
			"Statement": []map[string]any{{"Effect": "Allow", "Action": actions, "Resource": "*"}},
		})
		_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("ops"), PolicyName: aws.String("p"), PolicyDocument: aws.String(string(doc))})
		must(t, err)
	}
	grant("iam:AddRoleToInstanceProfile")
	key, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("ops")})
	must(t, err)
	ops := e.iam(aws.Credentials{AccessKeyID: aws.ToString(key.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(key.AccessKey.SecretAccessKey)})

	add := &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String("wp"), RoleName: aws.String("worker")}
	eventually(t, 5*time.Second, func() error {
		_, err := ops.AddRoleToInstanceProfile(ctx, add)
		if errCode(err) != "AccessDenied" {
			return errors.New("want AccessDenied without iam:PassRole, got " + errCode(err))
		}
		if !strings.Contains(err.Error(), "iam:PassRole") {
			return errors.New("AccessDenied does not name iam:PassRole: " + err.Error())
		}
		return nil
	})
	grant("iam:AddRoleToInstanceProfile", "iam:PassRole")
	eventually(t, 5*time.Second, func() error {
		_, err := ops.AddRoleToInstanceProfile(ctx, add)
		return err
	})
}

func TestRolesCLI(t *testing.T) {
	e := start(t)
	dir := t.TempDir()
	trustFile := filepath.Join(dir, "trust.json")
	must(t, os.WriteFile(trustFile, []byte(`{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
  ]
}`), 0o600))
	badFile := filepath.Join(dir, "bad.json")
	must(t, os.WriteFile(badFile, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}`), 0o600))

	out, err := e.cli(e.root, "iam", "create-role", "--role-name", "cli-role", "--path", "/cli/",
		"--assume-role-policy-document", "file://"+trustFile, "--description", "from the CLI")
	must(t, err)
	var created struct{ Role struct{ Arn, RoleId string } }
	must(t, json.Unmarshal([]byte(out), &created))
	if created.Role.Arn != "arn:aws:iam::123456789012:role/cli/cli-role" || !roleIDPattern.MatchString(created.Role.RoleId) {
		t.Errorf("create-role = %s", out)
	}

	out, err = e.cli(e.root, "iam", "get-role", "--role-name", "cli-role")
	must(t, err)
	// The CLI decodes the URL-encoded trust policy and prints it as JSON.
	var got struct {
		Role struct {
			AssumeRolePolicyDocument struct {
				Version   string
				Statement []struct {
					Effect    string
					Principal map[string]string
					Action    string
				}
			}
			Description        string
			MaxSessionDuration int
			RoleLastUsed       map[string]any
		}
	}
	must(t, json.Unmarshal([]byte(out), &got))
	doc := got.Role.AssumeRolePolicyDocument
	if doc.Version != "2012-10-17" || len(doc.Statement) != 1 || doc.Statement[0].Principal["Service"] != "ec2.amazonaws.com" ||
		got.Role.Description != "from the CLI" || got.Role.MaxSessionDuration != 3600 || got.Role.RoleLastUsed == nil {
		t.Errorf("get-role = %s", out)
	}

	out, err = e.cli(e.root, "iam", "list-roles", "--path-prefix", "/cli/")
	must(t, err)
	if !strings.Contains(out, `"RoleName": "cli-role"`) {
		t.Errorf("list-roles = %s", out)
	}

	_, err = e.cli(e.root, "iam", "create-role", "--role-name", "bad", "--assume-role-policy-document", "file://"+badFile)
	if err == nil || !strings.Contains(err.Error(), "MalformedPolicyDocument") {
		t.Errorf("create-role with a trust policy without Principal: err = %v", err)
	}

	for _, args := range [][]string{
		{"create-instance-profile", "--instance-profile-name", "cli-profile"},
		{"add-role-to-instance-profile", "--instance-profile-name", "cli-profile", "--role-name", "cli-role"},
	} {
		_, err = e.cli(e.root, append([]string{"iam"}, args...)...)
		must(t, err)
	}
	out, err = e.cli(e.root, "iam", "get-instance-profile", "--instance-profile-name", "cli-profile")
	must(t, err)
	if !strings.Contains(out, `"RoleName": "cli-role"`) || !strings.Contains(out, `"Service": "ec2.amazonaws.com"`) {
		t.Errorf("get-instance-profile = %s", out)
	}
	_, err = e.cli(e.root, "iam", "delete-role", "--role-name", "cli-role")
	if err == nil || !strings.Contains(err.Error(), "DeleteConflict") || !strings.Contains(err.Error(), "must remove roles from instance profile first") {
		t.Errorf("delete-role in a profile: err = %v", err)
	}
	out, err = e.cli(e.root, "iam", "list-instance-profiles-for-role", "--role-name", "cli-role")
	must(t, err)
	if !strings.Contains(out, `"InstanceProfileName": "cli-profile"`) {
		t.Errorf("list-instance-profiles-for-role = %s", out)
	}
	for _, args := range [][]string{
		{"remove-role-from-instance-profile", "--instance-profile-name", "cli-profile", "--role-name", "cli-role"},
		{"delete-instance-profile", "--instance-profile-name", "cli-profile"},
		{"delete-role", "--role-name", "cli-role"},
	} {
		_, err = e.cli(e.root, append([]string{"iam"}, args...)...)
		must(t, err)
	}
	out, err = e.cli(e.root, "iam", "list-roles")
	must(t, err)
	if strings.Contains(out, "cli-role") {
		t.Errorf("list-roles after delete = %s", out)
	}
}
