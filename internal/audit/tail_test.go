package audit

import (
	"fmt"
	"testing"
	"time"
)

// TestTail reads a chain across segments (some sealed and compressed
// meanwhile) from several starting points, and follows it as it grows.
func TestTail(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	l, err := Open(Options{Dir: dir, Keys: testKey, Now: func() time.Time { return t0 }, NoSync: true, SegmentBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range 120 {
		record(t, l, "111111111111", "GetUser", fmt.Sprintf("u%d", i%3), t0.Add(time.Duration(i)*time.Second))
	}
	if w := l.Written(); w != 120 {
		t.Fatalf("Written = %d, want 120", w)
	}
	read := func(t *testing.T, tl *Tail, batch int) []uint64 {
		var seqs []uint64
		for {
			n, err := tl.Read(batch, func(r *ChainRecord) error {
				if r.Account != "111111111111" || r.EventName != "GetUser" || len(r.Resources) != 1 || len(r.Event) == 0 || r.Event[0] != '{' {
					return fmt.Errorf("record %d: %+v", r.Seq, r)
				}
				seqs = append(seqs, r.Seq)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				return seqs
			}
		}
	}
	contiguous := func(t *testing.T, seqs []uint64, from, to uint64) {
		t.Helper()
		if uint64(len(seqs)) != to-from+1 {
			t.Fatalf("read %d records (%v), want %d to %d", len(seqs), seqs, from, to)
		}
		for i, s := range seqs {
			if s != from+uint64(i) {
				t.Fatalf("record %d is %d, want %d", i, s, from+uint64(i))
			}
		}
	}
	for _, tc := range []struct {
		name  string
		after uint64
		batch int
	}{
		{"all, small batches", 0, 7},
		{"all, one batch", 0, 1000},
		{"from the middle", 57, 10},
		{"from the end", 0, 10}, // after: the end, set below
	} {
		t.Run(tc.name, func(t *testing.T) {
			end := l.Written()
			if tc.name == "from the end" {
				tc.after = end
			}
			tl := NewTail(l.ChainDir(), tc.after)
			defer tl.Close()
			contiguous(t, read(t, tl, tc.batch), tc.after+1, end)
			// It follows the chain as it grows.
			for i := range 30 {
				record(t, l, "111111111111", "GetUser", "late", t0.Add(time.Duration(200+i)*time.Second))
			}
			w := l.Written()
			contiguous(t, read(t, tl, tc.batch), end+1, w)
			if tl.Next() != w+1 {
				t.Fatalf("Next = %d, want %d", tl.Next(), w+1)
			}
		})
	}
}
