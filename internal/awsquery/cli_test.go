package awsquery_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestAWSCLI drives the codec with the aws CLI (botocore), which also
// url-decodes and JSON-parses IAM policy documents. It is skipped when aws
// is not on PATH; CI should install it.
func TestAWSCLI(t *testing.T) {
	t.Parallel()
	aws, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("aws CLI not on PATH; install awscli to run this test")
	}
	srv := httptest.NewServer(queryHandler(newIAM(t, newFakeIAM()), nil))
	defer srv.Close()
	sts := httptest.NewServer(queryHandler(newSTS(t, fakeSTS{}), nil))
	defer sts.Close()
	run := func(endpoint string, args ...string) (map[string]any, string, error) {
		cmd := exec.Command(aws, append(args, "--endpoint-url", endpoint, "--output", "json")...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret",
			"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
			"AWS_MAX_ATTEMPTS=1", "AWS_PAGER=")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		var v map[string]any
		if err == nil && len(out) > 0 {
			if jerr := json.Unmarshal(out, &v); jerr != nil {
				t.Fatalf("%s: %v\n%s", args, jerr, out)
			}
		}
		return v, stderr.String(), err
	}

	if _, stderr, err := run(srv.URL, "iam", "create-user", "--user-name", "alice", "--tags", "Key=team,Value=blue"); err != nil {
		t.Fatalf("create-user: %v\n%s", err, stderr)
	}
	got, stderr, err := run(srv.URL, "iam", "get-user", "--user-name", "alice")
	if err != nil {
		t.Fatalf("get-user: %v\n%s", err, stderr)
	}
	if u := got["User"].(map[string]any); u["UserName"] != "alice" || !strings.HasPrefix(fmt.Sprint(u["CreateDate"]), "2024-05-06T07:08:09") {
		t.Errorf("get-user = %v", got)
	}
	got, stderr, err = run(srv.URL, "iam", "get-role", "--role-name", "app")
	if err != nil {
		t.Fatalf("get-role: %v\n%s", err, stderr)
	}
	var want any
	if err := json.Unmarshal([]byte(trustPolicy), &want); err != nil {
		t.Fatal(err)
	}
	doc := got["Role"].(map[string]any)["AssumeRolePolicyDocument"]
	if wantJSON, gotJSON := mustJSON(t, want), mustJSON(t, doc); wantJSON != gotJSON {
		t.Errorf("policy document = %s, want %s (botocore did not decode it)", gotJSON, wantJSON)
	}
	if _, stderr, err = run(srv.URL, "iam", "get-user", "--user-name", "nobody"); err == nil ||
		!strings.Contains(stderr, "An error occurred (NoSuchEntity) when calling the GetUser operation: The user with name nobody cannot be found.") {
		t.Errorf("get-user nobody: err=%v stderr=%s", err, stderr)
	}
	got, stderr, err = run(sts.URL, "sts", "get-caller-identity")
	if err != nil || got["Account"] != "123456789012" {
		t.Errorf("get-caller-identity = %v, %v\n%s", got, err, stderr)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
