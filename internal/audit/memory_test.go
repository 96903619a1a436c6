package audit

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
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
