package sigv4

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		"AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd",
		"AWS4-HMAC-SHA256 Credential=a/b/c/d/e,SignedHeaders=host,Signature=",
		"AWS4-HMAC-SHA256 Credential",
		"AWS AKID:sig",
		"", " ", "AWS4-HMAC-SHA256 ,,,=,=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		a, err := parseAuthorization(value)
		if err != nil {
			if err.Code != CodeIncompleteSignature {
				t.Fatalf("unexpected code %s", err.Code)
			}
			return
		}
		if a.credential == "" {
			return
		}
		sc, err := parseCredential(a.credential)
		if err != nil {
			return
		}
		if got := sc.accessKeyID + "/" + sc.str; got != a.credential {
			t.Fatalf("credential %q reassembles to %q", a.credential, got)
		}
		if strings.Contains(sc.date+sc.region+sc.service+sc.terminator, "/") {
			t.Fatalf("scope part contains a slash: %+v", sc)
		}
	})
}

// FuzzVerify feeds arbitrary header, query, path and date values through
// the whole verification path: it must never panic and must only fail
// with *Error.
func FuzzVerify(f *testing.F) {
	good := signedIAMRequest(f, Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}, "iam")
	f.Add(good.Header.Get("Authorization"), good.Header.Get("X-Amz-Date"), "", "/", "iam.amazonaws.com")
	f.Add("", "", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261123%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20261123T103000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00", "/", "h")
	f.Add("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261123/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date;x-amz-content-sha256, Signature=00",
		"20261123T103000Z", "a=%zz&b", "/b/%E1%88%B4/./..//", "h")
	f.Add("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261123/us-east-1/iam/aws4_request, SignedHeaders=;;host;, Signature=", "20261123T103000Z", "X-Amz-Expires=-0", "", "")
	v := NewVerifier(Config{Credentials: testSource(), Now: fixedClock(signTime)})
	f.Fuzz(func(t *testing.T, authz, date, query, path, host string) {
		h := http.Header{}
		if authz != "" {
			h.Set("Authorization", authz)
		}
		if date != "" {
			h.Set("X-Amz-Date", date)
			h.Set("Date", date)
		}
		h.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		h.Set("Content-Type", good.Header.Get("Content-Type"))
		h.Set("Content-Length", good.Header.Get("Content-Length"))
		req := &Request{Method: "POST", RawPath: path, RawQuery: query, Host: host, Header: h, PayloadHash: good.PayloadHash}
		_, err := v.Verify(context.Background(), req)
		if err != nil {
			if _, ok := errors.AsType[*Error](err); !ok {
				t.Fatalf("non-*Error failure: %v", err)
			}
		}
	})
}
