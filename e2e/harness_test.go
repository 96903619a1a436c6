// Package e2e drives a real iamd listener with the AWS SDK for Go v2 and the
// aws CLI, as a user would.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/iamd/iamd/internal/server"
)

const (
	testAccount   = "123456789012"
	rootKeyID     = "AKIAIOSFODNN7EXAMPLE"
	rootSecretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// env is a running iamd with a root-credentialed account.
type env struct {
	t       *testing.T
	url     string
	srv     *server.Server
	account string
	root    aws.Credentials
}

// start runs iamd on a fresh data directory and a loopback port.
func start(t *testing.T) *env {
	t.Helper()
	vars := map[string]string{
		server.EnvAccountID:     testAccount,
		server.EnvRootAccessKey: rootKeyID,
		server.EnvRootSecretKey: rootSecretKey,
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, server.Config{
		DataDir:        t.TempDir(),
		Getenv:         func(k string) string { return vars[k] },
		FollowInterval: 50 * time.Millisecond,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	return &env{
		t: t, url: "http://" + ln.Addr().String(), srv: srv, account: testAccount,
		root: aws.Credentials{AccessKeyID: rootKeyID, SecretAccessKey: rootSecretKey},
	}
}

func (e *env) config(c aws.Credentials) aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.StaticCredentialsProvider{Value: c},
		// The SDK's default retries cover a known loopback transport race
		// on large responses; API errors (4xx) are not retried.
		RetryMaxAttempts: 3,
	}
}

// iam returns an IAM client signing with c.
func (e *env) iam(c aws.Credentials) *iam.Client {
	return iam.NewFromConfig(e.config(c), func(o *iam.Options) { o.BaseEndpoint = aws.String(e.url) })
}

// sts returns an STS client signing with c.
func (e *env) sts(c aws.Credentials) *sts.Client {
	return sts.NewFromConfig(e.config(c), func(o *sts.Options) { o.BaseEndpoint = aws.String(e.url) })
}

// rootIAM is an IAM client for the root user.
func (e *env) rootIAM() *iam.Client { return e.iam(e.root) }

// cli runs the aws CLI against the server with credentials c and returns
// its standard output, or an error holding its standard error.
func (e *env) cli(c aws.Credentials, args ...string) (string, error) {
	e.t.Helper()
	if _, err := exec.LookPath("aws"); err != nil {
		e.t.Skip("aws CLI not installed")
	}
	cmd := exec.Command("aws", append([]string{"--endpoint-url", e.url, "--output", "json"}, args...)...)
	cmd.Env = append(os.Environ(),
		"AWS_ACCESS_KEY_ID="+c.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+c.SecretAccessKey,
		"AWS_SESSION_TOKEN="+c.SessionToken,
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_MAX_ATTEMPTS=1",
		"AWS_PAGER=",
	)
	if c.SessionToken == "" {
		cmd.Env = append(cmd.Env, "AWS_SESSION_TOKEN=")
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), errors.New(strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// errCode returns the AWS error code of err, or "" if it is not an API
// error.
func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// wantCode fails the test unless err is an API error with the given code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := errCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %s", err, got, code)
	}
}

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// eventually retries check until it succeeds or the deadline passes.
func eventually(t *testing.T, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
