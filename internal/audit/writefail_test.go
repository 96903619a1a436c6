package audit

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

// TestFailedWritesAreRetried makes the segment unwritable under the log,
// as a full disk would: records are then refused with ErrUnavailable,
// none is taken that the trail cannot hold, Trouble says why, and once the
// segment can be written again the log goes on by itself, with every record
// it took in a chain that verifies.
func TestFailedWritesAreRetried(t *testing.T) {
	for _, tc := range []struct {
		name   string
		noSync bool
	}{
		{"staged", true},
		{"written and synced at once", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
			l, err := Open(Options{Dir: dir, Keys: testKey, Now: func() time.Time { return t0 }, DigestEvery: 10, NoSync: tc.noSync})
			if err != nil {
				t.Fatal(err)
			}
			taken := 0
			try := func() error {
				err := l.Record(context.Background(), &Event{EventSource: SourceIAM, EventName: "GetUser", AWSRegion: "us-east-1",
					RecipientAccountID: "111122223333", UserIdentity: UserIdentity{Type: "Root", AccountID: "111122223333"}, ReadOnly: true})
				if err == nil {
					taken++
				}
				return err
			}
			for range 15 {
				if err := try(); err != nil {
					t.Fatal(err)
				}
			}
			// Writes to the segment fail from now on.
			l.mu.Lock()
			l.segMu.Lock()
			writable := l.seg
			readOnly, err := os.Open(writable.Name())
			if err == nil {
				l.seg = readOnly
			}
			l.segMu.Unlock()
			l.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			// Staged records are taken until the background write fails
			// (within maxHeadLag) or the staging file is full.
			var refused error
			for deadline := time.Now().Add(30 * time.Second); refused == nil && time.Now().Before(deadline); {
				refused = try()
			}
			if !errors.Is(refused, ErrUnavailable) {
				t.Fatalf("Record with the segment unwritable: %v, want ErrUnavailable", refused)
			}
			if lasting, err := l.Trouble(); err == nil || lasting {
				t.Errorf("Trouble() = %v, %v; want the write's failure, not lasting", err, lasting)
			}
			if err := try(); !errors.Is(err, ErrUnavailable) {
				t.Errorf("Record again: %v, want ErrUnavailable", err)
			}

			l.mu.Lock()
			l.segMu.Lock()
			l.seg = writable
			l.segMu.Unlock()
			l.mu.Unlock()
			readOnly.Close()
			for range 15 {
				if err := try(); err != nil {
					t.Fatalf("Record once the segment is writable again: %v", err)
				}
			}
			if _, err := l.Trouble(); err != nil {
				t.Errorf("Trouble() once writes succeed = %v, want nil", err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			rep, err := Verify(dir, testKey)
			if err != nil || !rep.OK() {
				t.Fatalf("verify: %v %+v", err, rep)
			}
			if got := rep.Chains[0].Records; got != uint64(taken) {
				t.Errorf("%d records in the chain, %d taken", got, taken)
			}
		})
	}
}
