package delivery

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/audit"
)

// benchChain writes 50,000 events in 1 MiB segments.
func benchChain(b *testing.B) (string, string, []audit.SealedSegment, int) {
	b.Helper()
	dir := b.TempDir()
	l, err := audit.Open(audit.Options{Dir: dir, Keys: auditKeys, Now: func() time.Time { return t0 }, SegmentBytes: 1 << 20, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 50000 {
		ev := &audit.Event{EventTime: audit.FormatTime(t0.Add(time.Duration(i) * 50 * time.Millisecond)), EventSource: audit.SourceIAM, EventName: "GetUser",
			AWSRegion: "us-east-1", RecipientAccountID: "111111111111", UserIdentity: audit.UserIdentity{Type: "IAMUser", AccountID: "111111111111", UserName: "alice"},
			SourceIPAddress: "10.0.0.1", UserAgent: "aws-cli/2.15.0", RequestParameters: []byte(`{"userName":"alice"}`)}
		if err := l.Record(context.Background(), ev); err != nil {
			b.Fatal(err)
		}
	}
	chain := l.Chain()
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	segs, err := audit.SealedSegments(dir, chain, auditKeys, 0)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, s := range segs {
		n += int(s.Last - s.First + 1)
	}
	return dir, chain, segs, n
}

// BenchmarkReadSealed is the baseline: reading and checking the sealed
// segments, without making or writing files.
func BenchmarkReadSealed(b *testing.B) {
	_, _, segs, n := benchChain(b)
	b.ResetTimer()
	for b.Loop() {
		for _, s := range segs {
			if err := audit.ReadSealed(s, func(*audit.SealedRecord) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkDeliverDir delivers the sealed segments to a directory (log
// files gzip'd, written and fsynced, the cursor after each segment) and
// writes the digests.
func BenchmarkDeliverDir(b *testing.B) {
	dir, chain, _, n := benchChain(b)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		root := filepath.Join(b.TempDir(), "trail")
		dest, err := NewDir(root)
		if err != nil {
			b.Fatal(err)
		}
		d, err := New(Options{Dir: dir, Chain: chain, AuditKeys: auditKeys, Keys: Keys(seeds), Dest: dest, Now: func() time.Time { return t0.Add(time.Hour) }})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := d.Step(context.Background()); err != nil {
			b.Fatal(err)
		}
		if err := d.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		d.cur = &cursor{Dest: dest.String()}
		if err := d.cur.save(d.cursorPath); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
