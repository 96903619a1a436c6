package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	iampkg "github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/server"
)

// TestWorkloadCommand registers a workload with the admin command while a
// server runs on the same data directory, as an operator would.
func TestWorkloadCommand(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{
		server.EnvAccountID: "123456789012", server.EnvRootAccessKey: "AKIAIOSFODNN7EXAMPLE",
		server.EnvRootSecretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	}
	getenv := func(k string) string { return vars[k] }
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, server.Config{DataDir: dir, Getenv: getenv, FollowInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close() })
	endpoint := "http://" + ln.Addr().String()

	c := iam.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(vars[server.EnvRootAccessKey], vars[server.EnvRootSecretKey], "")},
		func(o *iam.Options) { o.BaseEndpoint = aws.String(endpoint) })
	for name, trust := range map[string]string{
		"app":     `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"workloads.iamd.internal"},"Action":"sts:AssumeRole"}]}`,
		"unready": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"}]}`,
		"cn": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"workloads.iamd.internal"},"Action":"sts:AssumeRole",` +
			`"Condition":{"ArnEquals":{"aws:SourceArn":"arn:aws-cn:iamd::123456789012:workload/cnweb"}}}]}`,
	} {
		if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
			t.Fatal(err)
		}
	}
	cmd := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"workload"}, append(args, "--data", dir)...), nil, &stdout, &stderr, getenv)
		return code, stdout.String(), stderr.String()
	}
	status := func(uri, token string) int {
		req, _ := http.NewRequest("GET", uri, nil)
		req.Header.Set("Authorization", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitStatus := func(uri, token string, want int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for status(uri, token) != want {
			if time.Now().After(deadline) {
				t.Fatalf("GET %s never answered %d", uri, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	code, out, errOut := cmd("create", "--name", "web", "--role", "app", "--endpoint", endpoint)
	if code != 0 {
		t.Fatalf("create: %d %s", code, errOut)
	}
	uri := regexp.MustCompile(`AWS_CONTAINER_CREDENTIALS_FULL_URI=(\S+)`).FindStringSubmatch(out)
	token := regexp.MustCompile(`AWS_CONTAINER_AUTHORIZATION_TOKEN=(\S+)`).FindStringSubmatch(out)
	if uri == nil || token == nil || uri[1] != endpoint+"/_iamd/credentials/123456789012/web" {
		t.Fatalf("create printed:\n%s", out)
	}
	waitStatus(uri[1], token[1], 200)

	code, out, _ = cmd("create", "--name", "batch", "--role", "unready")
	if code != 0 || !strings.Contains(out, "warning: the trust policy of role unready does not allow") {
		t.Errorf("create for an untrusting role: %d\n%s", code, out)
	}
	// The trust check reads the workload's aws:SourceArn in the
	// configured partition.
	code, out, _ = cmd("create", "--name", "cnweb", "--role", "cn")
	if code != 0 || !strings.Contains(out, "warning: the trust policy of role cn does not allow") {
		t.Errorf("create in aws for a role trusting an aws-cn workload: %d\n%s", code, out)
	}
	vars[iampkg.EnvPartition] = "aws-cn"
	code, out, _ = cmd("create", "--name", "cnweb2", "--role", "cn")
	if code != 0 || !strings.Contains(out, "warning: the trust policy of role cn does not allow") {
		t.Errorf("create in aws-cn for another workload: %d\n%s", code, out)
	}
	if code, out, errOut := cmd("delete", "--name", "cnweb"); code != 0 {
		t.Fatalf("delete: %s%s", out, errOut)
	}
	code, out, _ = cmd("create", "--name", "cnweb", "--role", "cn")
	if code != 0 || strings.Contains(out, "warning") {
		t.Errorf("create in aws-cn for the trusted workload: %d\n%s", code, out)
	}
	vars[iampkg.EnvPartition] = "aws-mars"
	if code, _, errOut := cmd("list"); code != 1 || !strings.Contains(errOut, "unknown partition") {
		t.Errorf("list with an unknown partition: %d %s", code, errOut)
	}
	delete(vars, iampkg.EnvPartition)

	code, out, _ = cmd("list")
	if code != 0 || !regexp.MustCompile(`(?m)^batch\s+unready\s+\d{4}-`).MatchString(out) || !regexp.MustCompile(`(?m)^web\s+app\s`).MatchString(out) {
		t.Errorf("list: %d\n%s", code, out)
	}

	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"no role", []string{"create", "--name", "x"}, 1, "--role is required"},
		{"no name", []string{"delete"}, 1, "--name is required"},
		{"unknown role", []string{"create", "--name", "xy", "--role", "nope"}, 1, "no such role"},
		{"taken name", []string{"create", "--name", "WEB", "--role", "app"}, 1, "already exists"},
		{"bad name", []string{"create", "--name", "a b", "--role", "app"}, 1, "invalid workload name"},
		{"unknown workload", []string{"delete", "--name", "ghost"}, 1, "no such workload"},
		{"unknown account", []string{"list", "--account", "999999999999"}, 1, "no such account"},
		{"unknown subcommand", []string{"frob"}, 2, "unknown subcommand"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := cmd(tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.err) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, tc.code, tc.err)
			}
		})
	}

	code, out, _ = cmd("rotate-token", "--name", "web", "--endpoint", endpoint)
	newToken := regexp.MustCompile(`AWS_CONTAINER_AUTHORIZATION_TOKEN=(\S+)`).FindStringSubmatch(out)
	if code != 0 || newToken == nil {
		t.Fatalf("rotate-token: %d\n%s", code, out)
	}
	waitStatus(uri[1], token[1], 403)
	waitStatus(uri[1], newToken[1], 200)

	if code, _, errOut := cmd("delete", "--name", "web"); code != 0 {
		t.Fatalf("delete: %s", errOut)
	}
	waitStatus(uri[1], newToken[1], 403)
}
