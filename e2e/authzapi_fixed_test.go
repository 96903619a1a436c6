package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/iamd/iamd/authzclient"
)

// signedFor returns a POST / request to host signed by c for service.
func signedFor(t *testing.T, c aws.Credentials, service, host string) *http.Request {
	t.Helper()
	r, err := http.NewRequest("POST", "https://"+host+"/", nil)
	must(t, err)
	const emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	must(t, v4.NewSigner().SignHTTP(context.Background(), c, r, emptyHash, service, "us-east-1", time.Now()))
	return r
}

// TestAuthorizationAPIFixedRules: the authorization API decides by the
// same fixed rules as iamd's own endpoints: GetFederationToken and
// GetSessionToken credentials cannot be used for IAM whatever the
// policies, sts:GetCallerIdentity needs no permission, and an Allow with
// NotPrincipal gives nothing to the principal it names.
func TestAuthorizationAPIFixedRules(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	svc := userWithKey(t, root, "gateway", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iamd:Authorize","Resource":"*"}]}`)
	client := authzclient.New(e.url, authzclient.StaticCredentials{AccessKeyID: svc.AccessKeyID, SecretAccessKey: svc.SecretAccessKey})
	all := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","sts:*","s3:*"],"Resource":"*"}]}`
	broker := userWithKey(t, root, "broker", all)
	denied := userWithKey(t, root, "denied", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`)
	alice := userWithKey(t, root, "a", all)

	fed, err := e.sts(broker).GetFederationToken(ctx, &sts.GetFederationTokenInput{Name: aws.String("carol"), Policy: aws.String(all)})
	must(t, err)
	sess, err := e.sts(broker).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	must(t, err)
	notAlice := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::` + testAccount + `:user/a"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"}]}`

	for _, tc := range []struct {
		name     string
		creds    aws.Credentials
		service  string
		in       authzclient.Input
		decision string
	}{
		{"federation token on IAM", tempCreds(fed.Credentials), "iam", authzclient.Input{Action: "iam:CreateAccessKey", Resource: "arn:aws:iam::" + testAccount + ":user/broker"}, "ImplicitDeny"},
		{"federation token on STS", tempCreds(fed.Credentials), "sts", authzclient.Input{Action: "sts:AssumeRole", Resource: "arn:aws:iam::" + testAccount + ":role/x"}, "ImplicitDeny"},
		{"federation token on S3", tempCreds(fed.Credentials), "s3", authzclient.Input{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", ResourceAccount: testAccount}, "Allow"},
		{"session token without MFA on IAM", tempCreds(sess.Credentials), "iam", authzclient.Input{Action: "iam:ListUsers", Resource: "*"}, "ImplicitDeny"},
		{"session token without MFA on S3", tempCreds(sess.Credentials), "s3", authzclient.Input{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", ResourceAccount: testAccount}, "Allow"},
		{"long-term key on IAM", broker, "iam", authzclient.Input{Action: "iam:ListUsers", Resource: "*"}, "Allow"},
		{"GetCallerIdentity under Deny *", denied, "sts", authzclient.Input{Action: "sts:GetCallerIdentity", Resource: "*"}, "Allow"},
		{"GetCallerIdentity of a federation token", tempCreds(fed.Credentials), "sts", authzclient.Input{Action: "sts:GetCallerIdentity", Resource: "*"}, "Allow"},
		{"NotPrincipal excludes the principal it names", alice, "s3", authzclient.Input{Action: "s3:GetObject", Resource: "arn:aws:s3:::shared/k", ResourceAccount: otherAccount, ResourcePolicy: notAlice}, "ImplicitDeny"},
		{"NotPrincipal grants the others", broker, "s3", authzclient.Input{Action: "s3:GetObject", Resource: "arn:aws:s3:::shared/k", ResourceAccount: otherAccount, ResourcePolicy: notAlice}, "Allow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := signedFor(t, tc.creds, tc.service, tc.service+".example")
			if tc.service == "s3" {
				r = s3Request(t, tc.creds, "GET", "/b/k", "")
			}
			d, err := client.AuthorizeRequest(ctx, forward(r), &tc.in)
			must(t, err)
			if d.Decision != tc.decision {
				t.Errorf("decision = %s (%s), want %s", d.Decision, d.Message, tc.decision)
			}
		})
	}
}

// TestAuthorizationAPIClientLayers: authzclient passes resource control
// policies, an endpoint policy and service principals.
func TestAuthorizationAPIClientLayers(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	svc := userWithKey(t, root, "gateway", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iamd:Authorize","Resource":"*"}]}`)
	client := authzclient.New(e.url, authzclient.StaticCredentials{AccessKeyID: svc.AccessKeyID, SecretAccessKey: svc.SecretAccessKey})
	reader := userWithKey(t, root, "reader", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)
	fullAccess := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`
	denyVault := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::vault/*"}]}`
	in := authzclient.Input{Action: "s3:GetObject", Resource: "arn:aws:s3:::vault/k", ResourceAccount: testAccount}

	d, err := client.AuthorizeRequest(ctx, forward(s3Request(t, reader, "GET", "/vault/k", "")), &in)
	must(t, err)
	if !d.Allowed() {
		t.Fatalf("without RCPs: %s (%s)", d.Decision, d.Message)
	}
	withRCP := in
	withRCP.ResourceControlPolicies = []string{fullAccess, denyVault}
	d, err = client.AuthorizeRequest(ctx, forward(s3Request(t, reader, "GET", "/vault/k", "")), &withRCP)
	must(t, err)
	if d.Decision != "ExplicitDeny" || d.Explanation == nil || d.Explanation.DecidingLayer != "rcp" {
		t.Errorf("with a denying RCP: %s, %+v", d.Decision, d.Explanation)
	}
	viaEndpoint := in
	viaEndpoint.EndpointPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"*"}]}`
	d, err = client.AuthorizeRequest(ctx, forward(s3Request(t, reader, "GET", "/vault/k", "")), &viaEndpoint)
	must(t, err)
	if d.Allowed() {
		t.Errorf("an endpoint policy that does not allow the request: %s", d.Decision)
	}

	bucketPolicy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::logs/*"}]}`
	for _, tc := range []struct {
		service string
		allowed bool
	}{{"logging.s3.amazonaws.com", true}, {"lambda.amazonaws.com", false}} {
		d, err := client.AuthorizeService(ctx, &authzclient.Input{Action: "s3:PutObject", Resource: "arn:aws:s3:::logs/x", ResourceAccount: testAccount,
			ResourcePolicy: bucketPolicy, PrincipalService: tc.service})
		must(t, err)
		if d.Allowed() != tc.allowed || d.Principal.Type != "Service" || d.Principal.Service != tc.service {
			t.Errorf("service %s: %s, principal %+v", tc.service, d.Decision, d.Principal)
		}
	}
}
