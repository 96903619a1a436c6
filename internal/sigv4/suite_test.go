package sigv4

import (
	"context"
	"net/http"
	"testing"
)

// The cases below are the requests and signatures of AWS's published SigV4
// test suite (aws-sig-v4-test-suite): service "service", us-east-1,
// 20150830T123600Z, key AKIDEXAMPLE. RawPath is the request line as the
// suite gives it, which is what a server receives.
func TestAWSTestSuite(t *testing.T) {
	t.Parallel()
	const (
		secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
		token  = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="
		cred   = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"
	)
	tests := []struct {
		name    string
		method  string
		path    string
		query   string
		header  http.Header
		signed  string
		body    string
		withTok bool
		sig     string
	}{
		{name: "get-vanilla", path: "/", sig: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{name: "get-relative-relative", path: "/example1/example2/../..", sig: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{name: "get-slash-dot-slash", path: "/./", sig: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{name: "get-slash-pointless-dot", path: "/./example", sig: "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"},
		{name: "get-slashes", path: "//example//", sig: "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"},
		{name: "get-space", path: "/example space/", sig: "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
		{name: "get-utf8", path: "/ሴ", sig: "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
		{name: "get-vanilla-query-unreserved", path: "/",
			query: "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
			sig:   "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
		{name: "get-vanilla-utf8-query", path: "/", query: "ሴ=bar", sig: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
		{name: "get-vanilla-empty-query-key", path: "/", query: "Param1=value1", sig: "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
		{name: "get-header-key-duplicate", path: "/",
			header: http.Header{"My-Header1": {"value2", "value2", "value1"}}, signed: "host;my-header1;x-amz-date",
			sig: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
		{name: "get-header-value-trim", path: "/",
			header: http.Header{"My-Header1": {" value1"}, "My-Header2": {` "a   b   c"`}}, signed: "host;my-header1;my-header2;x-amz-date",
			sig: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
		{name: "post-x-www-form-urlencoded", method: "POST", path: "/", body: "Param1=value1",
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, signed: "content-type;host;x-amz-date",
			sig: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
		{name: "post-x-www-form-urlencoded-parameters", method: "POST", path: "/", body: "Param1=value1",
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf8"}}, signed: "content-type;host;x-amz-date",
			sig: "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"},
		{name: "post-sts-header-before", method: "POST", path: "/", withTok: true,
			header: http.Header{"X-Amz-Security-Token": {token}}, signed: "host;x-amz-date;x-amz-security-token",
			sig: "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := &staticSource{keys: map[string]testKey{}}
			k := testKey{secret: secret}
			if tc.withTok {
				k.token = token
			}
			src.set("AKIDEXAMPLE", k)
			v := NewVerifier(Config{Credentials: src, Now: fixedClock(mustTime("20150830T123600Z"))})
			h := http.Header{}
			for k, vs := range tc.header {
				h[k] = vs
			}
			signed := tc.signed
			if signed == "" {
				signed = "host;x-amz-date"
			}
			h.Set("X-Amz-Date", "20150830T123600Z")
			h.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+cred+", SignedHeaders="+signed+", Signature="+tc.sig)
			method := tc.method
			if method == "" {
				method = "GET"
			}
			req := &Request{Method: method, RawPath: tc.path, RawQuery: tc.query, Host: "example.amazonaws.com",
				Header: h, PayloadHash: PayloadHash([]byte(tc.body))}
			res, err := v.Verify(context.Background(), req)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.AccessKeyID != "AKIDEXAMPLE" || res.Service != "service" || res.Region != "us-east-1" {
				t.Errorf("result = %+v", res)
			}
		})
	}
}
