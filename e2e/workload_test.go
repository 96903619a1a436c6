package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/iamd/iamd/internal/audit"
	"github.com/iamd/iamd/internal/workload"
)

const workloadTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"workloads.iamd.internal"},"Action":"sts:AssumeRole"}]}`

// registerWorkload registers a workload as `iamd workload create` does and
// returns its credentials URL and token.
func registerWorkload(t *testing.T, e *env, name, role string) (string, string) {
	t.Helper()
	_, token, err := workload.Create(context.Background(), e.srv.State().Writer, e.account, name, role, time.Now())
	must(t, err)
	return workload.URL(e.url, e.account, name), token
}

// workloadEnv sets the process environment so that the SDK's default
// credential chain finds nothing but the container credentials endpoint.
func workloadEnv(t *testing.T, uri, token string) {
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri)
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", token)
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// getCredentials calls the credentials endpoint as an SDK does.
func getCredentials(t *testing.T, uri, token string) (int, map[string]string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, uri, nil)
	must(t, err)
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var body map[string]string
	must(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode, body
}

func TestWorkloadSDKDefaultChain(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	role(t, e.rootIAM(), "app-role", workloadTrust,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*"}]}`, 0)
	uri, token := registerWorkload(t, e, "billing-api", "app-role")
	workloadEnv(t, uri, token)

	cfg, err := config.LoadDefaultConfig(ctx)
	must(t, err)
	creds, err := cfg.Credentials.Retrieve(ctx)
	must(t, err)
	if !strings.HasPrefix(creds.AccessKeyID, "ASIA") || creds.SessionToken == "" || !creds.CanExpire {
		t.Fatalf("credentials = %+v, want temporary expiring ASIA credentials", creds)
	}
	if d := time.Until(creds.Expires); d < 50*time.Minute || d > time.Hour+time.Minute {
		t.Errorf("credentials expire in %s, want about 1h", d)
	}
	if creds.AccountID != e.account {
		t.Errorf("AccountID = %q, want %s", creds.AccountID, e.account)
	}
	stsc := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(e.url) })
	id, err := stsc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(t, err)
	if got, want := aws.ToString(id.Arn), "arn:aws:sts::"+e.account+":assumed-role/app-role/billing-api"; got != want {
		t.Errorf("Arn = %s, want %s", got, want)
	}
	iamc := iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = aws.String(e.url) })
	_, err = iamc.ListRoles(ctx, &iam.ListRolesInput{})
	must(t, err)
	_, err = iamc.ListUsers(ctx, &iam.ListUsersInput{})
	wantCode(t, err, "AccessDenied")

	// The issue is in the audit trail as CloudTrail records a service's
	// AssumeRole: by the service principal, naming the role and session.
	// (In process: the environment set for the SDK leaves the CLI no
	// profile.)
	p, err := e.srv.Audit().Lookup(audit.Query{Account: e.account, Attribute: audit.AttrEventName, Value: "AssumeRole", Max: 10})
	must(t, err)
	if len(p.Events) != 1 {
		t.Fatalf("%d AssumeRole events, want the workload's", len(p.Events))
	}
	var ev map[string]any
	must(t, json.Unmarshal(p.Events[0].JSON, &ev))
	identity, _ := ev["userIdentity"].(map[string]any)
	params, _ := ev["requestParameters"].(map[string]any)
	resp, _ := ev["responseElements"].(map[string]any)
	respCreds, _ := resp["credentials"].(map[string]any)
	if identity["type"] != "AWSService" || identity["invokedBy"] != workload.ServicePrincipal || ev["eventSource"] != "sts.amazonaws.com" ||
		params["roleSessionName"] != "billing-api" || !strings.HasSuffix(fmt.Sprint(params["roleArn"]), ":role/app-role") ||
		respCreds["accessKeyId"] != creds.AccessKeyID || respCreds["sessionToken"] != "HIDDEN_DUE_TO_SECURITY_REASONS" {
		t.Errorf("the workload's AssumeRole event: %s", p.Events[0].JSON)
	}
}

func TestWorkloadCLIDefaultChain(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws CLI not installed")
	}
	e := start(t)
	role(t, e.rootIAM(), "cli-role", workloadTrust, "", 0)
	uri, token := registerWorkload(t, e, "batch-job", "cli-role")
	cmd := exec.Command("aws", "--endpoint-url", e.url, "--output", "json", "sts", "get-caller-identity")
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + uri,
		"AWS_CONTAINER_AUTHORIZATION_TOKEN=" + token,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=",
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("aws sts get-caller-identity: %v: %s", err, stderr.String())
	}
	var out struct{ Arn, Account, UserId string }
	must(t, json.Unmarshal(stdout.Bytes(), &out))
	if want := "arn:aws:sts::" + e.account + ":assumed-role/cli-role/batch-job"; out.Arn != want {
		t.Errorf("Arn = %s, want %s", out.Arn, want)
	}
	if out.Account != e.account || !strings.HasSuffix(out.UserId, ":batch-job") {
		t.Errorf("identity = %+v", out)
	}
}

func TestWorkloadRefusals(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	role(t, c, "good-role", workloadTrust, "", 0)
	role(t, c, "untrusting-role", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+testAccount+`:root"},"Action":"sts:AssumeRole"}]}`, "", 0)
	// A trust policy may name particular workloads by aws:SourceArn.
	role(t, c, "narrow-role", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"workloads.iamd.internal"},"Action":"sts:AssumeRole",
		"Condition":{"StringEquals":{"aws:SourceArn":"arn:aws:iamd::`+testAccount+`:workload/allowed"}}}]}`, "", 0)
	role(t, c, "doomed-role", workloadTrust, "", 0)

	goodURI, goodToken := registerWorkload(t, e, "good", "good-role")
	untrustedURI, untrustedToken := registerWorkload(t, e, "untrusted", "untrusting-role")
	allowedURI, allowedToken := registerWorkload(t, e, "allowed", "narrow-role")
	otherURI, otherToken := registerWorkload(t, e, "other", "narrow-role")
	doomedURI, doomedToken := registerWorkload(t, e, "orphan", "doomed-role")
	_, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("doomed-role")})
	must(t, err)

	tests := []struct {
		name     string
		uri      string
		token    string
		status   int
		code     string
		contains string
	}{
		{"good", goodURI, goodToken, 200, "", ""},
		{"missing token", goodURI, "", 401, "MissingAuthenticationToken", "AWS_CONTAINER_AUTHORIZATION_TOKEN"},
		{"wrong token", goodURI, goodToken + "x", 403, "AccessDenied", "not valid"},
		{"another workload's token", goodURI, untrustedToken, 403, "AccessDenied", "not valid"},
		{"unknown workload", workload.URL(e.url, e.account, "nobody"), goodToken, 403, "AccessDenied", "not valid"},
		{"unknown account", workload.URL(e.url, "999999999999", "good"), goodToken, 403, "AccessDenied", "not valid"},
		{"role does not trust workloads", untrustedURI, untrustedToken, 403, "AccessDenied", "trust policy must allow the service principal workloads.iamd.internal"},
		{"source ARN allowed", allowedURI, allowedToken, 200, "", ""},
		{"source ARN not allowed", otherURI, otherToken, 403, "AccessDenied", "sts:AssumeRole on resource: arn:aws:iam::" + testAccount + ":role/narrow-role"},
		{"role deleted", doomedURI, doomedToken, 403, "AccessDenied", "which does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := getCredentials(t, tc.uri, tc.token)
			if status != tc.status {
				t.Fatalf("status = %d (%v), want %d", status, body, tc.status)
			}
			if tc.status == 200 {
				for _, k := range []string{"AccessKeyId", "SecretAccessKey", "Token", "Expiration", "RoleArn", "AccountId"} {
					if body[k] == "" {
						t.Errorf("response lacks %s: %v", k, body)
					}
				}
				if _, err := time.Parse(time.RFC3339, body["Expiration"]); err != nil {
					t.Errorf("Expiration %q is not RFC 3339", body["Expiration"])
				}
				return
			}
			if body["code"] != tc.code || !strings.Contains(body["message"], tc.contains) {
				t.Errorf("error = %v, want code %s and a message containing %q", body, tc.code, tc.contains)
			}
			if strings.Contains(body["message"], tc.token) && tc.token != "" {
				t.Errorf("error message echoes the token")
			}
		})
	}

	// The two issues and the two refusals by trust policies are in the
	// trail; refusals of a token are not (nothing vouches for the account).
	p, err := e.srv.Audit().Lookup(audit.Query{Account: e.account, Attribute: audit.AttrEventName, Value: "AssumeRole", Max: 10})
	must(t, err)
	got := make(map[string]string) // session → errorCode
	for _, f := range p.Events {
		var ev struct {
			ErrorCode         string `json:"errorCode"`
			RequestParameters struct {
				RoleSessionName string `json:"roleSessionName"`
			} `json:"requestParameters"`
		}
		must(t, json.Unmarshal(f.JSON, &ev))
		got[ev.RequestParameters.RoleSessionName] = ev.ErrorCode
	}
	want := map[string]string{"good": "", "allowed": "", "untrusted": "AccessDenied", "other": "AccessDenied"}
	if !maps.Equal(got, want) {
		t.Errorf("AssumeRole events by session: %v, want %v", got, want)
	}
}

func TestWorkloadDeleteAndRotateTakeEffectAtOnce(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	w := e.srv.State().Writer
	role(t, e.rootIAM(), "app-role", workloadTrust, "", 0)
	uri, token := registerWorkload(t, e, "svc", "app-role")
	if status, body := getCredentials(t, uri, token); status != 200 {
		t.Fatalf("status = %d %v", status, body)
	}

	newToken, err := workload.RotateToken(ctx, w, e.account, "svc")
	must(t, err)
	if status, _ := getCredentials(t, uri, token); status != 403 {
		t.Errorf("old token after rotation: status %d, want 403", status)
	}
	if status, body := getCredentials(t, uri, newToken); status != 200 {
		t.Errorf("new token: status %d %v", status, body)
	}

	_, _, err = workload.Create(ctx, w, e.account, "svc", "app-role", time.Now())
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second Create = %v, want already exists", err)
	}
	must(t, workload.Delete(ctx, w, e.account, "svc"))
	if status, body := getCredentials(t, uri, newToken); status != 403 || body["code"] != "AccessDenied" {
		t.Errorf("deleted workload: status %d %v, want 403 AccessDenied", status, body)
	}
	// The SDK's chain reports the refusal rather than hanging or retrying.
	workloadEnv(t, uri, newToken)
	cfg, err := config.LoadDefaultConfig(ctx)
	must(t, err)
	if _, err := cfg.Credentials.Retrieve(ctx); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("Retrieve after delete = %v, want AccessDenied", err)
	}
	list, err := workload.List(e.srv.State().View, e.account)
	must(t, err)
	if len(list) != 0 {
		t.Errorf("List after delete = %v", list)
	}
}
