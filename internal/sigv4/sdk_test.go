package sigv4

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// These tests check the verifier against requests signed by the real
// aws-sdk-go-v2 signer and clients, sent over a real listener so that Go's
// server-side request parsing (Host, Content-Length, header merging) is in
// the loop.

const (
	sdkAKID   = "AKIAIOSFODNN7EXAMPLE"
	sdkSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	sdkTempID = "ASIAIOSFODNN7EXAMPLE"
	sdkTemp   = "tempSecretKey/K7MDENG/bPxRfiCYEXAMPLEKEY"
	sdkToken  = "FwoGZXIvYXdzEXAMPLE//////////wEaDPtoken+with/slashes=="
)

type outcome struct {
	res *Result
	err error
}

// newSDKServer starts a listener that verifies every request and answers
// like IAM/STS: an ErrorResponse on failure, a minimal result on success.
func newSDKServer(t *testing.T, v *Verifier) (*httptest.Server, <-chan outcome) {
	t.Helper()
	ch := make(chan outcome, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		res, err := v.Verify(r.Context(), FromHTTP(r, body))
		ch <- outcome{res, err}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				e = &Error{"InternalFailure", err.Error(), http.StatusInternalServerError}
			}
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(e.HTTPStatus)
			fmt.Fprintf(w, "<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>r1</RequestId></ErrorResponse>",
				e.Code, html.EscapeString(e.Message))
			return
		}
		action := r.URL.Query().Get("Action")
		if form, err := url.ParseQuery(string(body)); err == nil && form.Get("Action") != "" {
			action = form.Get("Action")
		}
		w.Header().Set("Content-Type", "text/xml")
		switch action {
		case "ListUsers":
			fmt.Fprint(w, "<ListUsersResponse><ListUsersResult><Users/><IsTruncated>false</IsTruncated></ListUsersResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></ListUsersResponse>")
		case "GetCallerIdentity":
			fmt.Fprintf(w, "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/%s</Arn><UserId>%s</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></GetCallerIdentityResponse>",
				res.AccessKeyID, res.AccessKeyID)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

func newSDKVerifier(now time.Time) (*Verifier, *staticSource) {
	src := &staticSource{keys: map[string]testKey{
		sdkAKID:   {secret: sdkSecret},
		sdkTempID: {secret: sdkTemp, token: sdkToken},
	}}
	return NewVerifier(Config{Credentials: src, Now: fixedClock(now)}), src
}

func receive(t *testing.T, ch <-chan outcome) outcome {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(10 * time.Second):
		t.Fatal("server saw no request")
		return outcome{}
	}
}

func TestSDKSigner(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 10, 30, 0, 0, time.UTC)
	v, _ := newSDKVerifier(now)
	srv, ch := newSDKServer(t, v)
	long := aws.Credentials{AccessKeyID: sdkAKID, SecretAccessKey: sdkSecret}
	temp := aws.Credentials{AccessKeyID: sdkTempID, SecretAccessKey: sdkTemp, SessionToken: sdkToken}

	tests := []struct {
		name    string
		method  string
		target  string // path and query, appended to the server URL
		rawPath string // URL.RawPath to send, when the client escapes itself
		header  http.Header
		body    string
		service string
		creds   aws.Credentials
		payload string // payload hash to sign; default sha256(body)
		s3      bool
	}{
		{name: "iam-post-form", method: "POST", target: "/", service: "iam",
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}},
			body:   "Action=ListUsers&Version=2010-05-08"},
		{name: "sts-session-token", method: "POST", target: "/", service: "sts", creds: temp,
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}},
			body:   "Action=GetCallerIdentity&Version=2011-06-15"},
		{name: "get-vanilla", method: "GET", target: "/", service: "iam"},
		{name: "get-query-mixed", method: "GET", service: "iam",
			target: "/?b=2&a=1&a=0&space=a%20b&plus=a+b&utf8=%E1%88%B4&tilde=~x&empty=&novalue&Action=ListUsers"},
		{name: "query-sorted-after-encoding", method: "GET", target: "/?k=a-b&k=a/b&k=a%2Fc", service: "iam"},
		{name: "path-space-utf8-double-encoded", method: "GET", target: "/example space/ሴ/x%2By", service: "example"},
		{name: "duplicate-headers", method: "GET", target: "/", service: "iam",
			header: http.Header{"My-Header1": {"value2", "value2", "value1"}}},
		{name: "header-value-spaces", method: "GET", target: "/", service: "iam",
			header: http.Header{"My-Header2": {`"a   b   c"`}, "X-Amz-Meta": {"x  y"}}},
		{name: "post-json-body", method: "POST", target: "/", service: "example",
			header: http.Header{"Content-Type": {"application/x-amz-json-1.1"}, "X-Amz-Target": {"Svc.Op"}},
			body:   `{"a":"b"}`},
		{name: "s3-unsigned-payload", method: "PUT", target: "/bucket/key with space+plus=eq",
			rawPath: "/bucket/key%20with%20space%2Bplus%3Deq", service: "s3", s3: true,
			header: http.Header{"X-Amz-Content-Sha256": {"UNSIGNED-PAYLOAD"}}, payload: "UNSIGNED-PAYLOAD", body: "data"},
		{name: "s3-signed-payload-double-slash", method: "PUT", target: "/bucket/a//b/./c", service: "s3", s3: true,
			header: http.Header{"X-Amz-Content-Sha256": {PayloadHash([]byte("data"))}}, body: "data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.target, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.rawPath != "" {
				req.URL.RawPath = tc.rawPath
			}
			if tc.body == "" {
				req.Body, req.ContentLength = http.NoBody, 0
			}
			for k, vs := range tc.header {
				req.Header[k] = vs
			}
			creds := tc.creds
			if creds.AccessKeyID == "" {
				creds = long
			}
			payload := tc.payload
			if payload == "" {
				payload = PayloadHash([]byte(tc.body))
			}
			signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = tc.s3 })
			if err := signer.SignHTTP(context.Background(), creds, req, payload, tc.service, "us-east-1", now); err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			o := receive(t, ch)
			if o.err != nil {
				t.Fatalf("Verify: %v", o.err)
			}
			if o.res.AccessKeyID != creds.AccessKeyID || o.res.Service != tc.service || o.res.Region != "us-east-1" ||
				!o.res.SigningTime.Equal(now) || o.res.SessionToken != creds.SessionToken || o.res.Presigned {
				t.Errorf("result = %+v", o.res)
			}
			if o.res.Principal != "principal:"+creds.AccessKeyID {
				t.Errorf("Principal = %v", o.res.Principal)
			}
		})
	}
}

func TestSDKPresign(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 10, 30, 0, 0, time.UTC)
	tests := []struct {
		name    string
		method  string
		target  string
		service string
		creds   aws.Credentials
		payload string
		s3      bool
		at      time.Duration // verification time after signing
		code    string        // expected error code, "" for success
	}{
		{name: "sts-get-caller-identity", method: "GET", service: "sts",
			target: "/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Expires=60", payload: EmptyPayloadHash},
		{name: "sts-session-token", method: "GET", service: "sts",
			target: "/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Expires=900", payload: EmptyPayloadHash,
			creds: aws.Credentials{AccessKeyID: sdkTempID, SecretAccessKey: sdkTemp, SessionToken: sdkToken}},
		{name: "s3-get-object", method: "GET", service: "s3", s3: true,
			target: "/bucket/photos/a%20b.jpg?X-Amz-Expires=3600&response-content-type=image%2Fjpeg", payload: "UNSIGNED-PAYLOAD"},
		{name: "s3-within-expiry", method: "GET", service: "s3", s3: true, at: 59 * time.Minute,
			target: "/bucket/k?X-Amz-Expires=3600", payload: "UNSIGNED-PAYLOAD"},
		{name: "s3-expired", method: "GET", service: "s3", s3: true, at: 61 * time.Minute,
			target: "/bucket/k?X-Amz-Expires=3600", payload: "UNSIGNED-PAYLOAD", code: CodeAccessDenied},
		{name: "no-expires-within-skew", method: "GET", service: "sts", at: 14 * time.Minute,
			target: "/?Action=GetCallerIdentity&Version=2011-06-15", payload: EmptyPayloadHash},
		{name: "no-expires-outside-skew", method: "GET", service: "sts", at: 16 * time.Minute,
			target: "/?Action=GetCallerIdentity&Version=2011-06-15", payload: EmptyPayloadHash, code: CodeSignatureDoesNotMatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := newSDKVerifier(now.Add(tc.at))
			srv, ch := newSDKServer(t, v)
			req, err := http.NewRequest(tc.method, srv.URL+tc.target, nil)
			if err != nil {
				t.Fatal(err)
			}
			creds := tc.creds
			if creds.AccessKeyID == "" {
				creds = aws.Credentials{AccessKeyID: sdkAKID, SecretAccessKey: sdkSecret}
			}
			signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = tc.s3 })
			signedURL, hdr, err := signer.PresignHTTP(context.Background(), creds, req, tc.payload, tc.service, "us-east-1", now)
			if err != nil {
				t.Fatal(err)
			}
			preq, err := http.NewRequest(tc.method, signedURL, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range hdr {
				if !strings.EqualFold(k, "host") {
					preq.Header[k] = vs
				}
			}
			resp, err := http.DefaultClient.Do(preq)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			o := receive(t, ch)
			if tc.code != "" {
				if e, ok := errors.AsType[*Error](o.err); !ok || e.Code != tc.code {
					t.Fatalf("Verify error = %v, want code %s", o.err, tc.code)
				}
				return
			}
			if o.err != nil {
				t.Fatalf("Verify: %v", o.err)
			}
			if !o.res.Presigned || o.res.AccessKeyID != creds.AccessKeyID || o.res.SessionToken != creds.SessionToken {
				t.Errorf("result = %+v", o.res)
			}
		})
	}
}

// TestSDKClients drives the real IAM and STS clients, with their full
// middleware stacks, against the verifier.
func TestSDKClients(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC() // the clients sign with the wall clock
	v, _ := newSDKVerifier(now)
	srv, ch := newSDKServer(t, v)
	ctx := context.Background()
	cfg := func(id, secret, token string) aws.Config {
		return aws.Config{
			Region:           "us-east-1",
			Credentials:      credentials.NewStaticCredentialsProvider(id, secret, token),
			BaseEndpoint:     aws.String(srv.URL),
			RetryMaxAttempts: 1,
		}
	}

	t.Run("iam-list-users", func(t *testing.T) {
		_, err := iam.NewFromConfig(cfg(sdkAKID, sdkSecret, "")).ListUsers(ctx, &iam.ListUsersInput{PathPrefix: aws.String("/a b/ሴ/")})
		if o := receive(t, ch); o.err != nil {
			t.Fatalf("Verify: %v", o.err)
		} else if o.res.Service != "iam" {
			t.Errorf("Service = %q", o.res.Service)
		}
		if err != nil {
			t.Fatalf("ListUsers: %v", err)
		}
	})
	t.Run("sts-get-caller-identity-temporary", func(t *testing.T) {
		out, err := sts.NewFromConfig(cfg(sdkTempID, sdkTemp, sdkToken)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if o := receive(t, ch); o.err != nil {
			t.Fatalf("Verify: %v", o.err)
		} else if o.res.Service != "sts" || o.res.SessionToken != sdkToken {
			t.Errorf("result = %+v", o.res)
		}
		if err != nil {
			t.Fatalf("GetCallerIdentity: %v", err)
		}
		if aws.ToString(out.UserId) != sdkTempID {
			t.Errorf("UserId = %q", aws.ToString(out.UserId))
		}
	})
	t.Run("sts-presign-get-caller-identity", func(t *testing.T) {
		pc := sts.NewPresignClient(sts.NewFromConfig(cfg(sdkAKID, sdkSecret, "")))
		p, err := pc.PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequest(p.Method, p.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range p.SignedHeader {
			if !strings.EqualFold(k, "host") {
				req.Header[k] = vs
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if o := receive(t, ch); o.err != nil {
			t.Fatalf("Verify: %v", o.err)
		} else if !o.res.Presigned || o.res.Service != "sts" {
			t.Errorf("result = %+v", o.res)
		}
	})
	t.Run("wrong-secret", func(t *testing.T) {
		_, err := sts.NewFromConfig(cfg(sdkAKID, "not-the-secret", "")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		o := receive(t, ch)
		if !errors.Is(o.err, ErrSignatureDoesNotMatch) {
			t.Fatalf("Verify error = %v, want SignatureDoesNotMatch", o.err)
		}
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != CodeSignatureDoesNotMatch {
			t.Fatalf("client error = %v", err)
		}
	})
	t.Run("unknown-key", func(t *testing.T) {
		_, err := iam.NewFromConfig(cfg("AKIAUNKNOWN", sdkSecret, "")).ListUsers(ctx, &iam.ListUsersInput{})
		if o := receive(t, ch); !errors.Is(o.err, ErrInvalidClientTokenID) {
			t.Fatalf("Verify error = %v", o.err)
		}
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != CodeInvalidClientTokenID {
			t.Fatalf("client error = %v", err)
		}
	})
}
