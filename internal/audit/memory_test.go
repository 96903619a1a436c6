package audit

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// TestSealedSegmentsFreeTheirIndexes: once a segment is sealed, its
// in-memory index is garbage, so that memory does not grow with the
// trail. (The trail kept a pointer into each seal job, and with it the
// job's index: about 230 bytes per event, for as long as the server ran.)
func TestSealedSegmentsFreeTheirIndexes(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	l, err := Open(Options{Dir: dir, Keys: testKey, Now: func() time.Time { return t0 }, SegmentBytes: 64 << 10, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var made int
	var freed atomic.Int64
	var last *index
	for i := range 5000 {
		record(t, l, "111111111111", "GetUser", fmt.Sprintf("u%d", i%50), t0.Add(time.Duration(i)*time.Millisecond))
		l.mu.Lock()
		x := l.cur
		l.mu.Unlock()
		if x != last {
			made++
			runtime.AddCleanup(x, func(*atomic.Int64) { freed.Add(1) }, &freed)
			last = x
		}
	}
	if made < 10 {
		t.Fatalf("%d segments, want at least 10 for the test to mean anything", made)
	}
	// Every segment but the open one is sealed in the background.
	deadline := time.Now().Add(time.Minute)
	for inMemory := made; inMemory > 1; {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d segments still unsealed after a minute", inMemory, made)
		}
		time.Sleep(10 * time.Millisecond)
		inMemory = 0
		l.trail.mu.RLock()
		for _, u := range l.trail.units {
			if u.mem != nil {
				inMemory++
			}
		}
		l.trail.mu.RUnlock()
	}
	// Cleanups run after a collection, on their own goroutine.
	for range 500 {
		if freed.Load() >= int64(made-1) {
			return
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d of the %d sealed segments' in-memory indexes are still reachable", int64(made-1)-freed.Load(), made-1)
}

// TestKeptCheckpoint: what a sealed unit keeps of its checkpoint leaves
// out the signature, its key and the body's checksum, shares the chain
// hash before it with the checkpoint before when they are equal, and
// still writes (compressing a segment, rebuilding its index) the index
// file the whole checkpoint would, signed alike.
func TestKeptCheckpoint(t *testing.T) {
	es, minT, maxT := pinnedIndex(200).entries()
	ix := buildIndex(es, nil)
	const chain = "00000000be0c4a11"
	hash := func(b byte) string { return strings.Repeat(string("0123456789abcdef"[b&15]), 64) }
	tests := []struct {
		name       string
		prev       *checkpoint
		sharesPrev bool
	}{
		{"first of its chain", nil, false},
		{"after the one it follows", &checkpoint{Chain: chain, Head: strings.Clone(hash(1))}, true},
		{"after another", &checkpoint{Chain: chain, Head: hash(2)}, false},
	}
	tr := newTrail(testKey, slog.New(slog.DiscardHandler))
	defer tr.close()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cp := &checkpoint{Chain: strings.Clone(chain), First: 201, Last: 400, Prev: strings.Clone(hash(1)), Head: hash(3), Size: 1 << 20,
				MinTime: minT, MaxTime: maxT, Events: len(es), DigestOff: 4096, DigestSig: hash(4), DigestCount: 399, Digests: 9}
			whole := filepath.Join(dir, "whole"+idxExt)
			if err := writeIndexFile(whole, cp, ix, testKey[0], tr.enc); err != nil {
				t.Fatal(err)
			}
			k := kept(cp, tc.prev)
			if k.Sig != "" || k.Key != "" || k.Body != "" {
				t.Errorf("kept the signature, key or body checksum: %q, %q, %q", k.Sig, k.Key, k.Body)
			}
			if shared := tc.prev != nil && unsafe.StringData(k.Prev) == unsafe.StringData(tc.prev.Head); shared != tc.sharesPrev {
				t.Errorf("previous hash shared: %v, want %v", shared, tc.sharesPrev)
			}
			if tc.prev != nil && unsafe.StringData(k.Chain) != unsafe.StringData(tc.prev.Chain) {
				t.Error("chain name not shared")
			}
			again := *k
			part := filepath.Join(dir, "kept"+idxExt)
			if err := writeIndexFile(part, &again, ix, testKey[0], tr.enc); err != nil {
				t.Fatal(err)
			}
			got, err := readCheckpoint(part, testKey)
			if err != nil {
				t.Fatal(err)
			}
			want, err := readCheckpoint(whole, testKey)
			if err != nil {
				t.Fatal(err)
			}
			if *got != *want {
				t.Errorf("index file written from the kept checkpoint:\n%+v\nfrom the whole one:\n%+v", *got, *want)
			}
		})
	}
}
