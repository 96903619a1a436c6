package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestUsersLifecycle(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()

	out, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice"), Path: aws.String("/eng/"),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}}})
	must(t, err)
	if got, want := aws.ToString(out.User.Arn), "arn:aws:iam::123456789012:user/eng/alice"; got != want {
		t.Errorf("Arn = %s, want %s", got, want)
	}
	if id := aws.ToString(out.User.UserId); !strings.HasPrefix(id, "AIDA") || len(id) != 21 {
		t.Errorf("UserId = %s", id)
	}
	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("ALICE")})
	wantCode(t, err, "EntityAlreadyExists")

	got, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})
	must(t, err)
	if aws.ToString(got.User.Path) != "/eng/" || len(got.User.Tags) != 1 {
		t.Errorf("GetUser = %+v", got.User)
	}
	_, err = c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")})
	wantCode(t, err, "NoSuchEntity")

	_, err = c.UpdateUser(ctx, &iam.UpdateUserInput{UserName: aws.String("alice"), NewUserName: aws.String("alice2")})
	must(t, err)
	list, err := c.ListUsers(ctx, &iam.ListUsersInput{})
	must(t, err)
	if len(list.Users) != 1 || aws.ToString(list.Users[0].UserName) != "alice2" {
		t.Errorf("ListUsers = %+v", list.Users)
	}
	_, err = c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("alice2")})
	must(t, err)
	_, err = c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("alice2")})
	wantCode(t, err, "NoSuchEntity")
}

func TestListUsersPagination(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	for _, n := range []string{"u1", "u2", "u3", "u4", "u5"} {
		_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(n)})
		must(t, err)
	}
	var names []string
	p := iam.NewListUsersPaginator(c, &iam.ListUsersInput{MaxItems: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		must(t, err)
		pages++
		for _, u := range page.Users {
			names = append(names, aws.ToString(u.UserName))
		}
	}
	if pages != 3 || strings.Join(names, ",") != "u1,u2,u3,u4,u5" {
		t.Errorf("pages=%d names=%v", pages, names)
	}
}

func TestCallerIdentityCLI(t *testing.T) {
	e := start(t)
	out, err := e.cli(e.root, "sts", "get-caller-identity")
	must(t, err)
	if !strings.Contains(out, `"arn:aws:iam::123456789012:root"`) {
		t.Errorf("get-caller-identity = %s", out)
	}
	id, err := e.sts(e.root).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	must(t, err)
	if aws.ToString(id.Account) != testAccount {
		t.Errorf("Account = %s", aws.ToString(id.Account))
	}
}

func TestBadSignature(t *testing.T) {
	e := start(t)
	_, err := e.iam(aws.Credentials{AccessKeyID: rootKeyID, SecretAccessKey: "wrong"}).ListUsers(context.Background(), &iam.ListUsersInput{})
	wantCode(t, err, "SignatureDoesNotMatch")
	_, err = e.iam(aws.Credentials{AccessKeyID: "AKIANOTAREALKEY00000", SecretAccessKey: "x"}).ListUsers(context.Background(), &iam.ListUsersInput{})
	wantCode(t, err, "InvalidClientTokenId")
}
