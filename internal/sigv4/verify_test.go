package sigv4

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	testAKID   = "AKIAIOSFODNN7EXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testTempID = "ASIAIOSFODNN7EXAMPLE"
	testToken  = "session-token"
	testBody   = "Action=ListUsers&Version=2010-05-08"
)

var signTime = time.Date(2026, 11, 23, 10, 30, 0, 0, time.UTC)

func testSource() *staticSource {
	return &staticSource{keys: map[string]testKey{
		testAKID:           {secret: testSecret},
		testTempID:         {secret: testSecret, token: testToken},
		"ASIAEXPIREDKEY00": {secret: testSecret, token: testToken, expired: true},
	}}
}

// toRequest converts an outgoing request into what a server receives.
func toRequest(r *http.Request, body string) *Request {
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	h := r.Header.Clone()
	if r.ContentLength > 0 { // the transport sends it
		h.Set("Content-Length", strconv.FormatInt(r.ContentLength, 10))
	}
	return &Request{Method: r.Method, RawPath: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Host: host,
		Header: h, PayloadHash: PayloadHash([]byte(body))}
}

// signedIAMRequest is an IAM ListUsers POST signed at signTime.
func signedIAMRequest(t testing.TB, creds Credentials, service string) *Request {
	t.Helper()
	r, err := http.NewRequest("POST", "https://iam.amazonaws.com/", strings.NewReader(testBody))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	s := &Signer{Credentials: creds, Region: "us-east-1", Service: service, Now: fixedClock(signTime)}
	if err := s.Sign(r, []byte(testBody)); err != nil {
		t.Fatal(err)
	}
	return toRequest(r, testBody)
}

func TestVerifyHeader(t *testing.T) {
	t.Parallel()
	long := Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}
	setAuth := func(v string) func(*Request) { return func(r *Request) { r.Header.Set("Authorization", v) } }
	replaceAuth := func(old, new string) func(*Request) {
		return func(r *Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), old, new, 1))
		}
	}
	storeErr := errors.New("store down")
	tests := []struct {
		name    string
		creds   Credentials
		service string
		cfg     func(*Config)
		now     time.Time
		mutate  func(*Request)
		code    string
		status  int
		message string // exact, when set
		wantErr error  // errors.Is target, when set
	}{
		{name: "valid"},
		{name: "valid-temporary", creds: Credentials{testTempID, testSecret, testToken}},
		{name: "skew-edge-past", now: signTime.Add(15 * time.Minute)},
		{name: "skew-edge-future", now: signTime.Add(-15 * time.Minute)},
		{name: "unsigned-header-added", mutate: func(r *Request) { r.Header.Set("User-Agent", "curl") }},
		{name: "no-auth", mutate: func(r *Request) { r.Header.Del("Authorization") },
			code: CodeMissingAuthenticationToken, status: 403, message: "Request is missing Authentication Token"},
		{name: "all-params-missing", mutate: setAuth("AWS4-HMAC-SHA256 "), code: CodeIncompleteSignature, status: 400,
			message: "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 "},
		{name: "sigv2-header-no-date", mutate: func(r *Request) {
			r.Header.Del("X-Amz-Date")
			r.Header.Set("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:qaNdqGsI6bq4Hi+9Gzovwyjbh0E=")
		}, code: CodeIncompleteSignature,
			message: "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS AKIAIOSFODNN7EXAMPLE:qaNdqGsI6bq4Hi+9Gzovwyjbh0E="},
		{name: "missing-signature", mutate: setAuth("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261123/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date"),
			code:    CodeIncompleteSignature,
			message: "Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261123/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date"},
		{name: "missing-equal-sign", mutate: setAuth("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE /20261123/us-east-1/iam/aws4_request, SignedHeaders"),
			code:    CodeIncompleteSignature,
			message: "'SignedHeaders' not a valid key=value pair (missing equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE /20261123/us-east-1/iam/aws4_request, SignedHeaders'."},
		{name: "credential-four-elements", mutate: replaceAuth("/us-east-1/iam/", "/us-east-1/"), code: CodeIncompleteSignature,
			message: "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKIAIOSFODNN7EXAMPLE/20261123/us-east-1/aws4_request'"},
		{name: "credential-six-elements", mutate: replaceAuth("/aws4_request", "/aws4_request/x"), code: CodeIncompleteSignature},
		{name: "unsupported-algorithm", mutate: replaceAuth("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"), code: CodeIncompleteSignature,
			message: "Unsupported AWS 'algorithm': 'AWS4-ECDSA-P256-SHA256'"},
		{name: "date-not-basic-format", mutate: func(r *Request) { r.Header.Set("X-Amz-Date", "Mon, 23 Nov 2026 10:30:00 GMT") },
			code: CodeIncompleteSignature, status: 400,
			message: "Date must be in ISO-8601 'basic format'. Got 'Mon, 23 Nov 2026 10:30:00 GMT'. See http://en.wikipedia.org/wiki/ISO_8601"},
		{name: "scope-date-mismatch", mutate: replaceAuth("/20261123/", "/20261122/"), code: CodeSignatureDoesNotMatch, status: 403,
			message: "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261122' != '20261123', from '20261123T103000Z'."},
		{name: "bad-terminator", mutate: replaceAuth("/aws4_request", "/aws4_requests"), code: CodeSignatureDoesNotMatch,
			message: "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4_requests'."},
		{name: "region-not-allowed", cfg: func(c *Config) { c.Regions = []string{"eu-west-1"} }, code: CodeSignatureDoesNotMatch,
			message: "Credential should be scoped to a valid region, not 'us-east-1'."},
		{name: "service-not-allowed", service: "s3x", cfg: func(c *Config) { c.Services = []string{"iam", "sts"} }, code: CodeSignatureDoesNotMatch,
			message: "Credential should be scoped to correct service: 'iam'."},
		{name: "service-allowed", service: "sts", cfg: func(c *Config) { c.Services = []string{"iam", "sts"} }},
		{name: "host-not-signed", mutate: replaceAuth("content-type;host;", "content-type;"), code: CodeIncompleteSignature,
			message: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."},
		{name: "date-not-signed", mutate: replaceAuth(";x-amz-date", ""), code: CodeIncompleteSignature,
			message: "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."},
		{name: "signature-expired", now: signTime.Add(16 * time.Minute), code: CodeSignatureDoesNotMatch, status: 403,
			message: "Signature expired: 20261123T103000Z is now earlier than 20261123T103100Z (20261123T104600Z - 15 min.)"},
		{name: "signature-not-yet-current", now: signTime.Add(-16 * time.Minute), code: CodeSignatureDoesNotMatch,
			message: "Signature not yet current: 20261123T103000Z is still later than 20261123T102900Z (20261123T101400Z + 15 min.)"},
		{name: "custom-skew", now: signTime.Add(6 * time.Minute), cfg: func(c *Config) { c.MaxClockSkew = 5 * time.Minute },
			code: CodeSignatureDoesNotMatch, message: "Signature expired: 20261123T103000Z is now earlier than 20261123T103100Z (20261123T103600Z - 5 min.)"},
		{name: "unknown-key", creds: Credentials{"AKIANOTKNOWN", testSecret, ""}, code: CodeInvalidClientTokenID, status: 403,
			message: "The security token included in the request is invalid."},
		{name: "temporary-key-without-token", mutate: func(r *Request) { r.Header.Del("X-Amz-Security-Token") },
			creds: Credentials{testTempID, testSecret, testToken}, code: CodeInvalidClientTokenID},
		{name: "expired-token", creds: Credentials{"ASIAEXPIREDKEY00", testSecret, testToken}, code: CodeExpiredToken, status: 403,
			message: "The security token included in the request is expired"},
		{name: "wrong-secret", creds: Credentials{testAKID, "wrong", ""}, code: CodeSignatureDoesNotMatch, status: 403,
			message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."},
		{name: "tampered-body", mutate: func(r *Request) { r.PayloadHash = PayloadHash([]byte(testBody + "&x=1")) }, code: CodeSignatureDoesNotMatch},
		{name: "tampered-signed-header", mutate: func(r *Request) { r.Header.Set("Content-Type", "text/plain") }, code: CodeSignatureDoesNotMatch},
		{name: "tampered-query", mutate: func(r *Request) { r.RawQuery = "Action=DeleteUser" }, code: CodeSignatureDoesNotMatch},
		{name: "tampered-method", mutate: func(r *Request) { r.Method = "PUT" }, code: CodeSignatureDoesNotMatch},
		{name: "tampered-path", mutate: func(r *Request) { r.RawPath = "/admin" }, code: CodeSignatureDoesNotMatch},
		{name: "tampered-host", mutate: func(r *Request) { r.Host = "evil.example" }, code: CodeSignatureDoesNotMatch},
		{name: "tampered-date-in-window", mutate: func(r *Request) { r.Header.Set("X-Amz-Date", "20261123T103001Z") }, code: CodeSignatureDoesNotMatch},
		{name: "signature-too-short", mutate: func(r *Request) {
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:len(a)-2])
		}, code: CodeSignatureDoesNotMatch},
		{name: "signature-not-hex", mutate: func(r *Request) {
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:len(a)-2]+"zz")
		}, code: CodeSignatureDoesNotMatch},
		{name: "both-mechanisms", mutate: func(r *Request) { r.RawQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256" }, code: CodeIncompleteSignature},
		{name: "s3-without-content-sha256", service: "s3", mutate: func(r *Request) { r.Header.Del("X-Amz-Content-Sha256") },
			code: CodeInvalidRequest, status: 400, message: "Missing required header for this request: x-amz-content-sha256"},
		{name: "store-failure", cfg: func(c *Config) { c.Credentials = &staticSource{err: storeErr} }, wantErr: storeErr},
		{name: "store-rejects-wrapped", cfg: func(c *Config) {
			c.Credentials = &staticSource{err: errors.Join(errors.New("ctx"), ErrExpiredToken)}
		}, code: CodeExpiredToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			creds := tc.creds
			if creds.AccessKeyID == "" {
				creds = long
			}
			service := tc.service
			if service == "" {
				service = "iam"
			}
			now := tc.now
			if now.IsZero() {
				now = signTime
			}
			cfg := Config{Credentials: testSource(), Now: fixedClock(now)}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			req := signedIAMRequest(t, creds, service)
			if tc.mutate != nil {
				tc.mutate(req)
			}
			res, err := NewVerifier(cfg).Verify(context.Background(), req)
			checkErr(t, err, tc.code, tc.status, tc.message, tc.wantErr)
			if err == nil {
				if res.AccessKeyID != creds.AccessKeyID || res.Service != service || res.Region != "us-east-1" ||
					!res.SigningTime.Equal(signTime) || res.Presigned || res.SessionToken != creds.SessionToken ||
					res.Principal != "principal:"+creds.AccessKeyID || !res.Expires.IsZero() {
					t.Errorf("result = %+v", res)
				}
			}
		})
	}
}

func checkErr(t *testing.T, err error, code string, status int, message string, wantErr error) {
	t.Helper()
	switch {
	case wantErr != nil:
		if !errors.Is(err, wantErr) {
			t.Fatalf("err = %v, want %v", err, wantErr)
		}
		if _, ok := errors.AsType[*Error](err); ok {
			t.Fatalf("err = %v is an *Error; internal failures must not be", err)
		}
	case code == "":
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
	default:
		e, ok := errors.AsType[*Error](err)
		if !ok {
			t.Fatalf("err = %v, want *Error %s", err, code)
		}
		if e.Code != code {
			t.Fatalf("code = %s (%s), want %s", e.Code, e.Message, code)
		}
		if !errors.Is(err, &Error{Code: code}) {
			t.Errorf("errors.Is by code failed")
		}
		if status != 0 && e.HTTPStatus != status {
			t.Errorf("status = %d, want %d", e.HTTPStatus, status)
		}
		if message != "" && e.Message != message {
			t.Errorf("message =\n%q\nwant\n%q", e.Message, message)
		}
	}
}

func TestVerifyPresigned(t *testing.T) {
	t.Parallel()
	presign := func(t *testing.T, service, target string, expires time.Duration, creds Credentials) *Request {
		t.Helper()
		r, err := http.NewRequest("GET", "https://example.amazonaws.com"+target, nil)
		if err != nil {
			t.Fatal(err)
		}
		s := &Signer{Credentials: creds, Region: "us-east-1", Service: service, Now: fixedClock(signTime)}
		u, err := s.Presign(r, expires)
		if err != nil {
			t.Fatal(err)
		}
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		return &Request{Method: "GET", RawPath: pu.EscapedPath(), RawQuery: pu.RawQuery, Host: pu.Host, Header: http.Header{}}
	}
	setParam := func(k, v string) func(*Request) {
		return func(r *Request) {
			q, _ := url.ParseQuery(r.RawQuery)
			q.Set(k, v)
			r.RawQuery = q.Encode()
		}
	}
	delParam := func(ks ...string) func(*Request) {
		return func(r *Request) {
			q, _ := url.ParseQuery(r.RawQuery)
			for _, k := range ks {
				q.Del(k)
			}
			r.RawQuery = q.Encode()
		}
	}
	long := Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}
	tests := []struct {
		name    string
		service string
		target  string
		expires time.Duration
		creds   Credentials
		now     time.Time
		mutate  func(*Request)
		code    string
		status  int
		message string
	}{
		{name: "valid-sts", target: "/?Action=GetCallerIdentity&Version=2011-06-15"},
		{name: "valid-temporary", creds: Credentials{testTempID, testSecret, testToken}},
		{name: "valid-s3", service: "s3", target: "/bucket/a%20b/c.txt?versionId=x%2By"},
		{name: "valid-until-expiry", now: signTime.Add(time.Hour)},
		{name: "valid-week", expires: 7 * 24 * time.Hour, now: signTime.Add(7*24*time.Hour - time.Second)},
		{name: "expired", now: signTime.Add(time.Hour + time.Second), code: CodeRequestExpired, status: 400, message: "Request has expired."},
		{name: "s3-expired", service: "s3", now: signTime.Add(time.Hour + time.Second), code: CodeAccessDenied, status: 403, message: "Request has expired"},
		{name: "not-yet-current", now: signTime.Add(-16 * time.Minute), code: CodeSignatureDoesNotMatch,
			message: "Signature not yet current: 20261123T103000Z is still later than 20261123T102900Z (20261123T101400Z + 15 min.)"},
		{name: "missing-params", mutate: delParam(qAlgorithm, qSignature), code: CodeSignatureDoesNotMatch},
		{name: "missing-signature-and-date", mutate: delParam(qSignature, qDate), code: CodeIncompleteSignature, status: 400,
			message: "AWS query-string parameters must include 'X-Amz-Signature'. AWS query-string parameters must include 'X-Amz-Date'. Re-examine the query-string parameters."},
		{name: "s3-missing-expires", service: "s3", mutate: delParam(qExpires), code: CodeIncompleteSignature,
			message: "AWS query-string parameters must include 'X-Amz-Expires'. Re-examine the query-string parameters."},
		{name: "expires-not-number", mutate: setParam(qExpires, "1h"), code: CodeIncompleteSignature, message: "X-Amz-Expires should be a number"},
		{name: "expires-negative", mutate: setParam(qExpires, "-5"), code: CodeIncompleteSignature, message: "X-Amz-Expires must be non-negative"},
		{name: "expires-zero", mutate: setParam(qExpires, "0"), code: CodeIncompleteSignature},
		{name: "expires-too-long", mutate: setParam(qExpires, "604801"), code: CodeIncompleteSignature,
			message: "X-Amz-Expires must be less than a week (in seconds) that is 604800"},
		{name: "expires-huge", mutate: setParam(qExpires, "99999999999999999999999"), code: CodeIncompleteSignature},
		{name: "expires-extended", mutate: setParam(qExpires, "7200"), code: CodeSignatureDoesNotMatch},
		{name: "unsupported-algorithm", mutate: setParam(qAlgorithm, "AWS4-HMAC-SHA512"), code: CodeIncompleteSignature,
			message: "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'"},
		{name: "bad-date", mutate: setParam(qDate, "2026-11-23T10:30:00Z"), code: CodeIncompleteSignature},
		{name: "tampered-param", mutate: setParam("Action", "DeleteUser"), code: CodeSignatureDoesNotMatch},
		{name: "added-param", mutate: setParam("Extra", "1"), code: CodeSignatureDoesNotMatch},
		{name: "unknown-key", creds: Credentials{"AKIANOTKNOWN", testSecret, ""}, code: CodeInvalidClientTokenID},
		{name: "token-removed", creds: Credentials{testTempID, testSecret, testToken}, mutate: delParam(qSecurityToken), code: CodeInvalidClientTokenID},
		{name: "host-not-signed", mutate: setParam(qSignedHeaders, "x-amz-date"), code: CodeIncompleteSignature},
		{name: "authorization-header-too", mutate: func(r *Request) { r.Header.Set("Authorization", "AWS4-HMAC-SHA256 x=y") }, code: CodeIncompleteSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			service, target, expires, creds, now := tc.service, tc.target, tc.expires, tc.creds, tc.now
			if service == "" {
				service = "sts"
			}
			if target == "" {
				target = "/?Action=GetCallerIdentity&Version=2011-06-15"
			}
			if expires == 0 {
				expires = time.Hour
			}
			if creds.AccessKeyID == "" {
				creds = long
			}
			if now.IsZero() {
				now = signTime
			}
			req := presign(t, service, target, expires, creds)
			if tc.mutate != nil {
				tc.mutate(req)
			}
			res, err := NewVerifier(Config{Credentials: testSource(), Now: fixedClock(now)}).Verify(context.Background(), req)
			if tc.name == "missing-params" {
				// Without the algorithm and signature, only the credential
				// is left: still query authentication, incomplete.
				tc.code = CodeIncompleteSignature
			}
			checkErr(t, err, tc.code, tc.status, tc.message, nil)
			if err == nil {
				if !res.Presigned || res.AccessKeyID != creds.AccessKeyID || res.Service != service ||
					!res.Expires.Equal(signTime.Add(expires)) || res.SessionToken != creds.SessionToken {
					t.Errorf("result = %+v", res)
				}
				if service == "s3" && res.PayloadHash != "UNSIGNED-PAYLOAD" {
					t.Errorf("PayloadHash = %q", res.PayloadHash)
				}
			}
		})
	}
}

// TestVerifyParsedQuery checks that a caller with only url.Values gets the
// same answer as one with the raw query.
func TestVerifyParsedQuery(t *testing.T) {
	t.Parallel()
	r, _ := http.NewRequest("GET", "https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&a=x+y&b=%2F", nil)
	s := &Signer{Credentials: Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}, Region: "us-east-1", Service: "sts", Now: fixedClock(signTime)}
	if err := s.Sign(r, nil); err != nil {
		t.Fatal(err)
	}
	req := toRequest(r, "")
	req.Query, req.RawQuery = r.URL.Query(), ""
	if _, err := NewVerifier(Config{Credentials: testSource(), Now: fixedClock(signTime)}).Verify(context.Background(), req); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyDateHeader covers signing with the Date header instead of
// X-Amz-Date: S3 accepts an HTTP date and signs it verbatim; other services
// require ISO 8601 basic format there too.
func TestVerifyDateHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		service string
		date    string
		code    string
	}{
		{name: "s3-http-date", service: "s3", date: "Mon, 23 Nov 2026 10:30:00 GMT"},
		{name: "s3-iso-date", service: "s3", date: "20261123T103000Z"},
		{name: "iam-iso-date", service: "iam", date: "20261123T103000Z"},
		{name: "iam-http-date", service: "iam", date: "Mon, 23 Nov 2026 10:30:00 GMT", code: CodeIncompleteSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Date": {tc.date}, "X-Amz-Content-Sha256": {EmptyPayloadHash}}
			const signed = "date;host;x-amz-content-sha256"
			in := canonicalInput{method: "GET", rawPath: "/b/k", host: "example.com", header: h,
				signedHeaders: signed, payloadHash: EmptyPayloadHash, s3: tc.service == "s3"}
			scope := "20261123/us-east-1/" + tc.service + "/aws4_request"
			key := newSigningKey(deriveKey([]byte(testSecret), "20261123", "us-east-1", tc.service))
			sum, _ := key.sign(nil, appendStringToSign(nil, tc.date, scope, sha256Sum(appendCanonicalRequest(nil, &in))))
			h.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAKID+"/"+scope+", SignedHeaders="+signed+", Signature="+hexString(sum[:]))
			req := &Request{Method: "GET", RawPath: "/b/k", Host: "example.com", Header: h}
			res, err := NewVerifier(Config{Credentials: testSource(), Now: fixedClock(signTime)}).Verify(context.Background(), req)
			checkErr(t, err, tc.code, 0, "", nil)
			if err == nil && !res.SigningTime.Equal(signTime) {
				t.Errorf("SigningTime = %v", res.SigningTime)
			}
		})
	}
}

// TestVerifyLargeRequest exercises canonical requests larger than the
// pooled buffer, twice, so that the grown buffer is reused.
func TestVerifyLargeRequest(t *testing.T) {
	t.Parallel()
	v := NewVerifier(Config{Credentials: testSource(), Now: fixedClock(signTime)})
	for i := range 3 {
		r, _ := http.NewRequest("GET", "https://example.amazonaws.com/?q="+strings.Repeat("x%20", 3000), nil)
		r.Header.Set("X-Big", strings.Repeat("v  ", 2000+i))
		s := &Signer{Credentials: Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}, Region: "us-east-1", Service: "example", Now: fixedClock(signTime)}
		if err := s.Sign(r, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(context.Background(), toRequest(r, "")); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
}
