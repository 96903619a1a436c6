package e2e

import (
	"context"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// TestOIDCCAFile runs the iamd binary against an OpenID Connect provider
// whose HTTPS certificate comes from a private CA (the test's): without
// --oidc-ca-file, AssumeRoleWithWebIdentity cannot reach its keys
// (IDPCommunicationError, as AWS answers an unreachable provider); with
// the CA's certificate in --oidc-ca-file, it succeeds. A file without a
// certificate stops the start with a message that names the flag.
func TestOIDCCAFile(t *testing.T) {
	is := newIssuer(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	must(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: is.srv.Certificate().Raw}), 0o600))
	host := strings.TrimPrefix(is.srv.URL, "https://")

	token := is.token(t, "RS256", map[string]any{"iss": is.srv.URL, "sub": "repo:acme/app", "aud": "sts.amazonaws.com",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
	assume := func(args ...string) error {
		p := startIamd(t, t.TempDir(), args...)
		e := &env{t: t, url: p.url, account: testAccount, root: aws.Credentials{AccessKeyID: rootKeyID, SecretAccessKey: rootSecretKey}}
		ctx := context.Background()
		root := e.rootIAM()
		prov, err := root.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: aws.String(is.srv.URL), ClientIDList: []string{"sts.amazonaws.com"}})
		must(t, err)
		trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + aws.ToString(prov.OpenIDConnectProviderArn) +
			`"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"` + host + `:aud":"sts.amazonaws.com"}}}]}`
		arn := role(t, root, "ci", trust, allowListUsers, 0)
		anon := sts.NewFromConfig(aws.Config{Region: "us-east-1", RetryMaxAttempts: 1}, func(o *sts.Options) { o.BaseEndpoint = aws.String(p.url) })
		_, err = anon.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
			RoleArn: aws.String(arn), RoleSessionName: aws.String("build"), WebIdentityToken: aws.String(token)})
		return err
	}

	wantCode(t, assume(), "IDPCommunicationError")
	must(t, assume("--oidc-ca-file", caFile))

	notPEM := filepath.Join(dir, "not.pem")
	must(t, os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600))
	out, err := exec.Command(iamdBinary(t), "serve", "--data", t.TempDir(), "--oidc-ca-file", notPEM).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--oidc-ca-file") {
		t.Errorf("serve with a CA file without certificates: %v\n%s", err, out)
	}
}
