package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/cputime"
	"github.com/iamd/iamd/internal/managedpolicies"
	"github.com/iamd/iamd/internal/sigv4"
)

const (
	benchAccount = "123456789012"
	benchKeyID   = "AKIAIOSFODNN7EXAMPLE"
	benchSecret  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

func benchServer(b *testing.B, audit string) *Server {
	b.Helper()
	vars := map[string]string{EnvAccountID: benchAccount, EnvRootAccessKey: benchKeyID, EnvRootSecretKey: benchSecret, EnvAudit: audit}
	s, err := New(context.Background(), Config{DataDir: b.TempDir(), Getenv: func(k string) string { return vars[k] }})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func signedRequest(b *testing.B, signer *sigv4.Signer, form url.Values) *http.Request {
	body := form.Encode()
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if err := signer.Sign(r, []byte(body)); err != nil {
		b.Fatal(err)
	}
	r.Body = nopBody{strings.NewReader(body)}
	return r
}

type nopBody struct{ *strings.Reader }

func (nopBody) Close() error { return nil }

// BenchmarkGetUser measures the server's cost of one signed GetUser by an
// IAM user whose permission comes from a group policy: SigV4 verification,
// authentication, authorization, decoding and encoding, without the
// network. The request is signed once per iteration batch outside the timer.
// cpu-ns/op is the process's CPU time per request, which counts the audit
// trail's background work (sealing segments) that ns/op, on another core,
// does not.
func BenchmarkGetUser(b *testing.B) {
	for _, audit := range []string{"off", "default"} {
		b.Run("audit="+audit, func(b *testing.B) { benchGetUser(b, audit) })
	}
}

func benchGetUser(b *testing.B, audit string) {
	s := benchServer(b, audit)
	root := &sigv4.Signer{Credentials: sigv4.Credentials{AccessKeyID: benchKeyID, SecretAccessKey: benchSecret}, Region: "us-east-1", Service: "iam"}
	h := s.Handler()
	call := func(form url.Values) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, signedRequest(b, root, form))
		if w.Code != 200 {
			b.Fatalf("%s: %d %s", form.Get("Action"), w.Code, w.Body)
		}
		return w
	}
	v := func(kv ...string) url.Values {
		f := url.Values{"Version": {"2010-05-08"}}
		for i := 0; i < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	for i := range 100 {
		call(v("Action", "CreateUser", "UserName", fmt.Sprintf("u%03d", i)))
	}
	call(v("Action", "CreateGroup", "GroupName", "readers"))
	call(v("Action", "AttachGroupPolicy", "GroupName", "readers", "PolicyArn", "arn:aws:iam::aws:policy/IAMReadOnlyAccess"))
	call(v("Action", "AddUserToGroup", "GroupName", "readers", "UserName", "u001"))
	w := call(v("Action", "CreateAccessKey", "UserName", "u001"))
	keyID := between(w.Body.String(), "<AccessKeyId>", "</AccessKeyId>")
	secret := between(w.Body.String(), "<SecretAccessKey>", "</SecretAccessKey>")
	user := &sigv4.Signer{Credentials: sigv4.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}, Region: "us-east-1", Service: "iam",
		Now: func() time.Time { return time.Now() }}
	form := v("Action", "GetUser", "UserName", "u042")
	reqs := make([]*http.Request, 256)
	for i := range reqs {
		reqs[i] = signedRequest(b, user, form)
	}
	body := form.Encode()
	b.ReportAllocs()
	cpu := cputime.Process()
	n := 0
	for i := 0; b.Loop(); i++ {
		r := reqs[i%len(reqs)]
		r.Body = nopBody{strings.NewReader(body)}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("GetUser: %d %s", w.Code, w.Body)
		}
		n++
	}
	b.ReportMetric(float64(cputime.Process()-cpu)/float64(n), "cpu-ns/op")
}

func between(s, from, to string) string {
	i := strings.Index(s, from)
	j := strings.Index(s, to)
	if i < 0 || j < i {
		return ""
	}
	return s[i+len(from) : j]
}

// BenchmarkGetUserParallel is BenchmarkGetUser with concurrent requests, so
// that the audit trail batches events as it does under load.
func BenchmarkGetUserParallel(b *testing.B) {
	for _, audit := range []string{"off", "default"} {
		b.Run("audit="+audit, func(b *testing.B) {
			s := benchServer(b, audit)
			root := &sigv4.Signer{Credentials: sigv4.Credentials{AccessKeyID: benchKeyID, SecretAccessKey: benchSecret}, Region: "us-east-1", Service: "iam"}
			h := s.Handler()
			form := url.Values{"Version": {"2010-05-08"}, "Action": {"CreateUser"}, "UserName": {"u042"}}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, signedRequest(b, root, form))
			form = url.Values{"Version": {"2010-05-08"}, "Action": {"GetUser"}, "UserName": {"u042"}}
			body := form.Encode()
			req := signedRequest(b, root, form)
			b.ReportAllocs()
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := req.Clone(req.Context())
					r.Body = nopBody{strings.NewReader(body)}
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != 200 {
						b.Errorf("GetUser: %d", w.Code)
						return
					}
				}
			})
		})
	}
}

// BenchmarkAuthorize decides GetUser for an IAM user set up through the
// API (a group with an AWS-managed and a customer-managed policy, a
// permissions boundary) with an authorizer built as the server builds its
// own (authz.New on the server's view; the server keeps its instance
// unexported): the Request and Context the authorizer builds for each
// decision stay on its stack, so decisions allocate nothing.
func BenchmarkAuthorize(b *testing.B) {
	s := benchServer(b, "off")
	root := &sigv4.Signer{Credentials: sigv4.Credentials{AccessKeyID: benchKeyID, SecretAccessKey: benchSecret}, Region: "us-east-1", Service: "iam"}
	h := s.Handler()
	call := func(kv ...string) string {
		form := url.Values{"Version": {"2010-05-08"}}
		for i := 0; i < len(kv); i += 2 {
			form.Set(kv[i], kv[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, signedRequest(b, root, form))
		if w.Code != 200 {
			b.Fatalf("%s: %d %s", form.Get("Action"), w.Code, w.Body)
		}
		return w.Body.String()
	}
	const doc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GetUser","iam:ListAccessKeys"],"Resource":"arn:aws:iam::` + benchAccount + `:user/${aws:username}"}]}`
	call("Action", "CreatePolicy", "PolicyName", "Self", "PolicyDocument", doc)
	call("Action", "CreatePolicy", "PolicyName", "Boundary", "PolicyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}`)
	call("Action", "CreateGroup", "GroupName", "readers")
	call("Action", "AttachGroupPolicy", "GroupName", "readers", "PolicyArn", "arn:aws:iam::aws:policy/IAMReadOnlyAccess")
	call("Action", "AttachGroupPolicy", "GroupName", "readers", "PolicyArn", "arn:aws:iam::"+benchAccount+":policy/Self")
	id := between(call("Action", "CreateUser", "UserName", "bob", "PermissionsBoundary", "arn:aws:iam::"+benchAccount+":policy/Boundary"), "<UserId>", "</UserId>")
	call("Action", "AddUserToGroup", "GroupName", "readers", "UserName", "bob")
	a := authz.New(s.state.View, func() *managedpolicies.Catalog {
		c, err := managedpolicies.Load()
		if err != nil {
			b.Fatal(err)
		}
		return c
	})
	caller := &authz.Caller{Account: benchAccount, Type: authz.User, ARN: "arn:aws:iam::" + benchAccount + ":user/bob",
		PrincipalARN: "arn:aws:iam::" + benchAccount + ":user/bob", UserID: id, Name: "bob", EntityID: id,
		SourceIP: netip.MustParseAddr("10.0.0.1"), SecureTransport: true, Time: time.Now()}
	caller.SetRequest("us-east-1", "aws-sdk-go-v2/1.30.0")
	req := &authz.Request{Action: "iam:GetUser", Resource: "arn:aws:iam::" + benchAccount + ":user/bob"}
	ctx := context.Background()
	if err := a.Authorize(ctx, caller, req); err != nil {
		b.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = a.Authorize(ctx, caller, req) }); n != 0 {
		b.Fatalf("%v allocations per decision", n)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := a.Authorize(ctx, caller, req); err != nil {
			b.Fatal(err)
		}
	}
}
