package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
)

// wantError fails the test unless err is an API error with the given code
// and message.
func wantError(t *testing.T, err error, code, message string) {
	t.Helper()
	wantCode(t, err, code)
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorMessage() != message {
		t.Fatalf("%s message = %q, want %q", code, ae.ErrorMessage(), message)
	}
}

func createUsers(t *testing.T, c *iam.Client, names ...string) {
	t.Helper()
	for _, n := range names {
		_, err := c.CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String(n)})
		must(t, err)
	}
}

func groupMembers(t *testing.T, c *iam.Client, group string, pageSize int32) []string {
	t.Helper()
	var names []string
	p := iam.NewGetGroupPaginator(c, &iam.GetGroupInput{GroupName: aws.String(group), MaxItems: aws.Int32(pageSize)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		must(t, err)
		if aws.ToString(page.Group.GroupName) == "" {
			t.Fatalf("GetGroup page without its group: %+v", page)
		}
		for _, u := range page.Users {
			names = append(names, aws.ToString(u.UserName))
		}
	}
	return names
}

func TestGroupsLifecycle(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()

	out, err := c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("Devs"), Path: aws.String("/eng/")})
	must(t, err)
	if got, want := aws.ToString(out.Group.Arn), "arn:aws:iam::123456789012:group/eng/Devs"; got != want {
		t.Errorf("Arn = %s, want %s", got, want)
	}
	if id := aws.ToString(out.Group.GroupId); !strings.HasPrefix(id, "AGPA") || len(id) != 21 {
		t.Errorf("GroupId = %s", id)
	}
	_, err = c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("devs")})
	wantError(t, err, "EntityAlreadyExists", "Group with name devs already exists.")

	got, err := c.GetGroup(ctx, &iam.GetGroupInput{GroupName: aws.String("devs")})
	must(t, err)
	if aws.ToString(got.Group.GroupName) != "Devs" || len(got.Users) != 0 || got.IsTruncated {
		t.Errorf("GetGroup = %+v", got)
	}

	createUsers(t, c, "carol", "alice", "bob", "dave", "erin")
	for _, u := range []string{"carol", "alice", "bob", "dave", "erin", "alice"} { // alice twice: idempotent
		_, err := c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("Devs"), UserName: aws.String(u)})
		must(t, err)
	}
	if got := strings.Join(groupMembers(t, c, "Devs", 2), ","); got != "alice,bob,carol,dave,erin" {
		t.Errorf("members = %s", got)
	}

	// Renaming keeps the members: they refer to the group by ID.
	_, err = c.UpdateGroup(ctx, &iam.UpdateGroupInput{GroupName: aws.String("Devs"), NewGroupName: aws.String("Engineers"), NewPath: aws.String("/rd/")})
	must(t, err)
	_, err = c.GetGroup(ctx, &iam.GetGroupInput{GroupName: aws.String("Devs")})
	wantError(t, err, "NoSuchEntity", "The group with name Devs cannot be found.")
	if got := strings.Join(groupMembers(t, c, "Engineers", 100), ","); got != "alice,bob,carol,dave,erin" {
		t.Errorf("members after rename = %s", got)
	}
	fg, err := c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: aws.String("bob")})
	must(t, err)
	if len(fg.Groups) != 1 || aws.ToString(fg.Groups[0].Arn) != "arn:aws:iam::123456789012:group/rd/Engineers" {
		t.Errorf("ListGroupsForUser = %+v", fg.Groups)
	}

	// DeleteUser refuses a member; RemoveUserFromGroup of a non-member is
	// a no-op success.
	_, err = c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("erin")})
	wantError(t, err, "DeleteConflict", "Cannot delete entity, must remove users from group first.")

	// DeleteGroup refuses members, then inline policies, then attachments.
	_, err = c.DeleteGroup(ctx, &iam.DeleteGroupInput{GroupName: aws.String("Engineers")})
	wantError(t, err, "DeleteConflict", "Cannot delete entity, must remove users from group first.")
	for _, u := range []string{"alice", "bob", "carol", "dave", "erin", "erin"} {
		_, err := c.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{GroupName: aws.String("Engineers"), UserName: aws.String(u)})
		must(t, err)
	}
	_, err = c.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: aws.String("Engineers"), PolicyName: aws.String("p"), PolicyDocument: aws.String(allowDoc("iam:ListUsers"))})
	must(t, err)
	_, err = c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("Engineers"), PolicyArn: aws.String(readOnlyARN)})
	must(t, err)
	_, err = c.DeleteGroup(ctx, &iam.DeleteGroupInput{GroupName: aws.String("Engineers")})
	wantError(t, err, "DeleteConflict", "Cannot delete entity, must delete policies first.")
	_, err = c.DeleteGroupPolicy(ctx, &iam.DeleteGroupPolicyInput{GroupName: aws.String("Engineers"), PolicyName: aws.String("p")})
	must(t, err)
	_, err = c.DeleteGroup(ctx, &iam.DeleteGroupInput{GroupName: aws.String("Engineers")})
	wantError(t, err, "DeleteConflict", "Cannot delete entity, must detach all policies first.")
	_, err = c.DetachGroupPolicy(ctx, &iam.DetachGroupPolicyInput{GroupName: aws.String("Engineers"), PolicyArn: aws.String(readOnlyARN)})
	must(t, err)
	_, err = c.DeleteGroup(ctx, &iam.DeleteGroupInput{GroupName: aws.String("Engineers")})
	must(t, err)
	_, err = c.DeleteGroup(ctx, &iam.DeleteGroupInput{GroupName: aws.String("Engineers")})
	wantError(t, err, "NoSuchEntity", "The group with name Engineers cannot be found.")
	_, err = c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("erin")})
	must(t, err)
}

func TestGroupErrors(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	_, err := c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("g")})
	must(t, err)
	createUsers(t, c, "u")
	_, err = c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("other")})
	must(t, err)

	tests := []struct {
		name          string
		call          func() error
		code, message string
	}{
		{"add missing user", func() error {
			_, err := c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("g"), UserName: aws.String("nobody")})
			return err
		}, "NoSuchEntity", "The user with name nobody cannot be found."},
		{"add to missing group", func() error {
			_, err := c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("nogroup"), UserName: aws.String("u")})
			return err
		}, "NoSuchEntity", "The group with name nogroup cannot be found."},
		{"remove from missing group", func() error {
			_, err := c.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{GroupName: aws.String("nogroup"), UserName: aws.String("u")})
			return err
		}, "NoSuchEntity", "The group with name nogroup cannot be found."},
		{"remove missing user", func() error {
			_, err := c.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{GroupName: aws.String("g"), UserName: aws.String("nobody")})
			return err
		}, "NoSuchEntity", "The user with name nobody cannot be found."},
		{"groups for missing user", func() error {
			_, err := c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: aws.String("nobody")})
			return err
		}, "NoSuchEntity", "The user with name nobody cannot be found."},
		{"rename onto existing", func() error {
			_, err := c.UpdateGroup(ctx, &iam.UpdateGroupInput{GroupName: aws.String("g"), NewGroupName: aws.String("OTHER")})
			return err
		}, "EntityAlreadyExists", "Group with name OTHER already exists."},
		{"update missing", func() error {
			_, err := c.UpdateGroup(ctx, &iam.UpdateGroupInput{GroupName: aws.String("nogroup"), NewPath: aws.String("/x/")})
			return err
		}, "NoSuchEntity", "The group with name nogroup cannot be found."},
		{"bad marker", func() error {
			_, err := c.GetGroup(ctx, &iam.GetGroupInput{GroupName: aws.String("g"), Marker: aws.String("!!")})
			return err
		}, "ValidationError", "Invalid Marker."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantError(t, tc.call(), tc.code, tc.message) })
	}
}

func TestGroupsPerUserQuota(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	createUsers(t, c, "busy")
	for i := range 11 {
		name := fmt.Sprintf("g%02d", i)
		_, err := c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String(name)})
		must(t, err)
		_, err = c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String(name), UserName: aws.String("busy")})
		if i < 10 {
			must(t, err)
		} else {
			wantError(t, err, "LimitExceeded", "Cannot exceed quota for GroupsPerUser: 10")
		}
	}
	// Re-adding to a group the user is already in is not an eleventh group.
	_, err := c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("g03"), UserName: aws.String("busy")})
	must(t, err)

	var names []string
	p := iam.NewListGroupsForUserPaginator(c, &iam.ListGroupsForUserInput{UserName: aws.String("busy"), MaxItems: aws.Int32(3)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		must(t, err)
		for _, g := range page.Groups {
			names = append(names, aws.ToString(g.GroupName))
		}
	}
	if len(names) != 10 || names[0] != "g00" || names[9] != "g09" {
		t.Errorf("ListGroupsForUser = %v", names)
	}
}

func TestListGroupsPathPrefix(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	for _, g := range []struct{ name, path string }{{"a", "/"}, {"b", "/eng/"}, {"c", "/eng/web/"}, {"d", "/ops/"}} {
		_, err := c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String(g.name), Path: aws.String(g.path)})
		must(t, err)
	}
	tests := []struct {
		prefix string
		want   string
	}{
		{"", "a,b,c,d"},
		{"/", "a,b,c,d"},
		{"/eng/", "b,c"},
		{"/eng/web/", "c"},
		{"/nope/", ""},
	}
	for _, tc := range tests {
		t.Run("prefix="+tc.prefix, func(t *testing.T) {
			in := &iam.ListGroupsInput{MaxItems: aws.Int32(1)}
			if tc.prefix != "" {
				in.PathPrefix = aws.String(tc.prefix)
			}
			var names []string
			p := iam.NewListGroupsPaginator(c, in)
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				must(t, err)
				for _, g := range page.Groups {
					names = append(names, aws.ToString(g.GroupName))
				}
			}
			if got := strings.Join(names, ","); got != tc.want {
				t.Errorf("ListGroups(%q) = %s, want %s", tc.prefix, got, tc.want)
			}
		})
	}
}

func TestGroupsCLI(t *testing.T) {
	e := start(t)
	out, err := e.cli(e.root, "iam", "create-group", "--group-name", "admins", "--path", "/ops/")
	must(t, err)
	var created struct {
		Group struct{ GroupName, Arn string }
	}
	must(t, json.Unmarshal([]byte(out), &created))
	if created.Group.Arn != "arn:aws:iam::123456789012:group/ops/admins" {
		t.Errorf("create-group = %s", out)
	}
	_, err = e.cli(e.root, "iam", "create-user", "--user-name", "zoe")
	must(t, err)
	_, err = e.cli(e.root, "iam", "add-user-to-group", "--group-name", "admins", "--user-name", "zoe")
	must(t, err)
	out, err = e.cli(e.root, "iam", "get-group", "--group-name", "admins")
	must(t, err)
	var got struct {
		Group struct{ GroupName string }
		Users []struct{ UserName, Arn string }
	}
	must(t, json.Unmarshal([]byte(out), &got))
	if got.Group.GroupName != "admins" || len(got.Users) != 1 || got.Users[0].UserName != "zoe" {
		t.Errorf("get-group = %s", out)
	}
	out, err = e.cli(e.root, "iam", "list-groups-for-user", "--user-name", "zoe")
	must(t, err)
	if !strings.Contains(out, `"GroupName": "admins"`) {
		t.Errorf("list-groups-for-user = %s", out)
	}
	_, err = e.cli(e.root, "iam", "delete-group", "--group-name", "admins")
	if err == nil || !strings.Contains(err.Error(), "DeleteConflict") || !strings.Contains(err.Error(), "must remove users from group first") {
		t.Errorf("delete-group with a member: %v", err)
	}
	_, err = e.cli(e.root, "iam", "remove-user-from-group", "--group-name", "admins", "--user-name", "zoe")
	must(t, err)
	_, err = e.cli(e.root, "iam", "delete-group", "--group-name", "admins")
	must(t, err)
	out, err = e.cli(e.root, "iam", "list-groups")
	must(t, err)
	if strings.Contains(out, "admins") {
		t.Errorf("list-groups after delete = %s", out)
	}
}

// TestAddUserToGroupRacesDeleteGroup races AddUserToGroup with DeleteGroup:
// whichever wins, no user is left in a deleted group (which would make the
// user undeletable), and a user that joined keeps the group alive.
func TestAddUserToGroupRacesDeleteGroup(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	for round := range 20 {
		user, group := fmt.Sprintf("u%d", round), fmt.Sprintf("g%d", round)
		createUsers(t, c, user)
		_, err := c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String(group)})
		must(t, err)
		var addErr, delErr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, addErr = c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String(group), UserName: aws.String(user)})
		}()
		_, delErr = c.DeleteGroup(ctx, &iam.DeleteGroupInput{GroupName: aws.String(group)})
		<-done
		switch {
		case addErr == nil && delErr == nil:
			t.Fatalf("round %d: both AddUserToGroup and DeleteGroup succeeded", round)
		case addErr == nil:
			wantCode(t, delErr, "DeleteConflict")
			_, err := c.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{GroupName: aws.String(group), UserName: aws.String(user)})
			must(t, err)
		case delErr == nil:
			wantCode(t, addErr, "NoSuchEntity")
		default:
			t.Fatalf("round %d: add: %v, delete: %v", round, addErr, delErr)
		}
		_, err = c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String(user)})
		must(t, err)
	}
}
