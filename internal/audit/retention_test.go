package audit

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseRetention(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"", DefaultRetention, false},
		{"0", 0, false},
		{"90d", 90 * 24 * time.Hour, false},
		{"36h", 36 * time.Hour, false},
		{"-1h", 0, true},
		{"soon", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRetention(tc.in)
			if (err != nil) != tc.err || got != tc.want {
				t.Fatalf("ParseRetention(%q) = %v, %v", tc.in, got, err)
			}
		})
	}
}

// TestRetention: segments past the retention go, the digests sign what
// went, verify tells it from a deletion, and a start continues the chain.
func TestRetention(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	var mu sync.Mutex
	now := t0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	opts := Options{Dir: dir, Keys: testKey, Now: clock, DigestEvery: 10, SegmentBytes: 4096, NoSync: true, Retention: 24 * time.Hour}
	l, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		record(t, l, "111111111111", "GetUser", "old", t0.Add(time.Duration(i)*time.Second))
	}
	mu.Lock()
	now = t0.Add(48 * time.Hour)
	mu.Unlock()
	for range 30 {
		record(t, l, "111111111111", "GetUser", "new", clock())
	}
	l.sealWG.Wait() // index files written
	if err := l.applyRetention(); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(dir, testKey)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	c := rep.Chains[0]
	if c.Removed == nil || c.Removed.First != 1 || c.Removed.Last < 50 || c.Records != 130 {
		t.Fatalf("report: %+v %+v", c, c.Removed)
	}
	removed := c.Removed.Last
	if got := countEvents(t, l); got != 130-int(removed) {
		t.Fatalf("%d events after the cut, want %d", got, 130-removed)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if segs, _ := filepath.Glob(filepath.Join(dir, "*", segmentName(1)+"*")); len(segs) != 0 {
		t.Fatalf("removed segments still there: %v", segs)
	}

	// A start continues the chain after the cut.
	l, err = Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if l.Chain() != c.Chain {
		t.Fatal("a new chain started after retention")
	}
	if got := countEvents(t, l); got != 130-int(removed) {
		t.Fatalf("%d events after reopening, want %d", got, 130-removed)
	}
	record(t, l, "111111111111", "GetUser", "new", clock())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err = Verify(dir, testKey)
	if err != nil || !rep.OK() || rep.Chains[0].Records != 131 || rep.Chains[0].Removed == nil {
		t.Fatalf("verify after reopening: %v %+v", err, rep)
	}

	// Someone else removing the oldest kept segment is not retention.
	segs, err := segments(filepath.Join(dir, c.Chain))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(segs[0].path); err != nil {
		t.Fatal(err)
	}
	rep, err = Verify(dir, testKey)
	if err != nil || rep.OK() || !strings.Contains(strings.Join(rep.Chains[0].Problems, "\n"), "missing") {
		t.Fatalf("deletion not detected: %v %+v", err, rep)
	}
}
