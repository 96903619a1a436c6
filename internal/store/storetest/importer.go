package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/store"
)

// RunImporter runs the store.Importer part of the suite against b, whose
// stores must implement it. Backends call it next to Run.
func RunImporter(t *testing.T, b Backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store, store.Importer)
	}{
		{"PreservesVersions", testImportVersions},
		{"CASAfterImport", testImportCAS},
		{"Tombstones", testImportTombstones},
		{"Overwrites", testImportOverwrites},
		{"OrderedWithCommits", testImportOrdered},
		{"Invalid", testImportInvalid},
		{"Notifies", testImportNotifies},
		{"Large", testImportLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := b.New(t)
			im, ok := s.(store.Importer)
			if !ok {
				t.Fatalf("%T does not implement store.Importer", s)
			}
			tc.fn(t, s, im)
		})
	}
}

func mustImport(tb testing.TB, im store.Importer, recs ...store.Record) int64 {
	tb.Helper()
	rev, err := im.Import(context.Background(), recs)
	if err != nil {
		tb.Fatalf("Import: %v", err)
	}
	return rev
}

func rec(kind, key string, version int64, data string) store.Record {
	return store.Record{Kind: kind, Account: "111122223333", Key: key, Version: version, Data: []byte(data)}
}

func testImportVersions(t *testing.T, s store.Store, im store.Importer) {
	rev := mustImport(t, im,
		rec("user", "a", 7, `{"n":"a"}`),
		rec("group", "g", 1, `{"n":"g"}`),
		store.Record{Kind: "accesskey", Key: "AKIA1", Version: 3, Data: []byte(`{}`)},
		rec("user", "empty", 2, ``),
	)
	if rev < 1 {
		t.Fatalf("Import revision %d, want >= 1", rev)
	}
	got, loadRev := mustLoad(t, s)
	if loadRev != rev {
		t.Errorf("Load revision %d, want the import's %d", loadRev, rev)
	}
	want := map[string]struct {
		version int64
		data    string
	}{
		"user/111122223333/a":     {7, `{"n":"a"}`},
		"group/111122223333/g":    {1, `{"n":"g"}`},
		"accesskey//AKIA1":        {3, `{}`},
		"user/111122223333/empty": {2, ``},
	}
	if len(got) != len(want) {
		t.Fatalf("Load returned %d records, want %d", len(got), len(want))
	}
	for id, w := range want {
		r, ok := got[id]
		if !ok || r.Version != w.version || string(r.Data) != w.data || r.Data == nil || r.Rev != rev {
			t.Errorf("%s = %+v (present %v), want version %d data %q rev %d", id, r, ok, w.version, w.data, rev)
		}
	}
	recs, next := mustChanges(t, s, 0, 0)
	if len(recs) != len(want) || next != rev {
		t.Errorf("Changes(0) = %d records up to %d, want %d up to %d", len(recs), next, len(want), rev)
	}
}

func testImportCAS(t *testing.T, s store.Store, im store.Importer) {
	mustImport(t, im, rec("user", "a", 5, `x`))
	if _, err := s.Commit(context.Background(), []store.Op{op(store.Put, "a", store.Absent)}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("create over an imported record: %v, want a conflict", err)
	}
	if _, err := s.Commit(context.Background(), []store.Op{op(store.Put, "a", 4)}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("update expecting an older version: %v, want a conflict", err)
	}
	res := mustCommit(t, s, op(store.Put, "a", 5))
	if res.Versions[0] != 6 {
		t.Errorf("update of an imported v5 gave version %d, want 6", res.Versions[0])
	}
}

func testImportTombstones(t *testing.T, s store.Store, im store.Importer) {
	r := rec("user", "gone", 4, `ignored`)
	r.Deleted = true
	mustImport(t, im, r, rec("user", "here", 1, `h`))
	if _, ok := mustGet(t, s, "user", "111122223333", "gone"); ok {
		t.Fatal("an imported tombstone is visible to Get")
	}
	got, _ := mustLoad(t, s)
	if len(got) != 1 {
		t.Fatalf("Load returned %d records, want 1 (the tombstone is not live)", len(got))
	}
	res := mustCommit(t, s, op(store.Put, "gone", store.Absent))
	if res.Versions[0] != 5 {
		t.Errorf("recreating an imported tombstone of v4 gave version %d, want 5", res.Versions[0])
	}
}

func testImportOverwrites(t *testing.T, s store.Store, im store.Importer) {
	mustCommit(t, s, op(store.Put, "a", store.Absent), op(store.Put, "b", store.Absent))
	mustCommit(t, s, op(store.Put, "a", 1))
	mustImport(t, im, rec("user", "a", 1, `restored`))
	r, ok := mustGet(t, s, "user", "111122223333", "a")
	if !ok || r.Version != 1 || string(r.Data) != "restored" {
		t.Fatalf("after import a = %+v, want version 1 data restored", r)
	}
	if _, ok := mustGet(t, s, "user", "111122223333", "b"); !ok {
		t.Fatal("import removed a record it did not name")
	}
}

func testImportOrdered(t *testing.T, s store.Store, im store.Importer) {
	r1 := mustCommit(t, s, op(store.Put, "a", store.Absent))
	rev := mustImport(t, im, rec("user", "b", 2, `b`))
	r3 := mustCommit(t, s, op(store.Put, "c", store.Absent))
	if !(r1.Rev < rev && rev < r3.Rev) {
		t.Fatalf("revisions commit %d, import %d, commit %d: want increasing", r1.Rev, rev, r3.Rev)
	}
	recs, _ := mustChanges(t, s, r1.Rev, 0)
	if len(recs) != 2 || recs[0].Key != "b" || recs[0].Rev != rev || recs[0].Version != 2 || recs[1].Key != "c" {
		t.Fatalf("Changes(%d) = %+v, want b at %d then c", r1.Rev, recs, rev)
	}
}

func testImportInvalid(t *testing.T, s store.Store, im store.Importer) {
	tests := []struct {
		name string
		recs []store.Record
	}{
		{"empty", nil},
		{"no kind", []store.Record{rec("", "a", 1, "")}},
		{"no key", []store.Record{rec("user", "", 1, "")}},
		{"version 0", []store.Record{rec("user", "a", 0, "")}},
		{"twice", []store.Record{rec("user", "a", 1, ""), rec("user", "a", 2, "")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := im.Import(context.Background(), tc.recs); !errors.Is(err, store.ErrInvalidBatch) {
				t.Fatalf("Import: %v, want ErrInvalidBatch", err)
			}
		})
	}
	if got, _ := mustLoad(t, s); len(got) != 0 {
		t.Fatalf("invalid imports wrote %d records", len(got))
	}
}

func testImportNotifies(t *testing.T, s store.Store, im store.Importer) {
	n, ok := s.(store.Notifier)
	if !ok {
		t.Skip("the backend does not notify")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := n.Notify(ctx)
	if err != nil {
		t.Fatalf("Notify: %v", err)
	}
	mustImport(t, im, rec("user", "a", 1, `a`))
	select {
	case <-ch:
	case <-time.After(waitFor):
		t.Fatal("no notification of an import")
	}
}

func testImportLarge(t *testing.T, s store.Store, im store.Importer) {
	const n = 20_000
	recs := make([]store.Record, n)
	for i := range recs {
		recs[i] = rec("user", fmt.Sprintf("u%06d", i), int64(1+i%5), fmt.Sprintf(`{"i":%d}`, i))
	}
	mustImport(t, im, recs...)
	got, _ := mustLoad(t, s)
	if len(got) != n {
		t.Fatalf("Load returned %d records, want %d", len(got), n)
	}
	if r := got["user/111122223333/u012345"]; r.Version != 1+12345%5 || string(r.Data) != `{"i":12345}` {
		t.Fatalf("u012345 = %+v", r)
	}
}
