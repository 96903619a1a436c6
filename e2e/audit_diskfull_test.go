package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamd/iamd/internal/audit"
)

// TestAuditDiskFull runs iamd on a small tmpfs and fills it. Requests
// whose events cannot be written are refused with 503 ServiceUnavailable,
// never answered without their event; /readyz says why, so that a load
// balancer sends the traffic elsewhere, and /healthz stays live. Once space
// is freed, requests succeed again without a restart, and the trail
// verifies with every answered call in it.
func TestAuditDiskFull(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("fills a tmpfs: Linux only")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (it needs root): %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", mnt).Run() })
	dir := filepath.Join(mnt, "data")
	url, cmd := serveIamd(t, dir)
	ctx := context.Background()
	// No retries: each call's own answer is what is checked.
	client := iam.NewFromConfig(aws.Config{Region: "us-east-1", RetryMaxAttempts: 1,
		Credentials: credentials.StaticCredentialsProvider{Value: aws.Credentials{AccessKeyID: rootKeyID, SecretAccessKey: rootSecretKey}}},
		func(o *iam.Options) { o.BaseEndpoint = aws.String(url) })
	_, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("disk")})
	must(t, err)

	answered := make(map[string]bool) // request IDs of the calls answered 200
	getUser := func() error {
		out, err := client.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("disk")})
		if err == nil {
			id, _ := middleware.GetRequestIDMetadata(out.ResultMetadata)
			answered[id] = true
		}
		return err
	}
	for range 20 {
		must(t, getUser())
	}

	filler := filepath.Join(mnt, "filler")
	fill(t, filler)
	refused := 0
	eventually(t, 20*time.Second, func() error {
		err := getUser()
		if err == nil {
			return errors.New("a call was still answered with the disk full")
		}
		if code := errCode(err); code != "ServiceUnavailable" {
			return fmt.Errorf("refused with %q (%v), want ServiceUnavailable", code, err)
		}
		refused++
		return nil
	})
	for range 5 {
		if err := getUser(); errCode(err) != "ServiceUnavailable" {
			t.Fatalf("with the disk full: %v, want ServiceUnavailable", err)
		}
		refused++
	}
	if code, body := get(t, url+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "audit trail cannot be written") {
		t.Errorf("/readyz with the disk full: %d %q, want 503 naming the audit trail", code, body)
	}
	if code, body := get(t, url+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz with the disk full: %d %q, want 200: a restart would not help", code, body)
	}

	must(t, os.Remove(filler))
	eventually(t, 20*time.Second, getUser)
	for range 20 {
		must(t, getUser())
	}
	if code, body := get(t, url+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz once space is freed: %d %q, want 200", code, body)
	}
	must(t, cmd.Process.Signal(syscall.SIGTERM))
	_ = cmd.Wait()

	if code, out := verifyAudit(t, dir); code != 0 {
		t.Fatalf("audit verify: exit %d\n%s", code, out)
	}
	recorded := make(map[string]bool)
	must(t, audit.Scan(filepath.Join(dir, "audit"), audit.ScanFilter{}, func(ev []byte) error {
		var e struct {
			EventName string `json:"eventName"`
			RequestID string `json:"requestID"`
		}
		if err := json.Unmarshal(ev, &e); err != nil {
			return err
		}
		if e.EventName == "GetUser" {
			recorded[e.RequestID] = true
		}
		return nil
	}))
	for id := range answered {
		if !recorded[id] {
			t.Errorf("GetUser %s was answered but is not in the trail", id)
		}
	}
	if len(recorded) != len(answered) {
		t.Errorf("%d GetUser events in the trail, %d calls answered (%d refused)", len(recorded), len(answered), refused)
	}
}

// fill writes path until the filesystem holding it is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	must(t, err)
	defer f.Close()
	buf := make([]byte, 1<<16)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", path, err)
			}
			return
		}
	}
}

// get returns the status and body of a GET of url.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	must(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
