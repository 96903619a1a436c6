package authzapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/server"
	"github.com/iamd/iamd/internal/sigv4"
)

const (
	account    = "123456789012"
	rootKey    = "AKIAIOSFODNN7EXAMPLE"
	rootSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// fixture is an in-process iamd with a storage service allowed to call the
// authorization API and a user whose requests it forwards.
type fixture struct {
	h                  http.Handler
	svc, alice         sigv4.Credentials
	bucketPolicy       string
	forwardedGetObject []byte // a call body
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	vars := map[string]string{
		server.EnvAccountID: account, server.EnvRootAccessKey: rootKey, server.EnvRootSecretKey: rootSecret,
		server.EnvAudit: "off",
	}
	srv, err := server.New(context.Background(), server.Config{DataDir: tb.TempDir(), Getenv: func(k string) string { return vars[k] }})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	f := &fixture{h: srv.Handler()}
	root := sigv4.Credentials{AccessKeyID: rootKey, SecretAccessKey: rootSecret}
	f.svc = f.user(tb, root, "store-svc", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iamd:Authorize","Resource":"arn:aws:s3:::*","Condition":{"StringLike":{"iamd:Action":"s3:*"}}}]}`)
	f.alice = f.user(tb, root, "alice", `{"Version":"2012-10-17","Statement":[
		{"Sid":"Own","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::photos/alice/*"},
		{"Sid":"List","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::photos","Condition":{"StringLike":{"s3:prefix":"alice/*"}}},
		{"Sid":"NoDelete","Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}`)
	f.bucketPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"AccountReads","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account +
		`:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}]}`
	f.forwardedGetObject = f.call(tb, f.alice, "GET", "/photos/alice/cat.jpg", "s3:GetObject", "arn:aws:s3:::photos/alice/cat.jpg", true)
	return f
}

// iam calls the IAM API as c and returns the response body.
func (f *fixture) iam(tb testing.TB, c sigv4.Credentials, form url.Values) []byte {
	tb.Helper()
	form.Set("Version", "2010-05-08")
	body := []byte(form.Encode())
	r := httptest.NewRequest("POST", "http://iamd.test/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	s := sigv4.Signer{Credentials: c, Region: "us-east-1", Service: "iam"}
	if err := s.Sign(r, body); err != nil {
		tb.Fatal(err)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	if w.Code != 200 {
		tb.Fatalf("%s: %d %s", form.Get("Action"), w.Code, w.Body)
	}
	return w.Body.Bytes()
}

func (f *fixture) user(tb testing.TB, root sigv4.Credentials, name, policy string) sigv4.Credentials {
	f.iam(tb, root, url.Values{"Action": {"CreateUser"}, "UserName": {name}})
	f.iam(tb, root, url.Values{"Action": {"PutUserPolicy"}, "UserName": {name}, "PolicyName": {"p"}, "PolicyDocument": {policy}})
	var out struct {
		ID     string `xml:"CreateAccessKeyResult>AccessKey>AccessKeyId"`
		Secret string `xml:"CreateAccessKeyResult>AccessKey>SecretAccessKey"`
	}
	if err := xml.Unmarshal(f.iam(tb, root, url.Values{"Action": {"CreateAccessKey"}, "UserName": {name}}), &out); err != nil {
		tb.Fatal(err)
	}
	return sigv4.Credentials{AccessKeyID: out.ID, SecretAccessKey: out.Secret}
}

// call returns the body of an authorization call about a request signed by
// c for s3.
func (f *fixture) call(tb testing.TB, c sigv4.Credentials, method, path, action, resource string, withPolicy bool) []byte {
	tb.Helper()
	r := httptest.NewRequest(method, "http://store.example:9000"+path, nil)
	s := sigv4.Signer{Credentials: c, Region: "us-east-1", Service: "s3"}
	if err := s.Sign(r, nil); err != nil {
		tb.Fatal(err)
	}
	in := map[string]any{
		"request": map[string]any{"method": method, "path": path, "host": "store.example:9000", "headers": r.Header},
		"action":  action, "resource": resource, "resourceAccount": account, "sourceIp": "203.0.113.9", "secureTransport": true,
	}
	if withPolicy {
		in["resourcePolicy"] = f.bucketPolicy
	}
	b, err := json.Marshal(in)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// authorize posts a call signed by c and returns the recorder.
func (f *fixture) authorize(tb testing.TB, c sigv4.Credentials, body []byte, signer *sigv4.Signer) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "http://iamd.test/_iamd/authorize", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if signer == nil {
		signer = &sigv4.Signer{Credentials: c, Region: "us-east-1", Service: "iamd"}
	}
	if err := signer.Sign(r, body); err != nil {
		tb.Fatal(err)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

func TestHandlerAnswers(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name     string
		body     []byte
		status   int
		contains []string
	}{
		{"allowed with explanation", f.forwardedGetObject, 200, []string{
			`"decision":"Allow"`, `"arn":"arn:aws:iam::123456789012:user/alice"`, `"type":"User"`, `"accessKeyId":"` + f.alice.AccessKeyID + `"`,
			`"signature":{"service":"s3","region":"us-east-1"`, `"decidingLayer":"identity"`, `"sid":"Own"`, `"layer":"resource"`}},
		{"explicit deny", f.call(t, f.alice, "DELETE", "/photos/alice/cat.jpg", "s3:DeleteObject", "arn:aws:s3:::photos/alice/cat.jpg", false), 200, []string{
			`"decision":"ExplicitDeny"`, `"message":"User: arn:aws:iam::123456789012:user/alice is not authorized to perform: s3:DeleteObject on resource: arn:aws:s3:::photos/alice/cat.jpg with an explicit deny in an identity-based policy"`}},
		{"not JSON", []byte(`{"request":`), 400, []string{`"code":"InvalidParameterValue"`, `"origin":"caller"`, `"httpStatus":400`}},
		{"no action", []byte(`{"request":{"method":"GET"},"resource":"*"}`), 400, []string{`"message":"action is required`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := f.authorize(t, f.svc, tc.body, nil)
			if w.Code != tc.status {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var any map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &any); err != nil {
				t.Fatalf("answer is not JSON: %v\n%s", err, w.Body)
			}
			for _, s := range tc.contains {
				if !strings.Contains(w.Body.String(), s) {
					t.Errorf("answer lacks %s:\n%s", s, w.Body)
				}
			}
			if strings.Contains(w.Body.String(), f.alice.SecretAccessKey) {
				t.Error("answer reveals the secret key")
			}
		})
	}
}

// BenchmarkAuthorize measures the handler without the network: verifying
// the call's signature and the forwarded request's, deciding the caller's
// iamd:Authorize and the request with a bucket policy, and encoding the
// answer with its explanation.
func BenchmarkAuthorize(b *testing.B) {
	for _, bc := range []struct {
		name    string
		explain bool
		layers  bool // with two levels of RCPs and an endpoint policy
	}{{"explain", true, false}, {"decision-only", false, false}, {"decision-only-rcps-endpoint", false, true}} {
		b.Run(bc.name, func(b *testing.B) {
			f := newFixture(b)
			body := f.forwardedGetObject
			if !bc.explain {
				body = bytes.Replace(body, []byte(`"action"`), []byte(`"explain":false,"action"`), 1)
			}
			if bc.layers {
				body = withLayers(b, body)
			}
			// A fixed signing time lets every iteration reuse one
			// signature's derived key, as a service signing continuously
			// does within a day.
			now := time.Now()
			signer := &sigv4.Signer{Credentials: f.svc, Region: "us-east-1", Service: "iamd", Now: func() time.Time { return now }}
			if w := f.authorize(b, f.svc, body, signer); w.Code != 200 || !bytes.Contains(w.Body.Bytes(), []byte(`"decision":"Allow"`)) {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest("POST", "http://iamd.test/_iamd/authorize", bytes.NewReader(body))
					r.Header.Set("Content-Type", "application/json")
					if err := signer.Sign(r, body); err != nil {
						b.Error(err)
						return
					}
					w := httptest.NewRecorder()
					f.h.ServeHTTP(w, r)
					if w.Code != 200 {
						b.Errorf("%d %s", w.Code, w.Body)
						return
					}
				}
			})
		})
	}
}

// withLayers adds resource control policies (RCPFullAWSAccess, then a
// data-perimeter level) and a VPC endpoint policy to a call's body.
func withLayers(tb testing.TB, body []byte) []byte {
	tb.Helper()
	var in map[string]any
	if err := json.Unmarshal(body, &in); err != nil {
		tb.Fatal(err)
	}
	in["resourceControlPolicies"] = []string{
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},
			{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`,
	}
	in["endpointPolicy"] = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos/*"}]}`
	b, err := json.Marshal(in)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
