package audit

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

// TestKeyFilter: every key added is found, and keys not added are
// rejected nearly always (the design rate is about 1 in 15,000).
func TestKeyFilter(t *testing.T) {
	for _, n := range []int{0, 1, 10, 2_000, 20_000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			f := newKeyFilter(n)
			for i := range n {
				f.add(keyHash(postUser, "123456789012", fmt.Sprintf("user%d", i)))
			}
			for i := range n {
				if k := keyHash(postUser, "123456789012", fmt.Sprintf("user%d", i)); !f.mayContain(k) {
					t.Fatalf("user%d added but not found", i)
				}
			}
			const probes = 200_000
			fp := 0
			for i := range probes {
				if f.mayContain(keyHash(postUser, "123456789012", fmt.Sprintf("other%d", i))) {
					fp++
				}
			}
			// 7e-5 by design; 60 in 200,000 (3e-4) would mean a broken
			// hash, not bad luck.
			if fp > 60 {
				t.Errorf("%d false positives in %d absent keys (%.2g)", fp, probes, float64(fp)/probes)
			}
		})
	}
}

// TestLookupSkipsSegmentsByFilter: a value rare in the sealed segments is
// found through their key filters and small indexes, reading no index
// file, and an absent value too; a trail whose index files have no filter (written before
// there were filters) is still searched in full.
func TestLookupSkipsSegmentsByFilter(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	opts := Options{Dir: dir, Keys: testKey, Now: func() time.Time { return t0 }, SegmentBytes: 5120, NoSync: true}
	l, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := range n {
		user := fmt.Sprintf("u%d", i%5)
		if i == n/2 {
			user = "rare"
		}
		record(t, l, "111111111111", "GetUser", user, t0.Add(time.Duration(i)*time.Second))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if segs := len(sealedIndexes(t, dir)); segs < 10 {
		t.Fatalf("%d sealed segments, want at least 10 for the test to mean anything", segs)
	}

	lookup := func(t *testing.T, l *Log, user string) (found, indexesRead int) {
		t.Helper()
		l.trail.cache.clear()
		ids := pageAll(t, l, Query{Account: "111111111111", Attribute: AttrUsername, Value: user, Max: 50})
		l.trail.cache.mu.Lock()
		defer l.trail.cache.mu.Unlock()
		return len(ids), l.trail.cache.lru.Len()
	}
	t.Run("with filters", func(t *testing.T) {
		l, err := Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		// Values rare in a segment are read from its small index, not its
		// index file: here every user is (a few events per segment).
		if found, read := lookup(t, l, "rare"); found != 1 || read > 1 {
			t.Errorf("rare value: %d events found reading %d index files; want 1 event, reading none (1 with a false positive)", found, read)
		}
		if found, read := lookup(t, l, "nobody"); found != 0 || read > 1 {
			t.Errorf("absent value: %d events found reading %d index files; want none, reading none (1 with a false positive)", found, read)
		}
		if found, read := lookup(t, l, "u1"); found != n/5 || read > 1 {
			t.Errorf("value in every segment: %d events found reading %d index files, want %d reading none", found, read, n/5)
		}
		// An account's events are many in each segment: its index files.
		if found, read := len(pageAll(t, l, Query{Account: "111111111111", Max: 50})), l.trail.cache.lru.Len(); found != n || read == 0 {
			t.Errorf("all events: %d found reading %d index files, want %d", found, read, n)
		}
	})
	t.Run("without filters", func(t *testing.T) {
		// Rewrite every index file as before there were filters.
		for _, path := range sealedIndexes(t, dir) {
			cp, s, err := loadIndexFile(path, testKey, newTrail(testKey, nil).dec)
			if err != nil {
				t.Fatal(err)
			}
			tr := newTrail(testKey, nil)
			if err := writeIndexFile(path, cp, builtIndex{body: s.data}, testKey[0], tr.enc); err != nil {
				t.Fatal(err)
			}
			if cp.FilterLen != 0 {
				t.Fatal("index file still has a filter")
			}
		}
		l, err := Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		segs := len(sealedIndexes(t, dir))
		if found, read := lookup(t, l, "rare"); found != 1 || read < segs-1 {
			t.Errorf("rare value: %d events found reading %d of %d index files; want 1, reading them all", found, read, segs)
		}
		if _, err := os.Stat(dir); err != nil {
			t.Fatal(err)
		}
	})
}

// TestFiltersReadAtEachLookup: key filters are not kept in memory, so an
// index file changed while the log is open is caught at the next lookup
// (its filter no longer matches the checkpoint: the index file decides),
// and one rewritten with a longer checkpoint line (as compressing a
// segment does) is still read through its filter, wherever it now starts.
func TestFiltersReadAtEachLookup(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, path string)
		log    string // what the log must say; "" for nothing
	}{
		{"unchanged", func(*testing.T, string) {}, ""},
		{"key filter changed", changeKeyFilter, "key filter does not match its checkpoint"},
		{"checkpoint line longer", func(t *testing.T, path string) {
			// The signature covers the checkpoint's fields, not its
			// spacing.
			data, _ := os.ReadFile(path)
			data = bytes.Replace(data, []byte(`{"chain"`), []byte(`{  "chain"`), 1)
			os.WriteFile(path, data, 0o600)
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			const n = 200
			opts := writeSegments(t, dir, n)
			var logs syncBuffer
			opts.Log = slog.New(slog.NewTextHandler(&logs, nil))
			l, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			q := Query{Account: "111111111111", Attribute: AttrUsername, Value: "u1", Max: 50}
			if got := len(pageAll(t, l, q)); got != n/5 {
				t.Fatalf("before: %d events, want %d", got, n/5)
			}
			idx := sealedIndexes(t, dir)
			for _, path := range idx {
				tc.change(t, path)
			}
			l.trail.cache.clear()
			if absent := pageAll(t, l, Query{Account: "111111111111", Attribute: AttrUsername, Value: "nobody", Max: 50}); len(absent) != 0 {
				t.Fatalf("%d events of an absent user", len(absent))
			}
			l.trail.cache.mu.Lock()
			read := l.trail.cache.lru.Len()
			l.trail.cache.mu.Unlock()
			if tc.log == "" && read > 1 {
				t.Errorf("an absent value read %d index files, want none (1 with a false positive)", read)
			}
			if got := len(pageAll(t, l, q)); got != n/5 {
				t.Fatalf("after: %d events, want %d", got, n/5)
			}
			said := logs.String()
			if tc.log == "" && strings.Contains(said, "unreadable") || tc.log != "" && !strings.Contains(said, tc.log) {
				t.Fatalf("log, want %q:\n%s", tc.log, said)
			}
		})
	}
}

// TestOpenFiles: index files are kept open up to the bound, and one in
// use stays readable while it is evicted or dropped, until released.
func TestOpenFiles(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i := range 6 {
		p := fmt.Sprintf("%s/%d%s", dir, i, idxExt)
		if err := os.WriteFile(p, []byte{byte(i)}, 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	tests := []struct {
		name string
		max  int
	}{
		{"none kept", 0},
		{"one kept", 1},
		{"some kept", 3},
		{"all kept", 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := openFiles{max: tc.max}
			defer c.clear()
			var held []*openFile
			for _, p := range paths {
				o, _, err := c.open(p)
				if err != nil {
					t.Fatal(err)
				}
				held = append(held, o)
				c.drop(paths[0])
			}
			if kept := len(c.m); kept > tc.max {
				t.Errorf("%d files kept open, want at most %d", kept, tc.max)
			}
			for i, o := range held {
				b := make([]byte, 1)
				if _, err := o.f.ReadAt(b, 0); err != nil || b[0] != byte(i) {
					t.Errorf("file %d in use: read %v, %v", i, b, err)
				}
				c.release(o)
			}
			o, cached, err := c.open(paths[len(paths)-1])
			if err != nil {
				t.Fatal(err)
			}
			c.release(o)
			if want := tc.max > 0; cached != want {
				t.Errorf("the last file opened kept open: %v, want %v", cached, want)
			}
		})
	}
}
