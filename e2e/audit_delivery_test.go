package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/iamd/iamd/internal/audit"
	"github.com/iamd/iamd/internal/secrets"
)

// deliveryChain makes a data directory whose audit chain holds n events
// in small segments (sealed, hence due for delivery), written with the
// server's key as if it had recorded them, and returns the chain.
func deliveryChain(t *testing.T, dir string, n int) string {
	t.Helper()
	_, cmd := serveIamd(t, dir)
	must(t, cmd.Process.Signal(syscall.SIGTERM))
	_ = cmd.Wait()
	kr, err := secrets.LoadOrCreate(dir, func(string) string { return "" })
	must(t, err)
	l, err := audit.Open(audit.Options{Dir: filepath.Join(dir, "audit"), Keys: kr.DeriveKeys(audit.KeyPurpose), SegmentBytes: 16 << 10, NoSync: true})
	must(t, err)
	for i := range n {
		must(t, l.Record(context.Background(), &audit.Event{EventSource: audit.SourceIAM, EventName: "GetUser", AWSRegion: []string{"us-east-1", "eu-west-1"}[i%2],
			RecipientAccountID: testAccount, UserIdentity: audit.UserIdentity{Type: "Root", AccountID: testAccount},
			Username: "root", ReadOnly: true, RequestParameters: []byte(fmt.Sprintf(`{"userName":"u-%d"}`, i))}))
	}
	chain := l.Chain()
	must(t, l.Close())
	return chain
}

// sealedEventIDs returns the event IDs of the chain's sealed segments:
// what delivery must deliver, once each.
func sealedEventIDs(t *testing.T, dir, chain string) []string {
	t.Helper()
	kr, err := secrets.LoadOrCreate(dir, func(string) string { return "" })
	must(t, err)
	segs, err := audit.SealedSegments(filepath.Join(dir, "audit"), chain, kr.DeriveKeys(audit.KeyPurpose), 0)
	must(t, err)
	var ids []string
	for _, s := range segs {
		must(t, audit.ReadSealed(s, func(r *audit.SealedRecord) error {
			ids = append(ids, eventIDOf(t, r.Event))
			return nil
		}))
	}
	if len(ids) == 0 {
		t.Fatal("no sealed events")
	}
	slices.Sort(ids)
	return ids
}

func eventIDOf(t *testing.T, ev []byte) string {
	var e struct {
		EventID string `json:"eventID"`
	}
	must(t, json.Unmarshal(ev, &e))
	return e.EventID
}

// logFileEventIDs returns the event IDs in a gzip'd CloudTrail log file.
func logFileEventIDs(t *testing.T, gz []byte) []string {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(gz))
	must(t, err)
	raw, err := io.ReadAll(r)
	must(t, err)
	var f struct{ Records []json.RawMessage }
	must(t, json.Unmarshal(raw, &f))
	ids := make([]string, 0, len(f.Records))
	for _, ev := range f.Records {
		ids = append(ids, eventIDOf(t, ev))
	}
	return ids
}

// deliveredEventIDs returns the event IDs of every log file under root,
// sorted, duplicates kept.
func deliveredEventIDs(t *testing.T, root string) []string {
	t.Helper()
	var ids []string
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.Contains(p, "/CloudTrail/") || !strings.HasSuffix(p, ".json.gz") {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil {
			ids = append(ids, logFileEventIDs(t, b)...)
		}
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	slices.Sort(ids)
	return ids
}

// sameIDs says how delivered IDs differ from the sealed ones: missing or
// duplicated.
func sameIDs(want, got []string) error {
	if slices.Equal(want, got) {
		return nil
	}
	dups := 0
	for i := 1; i < len(got); i++ {
		if got[i] == got[i-1] {
			dups++
		}
	}
	return fmt.Errorf("%d events delivered (%d duplicates), %d sealed", len(got), dups, len(want))
}

// TestAuditDeliveryDir: sealed segments are delivered to a directory as
// CloudTrail log files, each event once; after a clean stop every file is
// in a signed digest and verify passes; a tampered file is named.
func TestAuditDeliveryDir(t *testing.T) {
	dir := t.TempDir()
	chain := deliveryChain(t, dir, 600)
	want := sealedEventIDs(t, dir, chain)
	out := filepath.Join(t.TempDir(), "trail")
	_, cmd := serveIamd(t, dir, "--audit-deliver-dir", out, "--audit-deliver-digest-interval", "1s")
	eventually(t, 30*time.Second, func() error { return sameIDs(want, deliveredEventIDs(t, out)) })
	must(t, cmd.Process.Signal(syscall.SIGTERM))
	_ = cmd.Wait()

	code, res := verifyAudit(t, dir, "--from", out)
	if code != 0 || !strings.Contains(res, "log files valid") || strings.Contains(res, "\n0 digest files valid") {
		t.Fatalf("verify --from: exit %d\n%s", code, res)
	}
	t.Logf("verify --from:\n%s", res)

	// A changed event in one log file.
	logs, _ := filepath.Glob(filepath.Join(out, "AWSLogs", testAccount, "CloudTrail", "us-east-1", "*", "*", "*", "*.json.gz"))
	if len(logs) == 0 {
		t.Fatal("no log files for us-east-1")
	}
	b, err := os.ReadFile(logs[0])
	must(t, err)
	r, err := gzip.NewReader(bytes.NewReader(b))
	must(t, err)
	raw, err := io.ReadAll(r)
	must(t, err)
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(bytes.Replace(raw, []byte(`"u-`), []byte(`"x-`), 1))
	must(t, w.Close())
	must(t, os.WriteFile(logs[0], buf.Bytes(), 0o600))
	rel, _ := filepath.Rel(out, logs[0])
	code, res = verifyAudit(t, dir, "--from", out)
	if code != 1 || !strings.Contains(res, "log file "+filepath.ToSlash(rel)+" was modified") {
		t.Fatalf("verify --from after tampering: exit %d\n%s", code, res)
	}
}

// TestAuditDeliveryKilled: iamd is killed with SIGKILL while it delivers;
// after a restart the delivered files hold every sealed event exactly
// once, and verify passes.
func TestAuditDeliveryKilled(t *testing.T) {
	dir := t.TempDir()
	chain := deliveryChain(t, dir, 6000)
	want := sealedEventIDs(t, dir, chain)
	out := filepath.Join(t.TempDir(), "trail")
	_, cmd := serveIamd(t, dir, "--audit-deliver-dir", out, "--audit-deliver-digest-interval", "1s")
	eventually(t, 30*time.Second, func() error {
		if n := len(deliveredEventIDs(t, out)); n == 0 {
			return fmt.Errorf("nothing delivered yet")
		}
		return nil
	})
	must(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	t.Logf("killed after %d of %d events were delivered", len(deliveredEventIDs(t, out)), len(want))

	_, cmd = serveIamd(t, dir, "--audit-deliver-dir", out, "--audit-deliver-digest-interval", "1s")
	eventually(t, 60*time.Second, func() error { return sameIDs(want, deliveredEventIDs(t, out)) })
	must(t, cmd.Process.Signal(syscall.SIGTERM))
	_ = cmd.Wait()
	if err := sameIDs(want, deliveredEventIDs(t, out)); err != nil {
		t.Fatal(err)
	}
	if code, res := verifyAudit(t, dir, "--from", out); code != 0 {
		t.Fatalf("verify --from after the kill: exit %d\n%s", code, res)
	}
}

// TestAuditDeliveryS3 delivers to a real S3-compatible server, moto's S3
// server mode, and validates the bucket.
func TestAuditDeliveryS3(t *testing.T) {
	motoPath, err := exec.LookPath("moto_server")
	if err != nil {
		t.Skip("moto_server is not installed (pip install 'moto[server]')")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	moto := exec.Command(motoPath, "-p", fmt.Sprint(port))
	var motoLog lockedBuffer
	moto.Stdout, moto.Stderr = &motoLog, &motoLog
	must(t, moto.Start())
	t.Cleanup(func() { _ = moto.Process.Kill(); _ = moto.Wait() })
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	eventually(t, 30*time.Second, func() error {
		resp, err := http.Get(endpoint + "/")
		if err != nil {
			return fmt.Errorf("moto_server did not start: %v\n%s", err, motoLog.String())
		}
		resp.Body.Close()
		return nil
	})
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("testing", "testing", "")))
	must(t, err)
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(endpoint); o.UsePathStyle = true })
	_, err = client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("trail")})
	must(t, err)

	dir := t.TempDir()
	chain := deliveryChain(t, dir, 600)
	want := sealedEventIDs(t, dir, chain)
	_, cmd := serveIamd(t, dir, "--audit-deliver-s3", "s3://trail/iamd", "--audit-deliver-s3-endpoint", endpoint, "--audit-deliver-digest-interval", "1s")
	objects := func() (logs, digests []string) {
		p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String("trail"), Prefix: aws.String("iamd/AWSLogs/")})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			must(t, err)
			for _, o := range page.Contents {
				k := aws.ToString(o.Key)
				if strings.Contains(k, "/CloudTrail-Digest/") {
					digests = append(digests, k)
				} else {
					logs = append(logs, k)
				}
			}
		}
		return logs, digests
	}
	eventually(t, 30*time.Second, func() error {
		logs, _ := objects()
		var got []string
		for _, k := range logs {
			o, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("trail"), Key: aws.String(k)})
			must(t, err)
			b, err := io.ReadAll(o.Body)
			o.Body.Close()
			must(t, err)
			got = append(got, logFileEventIDs(t, b)...)
		}
		slices.Sort(got)
		return sameIDs(want, got)
	})
	must(t, cmd.Process.Signal(syscall.SIGTERM))
	_ = cmd.Wait()
	_, digests := objects()
	if len(digests) == 0 {
		t.Fatal("no digest files in the bucket")
	}
	h, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("trail"), Key: aws.String(digests[0])})
	must(t, err)
	if h.Metadata["signature"] == "" || h.Metadata["signature-algorithm"] != "Ed25519" {
		t.Fatalf("digest metadata %v, want its signature", h.Metadata)
	}
	code, res := verifyAudit(t, dir, "--from", "s3://trail/iamd", "--endpoint", endpoint)
	if code != 0 || strings.Contains(res, "\n0 digest files valid") {
		t.Fatalf("verify --from s3: exit %d\n%s", code, res)
	}
	t.Logf("verify --from s3:\n%s", res)
}
