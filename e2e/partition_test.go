package e2e

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	iamstate "github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/server"
)

// TestPartitionChina runs `iamd serve --partition aws-cn` and checks, with
// clients signing for cn-north-1, that every ARN is in aws-cn, that the
// AWS-managed policies are arn:aws-cn:iam::aws:policy/..., that ARNs and
// policy documents of the commercial partition are refused as IAM refuses
// them in China, and that a request signed for us-east-1 is refused.
func TestPartitionChina(t *testing.T) {
	url, _ := serveIamd(t, t.TempDir(), "--partition", "aws-cn")
	ctx := context.Background()
	cfg := func(c aws.Credentials, region string) aws.Config {
		return aws.Config{Region: region, Credentials: credentials.StaticCredentialsProvider{Value: c}, RetryMaxAttempts: 1}
	}
	iamAs := func(c aws.Credentials, region string) *iam.Client {
		return iam.NewFromConfig(cfg(c, region), func(o *iam.Options) { o.BaseEndpoint = aws.String(url) })
	}
	stsAs := func(c aws.Credentials, region string) *sts.Client {
		return sts.NewFromConfig(cfg(c, region), func(o *sts.Options) { o.BaseEndpoint = aws.String(url) })
	}
	rootCreds := aws.Credentials{AccessKeyID: rootKeyID, SecretAccessKey: rootSecretKey}
	root := iamAs(rootCreds, "cn-north-1")
	const pfx = "arn:aws-cn:iam::" + testAccount + ":"

	// Entities' ARNs.
	cu, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("pu"), Path: aws.String("/team/")})
	must(t, err)
	if got := aws.ToString(cu.User.Arn); got != pfx+"user/team/pu" {
		t.Fatalf("CreateUser ARN = %s", got)
	}
	gu, err := root.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("pu")})
	must(t, err)
	if got := aws.ToString(gu.User.Arn); got != pfx+"user/team/pu" {
		t.Fatalf("GetUser ARN = %s", got)
	}
	id, err := stsAs(rootCreds, "cn-north-1").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(t, err)
	if got := aws.ToString(id.Arn); got != pfx+"root" {
		t.Fatalf("root GetCallerIdentity ARN = %s", got)
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + pfx + `user/team/pu"},"Action":"sts:AssumeRole"}]}`
	cr, err := root.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("cn-role"), AssumeRolePolicyDocument: aws.String(trust)})
	must(t, err)
	if got := aws.ToString(cr.Role.Arn); got != pfx+"role/cn-role" {
		t.Fatalf("CreateRole ARN = %s", got)
	}

	// The AWS CLI, signing for the partition's global region, sees the same.
	e := &env{t: t, url: url, account: testAccount, root: rootCreds}
	if out, err := e.cli(rootCreds, "--region", "cn-north-1", "iam", "get-user", "--user-name", "pu"); err != nil {
		t.Fatalf("aws iam get-user: %v", err)
	} else if !strings.Contains(out, `"Arn": "`+pfx+`user/team/pu"`) {
		t.Fatalf("aws iam get-user: %s", out)
	}
	if _, err := e.cli(rootCreds, "--region", "us-east-1", "iam", "get-user", "--user-name", "pu"); err == nil || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
		t.Fatalf("aws iam get-user signed for us-east-1: %v", err)
	}

	// The user's policy names resources in aws-cn, and matches them.
	allow := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GetUser","sts:AssumeRole"],"Resource":["` + pfx + `user/team/*","` + pfx + `role/cn-role"]}]}`
	_, err = root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("pu"), PolicyName: aws.String("p"), PolicyDocument: aws.String(allow)})
	must(t, err)
	key, err := root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("pu")})
	must(t, err)
	userCreds := aws.Credentials{AccessKeyID: aws.ToString(key.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(key.AccessKey.SecretAccessKey)}
	_, err = iamAs(userCreds, "cn-north-1").GetUser(ctx, &iam.GetUserInput{UserName: aws.String("pu")})
	must(t, err)
	ar, err := stsAs(userCreds, "cn-northwest-1").AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(pfx + "role/cn-role"), RoleSessionName: aws.String("s1")})
	must(t, err)
	if got := aws.ToString(ar.AssumedRoleUser.Arn); got != "arn:aws-cn:sts::"+testAccount+":assumed-role/cn-role/s1" {
		t.Fatalf("AssumeRole ARN = %s", got)
	}
	sessionCreds := aws.Credentials{AccessKeyID: aws.ToString(ar.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(ar.Credentials.SecretAccessKey), SessionToken: aws.ToString(ar.Credentials.SessionToken)}
	sid, err := stsAs(sessionCreds, "cn-north-1").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(t, err)
	if got := aws.ToString(sid.Arn); got != "arn:aws-cn:sts::"+testAccount+":assumed-role/cn-role/s1" {
		t.Fatalf("session GetCallerIdentity ARN = %s", got)
	}

	// AWS-managed policies are in the partition.
	const readOnly = "arn:aws-cn:iam::aws:policy/ReadOnlyAccess"
	_, err = root.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("cn-role"), PolicyArn: aws.String(readOnly)})
	must(t, err)
	la, err := root.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("cn-role")})
	must(t, err)
	if len(la.AttachedPolicies) != 1 || aws.ToString(la.AttachedPolicies[0].PolicyArn) != readOnly {
		t.Fatalf("attached = %+v", la.AttachedPolicies)
	}
	gp, err := root.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(readOnly)})
	must(t, err)
	if got := aws.ToString(gp.Policy.Arn); got != readOnly {
		t.Fatalf("GetPolicy ARN = %s", got)
	}
	cp, err := root.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("cn-pol"), PolicyDocument: aws.String(allow)})
	must(t, err)
	if got := aws.ToString(cp.Policy.Arn); got != pfx+"policy/cn-pol" {
		t.Fatalf("CreatePolicy ARN = %s", got)
	}
	ip, err := root.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("cn-ip")})
	must(t, err)
	if got := aws.ToString(ip.InstanceProfile.Arn); got != pfx+"instance-profile/cn-ip" {
		t.Fatalf("CreateInstanceProfile ARN = %s", got)
	}
	mfa, err := root.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("cn-mfa")})
	must(t, err)
	if got := aws.ToString(mfa.VirtualMFADevice.SerialNumber); got != pfx+"mfa/cn-mfa" {
		t.Fatalf("CreateVirtualMFADevice serial = %s", got)
	}
	oidc, err := root.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String("https://oidc.example.cn"), ThumbprintList: []string{strings.Repeat("a", 40)}})
	must(t, err)
	if got := aws.ToString(oidc.OpenIDConnectProviderArn); got != pfx+"oidc-provider/oidc.example.cn" {
		t.Fatalf("CreateOpenIDConnectProvider ARN = %s", got)
	}

	// The commercial partition's ARNs are refused.
	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"attach arn:aws managed policy", func() error {
			_, err := root.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("cn-role"), PolicyArn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")})
			return err
		}, "ValidationError"},
		{"boundary in arn:aws", func() error {
			_, err := root.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: aws.String("cn-role"), PermissionsBoundary: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")})
			return err
		}, "ValidationError"},
		{"get arn:aws OIDC provider", func() error {
			_, err := root.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String("arn:aws:iam::" + testAccount + ":oidc-provider/oidc.example.cn")})
			return err
		}, "ValidationError"},
		{"policy naming an arn:aws resource", func() error {
			_, err := root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("pu"), PolicyName: aws.String("bad"),
				PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"}]}`)})
			if err != nil && !strings.Contains(err.Error(), `Partition "aws" is not valid for resource "arn:aws:s3:::bucket/*".`) {
				t.Errorf("message: %v", err)
			}
			return err
		}, "MalformedPolicyDocument"},
		{"trust policy naming an arn:aws principal", func() error {
			_, err := root.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("cn-role"),
				PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + testAccount + `:root"},"Action":"sts:AssumeRole"}]}`)})
			return err
		}, "MalformedPolicyDocument"},
		{"IAM signed for us-east-1", func() error {
			_, err := iamAs(rootCreds, "us-east-1").ListUsers(ctx, &iam.ListUsersInput{})
			if err != nil && !strings.Contains(err.Error(), "Credential should be scoped to a valid region") {
				t.Errorf("message: %v", err)
			}
			return err
		}, "SignatureDoesNotMatch"},
		{"STS signed for eu-west-1", func() error {
			_, err := stsAs(rootCreds, "eu-west-1").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			return err
		}, "SignatureDoesNotMatch"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.call(), tc.code) })
	}
}

// TestPartitionChinaServiceARNs runs iamd as aws-cn in process and checks
// the ARNs that are not an entity's own: a workload's aws:SourceArn, the
// root task policies AssumeRoot takes, the delegation requests
// GetHumanReadableSummary takes, and a service-linked role with the
// managed policy attached to it. Each is in aws-cn; the commercial
// partition's ARNs do not stand in for them.
func TestPartitionChinaServiceARNs(t *testing.T) {
	e := startWith(t, func(c *server.Config) { c.Partition = iamstate.PartitionChina })
	ctx := context.Background()
	cn := func(o *iam.Options) { o.Region = "cn-north-1" }
	root := iam.NewFromConfig(e.config(e.root), func(o *iam.Options) { o.BaseEndpoint = aws.String(e.url); cn(o) })
	stsAs := func(c aws.Credentials) *sts.Client {
		return sts.NewFromConfig(e.config(c), func(o *sts.Options) { o.BaseEndpoint = aws.String(e.url); o.Region = "cn-north-1" })
	}

	// A trust policy narrowed to a workload by its aws-cn ARN lets that
	// workload, and no other, assume the role.
	narrow := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"workloads.iamd.internal"},"Action":"sts:AssumeRole",` +
		`"Condition":{"StringEquals":{"aws:SourceArn":"arn:aws-cn:iamd::` + testAccount + `:workload/allowed"}}}]}`
	role(t, root, "narrow-role", narrow, "", 0)
	allowedURI, allowedToken := registerWorkload(t, e, "allowed", "narrow-role")
	otherURI, otherToken := registerWorkload(t, e, "other", "narrow-role")
	if status, body := getCredentials(t, allowedURI, allowedToken); status != 200 {
		t.Errorf("workload named by its aws-cn ARN: %d %v", status, body)
	}
	if status, body := getCredentials(t, otherURI, otherToken); status != 403 {
		t.Errorf("workload not named: %d %v", status, body)
	}

	// AssumeRoot takes the partition's root task policies only.
	_, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("admin")})
	must(t, err)
	_, err = root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("admin"), PolicyName: aws.String("p"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRoot","Resource":"*"}]}`)})
	must(t, err)
	key, err := root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("admin")})
	must(t, err)
	admin := stsAs(aws.Credentials{AccessKeyID: aws.ToString(key.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(key.AccessKey.SecretAccessKey)})
	for _, tc := range []struct{ arn, code string }{
		{"arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials", "ValidationError"},
		{"arn:aws-cn:iam::aws:policy/root-task/IAMAuditRootUserCredentials", "AccessDenied"}, // no organization
	} {
		_, err = admin.AssumeRoot(ctx, &sts.AssumeRootInput{TargetPrincipal: aws.String("210987654321"), TaskPolicyArn: &ststypes.PolicyDescriptorType{Arn: aws.String(tc.arn)}})
		if errCode(err) != tc.code {
			t.Errorf("AssumeRoot with %s: %v, want %s", tc.arn, err, tc.code)
		}
	}

	// GetHumanReadableSummary takes the partition's delegation requests.
	for _, tc := range []struct{ arn, code string }{
		{"arn:aws:iam::" + testAccount + ":delegation-request/dr-1", "InvalidInput"},
		{"arn:aws-cn:iam::" + testAccount + ":delegation-request/dr-1", "NoSuchEntity"},
	} {
		_, err = root.GetHumanReadableSummary(ctx, &iam.GetHumanReadableSummaryInput{EntityArn: aws.String(tc.arn)})
		if errCode(err) != tc.code {
			t.Errorf("GetHumanReadableSummary(%s): %v, want %s", tc.arn, err, tc.code)
		}
	}

	// The audit trail names the root user behind a federation token by its
	// aws-cn ARN.
	fed, err := stsAs(e.root).GetFederationToken(ctx, &sts.GetFederationTokenInput{Name: aws.String("cn-fed")})
	must(t, err)
	fedCreds := aws.Credentials{AccessKeyID: aws.ToString(fed.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(fed.Credentials.SecretAccessKey), SessionToken: aws.ToString(fed.Credentials.SessionToken)}
	_, err = stsAs(fedCreds).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(t, err)
	page := e.lookup(t, e.root, "--region", "cn-north-1", "--lookup-attributes", "AttributeKey=AccessKeyId,AttributeValue="+fedCreds.AccessKeyID)
	if len(page.Events) != 1 {
		t.Fatalf("events of the federation token: %+v", page.Events)
	}
	id, _ := page.Events[0].record(t)["userIdentity"].(map[string]any)
	sc, _ := id["sessionContext"].(map[string]any)
	issuer, _ := sc["sessionIssuer"].(map[string]any)
	if issuer["type"] != "Root" || issuer["arn"] != "arn:aws-cn:iam::"+testAccount+":root" {
		t.Errorf("federated user's session issuer = %v", issuer)
	}

	// A service-linked role and its policy are in aws-cn.
	slr, err := root.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String("custom-resource.application-autoscaling.amazonaws.com")})
	must(t, err)
	const slrARN = "arn:aws-cn:iam::" + testAccount + ":role/aws-service-role/custom-resource.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_CustomResource"
	if got := aws.ToString(slr.Role.Arn); got != slrARN {
		t.Errorf("service-linked role ARN = %s, want %s", got, slrARN)
	}
	attached, err := root.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: slr.Role.RoleName})
	must(t, err)
	if len(attached.AttachedPolicies) != 1 || aws.ToString(attached.AttachedPolicies[0].PolicyArn) != "arn:aws-cn:iam::aws:policy/aws-service-role/AWSApplicationAutoScalingCustomResourcePolicy" {
		t.Errorf("service-linked role's policies = %+v", attached.AttachedPolicies)
	}
}

// TestPartitionChinaConsole: the console builds its ARNs in the partition
// iamd serves as. Under aws-cn a user creating a user who must reset the
// password gets IAMUserChangePassword attached as
// arn:aws-cn:iam::aws:policy/IAMUserChangePassword, and Switch role
// assumes arn:aws-cn:iam::ACCOUNT:role/NAME.
func TestPartitionChinaConsole(t *testing.T) {
	e := startWith(t, func(c *server.Config) { c.Partition = iamstate.PartitionChina })
	ctx := context.Background()
	root := iam.NewFromConfig(e.config(e.root), func(o *iam.Options) { o.BaseEndpoint = aws.String(e.url); o.Region = "cn-north-1" })
	const pfx = "arn:aws-cn:iam::" + testAccount + ":"
	_, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("admin")})
	must(t, err)
	_, err = root.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("admin"), Password: aws.String(goodPassword)})
	must(t, err)
	_, err = root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("admin"), PolicyName: aws.String("p"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","sts:AssumeRole"],"Resource":"*"}]}`)})
	must(t, err)
	_, err = root.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("ops"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + pfx + `root"},"Action":"sts:AssumeRole"}]}`)})
	must(t, err)

	c := newSigninClient(t, e.url)
	if res, body := c.post("mode", "user", "account", testAccount, "username", "admin", "password", goodPassword); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d %s", res.StatusCode, body)
	}
	// form posts a console form with the session's CSRF token, read from
	// the page at path, and wants the redirect that follows success.
	form := func(path string, fields ...string) {
		t.Helper()
		res, err := c.c.Get(e.url + "/console" + path)
		must(t, err)
		page, _ := io.ReadAll(res.Body)
		res.Body.Close()
		m := csrfField.FindSubmatch(page)
		if m == nil {
			t.Fatalf("no CSRF token on %s: %s", path, page)
		}
		v := url.Values{"csrf": {string(m[1])}}
		for i := 0; i+1 < len(fields); i += 2 {
			v.Set(fields[i], fields[i+1])
		}
		res, err = c.c.PostForm(e.url+"/console"+path, v)
		must(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST %s: %d %s", path, res.StatusCode, body)
		}
	}

	form("/users", "name", "newbie", "password", goodPassword, "reset", "on")
	attached, err := root.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("newbie")})
	must(t, err)
	if len(attached.AttachedPolicies) != 1 || aws.ToString(attached.AttachedPolicies[0].PolicyArn) != "arn:aws-cn:iam::aws:policy/IAMUserChangePassword" {
		t.Errorf("policies attached at creation = %+v", attached.AttachedPolicies)
	}

	form("/switch-role", "account", testAccount, "role", "ops")
	res, err := c.c.Get(e.url + "/console/")
	must(t, err)
	home, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(home), "You are now working as role ops") {
		t.Errorf("after Switch role the console says: %s", home)
	}
}
