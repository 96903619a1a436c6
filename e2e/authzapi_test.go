package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/iamd/iamd/authzclient"
	"github.com/iamd/iamd/internal/server"
	"github.com/iamd/iamd/internal/sigv4"
)

const (
	otherAccount = "210987654321"
	storeHost    = "store.example:9000"
)

// authzEnv is a running iamd with the principals of the authorization API
// tests: a storage service allowed to ask about s3 actions, users and a
// role in the test account, and a user in another account.
type authzEnv struct {
	*env
	svc, alice, bob, mallory, outsider aws.Credentials
	session                            aws.Credentials // alice's role session
	client                             *authzclient.Client
}

func startAuthz(t *testing.T) *authzEnv {
	t.Helper()
	e := start(t)
	c := e.rootIAM()
	a := &authzEnv{env: e}
	a.svc = userWithKey(t, c, "store-svc", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iamd:Authorize","Resource":"arn:aws:s3:::*","Condition":{"StringLike":{"iamd:Action":"s3:*"}}}]}`)
	a.alice = userWithKey(t, c, "alice", `{"Version":"2012-10-17","Statement":[
		{"Sid":"OwnPhotos","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::photos/alice/*"},
		{"Sid":"ListOwn","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::photos","Condition":{"StringLike":{"s3:prefix":"alice/*"}}},
		{"Sid":"NoDelete","Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"},
		{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}`)
	a.bob = userWithKey(t, c, "bob", "")
	a.mallory = userWithKey(t, c, "mallory", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)
	role(t, c, "photo-reader", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+testAccount+`:user/alice"},"Action":"sts:AssumeRole"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}]}`, 0)
	out, err := e.sts(a.alice).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::" + testAccount + ":role/photo-reader"), RoleSessionName: aws.String("alice-laptop"),
	})
	must(t, err)
	a.session = aws.Credentials{AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey), SessionToken: aws.ToString(out.Credentials.SessionToken)}

	res, err := server.CreateAccount(context.Background(), e.srv.State(), otherAccount, "", time.Now())
	must(t, err)
	other := e.iam(aws.Credentials{AccessKeyID: res.RootAccessKeyID, SecretAccessKey: res.RootSecretAccessKey})
	a.outsider = userWithKey(t, other, "outsider", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`)
	a.client = authzclient.New(e.url, authzclient.StaticCredentials{AccessKeyID: a.svc.AccessKeyID, SecretAccessKey: a.svc.SecretAccessKey})
	return a
}

// s3Request returns a request to the store signed by c as aws-sdk-go-v2
// signs S3 requests.
func s3Request(t *testing.T, c aws.Credentials, method, path, query string) *http.Request {
	t.Helper()
	u := "http://" + storeHost + path
	if query != "" {
		u += "?" + query
	}
	r, err := http.NewRequest(method, u, nil)
	must(t, err)
	r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	must(t, v4.NewSigner().SignHTTP(context.Background(), c, r, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now()))
	return r
}

// forward describes a request as the store received it.
func forward(r *http.Request) *authzclient.Request {
	h := r.Header.Clone()
	if r.ContentLength > 0 {
		// A server sees the Content-Length header the client signed.
		h.Set("Content-Length", fmt.Sprint(r.ContentLength))
	}
	return &authzclient.Request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Host: r.URL.Host, Header: h}
}

func TestAuthorizationAPIDecisions(t *testing.T) {
	a := startAuthz(t)
	ctx := context.Background()
	bucketPolicy := `{"Version":"2012-10-17","Statement":[
		{"Sid":"BobReads","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + testAccount + `:user/bob"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"},
		{"Sid":"OutsiderReadsShared","Effect":"Allow","Principal":{"AWS":"` + otherAccount + `"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/shared/*"},
		{"Sid":"NoMallory","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::` + testAccount + `:user/mallory"},"Action":"s3:*","Resource":"arn:aws:s3:::photos/*"}]}`
	tests := []struct {
		name      string
		creds     aws.Credentials
		method    string
		path      string
		query     string
		in        authzclient.Input
		decision  string
		arn       string
		typ       string
		layer     string // deciding layer
		sid       string // deciding statement
		message   string // substring of the denial message
		keyRead   string
		noExplain bool
	}{
		{name: "identity policy allows", creds: a.alice, method: "GET", path: "/photos/alice/cat.jpg",
			in:       authzclient.Input{Action: "s3:GetObject", Resource: "arn:aws:s3:::photos/alice/cat.jpg", ResourceAccount: testAccount},
			decision: "Allow", arn: "arn:aws:iam::" + testAccount + ":user/alice", typ: "User", layer: "identity", sid: "OwnPhotos"},
		{name: "nothing allows", creds: a.alice, method: "GET", path: "/photos/bob/dog.jpg",
			in:       authzclient.Input{Action: "s3:GetObject", Resource: "arn:aws:s3:::photos/bob/dog.jpg", ResourceAccount: testAccount},
			decision: "ImplicitDeny", layer: "identity",
			message: "User: arn:aws:iam::" + testAccount + ":user/alice is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::photos/bob/dog.jpg because no identity-based policy allows the s3:GetObject action"},
		{name: "explicit deny", creds: a.alice, method: "DELETE", path: "/photos/alice/cat.jpg",
			in:       authzclient.Input{Action: "s3:DeleteObject", Resource: "arn:aws:s3:::photos/alice/cat.jpg", ResourceAccount: testAccount},
			decision: "ExplicitDeny", layer: "identity", sid: "NoDelete", message: "with an explicit deny in an identity-based policy"},
		{name: "bucket policy allows a user without identity policies", creds: a.bob, method: "GET", path: "/photos/alice/cat.jpg",
			in:       authzclient.Input{Action: "s3:GetObject", Resource: "arn:aws:s3:::photos/alice/cat.jpg", ResourceAccount: testAccount, ResourcePolicy: bucketPolicy},
			decision: "Allow", layer: "resource", sid: "BobReads"},
		{name: "bucket policy denies despite identity allow", creds: a.mallory, method: "GET", path: "/photos/alice/cat.jpg",
			in:       authzclient.Input{Action: "s3:GetObject", Resource: "arn:aws:s3:::photos/alice/cat.jpg", ResourceAccount: testAccount, ResourcePolicy: bucketPolicy},
			decision: "ExplicitDeny", layer: "resource", sid: "NoMallory", message: "with an explicit deny in a resource-based policy"},
		{name: "cross-account needs the bucket policy", creds: a.outsider, method: "GET", path: "/photos/alice/cat.jpg",
			in:       authzclient.Input{Action: "s3:GetObject", Resource: "arn:aws:s3:::photos/alice/cat.jpg", ResourceAccount: testAccount, ResourcePolicy: bucketPolicy},
			decision: "ImplicitDeny", arn: "arn:aws:iam::" + otherAccount + ":user/outsider"},
		{name: "cross-account allowed by both", creds: a.outsider, method: "GET", path: "/photos/shared/x.jpg",
			in:       authzclient.Input{Action: "s3:GetObject", Resource: "arn:aws:s3:::photos/shared/x.jpg", ResourceAccount: testAccount, ResourcePolicy: bucketPolicy},
			decision: "Allow"},
		{name: "cross-account without a bucket policy", creds: a.outsider, method: "GET", path: "/photos/shared/x.jpg",
			in:       authzclient.Input{Action: "s3:GetObject", Resource: "arn:aws:s3:::photos/shared/x.jpg", ResourceAccount: testAccount},
			decision: "ImplicitDeny"},
		{name: "role session", creds: a.session, method: "GET", path: "/photos/bob/dog.jpg",
			in:       authzclient.Input{Action: "s3:GetObject", Resource: "arn:aws:s3:::photos/bob/dog.jpg", ResourceAccount: testAccount},
			decision: "Allow", arn: "arn:aws:sts::" + testAccount + ":assumed-role/photo-reader/alice-laptop", typ: "AssumedRole", layer: "identity"},
		{name: "service context key allows", creds: a.alice, method: "GET", path: "/photos", query: "list-type=2&prefix=alice%2F",
			in:       authzclient.Input{Action: "s3:ListBucket", Resource: "arn:aws:s3:::photos", ResourceAccount: testAccount, Context: map[string][]string{"s3:prefix": {"alice/"}}},
			decision: "Allow", sid: "ListOwn", keyRead: "s3:prefix"},
		{name: "service context key denies", creds: a.alice, method: "GET", path: "/photos", query: "list-type=2&prefix=bob%2F",
			in:       authzclient.Input{Action: "s3:ListBucket", Resource: "arn:aws:s3:::photos", ResourceAccount: testAccount, Context: map[string][]string{"s3:prefix": {"bob/"}}},
			decision: "ImplicitDeny", keyRead: "s3:prefix"},
		{name: "without explanation", creds: a.alice, method: "GET", path: "/photos/alice/cat.jpg",
			in:       authzclient.Input{Action: "s3:GetObject", Resource: "arn:aws:s3:::photos/alice/cat.jpg", ResourceAccount: testAccount, NoExplanation: true},
			decision: "Allow", noExplain: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s3Request(t, tc.creds, tc.method, tc.path, tc.query)
			d, err := a.client.AuthorizeRequest(ctx, forward(r), &tc.in)
			must(t, err)
			if d.Decision != tc.decision {
				t.Fatalf("decision = %s (%s), want %s", d.Decision, d.Message, tc.decision)
			}
			if tc.arn != "" && d.Principal.ARN != tc.arn {
				t.Errorf("principal ARN = %s, want %s", d.Principal.ARN, tc.arn)
			}
			if tc.typ != "" && d.Principal.Type != tc.typ {
				t.Errorf("principal type = %s, want %s", d.Principal.Type, tc.typ)
			}
			if d.Principal.AccessKeyID != tc.creds.AccessKeyID || d.Signature.Service != "s3" || d.Signature.Region != "us-east-1" {
				t.Errorf("principal/signature = %+v %+v", d.Principal, d.Signature)
			}
			if tc.noExplain {
				if d.Explanation != nil {
					t.Errorf("explanation given though not asked for")
				}
				return
			}
			ex := d.Explanation
			if ex == nil {
				t.Fatal("no explanation")
			}
			if tc.layer != "" && ex.DecidingLayer != tc.layer {
				t.Errorf("deciding layer = %s, want %s", ex.DecidingLayer, tc.layer)
			}
			if tc.sid != "" && (ex.DecidingStatement == nil || ex.DecidingStatement.Sid != tc.sid) {
				t.Errorf("deciding statement = %+v, want Sid %s", ex.DecidingStatement, tc.sid)
			}
			if tc.message != "" && !strings.Contains(d.Message, tc.message) {
				t.Errorf("message = %q, want it to contain %q", d.Message, tc.message)
			}
			if tc.decision == "Allow" && d.Message != "" {
				t.Errorf("allowed request has a message: %q", d.Message)
			}
			if tc.keyRead != "" {
				found := false
				for _, l := range ex.Layers {
					for _, k := range l.ContextKeysRead {
						found = found || strings.EqualFold(k, tc.keyRead)
					}
				}
				if !found {
					t.Errorf("context keys read do not include %s: %+v", tc.keyRead, ex.Layers)
				}
			}
		})
	}
	if s := a.session; true {
		d, err := a.client.AuthorizeRequest(ctx, forward(s3Request(t, s, "GET", "/photos/a", "")),
			&authzclient.Input{Action: "s3:GetObject", Resource: "arn:aws:s3:::photos/a", ResourceAccount: testAccount})
		must(t, err)
		if d.Principal.Session == nil || d.Principal.Session.Expiration.IsZero() || d.Principal.PrincipalARN != "arn:aws:iam::"+testAccount+":role/photo-reader" {
			t.Errorf("session principal = %+v", d.Principal)
		}
	}
}

func TestAuthorizationAPIRefusals(t *testing.T) {
	a := startAuthz(t)
	ctx := context.Background()
	get := authzclient.Input{Action: "s3:GetObject", Resource: "arn:aws:s3:::photos/alice/cat.jpg", ResourceAccount: testAccount}
	tamper := func(r *http.Request) *authzclient.Request {
		f := forward(r)
		f.Path = "/photos/alice/other.jpg"
		return f
	}
	newClient := func(c aws.Credentials) *authzclient.Client {
		return authzclient.New(a.url, authzclient.StaticCredentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken})
	}
	expired := s3Request(t, a.alice, "GET", "/photos/alice/cat.jpg", "")
	must(t, v4.NewSigner().SignHTTP(ctx, a.alice, expired, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now().Add(-time.Hour)))
	badToken := a.session
	badToken.SessionToken = strings.ToUpper(badToken.SessionToken[:20]) + badToken.SessionToken[20:]
	tests := []struct {
		name   string
		client *authzclient.Client
		req    *authzclient.Request
		in     authzclient.Input
		code   string
		status int
		origin string
	}{
		{"tampered request", a.client, tamper(s3Request(t, a.alice, "GET", "/photos/alice/cat.jpg", "")), get, "SignatureDoesNotMatch", 403, "request"},
		{"unknown access key", a.client, forward(s3Request(t, aws.Credentials{AccessKeyID: "AKIAIOSFODNN7NOSUCHK", SecretAccessKey: "x"}, "GET", "/photos/alice/cat.jpg", "")), get, "InvalidClientTokenId", 403, "request"},
		{"wrong secret", a.client, forward(s3Request(t, aws.Credentials{AccessKeyID: a.alice.AccessKeyID, SecretAccessKey: "wrong"}, "GET", "/photos/alice/cat.jpg", "")), get, "SignatureDoesNotMatch", 403, "request"},
		{"tampered session token", a.client, forward(s3Request(t, badToken, "GET", "/photos/alice/cat.jpg", "")), get, "InvalidClientTokenId", 403, "request"},
		{"signed an hour ago", a.client, forward(expired), get, "SignatureDoesNotMatch", 403, "request"},
		{"unsigned request", a.client, &authzclient.Request{Method: "GET", Path: "/photos/alice/cat.jpg", Host: storeHost, Header: http.Header{}}, get, "MissingAuthenticationToken", 403, "request"},
		{"caller without iamd:Authorize", newClient(a.alice), forward(s3Request(t, a.alice, "GET", "/photos/alice/cat.jpg", "")), get, "AccessDenied", 403, "caller"},
		{"caller asks about another service", a.client, forward(s3Request(t, a.alice, "GET", "/", "")),
			authzclient.Input{Action: "iam:CreateUser", Resource: "arn:aws:s3:::photos", ResourceAccount: testAccount}, "AccessDenied", 403, "caller"},
		{"caller with a bad key", newClient(aws.Credentials{AccessKeyID: a.svc.AccessKeyID, SecretAccessKey: "nope"}), forward(s3Request(t, a.alice, "GET", "/photos/alice/cat.jpg", "")), get, "SignatureDoesNotMatch", 403, "caller"},
		{"no resource account", a.client, forward(s3Request(t, a.alice, "GET", "/photos/alice/cat.jpg", "")),
			authzclient.Input{Action: "s3:GetObject", Resource: "arn:aws:s3:::photos/alice/cat.jpg"}, "InvalidParameterValue", 400, "caller"},
		{"reserved context key", a.client, forward(s3Request(t, a.alice, "GET", "/photos/alice/cat.jpg", "")),
			authzclient.Input{Action: "s3:GetObject", Resource: "arn:aws:s3:::photos/alice/cat.jpg", ResourceAccount: testAccount, Context: map[string][]string{"aws:PrincipalArn": {"arn:aws:iam::" + testAccount + ":root"}}}, "InvalidParameterValue", 400, "caller"},
		{"malformed resource policy", a.client, forward(s3Request(t, a.alice, "GET", "/photos/alice/cat.jpg", "")),
			authzclient.Input{Action: "s3:GetObject", Resource: "arn:aws:s3:::photos/alice/cat.jpg", ResourceAccount: testAccount, ResourcePolicy: `{"Statement":[`}, "MalformedPolicyDocument", 400, "caller"},
		{"wildcard action", a.client, forward(s3Request(t, a.alice, "GET", "/photos/alice/cat.jpg", "")),
			authzclient.Input{Action: "s3:*", Resource: "arn:aws:s3:::photos/alice/cat.jpg", ResourceAccount: testAccount}, "InvalidParameterValue", 400, "caller"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := tc.client.AuthorizeRequest(ctx, tc.req, &tc.in)
			var ae *authzclient.Error
			if !errors.As(err, &ae) {
				t.Fatalf("decision %+v, err %v; want error %s", d, err, tc.code)
			}
			if ae.Code != tc.code || ae.HTTPStatus != tc.status || ae.Origin != tc.origin || ae.RequestID == "" {
				t.Errorf("error = %+v, want %s %d %s", ae, tc.code, tc.status, tc.origin)
			}
			if strings.Contains(ae.Message, a.alice.SecretAccessKey) {
				t.Error("error reveals the secret")
			}
		})
	}

	t.Run("call not signed", func(t *testing.T) {
		resp, err := http.Post(a.url+authzclient.Path, "application/json", strings.NewReader(`{}`))
		must(t, err)
		defer resp.Body.Close()
		var body struct{ Error authzclient.Error }
		must(t, json.NewDecoder(resp.Body).Decode(&body))
		if resp.StatusCode != 403 || body.Error.Code != "MissingAuthenticationToken" || body.Error.Origin != "caller" {
			t.Errorf("status %d, error %+v", resp.StatusCode, body.Error)
		}
	})
	t.Run("call signed for another service", func(t *testing.T) {
		body := []byte(`{}`)
		r, _ := http.NewRequest("POST", a.url+authzclient.Path, bytes.NewReader(body))
		s := sigv4.Signer{Credentials: sigv4.Credentials{AccessKeyID: a.svc.AccessKeyID, SecretAccessKey: a.svc.SecretAccessKey}, Region: "us-east-1", Service: "s3"}
		must(t, s.Sign(r, body))
		resp, err := http.DefaultClient.Do(r)
		must(t, err)
		defer resp.Body.Close()
		var out struct{ Error authzclient.Error }
		must(t, json.NewDecoder(resp.Body).Decode(&out))
		if resp.StatusCode != 403 || out.Error.Code != "InvalidClientTokenId" || !strings.Contains(out.Error.Message, "'iamd'") {
			t.Errorf("status %d, error %+v", resp.StatusCode, out.Error)
		}
	})
	t.Run("deleted key is refused at once", func(t *testing.T) {
		c := a.rootIAM()
		k := userWithKey(t, c, "carol", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)
		d, err := a.client.AuthorizeRequest(ctx, forward(s3Request(t, k, "GET", "/photos/x", "")), &get)
		must(t, err)
		if !d.Allowed() {
			t.Fatalf("decision %s", d.Decision)
		}
		_, err = c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("carol"), AccessKeyId: aws.String(k.AccessKeyID)})
		must(t, err)
		_, err = a.client.AuthorizeRequest(ctx, forward(s3Request(t, k, "GET", "/photos/x", "")), &get)
		if ae, ok := authzclient.IsRequestError(err); !ok || ae.Code != "InvalidClientTokenId" {
			t.Errorf("after deletion: %v", err)
		}
	})
}

// TestAuthorizationAPIPayloads covers services other than s3, whose
// signatures cover the body, and presigned URLs.
func TestAuthorizationAPIPayloads(t *testing.T) {
	a := startAuthz(t)
	ctx := context.Background()
	c := a.rootIAM()
	_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("store-svc"), PolicyName: aws.String("api"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iamd:Authorize","Resource":"arn:aws:execute-api:*"}]}`)})
	must(t, err)
	api := userWithKey(t, c, "api-user", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:us-east-1:`+testAccount+`:orders/*"},
		{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)
	body := []byte(`{"order":42}`)
	r, err := http.NewRequest("POST", "https://orders.internal/v1/orders", bytes.NewReader(body))
	must(t, err)
	r.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	must(t, v4.NewSigner().SignHTTP(ctx, api, r, hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now()))
	in := authzclient.Input{Action: "execute-api:Invoke", Resource: "arn:aws:execute-api:us-east-1:" + testAccount + ":orders/POST/v1/orders"}
	tests := []struct {
		name     string
		mutate   func(*authzclient.Request)
		decision string
		code     string
	}{
		{"body", func(f *authzclient.Request) { f.Body = body }, "Allow", ""},
		{"payload hash", func(f *authzclient.Request) { f.PayloadHash = hex.EncodeToString(sum[:]) }, "Allow", ""},
		{"other body", func(f *authzclient.Request) { f.Body = []byte(`{"order":43}`) }, "", "SignatureDoesNotMatch"},
		{"no body", func(*authzclient.Request) {}, "", "SignatureDoesNotMatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := forward(r)
			tc.mutate(f)
			d, err := a.client.AuthorizeRequest(ctx, f, &in)
			if tc.code != "" {
				if ae, ok := authzclient.IsRequestError(err); !ok || ae.Code != tc.code {
					t.Fatalf("err = %v, want %s", err, tc.code)
				}
				return
			}
			must(t, err)
			if d.Decision != tc.decision || d.Signature.Service != "execute-api" {
				t.Errorf("decision = %s (%s), service %s", d.Decision, d.Message, d.Signature.Service)
			}
		})
	}
	t.Run("middleware hashes the body", func(t *testing.T) {
		var got []byte
		svc := httptest.NewServer(a.client.Middleware(func(r *http.Request) (*authzclient.Input, error) {
			return &authzclient.Input{Action: "execute-api:Invoke", Resource: "arn:aws:execute-api:us-east-1:" + testAccount + ":orders/" + r.Method + r.URL.Path}, nil
		}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, _ = io.ReadAll(r.Body)
			w.Header().Set("X-Principal", authzclient.FromContext(r.Context()).Principal.ARN)
		})))
		defer svc.Close()
		for _, tc := range []struct {
			name   string
			creds  aws.Credentials
			status int
		}{{"allowed", api, 200}, {"denied", a.bob, 403}} {
			r, _ := http.NewRequest("POST", svc.URL+"/v1/orders", bytes.NewReader(body))
			must(t, v4.NewSigner().SignHTTP(ctx, tc.creds, r, hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now()))
			resp, err := http.DefaultClient.Do(r)
			must(t, err)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
			}
			if tc.status == 200 && (string(got) != string(body) || resp.Header.Get("X-Principal") != "arn:aws:iam::"+testAccount+":user/api-user") {
				t.Errorf("handler saw body %q, principal %q", got, resp.Header.Get("X-Principal"))
			}
		}
	})
	t.Run("presigned s3 URL", func(t *testing.T) {
		pr, err := http.NewRequest("GET", "http://"+storeHost+"/photos/alice/cat.jpg", nil)
		must(t, err)
		s := sigv4.Signer{Credentials: sigv4.Credentials{AccessKeyID: api.AccessKeyID, SecretAccessKey: api.SecretAccessKey}, Region: "us-east-1", Service: "s3"}
		signed, err := s.Presign(pr, 5*time.Minute)
		must(t, err)
		u, err := url.Parse(signed)
		must(t, err)
		d, err := a.client.AuthorizeRequest(ctx, &authzclient.Request{Method: "GET", Path: u.EscapedPath(), Query: u.RawQuery, Host: u.Host, Header: http.Header{}},
			&authzclient.Input{Action: "s3:GetObject", Resource: "arn:aws:s3:::photos/alice/cat.jpg", ResourceAccount: testAccount})
		must(t, err)
		if !d.Allowed() || !d.Signature.Presigned {
			t.Errorf("decision %s presigned %v", d.Decision, d.Signature.Presigned)
		}
	})
}

// photoStore is a toy S3-compatible store that delegates authentication and
// authorization to iamd through authzclient's middleware.
func photoStore(t *testing.T, client *authzclient.Client, bucketPolicy string) *httptest.Server {
	resolve := func(r *http.Request) (*authzclient.Input, error) {
		bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if bucket == "" {
			return nil, fmt.Errorf("no bucket")
		}
		in := &authzclient.Input{ResourceAccount: testAccount, ResourcePolicy: bucketPolicy}
		switch {
		case key == "" && r.Method == http.MethodGet:
			in.Action, in.Resource = "s3:ListBucket", "arn:aws:s3:::"+bucket
			in.Context = map[string][]string{"s3:prefix": {r.URL.Query().Get("prefix")}}
		case r.Method == http.MethodGet, r.Method == http.MethodHead:
			in.Action, in.Resource = "s3:GetObject", "arn:aws:s3:::"+bucket+"/"+key
		case r.Method == http.MethodPut:
			in.Action, in.Resource = "s3:PutObject", "arn:aws:s3:::"+bucket+"/"+key
		default:
			in.Action, in.Resource = "s3:DeleteObject", "arn:aws:s3:::"+bucket+"/"+key
		}
		return in, nil
	}
	objects := map[string]string{"alice/cat.jpg": "meow", "bob/dog.jpg": "woof"}
	store := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := authzclient.FromContext(r.Context())
		w.Header().Set("X-Principal", d.Principal.ARN)
		_, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		switch {
		case key == "":
			w.Header().Set("Content-Type", "application/xml")
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>photos</Name><Prefix>%s</Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated><Contents><Key>alice/cat.jpg</Key><Size>4</Size></Contents></ListBucketResult>`, r.URL.Query().Get("prefix"))
		case r.Method == http.MethodPut:
			b, _ := io.ReadAll(r.Body)
			objects[key] = string(b)
		default:
			v, ok := objects[key]
			if !ok {
				w.WriteHeader(404)
				return
			}
			w.Header().Set("Content-Type", "image/jpeg")
			_, _ = io.WriteString(w, v)
		}
	})
	srv := httptest.NewServer(client.Middleware(resolve, store))
	t.Cleanup(srv.Close)
	return srv
}

// TestAuthorizationAPIWithCLI puts the aws CLI in front of a toy store that
// uses the middleware: botocore's own S3 signatures are verified by iamd.
func TestAuthorizationAPIWithCLI(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws CLI not installed")
	}
	a := startAuthz(t)
	store := photoStore(t, a.client, "")
	run := func(c aws.Credentials, args ...string) (string, error) {
		cmd := exec.Command("aws", append([]string{"--endpoint-url", store.URL, "--output", "json"}, args...)...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
			"AWS_ACCESS_KEY_ID=" + c.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + c.SecretAccessKey, "AWS_SESSION_TOKEN=" + c.SessionToken,
			"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
			"AWS_MAX_ATTEMPTS=1", "AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true"}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return stdout.String(), errors.New(strings.TrimSpace(stderr.String()))
		}
		return stdout.String(), nil
	}
	dir := t.TempDir()
	must(t, os.WriteFile(dir+"/new.jpg", []byte("new"), 0o600))
	tests := []struct {
		name  string
		creds aws.Credentials
		args  []string
		err   string // "" for success
	}{
		{"own object", a.alice, []string{"s3api", "get-object", "--bucket", "photos", "--key", "alice/cat.jpg", dir + "/cat"}, ""},
		{"someone else's object", a.alice, []string{"s3api", "get-object", "--bucket", "photos", "--key", "bob/dog.jpg", dir + "/dog"}, "AccessDenied"},
		{"list own prefix", a.alice, []string{"s3api", "list-objects-v2", "--bucket", "photos", "--prefix", "alice/"}, ""},
		{"list another prefix", a.alice, []string{"s3api", "list-objects-v2", "--bucket", "photos", "--prefix", "bob/"}, "AccessDenied"},
		{"put own object", a.alice, []string{"s3api", "put-object", "--bucket", "photos", "--key", "alice/new.jpg", "--body", dir + "/new.jpg"}, ""},
		{"explicit deny", a.alice, []string{"s3api", "delete-object", "--bucket", "photos", "--key", "alice/cat.jpg"}, "AccessDenied"},
		{"role session", a.session, []string{"s3api", "get-object", "--bucket", "photos", "--key", "bob/dog.jpg", dir + "/dog2"}, ""},
		{"wrong secret", aws.Credentials{AccessKeyID: a.alice.AccessKeyID, SecretAccessKey: "wrong"}, []string{"s3api", "get-object", "--bucket", "photos", "--key", "alice/cat.jpg", dir + "/x"}, "SignatureDoesNotMatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(tc.creds, tc.args...)
			if tc.err == "" {
				if err != nil {
					t.Fatalf("aws %s: %v", strings.Join(tc.args, " "), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("aws %s = %q, %v; want %s", strings.Join(tc.args, " "), out, err, tc.err)
			}
		})
	}
	got, err := os.ReadFile(dir + "/cat")
	must(t, err)
	if string(got) != "meow" {
		t.Errorf("object = %q", got)
	}
}

// TestAuthorizationAPIAudited checks that decisions of the authorization API
// land in the audit trail as the forwarded requests' data events, and that
// refused calls land as iamd Authorize events.
func TestAuthorizationAPIAudited(t *testing.T) {
	a := startAuthz(t)
	ctx := context.Background()
	allowed := authzclient.Input{Action: "s3:GetObject", Resource: "arn:aws:s3:::photos/alice/audited.jpg", ResourceAccount: testAccount}
	d, err := a.client.AuthorizeRequest(ctx, forward(s3Request(t, a.alice, "GET", "/photos/alice/audited.jpg", "")), &allowed)
	must(t, err)
	if d.Decision != "Allow" {
		t.Fatalf("decision %s", d.Decision)
	}
	denied := authzclient.Input{Action: "s3:DeleteObject", Resource: "arn:aws:s3:::photos/alice/audited.jpg", ResourceAccount: testAccount}
	_, err = a.client.AuthorizeRequest(ctx, forward(s3Request(t, a.alice, "DELETE", "/photos/alice/audited.jpg", "")), &denied)
	must(t, err)
	// The store asks about an action its policy does not let it ask about.
	_, err = a.client.AuthorizeRequest(ctx, forward(s3Request(t, a.alice, "GET", "/photos/alice/audited.jpg", "")),
		&authzclient.Input{Action: "dynamodb:GetItem", Resource: "arn:aws:dynamodb:us-east-1:" + testAccount + ":table/t", ResourceAccount: testAccount})
	if err == nil {
		t.Fatal("a call the store may not make was answered")
	}

	byName := func(name string) []trailEvent {
		return a.lookup(t, a.root, "--lookup-attributes", "AttributeKey=EventName,AttributeValue="+name).Events
	}
	get := byName("GetObject")
	if len(get) != 1 {
		t.Fatalf("%d GetObject events, want 1", len(get))
	}
	rec := get[0].record(t)
	id, _ := rec["userIdentity"].(map[string]any)
	if rec["eventSource"] != "s3.amazonaws.com" || rec["eventCategory"] != "Data" || rec["errorCode"] != nil ||
		id["arn"] != "arn:aws:iam::"+testAccount+":user/alice" || get[0].Username != "alice" {
		t.Errorf("GetObject event: %s", get[0].CloudTrailEvent)
	}
	if !strings.Contains(get[0].CloudTrailEvent, `"authorizedBy":{"type":"IAMUser","arn":"arn:aws:iam::`+testAccount+`:user/store-svc"`) {
		t.Errorf("GetObject event does not name the store: %s", get[0].CloudTrailEvent)
	}
	del := byName("DeleteObject")
	if len(del) != 1 {
		t.Fatalf("%d DeleteObject events, want 1", len(del))
	}
	if rec := del[0].record(t); rec["errorCode"] != "AccessDenied" || !strings.Contains(del[0].CloudTrailEvent, `"decision":"ExplicitDeny"`) {
		t.Errorf("DeleteObject event: %s", del[0].CloudTrailEvent)
	}
	refused := byName("Authorize")
	if len(refused) != 1 {
		t.Fatalf("%d Authorize events, want 1", len(refused))
	}
	if rec := refused[0].record(t); rec["eventSource"] != "iamd.amazonaws.com" || rec["errorCode"] != "AccessDenied" || refused[0].Username != "store-svc" {
		t.Errorf("refused call's event: %s", refused[0].CloudTrailEvent)
	}
}

// layeredCall is an authorization call with the members authzclient.Input
// does not carry yet: resource control policies, an endpoint policy, a
// service principal.
type layeredCall struct {
	Request                 *authzclient.Request `json:"request,omitempty"`
	Action                  string               `json:"action"`
	Resource                string               `json:"resource"`
	ResourcePolicy          string               `json:"resourcePolicy,omitempty"`
	ResourceAccount         string               `json:"resourceAccount,omitempty"`
	SecureTransport         bool                 `json:"secureTransport,omitempty"`
	ResourceControlPolicies []string             `json:"resourceControlPolicies,omitempty"`
	EndpointPolicy          string               `json:"endpointPolicy,omitempty"`
	PrincipalService        string               `json:"principalService,omitempty"`
}

// authorizeLayered makes the call signed by the store, as authzclient
// signs calls, and returns the decision or the error answered.
func (a *authzEnv) authorizeLayered(t *testing.T, call *layeredCall) (*authzclient.Decision, *authzclient.Error) {
	t.Helper()
	body, err := json.Marshal(call)
	must(t, err)
	r, err := http.NewRequest("POST", a.url+authzclient.Path, bytes.NewReader(body))
	must(t, err)
	r.Header.Set("Content-Type", "application/json")
	s := sigv4.Signer{Credentials: sigv4.Credentials{AccessKeyID: a.svc.AccessKeyID, SecretAccessKey: a.svc.SecretAccessKey}, Region: "us-east-1", Service: "iamd"}
	must(t, s.Sign(r, body))
	resp, err := http.DefaultClient.Do(r)
	must(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	must(t, err)
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error *authzclient.Error }
		if json.Unmarshal(data, &e) != nil || e.Error == nil {
			t.Fatalf("HTTP %d: %s", resp.StatusCode, data)
		}
		return nil, e.Error
	}
	var d authzclient.Decision
	must(t, json.Unmarshal(data, &d))
	return &d, nil
}

// TestAuthorizationAPILayers covers resource control policies, VPC
// endpoint policies and AWS service principals as callers.
func TestAuthorizationAPILayers(t *testing.T) {
	a := startAuthz(t)
	const (
		fullAccess = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`
		// A level's policies act as one: RCPFullAWSAccess and a data-perimeter deny.
		tlsOnly       = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},{"Sid":"TLSOnly","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`
		sqsOnly       = `{"Version":"2012-10-17","Statement":[{"Sid":"SQSOnly","Effect":"Allow","Principal":"*","Action":"sqs:*","Resource":"*"}]}`
		endpointNoGet = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},
			{"Sid":"NoGet","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}]}`
		endpointListOnly = `{"Version":"2012-10-17","Statement":[{"Sid":"ListOnly","Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"*"}]}`
		logsPolicy       = `{"Version":"2012-10-17","Statement":[{"Sid":"S3Logging","Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::logs/*"}]}`
		// Principal "*" narrowed by the service's name: the condition
		// keys a service principal's request carries.
		logsByName = `{"Version":"2012-10-17","Statement":[{"Sid":"ByName","Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::logs/*",
			"Condition":{"StringEquals":{"aws:PrincipalServiceName":"logging.s3.amazonaws.com"},"Bool":{"aws:PrincipalIsAWSService":"true"}}}]}`
		noServices = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},
			{"Sid":"NoServices","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:PrincipalIsAWSService":"true"}}}]}`
	)
	get := func(c aws.Credentials) *authzclient.Request {
		return forward(s3Request(t, c, "GET", "/photos/alice/cat.jpg", ""))
	}
	getCat := func(c aws.Credentials) layeredCall {
		return layeredCall{Request: get(c), Action: "s3:GetObject", Resource: "arn:aws:s3:::photos/alice/cat.jpg", ResourceAccount: testAccount}
	}
	with := func(call layeredCall, f func(*layeredCall)) layeredCall { f(&call); return call }
	putLog := layeredCall{Action: "s3:PutObject", Resource: "arn:aws:s3:::logs/2026/12/07/access.log", ResourceAccount: testAccount, PrincipalService: "logging.s3.amazonaws.com"}
	tests := []struct {
		name     string
		call     layeredCall
		decision string
		layer    string // deciding layer
		sid      string // deciding statement
		message  string // substring of the denial message
		service  bool   // the principal is the service
	}{
		{name: "RCPs that allow leave the identity policy's allow", call: with(getCat(a.alice), func(c *layeredCall) {
			c.SecureTransport, c.ResourceControlPolicies = true, []string{fullAccess, tlsOnly}
		}), decision: "Allow", layer: "identity", sid: "OwnPhotos"},
		{name: "RCP deny wins over an identity allow", call: with(getCat(a.alice), func(c *layeredCall) {
			c.ResourceControlPolicies = []string{fullAccess, tlsOnly}
		}), decision: "ExplicitDeny", layer: "rcp", sid: "TLSOnly", message: "with an explicit deny in a resource control policy"},
		{name: "RCP level without an allow denies", call: with(getCat(a.alice), func(c *layeredCall) {
			c.ResourceControlPolicies = []string{fullAccess, sqsOnly}
		}), decision: "ImplicitDeny", layer: "rcp", message: "because no resource control policy allows the s3:GetObject action"},
		{name: "RCP deny wins over a bucket policy allow", call: with(getCat(a.bob), func(c *layeredCall) {
			c.ResourcePolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + testAccount + `:user/bob"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}]}`
			c.ResourceControlPolicies = []string{tlsOnly}
		}), decision: "ExplicitDeny", layer: "rcp"},
		{name: "endpoint policy that allows", call: with(getCat(a.alice), func(c *layeredCall) {
			c.EndpointPolicy = fullAccess
		}), decision: "Allow", layer: "identity"},
		{name: "endpoint policy deny", call: with(getCat(a.alice), func(c *layeredCall) {
			c.EndpointPolicy = endpointNoGet
		}), decision: "ExplicitDeny", layer: "endpoint", sid: "NoGet", message: "with an explicit deny in a VPC endpoint policy"},
		{name: "endpoint policy not allowing denies", call: with(getCat(a.alice), func(c *layeredCall) {
			c.EndpointPolicy = endpointListOnly
		}), decision: "ImplicitDeny", layer: "endpoint", message: "because no VPC endpoint policy allows the s3:GetObject action"},
		{name: "service principal named by the bucket policy", call: with(putLog, func(c *layeredCall) { c.ResourcePolicy = logsPolicy }),
			decision: "Allow", layer: "resource", sid: "S3Logging", service: true},
		{name: "service principal allowed by its condition keys", call: with(putLog, func(c *layeredCall) { c.ResourcePolicy = logsByName }),
			decision: "Allow", layer: "resource", sid: "ByName", service: true},
		{name: "another service principal", call: with(putLog, func(c *layeredCall) {
			c.ResourcePolicy, c.PrincipalService = logsPolicy, "cloudtrail.amazonaws.com"
		}), decision: "ImplicitDeny", layer: "resource", service: true},
		{name: "another service principal by condition keys", call: with(putLog, func(c *layeredCall) {
			c.ResourcePolicy, c.PrincipalService = logsByName, "cloudtrail.amazonaws.com"
		}), decision: "ImplicitDeny", service: true},
		{name: "service principal without a bucket policy", call: putLog, decision: "ImplicitDeny", service: true},
		{name: "service principal outside the bucket policy's resources", call: with(putLog, func(c *layeredCall) {
			c.ResourcePolicy, c.Resource = logsPolicy, "arn:aws:s3:::photos/alice/cat.jpg"
		}), decision: "ImplicitDeny", service: true},
		{name: "RCPs apply to service principals", call: with(putLog, func(c *layeredCall) {
			c.ResourcePolicy, c.ResourceControlPolicies = logsPolicy, []string{noServices}
		}), decision: "ExplicitDeny", layer: "rcp", sid: "NoServices", service: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, ae := a.authorizeLayered(t, &tc.call)
			if ae != nil {
				t.Fatalf("error %+v", ae)
			}
			if d.Decision != tc.decision {
				t.Fatalf("decision = %s (%s), want %s", d.Decision, d.Message, tc.decision)
			}
			if tc.service {
				if d.Principal.Type != "Service" || d.Principal.ARN != "" || d.Principal.AccessKeyID != "" {
					t.Errorf("principal = %+v, want the service", d.Principal)
				}
			} else if d.Principal.ARN != "arn:aws:iam::"+testAccount+":user/alice" && d.Principal.ARN != "arn:aws:iam::"+testAccount+":user/bob" {
				t.Errorf("principal = %+v", d.Principal)
			}
			ex := d.Explanation
			if ex == nil {
				t.Fatal("no explanation")
			}
			if tc.layer != "" && ex.DecidingLayer != tc.layer {
				t.Errorf("deciding layer = %s, want %s", ex.DecidingLayer, tc.layer)
			}
			if tc.sid != "" && (ex.DecidingStatement == nil || ex.DecidingStatement.Sid != tc.sid) {
				t.Errorf("deciding statement = %+v, want Sid %s", ex.DecidingStatement, tc.sid)
			}
			if tc.message != "" && !strings.Contains(d.Message, tc.message) {
				t.Errorf("message = %q, want it to contain %q", d.Message, tc.message)
			}
		})
	}

	refusals := []struct {
		name, code, message string
		call                layeredCall
	}{
		{name: "malformed RCP", code: "MalformedPolicyDocument", message: "resourceControlPolicies[1]: ",
			call: with(getCat(a.alice), func(c *layeredCall) { c.ResourceControlPolicies = []string{fullAccess, `{"Statement":[`} })},
		{name: "RCP without a principal", code: "MalformedPolicyDocument", message: "resourceControlPolicies[0]: ",
			call: with(getCat(a.alice), func(c *layeredCall) {
				c.ResourceControlPolicies = []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`}
			})},
		{name: "malformed endpoint policy", code: "MalformedPolicyDocument", message: "endpointPolicy: ",
			call: with(getCat(a.alice), func(c *layeredCall) { c.EndpointPolicy = `{"Version":"2012-10-17"` })},
		{name: "service principal with a forwarded request", code: "InvalidParameterValue", message: "exclusive",
			call: with(putLog, func(c *layeredCall) { c.Request = get(a.alice) })},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			d, ae := a.authorizeLayered(t, &tc.call)
			if ae == nil {
				t.Fatalf("decided %s, want error %s", d.Decision, tc.code)
			}
			if ae.Code != tc.code || ae.Origin != "caller" || ae.HTTPStatus != 400 || !strings.Contains(ae.Message, tc.message) {
				t.Errorf("error = %+v, want %s containing %q", ae, tc.code, tc.message)
			}
		})
	}

	t.Run("callers may be kept from asking about service principals", func(t *testing.T) {
		ctx := context.Background()
		_, err := a.rootIAM().PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("store-svc"), PolicyName: aws.String("no-services"),
			PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iamd:Authorize","Resource":"*","Condition":{"Null":{"iamd:PrincipalService":"false"}}}]}`)})
		must(t, err)
		if _, ae := a.authorizeLayered(t, &putLog); ae == nil || ae.Code != "AccessDenied" || ae.Origin != "caller" {
			t.Errorf("asking about a service: %+v, want AccessDenied", ae)
		}
		if d, ae := a.authorizeLayered(t, func() *layeredCall { c := getCat(a.alice); return &c }()); ae != nil || d.Decision != "Allow" {
			t.Errorf("asking about a user: %+v %+v", d, ae)
		}
	})
}
