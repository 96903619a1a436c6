package awsquery_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// TestSDKEndToEnd drives the codec through a real listener with
// aws-sdk-go-v2, proving the SDK parses our responses and errors.
func TestSDKEndToEnd(t *testing.T) {
	t.Parallel()
	errs := make(chan error, 16)
	srv := httptest.NewServer(queryHandler(newIAM(t, newFakeIAM()), errs))
	defer srv.Close()
	creds := credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")
	client := iam.New(iam.Options{
		Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String(srv.URL),
		RetryMaxAttempts: 1,
	})
	ctx := context.Background()

	created, err := client.CreateUser(ctx, &iam.CreateUserInput{
		UserName: aws.String("alice"), Path: aws.String("/eng/"),
		Tags: []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("blue + green=1@x")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(created.User.Arn); got != "arn:aws:iam::123456789012:user/eng/alice" {
		t.Errorf("CreateUser arn = %q", got)
	}
	if _, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")}); err != nil {
		t.Fatal(err)
	}

	got, err := client.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	u := got.User
	if aws.ToString(u.UserName) != "alice" || aws.ToString(u.Path) != "/eng/" || !u.CreateDate.Equal(*created.User.CreateDate) ||
		u.CreateDate.Nanosecond() != 0 || len(u.Tags) != 1 || aws.ToString(u.Tags[0].Value) != "blue + green=1@x" {
		t.Errorf("GetUser = %+v", u)
	}

	list, err := client.ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Users) != 1 || !list.IsTruncated || aws.ToString(list.Marker) != "bob" {
		t.Errorf("ListUsers = %+v", list)
	}

	sum, err := client.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.SummaryMap["Users"] != 2 || sum.SummaryMap["UsersQuota"] != 5000 {
		t.Errorf("SummaryMap = %v", sum.SummaryMap)
	}

	role, err := client.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := url.QueryUnescape(aws.ToString(role.Role.AssumeRolePolicyDocument))
	if err != nil || doc != trustPolicy {
		t.Errorf("AssumeRolePolicyDocument decodes to %q (%v), want %q", doc, err, trustPolicy)
	}
	if role.Role.RoleLastUsed == nil || aws.ToString(role.Role.RoleLastUsed.Region) != "us-east-1" || aws.ToInt32(role.Role.MaxSessionDuration) != 3600 {
		t.Errorf("Role = %+v", role.Role)
	}

	if _, err := client.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("bob")}); err != nil {
		t.Fatal(err)
	}

	errTests := []struct {
		name     string
		call     func() error
		code     string
		message  string
		typed    func(error) bool // the SDK's modeled error type, if any
		logCause bool
	}{
		{
			name: "NoSuchEntity", code: "NoSuchEntity", message: "The user with name bob cannot be found.",
			call: func() error {
				_, err := client.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("bob")})
				return err
			},
			typed: func(err error) bool { var e *iamtypes.NoSuchEntityException; return errors.As(err, &e) },
		},
		{
			name: "EntityAlreadyExists", code: "EntityAlreadyExists", message: "User with name alice already exists.",
			call: func() error {
				_, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")})
				return err
			},
			typed: func(err error) bool { var e *iamtypes.EntityAlreadyExistsException; return errors.As(err, &e) },
		},
		{
			name: "ValidationError", code: "ValidationError",
			message: `1 validation error detected: Value 'a b' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+`,
			call: func() error {
				_, err := client.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("a b")})
				return err
			},
		},
		{
			name: "NotImplemented", code: "NotImplemented", message: "The operation ListGroups is not implemented.",
			call: func() error { _, err := client.ListGroups(ctx, &iam.ListGroupsInput{}); return err },
		},
		{
			name: "InternalFailure", code: "InternalFailure", message: "An internal error occurred.", logCause: true,
			call: func() error {
				_, err := client.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("boom")})
				return err
			},
		},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("error = %v, want smithy.APIError", err)
			}
			if apiErr.ErrorCode() != tc.code || apiErr.ErrorMessage() != tc.message {
				t.Errorf("got %s: %s\nwant %s: %s", apiErr.ErrorCode(), apiErr.ErrorMessage(), tc.code, tc.message)
			}
			if tc.typed != nil && !tc.typed(err) {
				t.Errorf("error %T is not the SDK's modeled type", err)
			}
			var cause error
			select {
			case cause = <-errs:
			default:
			}
			if tc.logCause && (cause == nil || cause.Error() != "database on fire") {
				t.Errorf("cause handed to the server = %v", cause)
			}
		})
	}
}

func TestSTSEndToEnd(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(queryHandler(newSTS(t, fakeSTS{}), nil))
	defer srv.Close()
	client := sts.New(sts.Options{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
	})
	out, err := client.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Account) != "123456789012" || aws.ToString(out.Arn) != "arn:aws:iam::123456789012:user/alice" || aws.ToString(out.UserId) != "AIDA0000000000000001" {
		t.Errorf("GetCallerIdentity = %+v", out)
	}
	_, err = client.AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::123456789012:role/r"), RoleSessionName: aws.String("bad name")})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationError" ||
		apiErr.ErrorMessage() != `1 validation error detected: Value 'bad name' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*` {
		t.Errorf("AssumeRole error = %v", err)
	}
}
