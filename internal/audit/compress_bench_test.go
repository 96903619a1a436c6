package audit

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/cputime"
)

// BenchmarkSealSegment compresses a realistic sealed segment (16 MiB of
// benchEvent records, as the log writes them) as an older iamd did, in
// zstd, and as this one does, in S2. Per event: ns/event, the wall time;
// cpu-ns/event, the CPU time of the process meanwhile; B/event, the
// compressed segment (idx-B/event is its index file, the same for both).
// "segment" is compressSegment (reading the records, compressing, writing
// and syncing the file), "frames" the compression alone, of the same
// frames from memory.
//
//	go test ./internal/audit -run '^$' -bench SealSegment -benchtime 20x
func BenchmarkSealSegment(b *testing.B) {
	raw, cp, idxBytes := benchSegment(b)
	records, err := os.ReadFile(raw)
	if err != nil {
		b.Fatal(err)
	}
	tr := newTrail(testKey, slog.New(slog.DiscardHandler))
	defer tr.close()
	for _, c := range []struct {
		name, ext string
		enc       frameEncoder
	}{
		{"zstd", zstExt, zstdFrames{tr.enc}},
		{"s2", s2Ext, nil},
	} {
		// As a Log seals: the buffers (and the S2 encoder) kept from one
		// segment to the next.
		s := new(sealScratch)
		if c.enc == nil {
			c.enc = s.s2Frames()
		}
		dst := filepath.Join(b.TempDir(), "seg"+segmentExt+c.ext)
		frames, zsize, err := compressSegment(c.enc, raw, cp.Size, dst)
		frames = slices.Clone(frames)
		if err != nil {
			b.Fatal(err)
		}
		report := func(b *testing.B, cpu time.Duration) {
			events := float64(b.N * cp.Events)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/events, "ns/event")
			b.ReportMetric(float64(cputime.Process()-cpu)/events, "cpu-ns/event")
			b.ReportMetric(float64(zsize)/float64(cp.Events), "B/event")
			b.ReportMetric(float64(idxBytes)/float64(cp.Events), "idx-B/event")
		}
		b.Run(c.name+"/segment", func(b *testing.B) {
			cpu := cputime.Process()
			for b.Loop() {
				if _, _, err := s.compressSegment(c.enc, raw, cp.Size, dst); err != nil {
					b.Fatal(err)
				}
			}
			report(b, cpu)
		})
		b.Run(c.name+"/frames", func(b *testing.B) {
			var z []byte
			cpu := cputime.Process()
			for b.Loop() {
				for i, f := range frames {
					end := cp.Size
					if i+1 < len(frames) {
						end = frames[i+1].raw
					}
					if z, err = c.enc.appendFrame(z[:0], records[f.raw:end]); err != nil {
						b.Fatal(err)
					}
				}
			}
			report(b, cpu)
		})
	}
}

// benchSegment has a log record benchEvents until its first segment
// (DefaultSegmentBytes) is sealed, and returns that segment's records
// (uncompressed, in a file), its checkpoint and the size of its index
// file.
func benchSegment(b *testing.B) (raw string, cp *checkpoint, idxBytes int64) {
	b.Helper()
	dir := b.TempDir()
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	l, err := Open(Options{Dir: dir, Keys: testKey, Now: func() time.Time { return t0 }, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	var sealed []string
	for i := 0; len(sealed) == 0; i++ {
		ev := benchEvent(i, t0.Add(time.Duration(i)*time.Millisecond))
		ev.EventID = "" // Record names it, as it does a request's
		if err := l.Record(context.Background(), ev); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			sealed, _ = filepath.Glob(filepath.Join(dir, "*", "*"+idxExt))
		}
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	if cp, err = readCheckpoint(sealed[0], testKey); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(sealed[0])
	if err != nil {
		b.Fatal(err)
	}
	seg := compressedForm(filepath.Join(filepath.Dir(sealed[0]), segmentName(cp.First)))
	raw = filepath.Join(dir, "records")
	if err := decompressTo(seg, raw); err != nil {
		b.Fatal(err)
	}
	return raw, cp, fi.Size()
}
