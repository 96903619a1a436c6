package backup_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/backup"
	"github.com/iamd/iamd/internal/store"
	"github.com/iamd/iamd/internal/store/postgres"
	"github.com/iamd/iamd/internal/store/postgres/pgtest"
	"github.com/iamd/iamd/internal/store/sqlite"
)

// openSQLite opens a store on a new SQLite file.
func openSQLite(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "iamd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openPostgres opens a store on a new schema of the test database, dropped
// when the test ends. Without IAMD_TEST_POSTGRES it skips, unless CI is set.
func openPostgres(t *testing.T) store.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), pgtest.Schema(t, "iamd_backup_"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() }) // runs before the schema's cleanup
	return s
}

var backends = []struct {
	name string
	open func(*testing.T) store.Store
}{
	{"sqlite", openSQLite},
	{"postgres", openPostgres},
}

// fill writes records with various versions, a deleted record and global
// records, and returns the store's live records.
func fill(t *testing.T, s store.Store) map[string]store.Record {
	t.Helper()
	ctx := context.Background()
	commit := func(ops ...store.Op) {
		t.Helper()
		if _, err := s.Commit(ctx, ops); err != nil {
			t.Fatal(err)
		}
	}
	const acct = "111122223333"
	var ops []store.Op
	for i := range 2500 {
		ops = append(ops, store.Op{Type: store.Put, Kind: "user", Account: acct, Key: fmt.Sprintf("u%05d", i), Expect: store.Absent, Data: []byte(fmt.Sprintf(`{"n":%d}`, i))})
	}
	commit(ops...)
	commit(store.Op{Type: store.Put, Kind: "user", Account: acct, Key: "u00001", Expect: 1, Data: []byte(`{"n":"v2"}`)})
	commit(store.Op{Type: store.Touch, Kind: "user", Account: acct, Key: "u00001", Expect: 2})
	commit(store.Op{Type: store.Delete, Kind: "user", Account: acct, Key: "u00002", Expect: 1})
	commit(store.Op{Type: store.Put, Kind: "accesskey", Key: "AKIAEXAMPLE", Expect: store.Absent, Data: []byte{0, 1, 2, 255}})
	commit(store.Op{Type: store.Put, Kind: "group", Account: "444455556666", Key: "g", Expect: store.Absent, Data: nil})
	return snapshot(t, s)
}

func snapshot(t *testing.T, s store.Store) map[string]store.Record {
	t.Helper()
	out := map[string]store.Record{}
	if _, err := s.Load(context.Background(), func(r store.Record) error {
		r.Rev = 0
		out[r.Kind+"/"+r.Account+"/"+r.Key] = r
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func sameRecords(t *testing.T, got, want map[string]store.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok || g.Version != w.Version || !bytes.Equal(g.Data, w.Data) {
			t.Fatalf("%s = %+v (present %v), want %+v", id, g, ok, w)
		}
	}
}

func writeBackup(t *testing.T, s store.Store) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := backup.Write(context.Background(), s, &buf, time.Now()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestRoundTrip backs up each backend and restores into each, then checks
// the records, their versions, and compare-and-swap on them.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, from := range backends {
		for _, to := range backends {
			t.Run(from.name+"_to_"+to.name, func(t *testing.T) {
				src := from.open(t)
				want := fill(t, src)
				data := writeBackup(t, src)
				dst := to.open(t)
				sum, err := backup.Restore(ctx, dst, bytes.NewReader(data), backup.RestoreOptions{Chunk: 1000})
				if err != nil {
					t.Fatal(err)
				}
				if sum.Records != len(want) || sum.Kinds["user"] != 2499 || sum.Removed != 0 {
					t.Fatalf("summary %+v", sum)
				}
				sameRecords(t, snapshot(t, dst), want)
				// CAS continues from the backed-up versions.
				key := store.Op{Type: store.Put, Kind: "user", Account: "111122223333", Key: "u00001", Data: []byte(`x`)}
				key.Expect = 2
				if _, err := dst.Commit(ctx, []store.Op{key}); !errors.Is(err, store.ErrConflict) {
					t.Fatalf("stale version after restore: %v, want a conflict", err)
				}
				key.Expect = 3
				res, err := dst.Commit(ctx, []store.Op{key})
				if err != nil || res.Versions[0] != 4 {
					t.Fatalf("update after restore: %+v, %v; want version 4", res, err)
				}
				// A second backup of the restored store restores the same.
				again := openSQLite(t)
				if _, err := backup.Restore(ctx, again, bytes.NewReader(writeBackup(t, dst)), backup.RestoreOptions{}); err != nil {
					t.Fatal(err)
				}
				if got := snapshot(t, again); got["user/111122223333/u00001"].Version != 4 || len(got) != len(want) {
					t.Fatalf("second round trip: %d records, u00001 %+v", len(got), got["user/111122223333/u00001"])
				}
			})
		}
	}
}

func TestRestoreNonEmpty(t *testing.T) {
	ctx := context.Background()
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			src := openSQLite(t)
			want := fill(t, src)
			data := writeBackup(t, src)
			dst := be.open(t)
			if _, err := dst.Commit(ctx, []store.Op{
				{Type: store.Put, Kind: "user", Account: "111122223333", Key: "intruder", Expect: store.Absent},
				{Type: store.Put, Kind: "user", Account: "111122223333", Key: "u00001", Expect: store.Absent, Data: []byte(`other`)},
			}); err != nil {
				t.Fatal(err)
			}
			if _, err := backup.Restore(ctx, dst, bytes.NewReader(data), backup.RestoreOptions{}); !errors.Is(err, backup.ErrNotEmpty) {
				t.Fatalf("restore into a non-empty store: %v, want ErrNotEmpty", err)
			}
			if got := snapshot(t, dst); len(got) != 2 {
				t.Fatalf("a refused restore wrote: %d records", len(got))
			}
			sum, err := backup.Restore(ctx, dst, bytes.NewReader(data), backup.RestoreOptions{Force: true})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Removed != 1 {
				t.Errorf("removed %d records, want 1 (intruder)", sum.Removed)
			}
			sameRecords(t, snapshot(t, dst), want)
		})
	}
}

// TestCorrupt checks that damaged files are refused before anything is
// written.
func TestCorrupt(t *testing.T) {
	src := openSQLite(t)
	fill(t, src)
	data := writeBackup(t, src)
	plain := gunzip(t, data)
	lines := strings.SplitAfter(string(plain), "\n")
	tests := []struct {
		name string
		file []byte
	}{
		{"empty", nil},
		{"not gzip", []byte("hello\n")},
		{"not a backup", gz(t, "{\"hello\":1}\n")},
		{"truncated compressed", data[:len(data)/2]},
		{"no trailer", gz(t, strings.Join(lines[:len(lines)-2], ""))},
		{"record dropped", gz(t, strings.Join(append(append([]string{}, lines[:5]...), lines[6:]...), ""))},
		{"record altered", gz(t, strings.Replace(string(plain), `"v":1,`, `"v":9,`, 1))},
		{"data after trailer", gz(t, string(plain)+"{}\n")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := backup.Verify(bytes.NewReader(tc.file)); !errors.Is(err, backup.ErrCorrupt) {
				t.Fatalf("Verify: %v, want ErrCorrupt", err)
			}
			dst := openSQLite(t)
			if _, err := backup.Restore(context.Background(), dst, bytes.NewReader(tc.file), backup.RestoreOptions{}); !errors.Is(err, backup.ErrCorrupt) {
				t.Fatalf("Restore: %v, want ErrCorrupt", err)
			}
			if got := snapshot(t, dst); len(got) != 0 {
				t.Fatalf("a corrupt backup wrote %d records", len(got))
			}
		})
	}
	t.Run("newer format", func(t *testing.T) {
		f := gz(t, strings.Replace(string(plain), `"version":1`, `"version":99`, 1))
		if _, err := backup.Verify(bytes.NewReader(f)); err == nil || !strings.Contains(err.Error(), "upgrade iamd") {
			t.Fatalf("Verify: %v, want a request to upgrade", err)
		}
	})
	t.Run("master key note", func(t *testing.T) {
		if !strings.Contains(lines[0], "master key is not in this backup") {
			t.Fatalf("header %s lacks the master key note", lines[0])
		}
	})
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(s))
	zw.Close()
	return buf.Bytes()
}
