package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
)

// TestResponseShapes: responses carry the attributes AWS returns and no
// more, as the AWS CLI shows them: list operations leave out what AWS
// documents they leave out, CreatePolicy does not echo the description,
// GetPolicy lists no tags as an empty list.
func TestResponseShapes(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	cli := func(args ...string) map[string]any {
		t.Helper()
		out, err := e.cli(e.root, args...)
		if err != nil {
			t.Fatalf("aws %s: %v", strings.Join(args, " "), err)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("aws %s: %v in %q", strings.Join(args, " "), err, out)
		}
		return m
	}
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	created := cli("iam", "create-policy", "--policy-name", "described", "--description", "a description", "--policy-document", doc)["Policy"].(map[string]any)
	if _, ok := created["Description"]; ok {
		t.Errorf("CreatePolicy echoed the description: %v", created)
	}
	arn := created["Arn"].(string)
	got := cli("iam", "get-policy", "--policy-arn", arn)["Policy"].(map[string]any)
	if got["Description"] != "a description" {
		t.Errorf("GetPolicy Description = %v", got["Description"])
	}
	if tags, ok := got["Tags"].([]any); !ok || len(tags) != 0 {
		t.Errorf("GetPolicy Tags = %#v, want []", got["Tags"])
	}

	_, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bounded"), PermissionsBoundary: aws.String(arn),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("blue")}}})
	must(t, err)
	for _, u := range cli("iam", "list-users")["Users"].([]any) {
		for _, field := range []string{"PermissionsBoundary", "Tags"} {
			if _, ok := u.(map[string]any)[field]; ok {
				t.Errorf("ListUsers returned %s: %v", field, u)
			}
		}
	}
	if _, ok := cli("iam", "get-user", "--user-name", "bounded")["User"].(map[string]any)["PermissionsBoundary"]; !ok {
		t.Errorf("GetUser lost the boundary")
	}

	_, err = root.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("phone"),
		Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	must(t, err)
	for _, d := range cli("iam", "list-virtual-mfa-devices")["VirtualMFADevices"].([]any) {
		if _, ok := d.(map[string]any)["Tags"]; ok {
			t.Errorf("ListVirtualMFADevices returned tags: %v", d)
		}
	}
}

// TestDocumentedDefaults: what AWS's API reference documents for calls
// left to their defaults. An empty UpdateAccountPasswordPolicy sets the
// defaults (minimum length 6, nothing required, users may not change their
// passwords, passwords never expire), a service-linked role takes its name
// from AWS's table, a virtual MFA device's name and path are taken once,
// and DeleteOpenIDConnectProvider is idempotent.
func TestDocumentedDefaults(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()

	_, err := root.UpdateAccountPasswordPolicy(ctx, &iam.UpdateAccountPasswordPolicyInput{})
	must(t, err)
	out, err := e.cli(e.root, "iam", "get-account-password-policy")
	must(t, err)
	var got struct{ PasswordPolicy map[string]any }
	must(t, json.Unmarshal([]byte(out), &got))
	for field, want := range map[string]any{
		"MinimumPasswordLength": 6.0, "RequireSymbols": false, "RequireNumbers": false,
		"RequireUppercaseCharacters": false, "RequireLowercaseCharacters": false,
		"AllowUsersToChangePassword": false, "ExpirePasswords": false,
	} {
		if got.PasswordPolicy[field] != want {
			t.Errorf("PasswordPolicy.%s = %v, want %v (%s)", field, got.PasswordPolicy[field], want, out)
		}
	}
	for _, field := range []string{"MaxPasswordAge", "PasswordReusePrevention", "HardExpiry"} {
		if v, ok := got.PasswordPolicy[field]; ok {
			t.Errorf("PasswordPolicy.%s = %v, want it left out when not set", field, v)
		}
	}

	slr, err := root.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String("custom-resource.application-autoscaling.amazonaws.com")})
	must(t, err)
	if name, path := aws.ToString(slr.Role.RoleName), aws.ToString(slr.Role.Path); name != "AWSServiceRoleForApplicationAutoScaling_CustomResource" ||
		path != "/aws-service-role/custom-resource.application-autoscaling.amazonaws.com/" {
		t.Errorf("service-linked role %s at %s", name, path)
	}

	_, err = root.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("dup")})
	must(t, err)
	_, err = root.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("dup")})
	wantCode(t, err, "EntityAlreadyExists")
	if !strings.Contains(err.Error(), "MFADevice entity at the same path and name already exists.") {
		t.Errorf("duplicate MFA device: %v", err)
	}

	arn := "arn:aws:iam::" + e.account + ":oidc-provider/never.example.com"
	for range 2 {
		_, err = root.DeleteOpenIDConnectProvider(ctx, &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn)})
		must(t, err)
	}
	// Idempotent for a caller the IAM action allows, and only for it: a
	// caller without iam:DeleteOpenIDConnectProvider on the ARN is denied
	// whether the provider exists or not.
	allowed := e.iam(userWithKey(t, root, "oidc-deleter", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:DeleteOpenIDConnectProvider","Resource":"`+arn+`"}}`))
	_, err = allowed.DeleteOpenIDConnectProvider(ctx, &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn)})
	must(t, err)
	other := "arn:aws:iam::" + e.account + ":oidc-provider/other.example.com"
	_, err = allowed.DeleteOpenIDConnectProvider(ctx, &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(other)})
	wantCode(t, err, "AccessDenied")
	denied := e.iam(userWithKey(t, root, "oidc-nobody", ""))
	_, err = denied.DeleteOpenIDConnectProvider(ctx, &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn)})
	wantCode(t, err, "AccessDenied")
}

// TestInvalidPathMessages: a path or path prefix that breaks its pattern is
// answered with AWS's own sentence, as aws-sdk-go-v2 shows it.
func TestInvalidPathMessages(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	_, err := root.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("r"), Path: aws.String("team"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)})
	wantMessage(t, err, "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.")
	_, err = root.ListUsers(ctx, &iam.ListUsersInput{PathPrefix: aws.String("team/")})
	wantMessage(t, err, "The specified value for pathPrefix is invalid. It must begin with the / character and contain only alphanumeric characters and/or / characters.")
}

// wantMessage fails the test unless err is a ValidationError saying msg.
func wantMessage(t *testing.T, err error, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationError" || ae.ErrorMessage() != msg {
		t.Errorf("error = %v, want ValidationError %q", err, msg)
	}
}

// TestMembershipMissingNames: AddUserToGroup and RemoveUserFromGroup name
// the missing entity as AWS does: the user when neither exists (AWS's
// recorded answer to RemoveUserFromGroup), otherwise the one missing. A
// caller without the permission is refused before either is looked up.
func TestMembershipMissingNames(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	_, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("u")})
	must(t, err)
	_, err = root.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("g")})
	must(t, err)
	calls := map[string]func(c *iam.Client, group, user string) error{
		"AddUserToGroup": func(c *iam.Client, group, user string) error {
			_, err := c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String(group), UserName: aws.String(user)})
			return err
		},
		"RemoveUserFromGroup": func(c *iam.Client, group, user string) error {
			_, err := c.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{GroupName: aws.String(group), UserName: aws.String(user)})
			return err
		},
	}
	key, err := root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("u")})
	must(t, err)
	unallowed := e.iam(aws.Credentials{AccessKeyID: aws.ToString(key.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(key.AccessKey.SecretAccessKey)})
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct{ group, user, want string }{
				{"nogroup", "nouser", "The user with name nouser cannot be found."},
				{"nogroup", "u", "The group with name nogroup cannot be found."},
				{"g", "nouser", "The user with name nouser cannot be found."},
			} {
				err := call(root, tc.group, tc.user)
				if errCode(err) != "NoSuchEntity" {
					t.Errorf("%s(%s, %s) = %v, want NoSuchEntity", name, tc.group, tc.user, err)
				}
				wantAWSMessage(t, err, tc.want)
			}
			wantCode(t, call(unallowed, "nogroup", "nouser"), "AccessDenied")
		})
	}
}
