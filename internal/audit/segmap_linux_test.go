package audit

import (
	"errors"
	"os"
	"testing"
	"time"
)

// TestTruncatedMappedSegment truncates the segment under a running log:
// writing into the mapping past the new end faults, and the log must
// refuse requests from then on, not crash the process.
func TestTruncatedMappedSegment(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	l, err := Open(Options{Dir: dir, Keys: testKey, Now: func() time.Time { return t0 }, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.mapped == nil {
		t.Skip("segments are not mapped on this file system")
	}
	record(t, l, "111111111111", "GetUser", "alice", t0)
	if err := os.Truncate(segmentPath(t, dir), 0); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		ev := &Event{EventSource: SourceIAM, EventName: "GetUser", RecipientAccountID: "111111111111"}
		if err := l.Record(t.Context(), ev); !errors.Is(err, errMapFault) {
			t.Fatalf("Record after truncation: %v, want %v", err, errMapFault)
		}
	}
}
