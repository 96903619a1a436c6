package audit

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/cputime"
)

// sealBenchEvents is about a full 16 MiB segment of benchEvent's events.
const sealBenchEvents = 14_000

// benchSegmentIndex is the in-memory index of a full segment of
// benchEvent's events (GetUser-like calls by 500 users with 700 access
// keys), as the writer leaves it for sealing.
func benchSegmentIndex() *index {
	x := newIndex("00000000be0c4a11", 1, "", nil)
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	line := int64(0)
	for i := range sealBenchEvents {
		m := metaOfEvent(benchEvent(i+1, t0.Add(time.Duration(i)*time.Millisecond)))
		m.seq, m.line, m.off, m.n = uint64(i+1), line, line+230, 950
		x.appendMeta(&m)
		line += 1200
	}
	return x
}

// benchFrames are the frames of a compressed 16 MiB segment (256 KiB of
// records each).
func benchFrames() []block {
	fs := make([]block, 64)
	for i := range fs {
		fs[i] = block{raw: int64(i) << 18, z: int64(i) * 52_000}
	}
	return fs
}

// BenchmarkSealIndex measures what sealing a full segment costs for its
// index file, per event: its entries from the in-memory index, the index
// built, and the index file written (checksums, compressed, synced). It
// reports each step's wall time, the process's CPU time (which, unlike
// ns/op, leaves out waiting for the disk) and the file's size.
//
//	go test ./internal/audit -run '^$' -bench SealIndex -count 6
func BenchmarkSealIndex(b *testing.B) {
	x := benchSegmentIndex()
	frames := benchFrames()
	tr := newTrail(testKey, slog.New(slog.DiscardHandler))
	defer tr.close()
	path := filepath.Join(b.TempDir(), "0000000000000001"+idxExt)
	s := new(sealScratch) // as a Log keeps it from one seal to the next
	var entriesT, buildT, writeT time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cputime.Process()
	for range b.N {
		t0 := time.Now()
		es, minT, maxT := x.entriesInto(s)
		t1 := time.Now()
		ix := s.buildIndex(es, frames)
		t2 := time.Now()
		cp := checkpoint{Chain: x.chain, First: 1, Last: sealBenchEvents, Prev: "00", Head: "ff", Size: sealBenchEvents * 1200,
			ZSize: 64 * 52_000, MinTime: minT, MaxTime: maxT, Events: len(es)}
		if err := s.writeIndexFile(path, &cp, ix, testKey[0], tr.enc); err != nil {
			b.Fatal(err)
		}
		entriesT, buildT, writeT = entriesT+t1.Sub(t0), buildT+t2.Sub(t1), writeT+time.Since(t2)
	}
	cpuPerEvent := float64(cputime.Process()-cpu) / float64(b.N*sealBenchEvents)
	b.StopTimer()
	perEvent := func(d time.Duration) float64 { return float64(d) / float64(b.N*sealBenchEvents) }
	b.ReportMetric(perEvent(b.Elapsed()), "ns/event")
	b.ReportMetric(cpuPerEvent, "cpu-ns/event")
	b.ReportMetric(perEvent(entriesT), "entries-ns/event")
	b.ReportMetric(perEvent(buildT), "build-ns/event")
	b.ReportMetric(perEvent(writeT), "write-ns/event")
	if fi, err := os.Stat(path); err == nil {
		b.ReportMetric(float64(fi.Size())/sealBenchEvents, "idx-B/event")
	}
}
