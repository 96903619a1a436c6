package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
)

const (
	readOnlyARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"
	adminARN    = "arn:aws:iam::aws:policy/AdministratorAccess"
)

// allowDoc is an identity policy allowing actions on every resource.
func allowDoc(actions ...string) string {
	return statementDoc("Allow", actions...)
}

func statementDoc(effect string, actions ...string) string {
	b, _ := json.Marshal(map[string]any{
		"Version":   "2012-10-17",
		"Statement": []any{map[string]any{"Effect": effect, "Action": actions, "Resource": "*"}},
	})
	return string(b)
}

// sizedDoc is a valid policy whose size, as IAM counts it, is about n.
func sizedDoc(n int) string {
	d := allowDoc("iam:ListUsers")
	pad := n - len(d) - len(`,"Sid":""`)
	if pad < 1 {
		pad = 1
	}
	return strings.Replace(d, `{"Action"`, `{"Sid":"`+strings.Repeat("A", pad)+`","Action"`, 1)
}

// userKey creates a user's access key as root.
func userKey(t *testing.T, e *env, user string) aws.Credentials {
	t.Helper()
	k, err := e.rootIAM().CreateAccessKey(context.Background(), &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	must(t, err)
	return aws.Credentials{AccessKeyID: aws.ToString(k.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(k.AccessKey.SecretAccessKey)}
}

// wantDenied fails unless err is AccessDenied naming all of parts.
func wantDenied(t *testing.T, err error, parts ...string) {
	t.Helper()
	wantCode(t, err, "AccessDenied")
	var ae smithy.APIError
	errors.As(err, &ae)
	for _, p := range parts {
		if !strings.Contains(ae.ErrorMessage(), p) {
			t.Errorf("AccessDenied message %q does not name %q", ae.ErrorMessage(), p)
		}
	}
}

// TestWalkthrough is the beginner's walk-through: a user gets read-only
// access through a group, an inline Deny overrides the group's Allow, and
// a user with no policies can do nothing.
func TestWalkthrough(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()

	createUsers(t, root, "bob", "nobody")
	bobCreds := userKey(t, e, "bob")
	bob := e.iam(bobCreds)
	nobody := e.iam(userKey(t, e, "nobody"))

	// Before joining a group bob can do nothing.
	_, err := bob.ListUsers(ctx, &iam.ListUsersInput{})
	wantDenied(t, err, "arn:aws:iam::123456789012:user/bob", "iam:ListUsers")

	_, err = root.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("readers")})
	must(t, err)
	_, err = root.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("readers"), PolicyArn: aws.String(readOnlyARN)})
	must(t, err)
	_, err = root.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("readers"), UserName: aws.String("bob")})
	must(t, err)

	list, err := bob.ListUsers(ctx, &iam.ListUsersInput{})
	must(t, err)
	if len(list.Users) != 2 {
		t.Errorf("bob's ListUsers = %d users", len(list.Users))
	}
	me, err := bob.GetUser(ctx, &iam.GetUserInput{})
	must(t, err)
	if aws.ToString(me.User.UserName) != "bob" {
		t.Errorf("GetUser = %+v", me.User)
	}
	_, err = bob.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")})
	must(t, err)
	_, err = bob.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("mallory")})
	wantDenied(t, err, "arn:aws:iam::123456789012:user/bob", "iam:CreateUser", "arn:aws:iam::123456789012:user/mallory")
	_, err = bob.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("bob"), PolicyArn: aws.String(adminARN)})
	wantDenied(t, err, "iam:AttachUserPolicy")

	// An explicit Deny wins over the group's Allow.
	_, err = root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("NoListing"),
		PolicyDocument: aws.String(statementDoc("Deny", "iam:ListUsers"))})
	must(t, err)
	_, err = bob.ListUsers(ctx, &iam.ListUsersInput{})
	wantDenied(t, err, "arn:aws:iam::123456789012:user/bob", "iam:ListUsers", "explicit deny")
	_, err = bob.GetUser(ctx, &iam.GetUserInput{})
	must(t, err)

	// Renaming the group keeps bob in it, with its permissions.
	_, err = root.UpdateGroup(ctx, &iam.UpdateGroupInput{GroupName: aws.String("readers"), NewGroupName: aws.String("Readers2")})
	must(t, err)
	_, err = bob.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")})
	must(t, err)
	_, err = root.UpdateGroup(ctx, &iam.UpdateGroupInput{GroupName: aws.String("readers2"), NewGroupName: aws.String("readers")})
	must(t, err)

	// The same through the CLI.
	_, err = e.cli(bobCreds, "iam", "list-users")
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("aws iam list-users as bob: %v", err)
	}

	// Leaving the group takes the permissions away again.
	_, err = root.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{GroupName: aws.String("readers"), UserName: aws.String("bob")})
	must(t, err)
	_, err = bob.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")})
	wantDenied(t, err, "iam:GetUser")

	// A user with no policies can do nothing.
	for name, call := range map[string]func() error{
		"ListUsers": func() error { _, err := nobody.ListUsers(ctx, &iam.ListUsersInput{}); return err },
		"GetGroup": func() error {
			_, err := nobody.GetGroup(ctx, &iam.GetGroupInput{GroupName: aws.String("readers")})
			return err
		},
		"ListGroups": func() error { _, err := nobody.ListGroups(ctx, &iam.ListGroupsInput{}); return err },
		"PutUserPolicy": func() error {
			_, err := nobody.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("nobody"), PolicyName: aws.String("p"), PolicyDocument: aws.String(allowDoc("*"))})
			return err
		},
		"AddUserToGroup": func() error {
			_, err := nobody.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("readers"), UserName: aws.String("nobody")})
			return err
		},
	} {
		t.Run("nobody/"+name, func(t *testing.T) { wantDenied(t, call(), "arn:aws:iam::123456789012:user/nobody", "iam:"+name) })
	}
}

// inlineOps drives the inline-policy operations of one holder kind.
type inlineOps struct {
	kind   string
	limit  int
	create func(ctx context.Context, c *iam.Client, name string) error
	put    func(ctx context.Context, c *iam.Client, name, policy, doc string) error
	get    func(ctx context.Context, c *iam.Client, name, policy string) (holder, policyName, doc string, err error)
	del    func(ctx context.Context, c *iam.Client, name, policy string) error
	list   func(ctx context.Context, c *iam.Client, name string, max int32) ([]string, error)
}

const trustEC2 = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

var inlineKinds = []inlineOps{
	{
		kind: "user", limit: 2048,
		create: func(ctx context.Context, c *iam.Client, name string) error {
			_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)})
			return err
		},
		put: func(ctx context.Context, c *iam.Client, name, p, doc string) error {
			_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String(p), PolicyDocument: aws.String(doc)})
			return err
		},
		get: func(ctx context.Context, c *iam.Client, name, p string) (string, string, string, error) {
			out, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String(p)})
			if err != nil {
				return "", "", "", err
			}
			return aws.ToString(out.UserName), aws.ToString(out.PolicyName), aws.ToString(out.PolicyDocument), nil
		},
		del: func(ctx context.Context, c *iam.Client, name, p string) error {
			_, err := c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String(p)})
			return err
		},
		list: func(ctx context.Context, c *iam.Client, name string, max int32) ([]string, error) {
			var names []string
			p := iam.NewListUserPoliciesPaginator(c, &iam.ListUserPoliciesInput{UserName: aws.String(name), MaxItems: aws.Int32(max)})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					return nil, err
				}
				names = append(names, page.PolicyNames...)
			}
			return names, nil
		},
	},
	{
		kind: "group", limit: 5120,
		create: func(ctx context.Context, c *iam.Client, name string) error {
			_, err := c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String(name)})
			return err
		},
		put: func(ctx context.Context, c *iam.Client, name, p, doc string) error {
			_, err := c.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: aws.String(name), PolicyName: aws.String(p), PolicyDocument: aws.String(doc)})
			return err
		},
		get: func(ctx context.Context, c *iam.Client, name, p string) (string, string, string, error) {
			out, err := c.GetGroupPolicy(ctx, &iam.GetGroupPolicyInput{GroupName: aws.String(name), PolicyName: aws.String(p)})
			if err != nil {
				return "", "", "", err
			}
			return aws.ToString(out.GroupName), aws.ToString(out.PolicyName), aws.ToString(out.PolicyDocument), nil
		},
		del: func(ctx context.Context, c *iam.Client, name, p string) error {
			_, err := c.DeleteGroupPolicy(ctx, &iam.DeleteGroupPolicyInput{GroupName: aws.String(name), PolicyName: aws.String(p)})
			return err
		},
		list: func(ctx context.Context, c *iam.Client, name string, max int32) ([]string, error) {
			var names []string
			p := iam.NewListGroupPoliciesPaginator(c, &iam.ListGroupPoliciesInput{GroupName: aws.String(name), MaxItems: aws.Int32(max)})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					return nil, err
				}
				names = append(names, page.PolicyNames...)
			}
			return names, nil
		},
	},
	{
		kind: "role", limit: 10240,
		create: func(ctx context.Context, c *iam.Client, name string) error {
			_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trustEC2)})
			return err
		},
		put: func(ctx context.Context, c *iam.Client, name, p, doc string) error {
			_, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(p), PolicyDocument: aws.String(doc)})
			return err
		},
		get: func(ctx context.Context, c *iam.Client, name, p string) (string, string, string, error) {
			out, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(p)})
			if err != nil {
				return "", "", "", err
			}
			return aws.ToString(out.RoleName), aws.ToString(out.PolicyName), aws.ToString(out.PolicyDocument), nil
		},
		del: func(ctx context.Context, c *iam.Client, name, p string) error {
			_, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(p)})
			return err
		},
		list: func(ctx context.Context, c *iam.Client, name string, max int32) ([]string, error) {
			var names []string
			p := iam.NewListRolePoliciesPaginator(c, &iam.ListRolePoliciesInput{RoleName: aws.String(name), MaxItems: aws.Int32(max)})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					return nil, err
				}
				names = append(names, page.PolicyNames...)
			}
			return names, nil
		},
	},
}

func TestInlinePolicies(t *testing.T) {
	e := start(t)
	c := e.rootIAM()
	ctx := context.Background()
	// Stored and returned byte for byte: white space, escapes and
	// non-ASCII text survive.
	pretty := "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\n    \"Sid\": \"Lecture\",\n    \"Effect\": \"Allow\",\n    \"Action\": \"iam:Get*\",\n    \"Resource\": \"arn:aws:iam::123456789012:user/caf\u00e9/*\"\n  }]\n}\n"
	for _, k := range inlineKinds {
		t.Run(k.kind, func(t *testing.T) {
			name := "Holder-" + k.kind
			must(t, k.create(ctx, c, name))
			must(t, k.put(ctx, c, name, "Beta", allowDoc("iam:ListUsers")))
			must(t, k.put(ctx, c, name, "Alpha", pretty))
			must(t, k.put(ctx, c, name, "Gamma", allowDoc("iam:GetUser")))
			// Replacing keeps the position (and takes the new spelling).
			must(t, k.put(ctx, c, name, "BETA", allowDoc("iam:ListGroups")))

			names, err := k.list(ctx, c, name, 2)
			must(t, err)
			if got := strings.Join(names, ","); got != "BETA,Alpha,Gamma" {
				t.Errorf("list = %s", got)
			}
			holder, pname, doc, err := k.get(ctx, c, strings.ToLower(name), "alpha")
			must(t, err)
			decoded, err := url.QueryUnescape(doc)
			must(t, err)
			if holder != name || pname != "Alpha" || decoded != pretty {
				t.Errorf("get = %q %q %q", holder, pname, decoded)
			}

			tests := []struct {
				name          string
				call          func() error
				code, message string
			}{
				{"get missing", func() error { _, _, _, err := k.get(ctx, c, name, "Nope"); return err },
					"NoSuchEntity", fmt.Sprintf("The %s policy with name Nope cannot be found.", k.kind)},
				{"delete missing", func() error { return k.del(ctx, c, name, "Nope") },
					"NoSuchEntity", fmt.Sprintf("The %s policy with name Nope cannot be found.", k.kind)},
				{"malformed", func() error { return k.put(ctx, c, name, "Bad", `{"Version":"2012-10-17","Statement":[]`) },
					"MalformedPolicyDocument", ""},
				{"no statement effect", func() error {
					return k.put(ctx, c, name, "Bad", `{"Version":"2012-10-17","Statement":[{"Action":"*","Resource":"*"}]}`)
				}, "MalformedPolicyDocument", ""},
				{"too large in aggregate", func() error { return k.put(ctx, c, name, "Huge", sizedDoc(k.limit-200)) },
					"LimitExceeded", fmt.Sprintf("Maximum policy size of %d bytes exceeded for %s %s", k.limit, k.kind, name)},
				{"put on missing holder", func() error { return k.put(ctx, c, "ghost", "p", allowDoc("*")) },
					"NoSuchEntity", fmt.Sprintf("The %s with name ghost cannot be found.", k.kind)},
				{"list on missing holder", func() error { _, err := k.list(ctx, c, "ghost", 10); return err },
					"NoSuchEntity", fmt.Sprintf("The %s with name ghost cannot be found.", k.kind)},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					err := tc.call()
					if tc.message == "" {
						wantCode(t, err, tc.code)
					} else {
						wantError(t, err, tc.code, tc.message)
					}
				})
			}

			// Replacing a policy counts its new size, not both.
			must(t, k.del(ctx, c, name, "Alpha"))
			must(t, k.del(ctx, c, name, "Gamma"))
			must(t, k.put(ctx, c, name, "BETA", sizedDoc(k.limit-50)))
			must(t, k.put(ctx, c, name, "beta", sizedDoc(k.limit-60)))
			must(t, k.del(ctx, c, name, "Beta"))
			names, err = k.list(ctx, c, name, 100)
			must(t, err)
			if len(names) != 0 {
				t.Errorf("list after deleting all = %v", names)
			}
		})
	}
}

func TestAttachPolicies(t *testing.T) {
	e := start(t)
	c := e.rootIAM()
	ctx := context.Background()
	createUsers(t, c, "alice")
	_, err := c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("team")})
	must(t, err)
	_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("worker"), AssumeRolePolicyDocument: aws.String(trustEC2)})
	must(t, err)

	mine, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("Mine"), Path: aws.String("/team/"), PolicyDocument: aws.String(allowDoc("iam:Get*"))})
	must(t, err)
	mineARN := aws.ToString(mine.Policy.Arn)

	awsPolicies := []string{
		readOnlyARN, "arn:aws:iam::aws:policy/IAMReadOnlyAccess", adminARN,
		"arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess", "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess",
		"arn:aws:iam::aws:policy/AmazonSQSReadOnlyAccess", "arn:aws:iam::aws:policy/AmazonSNSReadOnlyAccess",
		"arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess", "arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess",
		"arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess", "arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess",
	}
	type ops struct {
		kind, name, quota, target string
		attach, detach            func(arn string) error
		list                      func(prefix string, max int32) ([]string, error)
	}
	kinds := []ops{
		{kind: "user", name: "alice", quota: "PoliciesPerUser", target: "a User",
			attach: func(arn string) error {
				_, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: aws.String(arn)})
				return err
			},
			detach: func(arn string) error {
				_, err := c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: aws.String(arn)})
				return err
			},
			list: func(prefix string, max int32) ([]string, error) {
				in := &iam.ListAttachedUserPoliciesInput{UserName: aws.String("alice"), MaxItems: aws.Int32(max)}
				if prefix != "" {
					in.PathPrefix = aws.String(prefix)
				}
				var out []string
				for p := iam.NewListAttachedUserPoliciesPaginator(c, in); p.HasMorePages(); {
					page, err := p.NextPage(ctx)
					if err != nil {
						return nil, err
					}
					for _, a := range page.AttachedPolicies {
						out = append(out, aws.ToString(a.PolicyName)+"="+aws.ToString(a.PolicyArn))
					}
				}
				return out, nil
			}},
		{kind: "group", name: "team", quota: "PoliciesPerGroup", target: "a Group",
			attach: func(arn string) error {
				_, err := c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("team"), PolicyArn: aws.String(arn)})
				return err
			},
			detach: func(arn string) error {
				_, err := c.DetachGroupPolicy(ctx, &iam.DetachGroupPolicyInput{GroupName: aws.String("team"), PolicyArn: aws.String(arn)})
				return err
			},
			list: func(prefix string, max int32) ([]string, error) {
				in := &iam.ListAttachedGroupPoliciesInput{GroupName: aws.String("team"), MaxItems: aws.Int32(max)}
				if prefix != "" {
					in.PathPrefix = aws.String(prefix)
				}
				var out []string
				for p := iam.NewListAttachedGroupPoliciesPaginator(c, in); p.HasMorePages(); {
					page, err := p.NextPage(ctx)
					if err != nil {
						return nil, err
					}
					for _, a := range page.AttachedPolicies {
						out = append(out, aws.ToString(a.PolicyName)+"="+aws.ToString(a.PolicyArn))
					}
				}
				return out, nil
			}},
		{kind: "role", name: "worker", quota: "PoliciesPerRole", target: "a Customer Role",
			attach: func(arn string) error {
				_, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("worker"), PolicyArn: aws.String(arn)})
				return err
			},
			detach: func(arn string) error {
				_, err := c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("worker"), PolicyArn: aws.String(arn)})
				return err
			},
			list: func(prefix string, max int32) ([]string, error) {
				in := &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("worker"), MaxItems: aws.Int32(max)}
				if prefix != "" {
					in.PathPrefix = aws.String(prefix)
				}
				var out []string
				for p := iam.NewListAttachedRolePoliciesPaginator(c, in); p.HasMorePages(); {
					page, err := p.NextPage(ctx)
					if err != nil {
						return nil, err
					}
					for _, a := range page.AttachedPolicies {
						out = append(out, aws.ToString(a.PolicyName)+"="+aws.ToString(a.PolicyArn))
					}
				}
				return out, nil
			}},
	}
	for _, k := range kinds {
		t.Run(k.kind, func(t *testing.T) {
			// The customer-managed policy, named with another case: it is
			// stored under its real ARN.
			must(t, k.attach(strings.Replace(mineARN, "Mine", "MINE", 1)))
			must(t, k.attach(readOnlyARN))
			must(t, k.attach(readOnlyARN)) // again: no-op
			got, err := k.list("", 1)
			must(t, err)
			if want := "Mine=" + mineARN + ",ReadOnlyAccess=" + readOnlyARN; strings.Join(got, ",") != want {
				t.Errorf("list = %v, want %s", got, want)
			}
			got, err = k.list("/team/", 100)
			must(t, err)
			if len(got) != 1 || got[0] != "Mine="+mineARN {
				t.Errorf("list /team/ = %v", got)
			}

			_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(mineARN)})
			wantCode(t, err, "DeleteConflict")

			for _, arn := range awsPolicies[1:9] {
				must(t, k.attach(arn))
			}
			tests := []struct {
				name          string
				err           error
				code, message string
			}{
				{"quota", k.attach(awsPolicies[9]), "LimitExceeded", "Cannot exceed quota for " + k.quota + ": 10"},
				{"unknown policy", k.attach("arn:aws:iam::aws:policy/NoSuchPolicy"),
					"NoSuchEntity", "Policy arn:aws:iam::aws:policy/NoSuchPolicy does not exist or is not attachable."},
				{"other account's policy", k.attach("arn:aws:iam::210987654321:policy/Mine"),
					"NoSuchEntity", "Policy arn:aws:iam::210987654321:policy/Mine does not exist or is not attachable."},
				{"service-role policy", k.attach("arn:aws:iam::aws:policy/aws-service-role/AWSSupportServiceRolePolicy"),
					"PolicyNotAttachable", "Cannot attach a Service Role Policy to " + k.target + "."},
				{"not an ARN", k.attach("arn:aws:iam::123456789012:user/alice"), "InvalidInput", "ARN arn:aws:iam::123456789012:user/alice is not valid."},
				{"detach unattached", k.detach(awsPolicies[10]), "NoSuchEntity", "Policy " + awsPolicies[10] + " was not found."},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) { wantError(t, tc.err, tc.code, tc.message) })
			}

			must(t, k.detach(mineARN))
			for _, arn := range awsPolicies[:9] {
				must(t, k.detach(arn))
			}
			got, err = k.list("", 100)
			must(t, err)
			if len(got) != 0 {
				t.Errorf("list after detaching all = %v", got)
			}
		})
	}
	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(mineARN)})
	must(t, err)

	_, err = c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("ghost"), PolicyArn: aws.String(readOnlyARN)})
	wantError(t, err, "NoSuchEntity", "The user with name ghost cannot be found.")
	_, err = c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("ghost"), PolicyArn: aws.String(readOnlyARN)})
	wantError(t, err, "NoSuchEntity", "The role with name ghost cannot be found.")
	_, err = c.ListAttachedGroupPolicies(ctx, &iam.ListAttachedGroupPoliciesInput{GroupName: aws.String("ghost")})
	wantError(t, err, "NoSuchEntity", "The group with name ghost cannot be found.")
}

// TestPolicyARNCondition checks the iam:PolicyARN and iam:PermissionsBoundary
// condition keys: a delegated administrator may attach only read-only
// access, and only to users that carry a given boundary.
func TestPolicyARNCondition(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	createUsers(t, root, "delegate", "bounded", "free")
	_, err := root.PutUserPermissionsBoundary(ctx, &iam.PutUserPermissionsBoundaryInput{UserName: aws.String("bounded"), PermissionsBoundary: aws.String(readOnlyARN)})
	must(t, err)
	policy := `{"Version":"2012-10-17","Statement":[{
		"Effect":"Allow","Action":["iam:AttachUserPolicy","iam:DetachUserPolicy"],"Resource":"*",
		"Condition":{"ArnEquals":{"iam:PolicyARN":"` + readOnlyARN + `"},
		             "StringEquals":{"iam:PermissionsBoundary":"` + readOnlyARN + `"}}}]}`
	_, err = root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("delegate"), PolicyName: aws.String("Delegation"), PolicyDocument: aws.String(policy)})
	must(t, err)
	d := e.iam(userKey(t, e, "delegate"))

	_, err = d.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("bounded"), PolicyArn: aws.String(readOnlyARN)})
	must(t, err)
	_, err = d.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("bounded"), PolicyArn: aws.String(adminARN)})
	wantDenied(t, err, "iam:AttachUserPolicy", "arn:aws:iam::123456789012:user/bounded")
	_, err = d.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("free"), PolicyArn: aws.String(readOnlyARN)})
	wantDenied(t, err, "iam:AttachUserPolicy", "arn:aws:iam::123456789012:user/free")
	_, err = d.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String("bounded"), PolicyArn: aws.String(readOnlyARN)})
	must(t, err)
	// Authorization comes before existence: nothing is revealed.
	_, err = d.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("ghost"), PolicyArn: aws.String(readOnlyARN)})
	wantCode(t, err, "AccessDenied")
}

func TestPermissionsBoundaries(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	createUsers(t, c, "carl")
	_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"), AssumeRolePolicyDocument: aws.String(trustEC2)})
	must(t, err)
	mine, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("Cap"), PolicyDocument: aws.String(allowDoc("iam:Get*"))})
	must(t, err)
	capARN := aws.ToString(mine.Policy.Arn)

	tests := []struct {
		name          string
		call          func() error
		code, message string
	}{
		{"user: missing policy", func() error {
			_, err := c.PutUserPermissionsBoundary(ctx, &iam.PutUserPermissionsBoundaryInput{UserName: aws.String("carl"), PermissionsBoundary: aws.String("arn:aws:iam::123456789012:policy/Nope")})
			return err
		}, "NoSuchEntity", "Scope ARN: arn:aws:iam::123456789012:policy/Nope does not exist or is not attachable."},
		{"role: missing policy", func() error {
			_, err := c.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: aws.String("app"), PermissionsBoundary: aws.String("arn:aws:iam::aws:policy/Nope")})
			return err
		}, "NoSuchEntity", "Scope ARN: arn:aws:iam::aws:policy/Nope does not exist or is not attachable."},
		{"missing user", func() error {
			_, err := c.PutUserPermissionsBoundary(ctx, &iam.PutUserPermissionsBoundaryInput{UserName: aws.String("ghost"), PermissionsBoundary: aws.String(readOnlyARN)})
			return err
		}, "NoSuchEntity", "The user with name ghost cannot be found."},
		{"missing role", func() error {
			_, err := c.DeleteRolePermissionsBoundary(ctx, &iam.DeleteRolePermissionsBoundaryInput{RoleName: aws.String("ghost")})
			return err
		}, "NoSuchEntity", "The role with name ghost cannot be found."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantError(t, tc.call(), tc.code, tc.message) })
	}

	_, err = c.PutUserPermissionsBoundary(ctx, &iam.PutUserPermissionsBoundaryInput{UserName: aws.String("carl"), PermissionsBoundary: aws.String(capARN)})
	must(t, err)
	_, err = c.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: aws.String("app"), PermissionsBoundary: aws.String(readOnlyARN)})
	must(t, err)
	u, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("carl")})
	must(t, err)
	if u.User.PermissionsBoundary == nil || aws.ToString(u.User.PermissionsBoundary.PermissionsBoundaryArn) != capARN ||
		u.User.PermissionsBoundary.PermissionsBoundaryType != "PermissionsBoundaryPolicy" {
		t.Errorf("GetUser boundary = %+v", u.User.PermissionsBoundary)
	}
	r, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("app")})
	must(t, err)
	if r.Role.PermissionsBoundary == nil || aws.ToString(r.Role.PermissionsBoundary.PermissionsBoundaryArn) != readOnlyARN {
		t.Errorf("GetRole boundary = %+v", r.Role.PermissionsBoundary)
	}
	// A policy in use as a boundary cannot be deleted.
	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(capARN)})
	wantCode(t, err, "DeleteConflict")

	// The boundary caps the user's permissions: an inline allow of
	// iam:ListUsers is not enough when the boundary allows only iam:Get*.
	_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("carl"), PolicyName: aws.String("p"), PolicyDocument: aws.String(allowDoc("iam:ListUsers", "iam:GetUser"))})
	must(t, err)
	carl := e.iam(userKey(t, e, "carl"))
	_, err = carl.GetUser(ctx, &iam.GetUserInput{})
	must(t, err)
	_, err = carl.ListUsers(ctx, &iam.ListUsersInput{})
	wantDenied(t, err, "iam:ListUsers", "permissions boundary")

	for range 2 { // the second delete finds no boundary and succeeds
		_, err = c.DeleteUserPermissionsBoundary(ctx, &iam.DeleteUserPermissionsBoundaryInput{UserName: aws.String("carl")})
		must(t, err)
		_, err = c.DeleteRolePermissionsBoundary(ctx, &iam.DeleteRolePermissionsBoundaryInput{RoleName: aws.String("app")})
		must(t, err)
	}
	u, err = c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("carl")})
	must(t, err)
	if u.User.PermissionsBoundary != nil {
		t.Errorf("boundary after delete = %+v", u.User.PermissionsBoundary)
	}
	_, err = carl.ListUsers(ctx, &iam.ListUsersInput{})
	must(t, err)
	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(capARN)})
	must(t, err)
}

func TestAttachedAndInlinePoliciesCLI(t *testing.T) {
	e := start(t)
	_, err := e.cli(e.root, "iam", "create-user", "--user-name", "cli-user")
	must(t, err)
	doc := `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"}]}`
	_, err = e.cli(e.root, "iam", "put-user-policy", "--user-name", "cli-user", "--policy-name", "S3Read", "--policy-document", doc)
	must(t, err)
	out, err := e.cli(e.root, "iam", "get-user-policy", "--user-name", "cli-user", "--policy-name", "S3Read")
	must(t, err)
	var got struct {
		UserName, PolicyName string
		PolicyDocument       struct {
			Version   string
			Statement []struct{ Effect, Action, Resource string }
		}
	}
	must(t, json.Unmarshal([]byte(out), &got))
	if got.UserName != "cli-user" || got.PolicyName != "S3Read" || len(got.PolicyDocument.Statement) != 1 ||
		got.PolicyDocument.Statement[0].Resource != "arn:aws:s3:::bucket/*" {
		t.Errorf("get-user-policy = %s", out)
	}
	out, err = e.cli(e.root, "iam", "list-user-policies", "--user-name", "cli-user")
	must(t, err)
	if !strings.Contains(out, `"S3Read"`) {
		t.Errorf("list-user-policies = %s", out)
	}
	_, err = e.cli(e.root, "iam", "attach-user-policy", "--user-name", "cli-user", "--policy-arn", readOnlyARN)
	must(t, err)
	out, err = e.cli(e.root, "iam", "list-attached-user-policies", "--user-name", "cli-user")
	must(t, err)
	if !strings.Contains(out, `"PolicyName": "ReadOnlyAccess"`) || !strings.Contains(out, readOnlyARN) {
		t.Errorf("list-attached-user-policies = %s", out)
	}
	_, err = e.cli(e.root, "iam", "detach-user-policy", "--user-name", "cli-user", "--policy-arn", adminARN)
	if err == nil || !strings.Contains(err.Error(), "NoSuchEntity") || !strings.Contains(err.Error(), "was not found") {
		t.Errorf("detach-user-policy of an unattached policy: %v", err)
	}
	_, err = e.cli(e.root, "iam", "put-user-permissions-boundary", "--user-name", "cli-user", "--permissions-boundary", readOnlyARN)
	must(t, err)
	out, err = e.cli(e.root, "iam", "get-user", "--user-name", "cli-user")
	must(t, err)
	if !strings.Contains(out, `"PermissionsBoundaryArn": "`+readOnlyARN+`"`) {
		t.Errorf("get-user = %s", out)
	}
	_, err = e.cli(e.root, "iam", "delete-user", "--user-name", "cli-user")
	if err == nil || !strings.Contains(err.Error(), "must delete policies first") {
		t.Errorf("delete-user with an inline policy: %v", err)
	}
}

// TestAttachRacesDeletePolicy races AttachUserPolicy with DeletePolicy:
// whichever wins, no user is left holding a deleted policy.
func TestAttachRacesDeletePolicy(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	createUsers(t, c, "racer")
	for round := range 20 {
		out, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(fmt.Sprintf("P%d", round)), PolicyDocument: aws.String(allowDoc("iam:GetUser"))})
		must(t, err)
		arn := aws.ToString(out.Policy.Arn)
		var attachErr, delErr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, attachErr = c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("racer"), PolicyArn: aws.String(arn)})
		}()
		_, delErr = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(arn)})
		<-done
		attached, err := c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("racer")})
		must(t, err)
		switch {
		case attachErr == nil && delErr == nil:
			t.Fatalf("round %d: both AttachUserPolicy and DeletePolicy succeeded; attached = %+v", round, attached.AttachedPolicies)
		case attachErr == nil:
			wantCode(t, delErr, "DeleteConflict")
			if len(attached.AttachedPolicies) != 1 {
				t.Fatalf("round %d: attached = %+v", round, attached.AttachedPolicies)
			}
			_, err := c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String("racer"), PolicyArn: aws.String(arn)})
			must(t, err)
			_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(arn)})
			must(t, err)
		case delErr == nil:
			wantCode(t, attachErr, "NoSuchEntity")
			if len(attached.AttachedPolicies) != 0 {
				t.Fatalf("round %d: a deleted policy is attached: %+v", round, attached.AttachedPolicies)
			}
		default:
			t.Fatalf("round %d: attach: %v, delete: %v", round, attachErr, delErr)
		}
	}
}

// TestWalkthroughCLI is the walk-through as a beginner types it.
func TestWalkthroughCLI(t *testing.T) {
	e := start(t)
	root := func(args ...string) string {
		t.Helper()
		out, err := e.cli(e.root, append([]string{"iam"}, args...)...)
		must(t, err)
		return out
	}
	root("create-user", "--user-name", "bob")
	var key struct {
		AccessKey struct{ AccessKeyId, SecretAccessKey string }
	}
	must(t, json.Unmarshal([]byte(root("create-access-key", "--user-name", "bob")), &key))
	bob := aws.Credentials{AccessKeyID: key.AccessKey.AccessKeyId, SecretAccessKey: key.AccessKey.SecretAccessKey}

	root("create-group", "--group-name", "readers")
	root("attach-group-policy", "--group-name", "readers", "--policy-arn", readOnlyARN)
	root("add-user-to-group", "--group-name", "readers", "--user-name", "bob")

	out, err := e.cli(bob, "iam", "list-users")
	must(t, err)
	if !strings.Contains(out, `"UserName": "bob"`) {
		t.Errorf("list-users as bob = %s", out)
	}
	_, err = e.cli(bob, "iam", "create-user", "--user-name", "mallory")
	if err == nil {
		t.Fatal("bob created a user")
	}
	for _, part := range []string{"AccessDenied", "CreateUser", "arn:aws:iam::123456789012:user/bob", "iam:CreateUser", "arn:aws:iam::123456789012:user/mallory"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("create-user as bob: %q does not contain %q", err, part)
		}
	}

	root("put-user-policy", "--user-name", "bob", "--policy-name", "NoListing", "--policy-document", statementDoc("Deny", "iam:ListUsers"))
	_, err = e.cli(bob, "iam", "list-users")
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") || !strings.Contains(err.Error(), "explicit deny") {
		t.Errorf("list-users as bob after the Deny: %v", err)
	}
	out, err = e.cli(bob, "iam", "get-user")
	must(t, err)
	if !strings.Contains(out, `"Arn": "arn:aws:iam::123456789012:user/bob"`) {
		t.Errorf("get-user as bob = %s", out)
	}
}
