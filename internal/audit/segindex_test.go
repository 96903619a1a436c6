package audit

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeSegments records n events over small segments (concurrently, with
// times out of order within a few seconds) and closes the log.
func writeSegments(t *testing.T, dir string, n int) Options {
	t.Helper()
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	opts := Options{Dir: dir, Keys: testKey, Now: func() time.Time { return t0 }, DigestEvery: 40, SegmentBytes: 8192, NoSync: true}
	l, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				record(t, l, "111111111111", []string{"GetUser", "CreateUser", "ListUsers"}[i%3], fmt.Sprintf("u%d", i%5), t0.Add(time.Duration(i/4)*time.Second))
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return opts
}

// pageAll pages through a query, checking that events come newest first
// and none twice, and returns their IDs.
func pageAll(t *testing.T, l *Log, q Query) []string {
	t.Helper()
	var ids []string
	seen := map[string]bool{}
	var last time.Time
	for {
		p, err := l.Lookup(q)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range p.Events {
			if seen[f.EventID] {
				t.Fatalf("event %s twice", f.EventID)
			}
			if !last.IsZero() && f.Time.After(last) {
				t.Fatalf("event at %v after one at %v: not newest first", f.Time, last)
			}
			seen[f.EventID], last = true, f.Time
			ids = append(ids, f.EventID)
		}
		if p.NextToken == "" {
			return ids
		}
		q.Token = p.NextToken
	}
}

func sealedIndexes(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*", "*"+idxExt))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

// TestStartFromCheckpoints: sealed segments get index files, a start reads
// them instead of the segments, and lookups over them (all attributes,
// time ranges, paging) find what the in-memory index found.
func TestStartFromCheckpoints(t *testing.T) {
	dir := t.TempDir()
	const n = 400
	opts := writeSegments(t, dir, n)
	idx := sealedIndexes(t, dir)
	segs, _ := filepath.Glob(filepath.Join(dir, "*", "0*"+segmentExt+"*"))
	if len(idx) < 10 || len(idx) != len(segs)-1 {
		t.Fatalf("%d index files for %d segments", len(idx), len(segs))
	}
	// Sealed segments are compressed, in S2.
	if z, _ := filepath.Glob(filepath.Join(dir, "*", "0*"+segmentExt+s2Ext)); len(z) != len(idx) {
		t.Fatalf("%d compressed segments of %d sealed", len(z), len(idx))
	}
	l, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// Only the open segment is in memory.
	l.trail.mu.RLock()
	inMemory := 0
	for _, u := range l.trail.units {
		if u.mem != nil {
			inMemory++
		}
	}
	l.trail.mu.RUnlock()
	if inMemory != 1 {
		t.Fatalf("%d segments in memory, want 1", inMemory)
	}
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		q    Query
		want int
	}{
		{"all", Query{Account: "111111111111"}, n},
		{"by name", Query{Account: "111111111111", Attribute: AttrEventName, Value: "CreateUser"}, n / 3},
		{"by user", Query{Account: "111111111111", Attribute: AttrUsername, Value: "u2"}, n / 5},
		{"by key", Query{Account: "111111111111", Attribute: AttrAccessKeyID, Value: "AKIAu2"}, n / 5},
		{"by resource", Query{Account: "111111111111", Attribute: AttrResourceName, Value: "target-u3"}, n / 5},
		{"by resource type", Query{Account: "111111111111", Attribute: AttrResourceType, Value: "AWS::IAM::User"}, n},
		{"by source", Query{Account: "111111111111", Attribute: AttrEventSource, Value: SourceIAM}, n},
		{"read only", Query{Account: "111111111111", Attribute: AttrReadOnly, Value: "false"}, n / 3},
		{"time range", Query{Account: "111111111111", Start: t0.Add(10 * time.Second), End: t0.Add(19 * time.Second)}, 40},
		{"other account", Query{Account: "222222222222"}, 0},
		{"unknown user", Query{Account: "111111111111", Attribute: AttrUsername, Value: "nobody"}, 0},
	}
	for _, tc := range tests {
		for _, max := range []int{7, 50} {
			t.Run(fmt.Sprintf("%s/Max=%d", tc.name, max), func(t *testing.T) {
				tc.q.Max = max
				if got := len(pageAll(t, l, tc.q)); got != tc.want {
					t.Fatalf("%d events, want %d", got, tc.want)
				}
			})
		}
	}
	// Every event is found by its ID, in sealed segments too.
	ids := pageAll(t, l, Query{Account: "111111111111", Max: 50})
	for _, id := range []string{ids[0], ids[len(ids)/2], ids[len(ids)-1]} {
		p, err := l.Lookup(Query{Account: "111111111111", Attribute: AttrEventID, Value: id})
		if err != nil || len(p.Events) != 1 || p.Events[0].EventID != id {
			t.Fatalf("event %s: %v %+v", id, err, p)
		}
	}
	rep, err := Verify(dir, testKey)
	if err != nil || !rep.OK() || rep.Chains[0].Records != n {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}

// TestDamagedIndexFiles: an index file that is missing, changed or cut
// short is reported and rebuilt, and no event goes missing.
func TestDamagedIndexFiles(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
		log    string
	}{
		{"removed", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, "wrote the index of a segment that had none"},
		{"checkpoint changed", func(t *testing.T, path string) {
			data, _ := os.ReadFile(path)
			data = bytes.Replace(data, []byte(`"events":`), []byte(`"events":1`), 1)
			os.WriteFile(path, data, 0o600)
		}, "invalid signature"},
		{"body changed", func(t *testing.T, path string) {
			data, _ := os.ReadFile(path)
			data[len(data)-3] ^= 0xff
			os.WriteFile(path, data, 0o600)
		}, "index body does not match its checkpoint"},
		{"cut short", func(t *testing.T, path string) {
			data, _ := os.ReadFile(path)
			os.WriteFile(path, data[:len(data)/2], 0o600)
		}, "does not match its checkpoint"},
		{"key filter changed", changeKeyFilter, "key filter does not match its checkpoint"},
		{"small index changed", func(t *testing.T, path string) {
			cp, err := readCheckpoint(path, testKey)
			if err != nil || cp.SmallLen == 0 {
				t.Fatalf("checkpoint %+v, %v: want one with a small index", cp, err)
			}
			data, _ := os.ReadFile(path)
			start := bytes.IndexByte(data[len(idxMagic):], '\n') + len(idxMagic) + 1
			data[start+cp.FilterLen+cp.SmallLen/2] ^= 0xff
			os.WriteFile(path, data, 0o600)
		}, "key filter does not match its checkpoint"},
		{"garbage", func(t *testing.T, path string) {
			os.WriteFile(path, []byte("garbage"), 0o600)
		}, "not an index file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			const n = 200
			opts := writeSegments(t, dir, n)
			idx := sealedIndexes(t, dir)
			tc.damage(t, idx[len(idx)/2])
			var logs syncBuffer
			opts.Log = slog.New(slog.NewTextHandler(&logs, nil))
			l, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if got := len(pageAll(t, l, Query{Account: "111111111111", Max: 50})); got != n {
				t.Fatalf("%d events, want %d", got, n)
			}
			if !strings.Contains(logs.String(), tc.log) {
				t.Fatalf("log does not say %q:\n%s", tc.log, logs.String())
			}
			if _, _, err := loadIndexFile(idx[len(idx)/2], testKey, l.trail.dec); err != nil {
				t.Fatalf("not rebuilt: %v", err)
			}
		})
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestCompressionCutShort: a start after a compression was interrupted
// (both forms of a segment, temporary files) keeps one form and finds
// every event.
func TestCompressionCutShort(t *testing.T) {
	for _, codec := range segmentCodecs() {
		t.Run(codec.name, func(t *testing.T) {
			dir := t.TempDir()
			const n = 200
			opts := writeSegments(t, dir, n)
			z := codec.sealed(t, dir)
			raw := uncompressedPath(z[2])
			if err := decompressTo(z[2], raw); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(z[3]+".tmp", []byte("partial"), 0o600); err != nil {
				t.Fatal(err)
			}
			l, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if got := len(pageAll(t, l, Query{Account: "111111111111", Max: 50})); got != n {
				t.Fatalf("%d events, want %d", got, n)
			}
			for _, p := range []string{raw, z[3] + ".tmp"} {
				if _, err := os.Stat(p); err == nil {
					t.Errorf("%s left behind", p)
				}
			}
			if _, err := os.Stat(z[2]); err != nil {
				t.Errorf("compressed segment gone: %v", err)
			}
		})
	}
}

// TestDamagedSealedSegment: a sealed segment damaged behind its valid
// checkpoint is not read at start (the checkpoint vouches for it), so the
// log opens; lookups skip what cannot be read and say so; verify reports
// the damage.
func TestDamagedSealedSegment(t *testing.T) {
	for _, codec := range segmentCodecs() {
		t.Run(codec.name, func(t *testing.T) {
			dir := t.TempDir()
			const n = 200
			opts := writeSegments(t, dir, n)
			z := codec.sealed(t, dir)
			data, err := os.ReadFile(z[1])
			if err != nil {
				t.Fatal(err)
			}
			for i := len(data) / 3; i < len(data)/3+16; i++ {
				data[i] ^= 0x55
			}
			if err := os.WriteFile(z[1], data, 0o600); err != nil {
				t.Fatal(err)
			}
			var logs syncBuffer
			opts.Log = slog.New(slog.NewTextHandler(&logs, nil))
			l, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			got := len(pageAll(t, l, Query{Account: "111111111111", Max: 50}))
			if got >= n || got < n/2 {
				t.Fatalf("%d events of %d", got, n)
			}
			if !strings.Contains(logs.String(), "a record cannot be read") {
				t.Fatalf("log:\n%s", logs.String())
			}
			rep, err := Verify(dir, testKey)
			if err != nil || rep.OK() {
				t.Fatalf("damage not reported: %v %+v", err, rep)
			}
			// The damage is evidence, named as such. (A zstd frame's
			// checksum is checked at its end, after the decoder gave out
			// the damaged records, which then do not parse, or parse but
			// do not hash as the chain says; S2 checks each chunk before
			// giving it out.)
			problems := strings.Join(rep.Chains[0].Problems, "\n")
			want := "segment " + filepath.Base(z[1]) + " cannot be decompressed"
			if strings.HasSuffix(z[1], zstExt) {
				for _, named := range []string{"in segment " + filepath.Base(z[1]) + " is not readable (changed)", "was changed (record"} {
					if strings.Contains(problems, named) {
						want = named
					}
				}
			}
			if !strings.Contains(problems, want) {
				t.Fatalf("problems %q, want %q", rep.Chains[0].Problems, want)
			}
		})
	}
}

// changeKeyFilter flips bits of the key filter of the index file at path,
// past its number of probes.
func changeKeyFilter(t *testing.T, path string) {
	data, _ := os.ReadFile(path)
	start := bytes.IndexByte(data[len(idxMagic):], '\n') + len(idxMagic) + 1
	data[start+1] ^= 0xff
	os.WriteFile(path, data, 0o600)
}
