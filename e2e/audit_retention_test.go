package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamd/iamd/internal/audit"
	"github.com/iamd/iamd/internal/secrets"
)

// TestAuditRetention: a server started with a retention of one day
// removes, online, the sealed segments of events three days old; `iamd
// audit verify` then passes and reports the removed range, and a segment
// removed by someone else is still reported as tampering.
func TestAuditRetention(t *testing.T) {
	dir := t.TempDir()
	_, cmd := serveIamd(t, dir)
	must(t, cmd.Process.Signal(syscall.SIGTERM))
	_ = cmd.Wait()

	// Three-day-old events in small segments, written into the server's
	// chain with its key, as if it had recorded them.
	kr, err := secrets.LoadOrCreate(dir, func(string) string { return "" })
	must(t, err)
	old := time.Now().Add(-72 * time.Hour)
	l, err := audit.Open(audit.Options{Dir: filepath.Join(dir, "audit"), Keys: kr.DeriveKeys(audit.KeyPurpose),
		Now: func() time.Time { return old }, SegmentBytes: 16 << 10, NoSync: true})
	must(t, err)
	const n = 300
	for i := range n {
		must(t, l.Record(context.Background(), &audit.Event{EventSource: audit.SourceIAM, EventName: "GetUser", AWSRegion: "us-east-1",
			RecipientAccountID: testAccount, UserIdentity: audit.UserIdentity{Type: "Root", AccountID: testAccount},
			Username: "root", ReadOnly: true, RequestParameters: []byte(fmt.Sprintf(`{"userName":"old-%d"}`, i))}))
	}
	chain := l.Chain()
	must(t, l.Close())
	segs := func() []string {
		m, _ := filepath.Glob(filepath.Join(dir, "audit", chain, "0*.log*"))
		return m
	}
	before := len(segs())
	if before < 5 {
		t.Fatalf("%d segments, want several", before)
	}

	t.Setenv(audit.EnvRetention, "1d")
	url, cmd := serveIamd(t, dir)
	// The cut is written (the retention file) before the segments it
	// covers are removed: wait for both.
	eventually(t, 20*time.Second, func() error {
		if _, err := os.Stat(filepath.Join(dir, "audit", chain, "retention")); err != nil {
			return fmt.Errorf("no retention cut yet: %v", err)
		}
		if after := len(segs()); after >= before {
			return fmt.Errorf("%d segments after the cut, %d before", after, before)
		}
		return nil
	})
	e := &env{t: t, url: url, account: testAccount, root: aws.Credentials{AccessKeyID: rootKeyID, SecretAccessKey: rootSecretKey}}
	_, err = e.rootIAM().CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String("after-the-cut")})
	must(t, err)
	p := e.lookup(t, e.root, "--lookup-attributes", "AttributeKey=EventName,AttributeValue=CreateUser")
	if len(p.Events) != 1 {
		t.Fatalf("%d CreateUser events, want 1", len(p.Events))
	}
	must(t, cmd.Process.Signal(syscall.SIGTERM))
	_ = cmd.Wait()

	code, out := verifyAudit(t, dir)
	if code != 0 || !strings.Contains(out, "removed by retention: records 1 to ") {
		t.Fatalf("verify after the cut: exit %d\n%s", code, out)
	}
	t.Logf("verify:\n%s", out)

	// Someone removing the oldest segment left is not retention.
	left := segs()
	slices.Sort(left)
	first, err := strconv.ParseUint(filepath.Base(left[0])[:20], 10, 64) // a segment is named by its first record
	must(t, err)
	must(t, os.Remove(left[0]))
	code, out = verifyAudit(t, dir)
	if want := fmt.Sprintf("problem: records %d to", first); code != 1 || !strings.Contains(out, "TAMPERED") || !strings.Contains(out, want) {
		t.Fatalf("verify after a deletion: exit %d\n%s", code, out)
	}
}
