package audit

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestTruncatedStagingFile truncates the staging file under a running log:
// staging into it faults, and the log refuses requests from then on
// instead of crashing the process.
func TestTruncatedStagingFile(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	l, err := Open(Options{Dir: dir, Keys: testKey, Now: func() time.Time { return t0 }, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.stage == nil {
		t.Skip("no staging area on this platform")
	}
	l.mu.Lock()
	l.headLag = time.Hour // no background write: the next copy faults
	l.mu.Unlock()
	record(t, l, "111111111111", "GetUser", "alice", t0)
	if err := os.Truncate(filepath.Join(dir, l.Chain(), stageFile), 0); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		ev := &Event{EventSource: SourceIAM, EventName: "GetUser", RecipientAccountID: "111111111111"}
		if err := l.Record(t.Context(), ev); !errors.Is(err, errStageFault) {
			t.Fatalf("Record after truncation: %v, want %v", err, errStageFault)
		}
	}
}
