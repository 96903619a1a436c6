package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/iamd/iamd/internal/insight"
	"github.com/iamd/iamd/internal/policycli"
	"github.com/iamd/iamd/internal/sar"
	"github.com/iamd/iamd/policy"
)

// TestInsightGeneratePolicy makes calls as a user, generates a policy from
// the audit trail, attaches it to a fresh user, and checks that it allows
// exactly the calls that were made: with the simulator and with real calls.
func TestInsightGeneratePolicy(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	began := time.Now().UTC().Add(-time.Second)
	acct := e.account
	arn := func(kind, name string) string { return "arn:aws:iam::" + acct + ":" + kind + "/" + name }

	_, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("worker")})
	must(t, err)
	_, err = root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("worker"), PolicyName: aws.String("broad"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:CreateUser","iam:GetUser","iam:ListUsers","iam:TagUser","iam:ListUserTags"],"Resource":"*"}]}`)})
	must(t, err)
	key, err := root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("worker")})
	must(t, err)
	worker := aws.Credentials{AccessKeyID: aws.ToString(key.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(key.AccessKey.SecretAccessKey)}
	w := e.iam(worker)

	// The worker's activity: creates and reads a few users, lists, tags
	// one, fails once (not allowed), and asks who it is.
	for _, n := range []string{"app-1", "app-2"} {
		_, err := w.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(n)})
		must(t, err)
		_, err = w.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(n)})
		must(t, err)
	}
	_, err = w.ListUsers(ctx, &iam.ListUsersInput{})
	must(t, err)
	_, err = w.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("app-1"), Tags: []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("a")}}})
	must(t, err)
	_, err = w.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("app-2")})
	wantCode(t, err, "AccessDenied")
	if out, err := e.cli(worker, "iam", "get-user", "--user-name", "app-2"); err != nil || !strings.Contains(out, "app-2") {
		t.Fatalf("cli get-user: %v %s", err, out)
	}
	_, err = e.sts(worker).GetCallerIdentity(ctx, nil)
	must(t, err)

	// The same reference as the command line's: the one built in, which
	// may be empty (scripts/gen-sar.sh not run).
	cat, err := sar.Load()
	must(t, err)
	opts := insight.GenerateOptions{Account: acct, User: "worker", Start: began, End: time.Now().UTC().Add(time.Second), Catalog: cat}
	gen, err := insight.GenerateFromLog(e.srv.Audit(), opts)
	must(t, err)
	t.Logf("generated from the trail:\n%s%v", gen.Policy, gen.Notes)
	if gen.Failed != 1 || gen.Calls != 7 || gen.Unchecked != 1 {
		t.Errorf("calls %d failed %d unchecked %d, want 7, 1 and 1", gen.Calls, gen.Failed, gen.Unchecked)
	}

	// The command line reads the same trail from the data directory while
	// the server runs, and writes the same policy.
	dataDir := filepath.Dir(e.srv.Audit().Dir())
	var stdout, stderr bytes.Buffer
	code := policycli.Main([]string{"generate", "--data", dataDir, "--account", acct, "--user", "worker",
		"--since", opts.Start.Format(time.RFC3339), "--until", opts.End.Format(time.RFC3339)}, nil, &stdout, &stderr)
	if code != 0 || stdout.String() != gen.Policy {
		t.Fatalf("iamd policy generate exit %d\n%s\nstderr: %s\nwant:\n%s", code, stdout.String(), stderr.String(), gen.Policy)
	}
	if !strings.Contains(stderr.String(), "1 failed") || strings.Contains(stderr.String(), sar.NotAvailable) == cat.Available() {
		t.Errorf("generate's report (reference built in: %v): %s", cat.Available(), stderr.String())
	}
	file := filepath.Join(t.TempDir(), "generated.json")
	must(t, os.WriteFile(file, []byte(gen.Policy), 0o600))

	// The generated policy is a valid managed policy for IAM, with no
	// blocking findings.
	if rep := insight.Analyze([]byte(gen.Policy), policy.Identity, cat); rep.Blocking() {
		t.Errorf("findings on the generated policy: %+v", rep.Findings)
	}
	if out, err := e.cli(e.root, "iam", "create-policy", "--policy-name", "generated", "--policy-document", "file://"+file); err != nil {
		t.Fatalf("create-policy: %v", err)
	} else if !strings.Contains(out, arn("policy", "generated")) {
		t.Fatalf("create-policy: %s", out)
	}
	_, err = root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("fresh")})
	must(t, err)
	_, err = root.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("fresh"), PolicyArn: aws.String(arn("policy", "generated"))})
	must(t, err)

	tests := []struct {
		action, resource string
		allowed          bool
	}{
		{"iam:CreateUser", arn("user", "app-1"), true},
		{"iam:CreateUser", arn("user", "app-2"), true},
		{"iam:GetUser", arn("user", "app-1"), true},
		{"iam:GetUser", arn("user", "app-2"), true},
		{"iam:TagUser", arn("user", "app-1"), true},
		// Not used: not allowed.
		{"iam:CreateUser", arn("user", "someone-else"), false},
		{"iam:GetUser", arn("user", "worker"), false},
		{"iam:TagUser", arn("user", "app-2"), false},
		{"iam:DeleteUser", arn("user", "app-2"), false},
		{"iam:ListUserTags", arn("user", "app-1"), false},
		{"iam:CreateRole", arn("role", "r"), false},
	}
	for _, tc := range tests {
		t.Run("simulate "+tc.action+" "+tc.resource, func(t *testing.T) {
			out, err := root.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{
				PolicySourceArn: aws.String(arn("user", "fresh")), ActionNames: []string{tc.action}, ResourceArns: []string{tc.resource}})
			must(t, err)
			if len(out.EvaluationResults) != 1 {
				t.Fatalf("results %+v", out.EvaluationResults)
			}
			got := out.EvaluationResults[0].EvalDecision
			if want := map[bool]iamtypes.PolicyEvaluationDecisionType{true: "allowed", false: "implicitDeny"}[tc.allowed]; got != want {
				t.Fatalf("decision %s, want %s", got, want)
			}
		})
	}
	// ListUsers authorizes on the user path of the account.
	listed := false
	for _, a := range gen.Actions {
		listed = listed || a.Action == "iam:ListUsers"
	}
	if !listed {
		t.Errorf("iam:ListUsers missing from %+v", gen.Actions)
	}

	// Real calls as the fresh user: what the worker did works, the rest
	// does not.
	fk, err := root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("fresh")})
	must(t, err)
	fresh := e.iam(aws.Credentials{AccessKeyID: aws.ToString(fk.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(fk.AccessKey.SecretAccessKey)})
	_, err = fresh.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("app-1")})
	must(t, err)
	_, err = fresh.ListUsers(ctx, &iam.ListUsersInput{})
	must(t, err)
	_, err = fresh.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("app-1"), Tags: []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("b")}}})
	must(t, err)
	_, err = fresh.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("app-2")})
	wantCode(t, err, "AccessDenied")
	_, err = fresh.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String("app-1")})
	wantCode(t, err, "AccessDenied")
}

// TestInsightCommands runs analyze and summarize on the command line, as a
// CI job would.
func TestInsightCommands(t *testing.T) {
	// Without --reference the commands use the reference built into iamd,
	// which scripts/gen-sar.sh may not have generated: the expected output
	// depends on it.
	cat, err := sar.Load()
	must(t, err)
	builtIn := func(with, without []string) []string {
		if cat.Available() {
			return with
		}
		return without
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	good := filepath.Join(dir, "good.json")
	must(t, os.WriteFile(bad, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}]}`), 0o600))
	must(t, os.WriteFile(good, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::123456789012:user/bob"}]}`), 0o600))
	tests := []struct {
		args     []string
		code     int
		contains []string
	}{
		{[]string{"analyze", bad}, 1, append([]string{"SECURITY_WARNING PASS_ROLE_WITH_STAR_IN_RESOURCE: 1:", "Statement[0].Resource"},
			builtIn(nil, []string{"INFO REFERENCE_DATA_NOT_AVAILABLE"})...)},
		{[]string{"analyze", good}, 0, builtIn([]string{"no findings"}, []string{"INFO REFERENCE_DATA_NOT_AVAILABLE"})},
		{[]string{"analyze", "--json", good}, 0, builtIn([]string{`"referenceAvailable": true`, `"findings": []`},
			[]string{`"referenceAvailable": false`, `"issueCode": "REFERENCE_DATA_NOT_AVAILABLE"`})},
		{[]string{"analyze", "--reference", "../internal/sar/testdata/aws-format", good}, 0, []string{"no findings"}},
		{[]string{"analyze", "--reference", t.TempDir(), good}, 0, []string{"INFO REFERENCE_DATA_NOT_AVAILABLE", "warning: no service authorization reference in"}},
		{[]string{"summarize", good}, 0, append([]string{"Resource: arn:aws:iam::123456789012:user/bob"},
			builtIn([]string{"Access level: Limited: Read"}, []string{"Access level: unknown (reference data not available)"})...)},
		{[]string{"summarize", "--reference", "../internal/sar/testdata/aws-format", good}, 0, []string{"Access level: Limited: Read"}},
		{[]string{"generate", "--account", "123456789012", "--user", "x"}, 2, []string{"--since is required"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := policycli.Main(tc.args, nil, &stdout, &stderr)
			out := stdout.String() + stderr.String()
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", code, tc.code, out)
			}
			for _, c := range tc.contains {
				if !strings.Contains(out, c) {
					t.Errorf("output lacks %q:\n%s", c, out)
				}
			}
		})
	}
}
