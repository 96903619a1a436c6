package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/iamd/iamd/internal/store"
	"github.com/iamd/iamd/internal/store/postgres"
	"github.com/iamd/iamd/internal/store/postgres/pgtest"
	"github.com/iamd/iamd/internal/store/storetest"
)

func open(tb testing.TB, dsn string) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() }) // registered after the schema's, so runs first
	return s
}

// newBackend returns the suite's Backend; it remembers each store's DSN so
// that Reopen can open the same schema.
func newBackend() storetest.Backend {
	var dsns sync.Map // *postgres.Store -> DSN
	return storetest.Backend{
		New: func(tb testing.TB) store.Store {
			dsn := pgtest.Schema(tb, "iamd_test_")
			s := open(tb, dsn)
			dsns.Store(s, dsn)
			return s
		},
		Reopen: func(tb testing.TB, s store.Store) store.Store {
			dsn, ok := dsns.Load(s)
			if !ok {
				tb.Fatal("Reopen of a store the backend did not open")
			}
			s2 := open(tb, dsn.(string))
			dsns.Store(s2, dsn)
			return s2
		},
		Parallel: true, // a schema per test
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, newBackend())
}

func TestOpenErrors(t *testing.T) {
	pgtest.DSN(t)
	tests := []struct {
		name string
		dsn  string
	}{
		{"malformed", "postgres://%zz"},
		{"nothing listening", "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := postgres.Open(context.Background(), tc.dsn)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", tc.dsn)
			}
		})
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.Schema(t, "iamd_test_"))
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
	if res := commit(store.Put, "a", store.Absent); res.Versions[0] != 1 {
		t.Fatalf("recreated pruned record at version %d, want 1", res.Versions[0])
	}
}

// TestNotifyReconnects kills the listener's backend connection and expects
// notifications to resume.
func TestNotifyReconnects(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Schema(t, "iamd_test_")
	s := open(t, dsn)
	nctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := s.Notify(nctx)
	if err != nil {
		t.Fatalf("Notify: %v", err)
	}
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var killed int
	if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND query LIKE 'LISTEN %'`).Scan(&killed); err != nil || killed == 0 {
		t.Fatalf("terminate listener: killed %d, %v", killed, err)
	}
	deadline := time.After(30 * time.Second)
	for i := 0; ; i++ {
		if _, err := s.Commit(ctx, []store.Op{{Type: store.Put, Kind: "user", Key: "k", Expect: store.Any}}); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		select {
		case _, ok := <-ch:
			if !ok {
				t.Fatal("channel closed after the connection was killed")
			}
			return
		case <-deadline:
			t.Fatal("no notification within 30s of the listener's connection being killed")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func BenchmarkCommitParallel(b *testing.B) {
	storetest.BenchCommitParallel(b, newBackend())
}

func BenchmarkLoad100k(b *testing.B) {
	storetest.BenchLoad(b, newBackend(), 100_000)
}
