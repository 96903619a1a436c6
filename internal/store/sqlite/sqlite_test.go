package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/iamd/iamd/internal/store"
	"github.com/iamd/iamd/internal/store/sqlite"
	"github.com/iamd/iamd/internal/store/storetest"
)

func open(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(path)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

var backend = storetest.Backend{
	New: func(tb testing.TB) store.Store {
		return open(tb, filepath.Join(tb.TempDir(), "iamd.db"))
	},
	Reopen: func(tb testing.TB, s store.Store) store.Store {
		return open(tb, s.(*sqlite.Store).Path())
	},
	Parallel: true, // a database file per test
}

func TestConformance(t *testing.T) {
	storetest.Run(t, backend)
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		path string
	}{
		{"empty path", ""},
		{"memory", ":memory:"},
		{"missing directory", filepath.Join(t.TempDir(), "no", "such", "dir", "iamd.db")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sqlite.Open(tc.path)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", tc.path)
			}
		})
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "iamd.db"))
	commit := func(typ store.OpType, key string, expect int64) store.Result {
		t.Helper()
		res, err := s.Commit(ctx, []store.Op{{Type: typ, Kind: "user", Key: key, Expect: expect}})
		if err != nil {
			t.Fatalf("Commit: %v", err)
		}
		return res
	}
	commit(store.Put, "a", store.Absent)
	commit(store.Put, "b", store.Absent)
	delA := commit(store.Delete, "a", 1)
	delB := commit(store.Delete, "b", 1)
	commit(store.Put, "c", store.Absent)

	// Keep the last 2 revisions: a's tombstone (delA) goes, b's stays.
	removed, err := s.Prune(ctx, 2)
	if err != nil || removed != 1 {
		t.Fatalf("Prune: removed %d, %v; want 1", removed, err)
	}
	if _, _, err := s.Changes(ctx, delA.Rev-1, 0); !errors.Is(err, store.ErrCompacted) {
		t.Fatalf("Changes before the pruned revision: %v, want ErrCompacted", err)
	}
	recs, _, err := s.Changes(ctx, delA.Rev, 0)
	if err != nil || len(recs) != 2 || recs[0].Key != "b" || !recs[0].Deleted || recs[0].Rev != delB.Rev {
		t.Fatalf("Changes(%d) = %+v, %v; want b's tombstone then c", delA.Rev, recs, err)
	}
	// Recreating a pruned record starts again at version 1.
	if res := commit(store.Put, "a", store.Absent); res.Versions[0] != 1 {
		t.Fatalf("recreated pruned record at version %d, want 1", res.Versions[0])
	}
}

func BenchmarkCommitParallel(b *testing.B) {
	storetest.BenchCommitParallel(b, backend)
}

func BenchmarkLoad100k(b *testing.B) {
	storetest.BenchLoad(b, backend, 100_000)
}
