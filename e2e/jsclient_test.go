package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestJavaScriptSDK runs a shared scenario (users, groups, policies, roles,
// AssumeRole, MFA devices, access keys) through the AWS SDK for JavaScript
// v3, a fourth client beside aws-sdk-go-v2, the AWS CLI and Terraform. Its
// packages are installed by .ci/run (npm ci --prefix e2e/jsclient).
func TestJavaScriptSDK(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	if _, err := os.Stat(filepath.Join("jsclient", "node_modules", "@aws-sdk", "client-iam")); err != nil {
		t.Skip("AWS SDK for JavaScript not installed: run npm ci --prefix e2e/jsclient (as .ci/run does)")
	}
	e := start(t)
	cmd := exec.Command(node, "scenario.mjs")
	cmd.Dir = "jsclient"
	cmd.Env = append(os.Environ(),
		"IAMD_URL="+e.url, "IAMD_ACCOUNT="+testAccount,
		"AWS_ACCESS_KEY_ID="+e.root.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+e.root.SecretAccessKey,
		"AWS_SESSION_TOKEN=", "AWS_PROFILE=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("node scenario.mjs: %v\n%s", err, out.String())
	}
	if !bytes.Contains(out.Bytes(), []byte("scenario passed")) {
		t.Fatalf("scenario did not finish:\n%s", out.String())
	}
}
