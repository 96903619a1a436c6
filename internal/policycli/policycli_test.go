package policycli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.json", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`)
	bad := writeFile(t, dir, "bad.json", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*"}}`)
	trust := writeFile(t, dir, "trust.json", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}`)
	tests := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"valid", []string{"validate", good}, 0, "valid identity policy"},
		{"invalid", []string{"validate", good, bad}, 1, "Policy statement must contain resources."},
		{"trust kind", []string{"validate", "--kind", "trust", trust}, 0, "valid trust policy"},
		{"trust as identity", []string{"validate", trust}, 1, "Policy document should not specify a principal."},
		{"too large", []string{"validate", "--max-size", "10", good}, 1, "LimitExceeded"},
		{"no files", []string{"validate"}, 2, ""},
		{"unknown kind", []string{"validate", "--kind", "x", good}, 2, ""},
		{"missing file", []string{"validate", filepath.Join(dir, "none.json")}, 2, ""},
		{"unknown command", []string{"frobnicate"}, 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, _ := run(tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (out %q)", code, tc.code, out)
			}
			if !strings.Contains(out, tc.contains) {
				t.Errorf("output %q does not contain %q", out, tc.contains)
			}
		})
	}
}

func TestEval(t *testing.T) {
	dir := t.TempDir()
	pol := writeFile(t, dir, "p.json", `{"Version":"2012-10-17","Statement":[{"Sid":"Home","Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},{"Sid":"NoDelete","Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}`)
	bnd := writeFile(t, dir, "b.json", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}}`)
	allowAll := writeFile(t, dir, "all.json", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`)
	denyAll := writeFile(t, dir, "deny.json", `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}`)
	trustAcct := writeFile(t, dir, "trust.json", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}}`)
	trustAlice := writeFile(t, dir, "trust-alice.json", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"sts:AssumeRole"}}`)
	rcpFull := writeFile(t, dir, "rcp-full.json", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}`)
	rcpSQS := writeFile(t, dir, "rcp-sqs.json", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sqs:*","Resource":"*"}}`)
	fromLambda := writeFile(t, dir, "from-lambda.json", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:PrincipalIsAWSService":"true"},"StringEquals":{"aws:PrincipalServiceName":"lambda.amazonaws.com"}}}}`)
	onlyTeamTags := writeFile(t, dir, "only-team.json", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:PutObject","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["team"]}}}}`)
	anyTeamTag := writeFile(t, dir, "any-team.json", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:PutObject","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["team"]}}}}`)
	ctxFile := writeFile(t, dir, "ctx.json", `{"aws:SourceIp":"10.1.1.1","aws:SecureTransport":true}`)
	bucket := writeFile(t, dir, "bucket.json", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}`)
	tests := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"allowed", []string{"eval", "--policy", pol, "--action", "s3:GetObject", "--resource", "arn:aws:s3:::b/policy-tester/k", "--context", "aws:SourceIp=10.1.1.1"}, 0, "Decision: Allow"},
		{"missing context", []string{"eval", "--policy", pol, "--action", "s3:GetObject", "--resource", "arn:aws:s3:::b/policy-tester/k"}, 1, "context keys missing: aws:SourceIp"},
		{"explicit deny", []string{"eval", "--policy", pol, "--action", "s3:DeleteObject", "--resource", "arn:aws:s3:::b/policy-tester/k", "--context", "aws:SourceIp=10.1.1.1"}, 1, "with an explicit deny in an identity-based policy"},
		{"boundary", []string{"eval", "--policy", pol, "--boundary", bnd, "--action", "s3:PutObject", "--resource", "arn:aws:s3:::b/policy-tester/k", "--context", "aws:SourceIp=10.1.1.1"}, 1, "because no permissions boundary allows the s3:PutObject action"},
		{"resource policy", []string{"eval", "--resource-policy", bucket, "--principal", "arn:aws:iam::123456789012:user/alice", "--action", "s3:GetObject", "--resource", "arn:aws:s3:::b/x"}, 0, "principal match: direct"},
		{"caller identity needs no permission", []string{"eval", "--policy", denyAll, "--action", "sts:GetCallerIdentity", "--resource", "*"}, 0, "Allowed because sts:GetCallerIdentity needs no permission"},
		{"federation token cannot call iam", []string{"eval", "--policy", allowAll, "--credential", "federation-token", "--principal", "arn:aws:sts::123456789012:federated-user/f", "--action", "iam:GetUser", "--resource", "*"}, 1, "because temporary credentials from GetFederationToken cannot call IAM or STS (except GetCallerIdentity)"},
		{"session token iam with MFA", []string{"eval", "--policy", allowAll, "--credential", "session-token", "--action", "iam:GetUser", "--resource", "*", "--context", "aws:MultiFactorAuthPresent=true"}, 0, "Decision: Allow"},
		{"bad credential", []string{"eval", "--policy", allowAll, "--credential", "x", "--action", "iam:GetUser", "--resource", "*"}, 2, ""},
		{"assume role without trust policy", []string{"eval", "--policy", allowAll, "--action", "sts:AssumeRole", "--resource", "arn:aws:iam::123456789012:role/R"}, 1, "because no resource-based policy allows the sts:AssumeRole action"},
		{"assume role trust names the account", []string{"eval", "--policy", allowAll, "--resource-policy", trustAcct, "--action", "sts:AssumeRole", "--resource", "arn:aws:iam::123456789012:role/R"}, 0, "Decision: Allow"},
		{"assume role trust names the account, no identity policy", []string{"eval", "--resource-policy", trustAcct, "--action", "sts:AssumeRole", "--resource", "arn:aws:iam::123456789012:role/R"}, 1, "because no identity-based policy allows the sts:AssumeRole action"},
		{"assume role trust names someone else", []string{"eval", "--policy", allowAll, "--resource-policy", trustAlice, "--action", "sts:AssumeRole", "--resource", "arn:aws:iam::123456789012:role/R"}, 1, "because no resource-based policy allows the sts:AssumeRole action"},
		{"bucket policy is no trust policy", []string{"eval", "--policy", allowAll, "--resource-policy", bucket, "--action", "sts:AssumeRole", "--resource", "arn:aws:iam::123456789012:role/R"}, 2, ""},
		{"rcp full access", []string{"eval", "--policy", allowAll, "--rcp", rcpFull, "--action", "s3:GetObject", "--resource", "arn:aws:s3:::b/k", "--resource-account", "123456789012"}, 0, "rcp level 0: Allow"},
		{"rcp level without allow", []string{"eval", "--policy", allowAll, "--rcp", rcpFull, "--rcp", rcpSQS, "--action", "s3:GetObject", "--resource", "arn:aws:s3:::b/k", "--resource-account", "123456789012"}, 1, "because no resource control policy allows the s3:GetObject action"},
		{"rcp not for iam", []string{"eval", "--policy", allowAll, "--rcp", rcpSQS, "--action", "iam:GetUser", "--resource", "*"}, 0, "rcp: not applicable"},
		{"endpoint allows", []string{"eval", "--policy", allowAll, "--endpoint-policy", rcpFull, "--action", "s3:GetObject", "--resource", "arn:aws:s3:::b/k", "--resource-account", "123456789012"}, 0, "endpoint: Allow"},
		{"endpoint does not allow", []string{"eval", "--policy", allowAll, "--endpoint-policy", rcpSQS, "--action", "s3:GetObject", "--resource", "arn:aws:s3:::b/k", "--resource-account", "123456789012"}, 1, "because no VPC endpoint policy allows the s3:GetObject action"},
		{"endpoint policy without principal", []string{"eval", "--policy", allowAll, "--endpoint-policy", allowAll, "--action", "s3:GetObject", "--resource", "arn:aws:s3:::b/k", "--resource-account", "123456789012"}, 2, ""},
		{"service principal allowed by a resource policy", []string{"eval", "--principal-service", "lambda.amazonaws.com", "--resource-policy", fromLambda, "--action", "s3:GetObject", "--resource", "arn:aws:s3:::b/k", "--resource-account", "123456789012"}, 0, "principal match: direct"},
		{"service principal condition", []string{"eval", "--principal-service", "lambda.amazonaws.com", "--resource-policy", fromLambda, "--action", "s3:GetObject", "--resource", "arn:aws:s3:::b/k", "--resource-account", "123456789012"}, 0, "context keys read: aws:PrincipalIsAWSService, aws:PrincipalServiceName"},
		{"other service principal", []string{"eval", "--principal-service", "ec2.amazonaws.com", "--resource-policy", fromLambda, "--action", "s3:GetObject", "--resource", "arn:aws:s3:::b/k", "--resource-account", "123456789012"}, 1, "User: ec2.amazonaws.com is not authorized to perform: s3:GetObject"},
		{"service principal without resource policy", []string{"eval", "--principal-service", "lambda.amazonaws.com", "--policy", allowAll, "--action", "s3:GetObject", "--resource", "arn:aws:s3:::b/k", "--resource-account", "123456789012"}, 1, "identity: not applicable"},
		{"principal and service", []string{"eval", "--principal", "arn:aws:iam::123456789012:user/a", "--principal-service", "lambda.amazonaws.com", "--action", "s3:GetObject", "--resource", "*"}, 2, ""},
		{"empty set ForAllValues", []string{"eval", "--policy", onlyTeamTags, "--action", "s3:PutObject", "--resource", "*", "--context-json", `{"aws:TagKeys":[]}`}, 0, "context keys read: aws:TagKeys"},
		{"empty set ForAnyValue", []string{"eval", "--policy", anyTeamTag, "--action", "s3:PutObject", "--resource", "*", "--context-json", `{"aws:TagKeys":[]}`}, 1, "context keys read: aws:TagKeys"},
		{"empty string is a value", []string{"eval", "--policy", onlyTeamTags, "--action", "s3:PutObject", "--resource", "*", "--context", "aws:TagKeys="}, 1, "Decision: ImplicitDeny"},
		{"json values merge with flags", []string{"eval", "--policy", anyTeamTag, "--action", "s3:PutObject", "--resource", "*", "--context-json", `{"aws:TagKeys":["x"]}`, "--context", "aws:TagKeys=team"}, 0, "Decision: Allow"},
		{"context file", []string{"eval", "--policy", pol, "--action", "s3:GetObject", "--resource", "arn:aws:s3:::b/policy-tester/k", "--context-file", ctxFile}, 0, "Decision: Allow"},
		{"bad context json", []string{"eval", "--policy", pol, "--action", "s3:GetObject", "--resource", "*", "--context-json", `["x"]`}, 2, ""},
		{"nested context json", []string{"eval", "--policy", pol, "--action", "s3:GetObject", "--resource", "*", "--context-json", `{"k":{"a":1}}`}, 2, ""},
		{"missing action", []string{"eval", "--policy", pol, "--resource", "*"}, 2, ""},
		{"bad context", []string{"eval", "--policy", pol, "--action", "s3:GetObject", "--resource", "*", "--context", "novalue"}, 2, ""},
		{"bad principal", []string{"eval", "--policy", pol, "--action", "s3:GetObject", "--resource", "*", "--principal", "bob"}, 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout %s\nstderr %s", code, tc.code, out, errOut)
			}
			if !strings.Contains(out, tc.contains) {
				t.Errorf("output does not contain %q:\n%s", tc.contains, out)
			}
		})
	}
}

// TestEvalDefaultPartition: the default caller is in the resource's
// partition, or else in the configured one (IAMD_PARTITION), not always
// in aws.
func TestEvalDefaultPartition(t *testing.T) {
	dir := t.TempDir()
	china := writeFile(t, dir, "cn.json", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws-cn:iam::*:user/*"}}}}`)
	tests := []struct {
		name, env, resource string
		code                int
		contains            string
	}{
		{"resource in aws-cn", "", "arn:aws-cn:s3:::b/k", 0, "Decision: Allow"},
		{"resource in aws", "aws-cn", "arn:aws:s3:::b/k", 1, "User: arn:aws:iam::123456789012:user/policy-tester is not authorized"},
		{"no partition in the resource, aws-cn configured", "aws-cn", "*", 0, "Decision: Allow"},
		{"wildcard partition, aws-us-gov configured", "aws-us-gov", "arn:*:s3:::b/k", 1, "User: arn:aws-us-gov:iam::123456789012:user/policy-tester is not authorized"},
		{"nothing configured", "", "*", 1, "User: arn:aws:iam::123456789012:user/policy-tester is not authorized"},
		{"unknown partition configured", "aws-mars", "*", 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("IAMD_PARTITION", tc.env)
			code, out, errOut := run("eval", "--policy", china, "--action", "s3:GetObject", "--resource", tc.resource)
			if code != tc.code || !strings.Contains(out, tc.contains) {
				t.Errorf("exit %d, want %d with %q\nstdout %s\nstderr %s", code, tc.code, tc.contains, out, errOut)
			}
		})
	}
}

func TestEvalJSON(t *testing.T) {
	dir := t.TempDir()
	pol := writeFile(t, dir, "p.json", `{"Version":"2012-10-17","Statement":{"Sid":"A","Effect":"Allow","Action":"iam:GetUser","Resource":"*"}}`)
	code, out, _ := run("eval", "--json", "--policy", pol, "--action", "iam:CreateUser", "--resource", "arn:aws:iam::123456789012:user/x")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var got jsonExplanation
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("bad JSON %v:\n%s", err, out)
	}
	want := "User: arn:aws:iam::123456789012:user/policy-tester is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::123456789012:user/x because no identity-based policy allows the iam:CreateUser action"
	if got.Decision != "ImplicitDeny" || got.Message != want || len(got.Layers) == 0 {
		t.Errorf("explanation = %+v", got)
	}
}
