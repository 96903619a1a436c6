package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamd/iamd/internal/server"
	"github.com/iamd/iamd/internal/sigv4"
)

// BenchmarkGetUserAudit measures the server's cost of GetUser (handler
// only: SigV4 verification, authorization, the view, XML, and the audit
// event) with the audit trail off, written without fsync, and fsynced per
// batch (the default). Run with -cpu and -count and compare with benchstat:
//
//	go test ./e2e -run '^$' -bench GetUserAudit -benchmem -count 5
func BenchmarkGetUserAudit(b *testing.B) {
	for _, mode := range []string{"off", "nosync", "on"} {
		b.Run("audit="+mode, func(b *testing.B) {
			vars := map[string]string{
				server.EnvAccountID: testAccount, server.EnvRootAccessKey: rootKeyID, server.EnvRootSecretKey: rootSecretKey,
				server.EnvAudit: mode,
			}
			srv, err := server.New(context.Background(), server.Config{DataDir: b.TempDir(), Getenv: func(k string) string { return vars[k] }})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			h := srv.Handler()
			// Create the user through the handler.
			ts := httptest.NewServer(h)
			defer ts.Close()
			client := iam.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: rootKeyID, SecretAccessKey: rootSecretKey}, nil
			})}, func(o *iam.Options) { o.BaseEndpoint = aws.String(ts.URL) })
			if _, err := client.CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String("bench")}); err != nil {
				b.Fatal(err)
			}
			// Load the managed policy catalogue (warmed in the background)
			// before measuring CPU time.
			if _, err := client.GetPolicy(context.Background(), &iam.GetPolicyInput{PolicyArn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")}); err != nil {
				b.Fatal(err)
			}
			body := url.Values{"Action": {"GetUser"}, "Version": {"2010-05-08"}, "UserName": {"bench"}}.Encode()
			signer := &sigv4.Signer{Credentials: sigv4.Credentials{AccessKeyID: rootKeyID, SecretAccessKey: rootSecretKey}, Region: "us-east-1", Service: "iam"}
			tmpl, _ := http.NewRequest(http.MethodPost, "http://iamd/", strings.NewReader(body))
			tmpl.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
			if err := signer.Sign(tmpl, []byte(body)); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetParallelism(16) // many requests in flight, as under load
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest(http.MethodPost, "http://iamd/", strings.NewReader(body))
					r.Header = tmpl.Header.Clone()
					r.RemoteAddr = "127.0.0.1:1234"
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != 200 {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
			// CPU per request is steadier than wall time on a shared machine.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
