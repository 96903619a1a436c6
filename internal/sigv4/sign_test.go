package sigv4

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestSignerMatchesSDK checks that our Signer produces exactly the
// Authorization header aws-sdk-go-v2 produces for the same request.
func TestSignerMatchesSDK(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		method  string
		url     string
		header  http.Header
		body    string
		service string
		token   string
	}{
		{name: "iam-post", method: "POST", url: "https://iam.amazonaws.com/", service: "iam",
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}, body: testBody},
		{name: "sts-temporary", method: "POST", url: "https://sts.amazonaws.com/", service: "sts", token: testToken,
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}, body: "Action=GetCallerIdentity&Version=2011-06-15"},
		{name: "get-query", method: "GET", url: "https://example.amazonaws.com/a%20b/ሴ?z=1&a=x+y&a=%2F&k", service: "example"},
		{name: "headers", method: "GET", url: "https://example.amazonaws.com:8443/", service: "example",
			header: http.Header{"My-Header1": {"value2", "value1"}, "X-Spaces": {"  a   b  "}, "User-Agent": {"test"}}},
		{name: "s3-put", method: "PUT", url: "https://bucket.s3.amazonaws.com/a/b%2Bc", service: "s3", body: "data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			newReq := func() *http.Request {
				r, err := http.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
				if err != nil {
					t.Fatal(err)
				}
				if tc.body == "" {
					r.Body, r.ContentLength = http.NoBody, 0
				}
				for k, vs := range tc.header {
					r.Header[k] = vs
				}
				return r
			}
			ours, theirs := newReq(), newReq()
			s := &Signer{Credentials: Credentials{testAKID, testSecret, tc.token}, Region: "us-east-1", Service: tc.service, Now: fixedClock(signTime)}
			if err := s.Sign(ours, []byte(tc.body)); err != nil {
				t.Fatal(err)
			}
			if tc.service == "s3" {
				theirs.Header.Set("X-Amz-Content-Sha256", PayloadHash([]byte(tc.body)))
			}
			sdk := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = tc.service == "s3" })
			creds := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret, SessionToken: tc.token}
			if err := sdk.SignHTTP(context.Background(), creds, theirs, PayloadHash([]byte(tc.body)), tc.service, "us-east-1", signTime); err != nil {
				t.Fatal(err)
			}
			if got, want := ours.Header.Get("Authorization"), theirs.Header.Get("Authorization"); got != want {
				t.Errorf("Authorization\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestPresignMatchesSDK(t *testing.T) {
	t.Parallel()
	for _, service := range []string{"sts", "s3"} {
		t.Run(service, func(t *testing.T) {
			const target = "https://example.amazonaws.com/a/b?Action=GetCallerIdentity&Version=2011-06-15"
			ours, _ := http.NewRequest("GET", target, nil)
			s := &Signer{Credentials: Credentials{testAKID, testSecret, testToken}, Region: "us-east-1", Service: service, Now: fixedClock(signTime)}
			ourURL, err := s.Presign(ours, 900*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			theirs, _ := http.NewRequest("GET", target+"&X-Amz-Expires=900", nil)
			payload := EmptyPayloadHash
			if service == "s3" {
				payload = "UNSIGNED-PAYLOAD"
			}
			sdk := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = service == "s3" })
			creds := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret, SessionToken: testToken}
			theirURL, _, err := sdk.PresignHTTP(context.Background(), creds, theirs, payload, service, "us-east-1", signTime)
			if err != nil {
				t.Fatal(err)
			}
			sig := func(raw string) string {
				u, err := url.Parse(raw)
				if err != nil {
					t.Fatal(err)
				}
				return u.Query().Get("X-Amz-Signature")
			}
			if got, want := sig(ourURL), sig(theirURL); got == "" || got != want {
				t.Errorf("X-Amz-Signature = %q, want %q\nours   %s\ntheirs %s", got, want, ourURL, theirURL)
			}
		})
	}
}

func TestPresignRejectsExpiry(t *testing.T) {
	t.Parallel()
	r, _ := http.NewRequest("GET", "https://example.amazonaws.com/", nil)
	s := &Signer{Credentials: Credentials{testAKID, testSecret, ""}, Region: "us-east-1", Service: "sts"}
	for _, d := range []time.Duration{0, time.Millisecond, 7*24*time.Hour + time.Second} {
		if _, err := s.Presign(r, d); err == nil {
			t.Errorf("Presign(%v) succeeded", d)
		}
	}
}
