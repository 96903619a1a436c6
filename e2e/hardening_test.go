package e2e

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/iamd/iamd/internal/secrets"
	"github.com/iamd/iamd/internal/server"
)

// wantMalformed fails the test unless err is MalformedPolicyDocument with
// HTTP status 400.
func wantMalformed(t *testing.T, err error) {
	t.Helper()
	wantCode(t, err, "MalformedPolicyDocument")
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusBadRequest {
		t.Fatalf("error = %v, want HTTP 400", err)
	}
}

// TestTrailingBytesAfterPolicyDocument: bytes after a valid document are
// rejected wherever a document is taken, and nothing is stored.
func TestTrailingBytesAfterPolicyDocument(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	const identity = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}}`
	trust := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + testAccount + `:root"},"Action":"sts:AssumeRole"}}`

	t.Run("CreatePolicy", func(t *testing.T) {
		_, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("trailing"), PolicyDocument: aws.String(identity + "xyz")})
		wantMalformed(t, err)
		_, err = c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String("arn:aws:iam::" + testAccount + ":policy/trailing")})
		wantCode(t, err, "NoSuchEntity")
		// Whitespace after the document is fine.
		_, err = c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("spaced"), PolicyDocument: aws.String(identity + " \n\t\r\n")})
		must(t, err)
	})
	t.Run("CreatePolicyVersion", func(t *testing.T) {
		_, err := c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{
			PolicyArn: aws.String("arn:aws:iam::" + testAccount + ":policy/spaced"), PolicyDocument: aws.String(identity + "}"),
		})
		wantMalformed(t, err)
	})
	t.Run("PutUserPolicy", func(t *testing.T) {
		_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("trailing")})
		must(t, err)
		_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("trailing"), PolicyName: aws.String("p"), PolicyDocument: aws.String(identity + "xyz")})
		wantMalformed(t, err)
		_, err = c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("trailing"), PolicyName: aws.String("p")})
		wantCode(t, err, "NoSuchEntity")
	})
	t.Run("CreateRole", func(t *testing.T) {
		_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("trailing"), AssumeRolePolicyDocument: aws.String(trust + `{"x":1}`)})
		wantMalformed(t, err)
	})
	t.Run("PutRolePolicy and UpdateAssumeRolePolicy", func(t *testing.T) {
		_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("ok"), AssumeRolePolicyDocument: aws.String(trust)})
		must(t, err)
		_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("ok"), PolicyName: aws.String("p"), PolicyDocument: aws.String(identity + "\u00a0")})
		wantMalformed(t, err)
		_, err = c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("ok"), PolicyDocument: aws.String(trust + "xyz")})
		wantMalformed(t, err)
	})
	t.Run("AssumeRole session policy", func(t *testing.T) {
		_, err := e.sts(e.root).AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn: aws.String("arn:aws:iam::" + testAccount + ":role/ok"), RoleSessionName: aws.String("s1"),
			Policy: aws.String(identity + "xyz"),
		})
		wantMalformed(t, err)
	})
}

// TestReplicaWithAnotherMasterKey: a replica given another master key than
// the one the shared store was sealed with says so at start, on SQLite (two
// processes on one file) and PostgreSQL; one given the new key in front of
// the old during a rotation starts.
func TestReplicaWithAnotherMasterKey(t *testing.T) {
	stores := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "shared.db") },
		"postgres": func(t *testing.T) string { return postgresSchema(t) },
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			storeURL := newStore(t)
			key := newMasterKey()
			a := startReplica(t, storeURL, key)
			_, err := server.New(context.Background(), server.Config{
				DataDir:  t.TempDir(),
				StoreURL: storeURL,
				Getenv: func(k string) string {
					return map[string]string{
						server.EnvAccountID:     testAccount,
						server.EnvRootAccessKey: rootKeyID,
						server.EnvRootSecretKey: rootSecretKey,
						secrets.EnvMasterKey:    newMasterKey(),
					}[k]
				},
			})
			if !errors.Is(err, server.ErrWrongMasterKey) {
				t.Fatalf("err = %v, want ErrWrongMasterKey", err)
			}
			const want = "this database was sealed with another master key: set IAMD_MASTER_KEY to the key the other replicas use"
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q does not say %q", err, want)
			}
			b := startReplica(t, storeURL, newMasterKey()+","+key)
			_, err = b.rootIAM().CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String("after-rotation")})
			must(t, err)
			_, err = a.rootIAM().GetUser(context.Background(), &iam.GetUserInput{UserName: aws.String("missing")})
			wantCode(t, err, "NoSuchEntity")
		})
	}
}

// TestServeRefusesInsecurePermissions runs the binary on a data directory
// others can read: it exits non-zero saying what to run, and starts with a
// warning given --allow-insecure-permissions.
func TestServeRefusesInsecurePermissions(t *testing.T) {
	bin := iamdBinary(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "iamd.db")
	must(t, os.WriteFile(db, nil, 0o600))
	must(t, os.Chmod(db, 0o644))
	must(t, os.Chmod(dir, 0o755))
	env := append(os.Environ(), "IAMD_MASTER_KEY="+newMasterKey(), "IAMD_STORE=", server.EnvAllowInsecurePermissions+"=",
		server.EnvAccountID+"="+testAccount, server.EnvRootAccessKey+"="+rootKeyID, server.EnvRootSecretKey+"="+rootSecretKey)

	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", dir)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("serve: %v, want exit code 1\n%s", err, out)
	}
	if want := "run: chmod 700 " + dir + " && chmod 600 " + db; !strings.Contains(string(out), want) {
		t.Fatalf("output does not say %q:\n%s", want, out)
	}

	cmd = exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", dir, "--allow-insecure-permissions")
	cmd.Env = env
	logs := new(lockedBuffer)
	cmd.Stderr = logs
	must(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	eventually(t, 20*time.Second, func() error {
		if !strings.Contains(logs.String(), "iamd listening") {
			return errors.New("iamd did not start:\n" + logs.String())
		}
		return nil
	})
	if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "chmod 600 "+db) {
		t.Errorf("no warning naming %s:\n%s", db, l)
	}
}
