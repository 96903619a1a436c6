package sigv4

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// sdkIAMRequest is an IAM CreateUser POST as aws-sdk-go-v2's IAM client
// sends it, signed by the SDK signer.
func sdkIAMRequest(b testing.TB) *Request {
	b.Helper()
	const body = "Action=CreateUser&Path=%2Fengineering%2F&UserName=alice&Version=2010-05-08"
	r, err := http.NewRequest("POST", "https://iam.amazonaws.com/", strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Amz-Sdk-Invocation-Id", "6d3e1c4e-0f5a-4a57-9d0a-1c2b3d4e5f60")
	r.Header.Set("Amz-Sdk-Request", "attempt=1; max=3")
	r.Header.Set("User-Agent", "aws-sdk-go-v2/1.48.0 os/linux lang/go#1.26 md/GOOS#linux md/GOARCH#amd64 api/iam#1.64.9")
	creds := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, PayloadHash([]byte(body)), "iam", "us-east-1", signTime); err != nil {
		b.Fatal(err)
	}
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return &Request{Method: r.Method, RawPath: "/", Host: r.Host, Header: r.Header, PayloadHash: PayloadHash([]byte(body))}
}

// fixedSource returns one prepared credential without allocating, so that
// benchmarks measure the verifier rather than the test double.
type fixedSource struct{ cred Credential }

func (s *fixedSource) Lookup(context.Context, string, string) (Credential, error) { return s.cred, nil }

func newFixedSource() *fixedSource {
	return &fixedSource{Credential{SecretAccessKey: []byte(testSecret), Principal: &struct{ name string }{"alice"}}}
}

func benchmarkVerify(b *testing.B, cfg Config, req *Request) {
	cfg.Credentials = newFixedSource()
	cfg.Now = fixedClock(signTime)
	v := NewVerifier(cfg)
	ctx := context.Background()
	if _, err := v.Verify(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify is the hot path: an SDK-signed IAM POST with its signing
// key cached.
func BenchmarkVerify(b *testing.B) {
	benchmarkVerify(b, Config{}, sdkIAMRequest(b))
}

// BenchmarkVerifyUncachedKey derives the signing key on every request.
func BenchmarkVerifyUncachedKey(b *testing.B) {
	benchmarkVerify(b, Config{KeyCacheSize: -1}, sdkIAMRequest(b))
}

func BenchmarkVerifyPresigned(b *testing.B) {
	r, _ := http.NewRequest("GET", "https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Expires=60", nil)
	creds := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, r, EmptyPayloadHash, "sts", "us-east-1", signTime)
	if err != nil {
		b.Fatal(err)
	}
	_, query, _ := strings.Cut(u, "?")
	benchmarkVerify(b, Config{}, &Request{Method: "GET", RawPath: "/", RawQuery: query, Host: "sts.amazonaws.com", Header: http.Header{}})
}

func BenchmarkVerifyParallel(b *testing.B) {
	req := sdkIAMRequest(b)
	v := NewVerifier(Config{Credentials: newFixedSource(), Now: fixedClock(signTime)})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(context.Background(), req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkSign(b *testing.B) {
	s := &Signer{Credentials: Credentials{testAKID, testSecret, ""}, Region: "us-east-1", Service: "iam", Now: func() time.Time { return signTime }}
	body := []byte(testBody)
	b.ReportAllocs()
	for b.Loop() {
		r, _ := http.NewRequest("POST", "https://iam.amazonaws.com/", nil)
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if err := s.Sign(r, body); err != nil {
			b.Fatal(err)
		}
	}
}

// TestVerifyAllocs guards the hot path's allocation budget: only the Result.
func TestVerifyAllocs(t *testing.T) {
	req := sdkIAMRequest(t)
	v := NewVerifier(Config{Credentials: newFixedSource(), Now: fixedClock(signTime)})
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := v.Verify(ctx, req); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("Verify allocates %v times per call, want at most 1", allocs)
	}
}
