package audit

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// segmentCodec is a way the sealed segments of a trail can be compressed:
// sealed returns the compressed segments of the one chain under dir, after
// rewriting them in that codec.
type segmentCodec struct {
	name   string
	sealed func(t *testing.T, dir string) []string
}

// segmentCodecs are the codecs every reader must handle: S2, as this iamd
// seals segments; zstd, as an older one did; and both in one chain, the
// older segments in zstd, as after an upgrade.
func segmentCodecs() []segmentCodec {
	return []segmentCodec{
		{"s2", func(t *testing.T, dir string) []string { return compressedSegments(t, dir) }},
		{"zstd", func(t *testing.T, dir string) []string { return rewriteInZstd(t, dir, 1) }},
		{"zstd then s2", func(t *testing.T, dir string) []string { return rewriteInZstd(t, dir, 0.5) }},
	}
}

// compressedSegments returns the compressed segments under dir, oldest
// first.
func compressedSegments(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, ext := range []string{s2Ext, zstExt} {
		m, err := filepath.Glob(filepath.Join(dir, "*", "0*"+segmentExt+ext))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(uncompressedPath(a), uncompressedPath(b)) })
	return out
}

// rewriteInZstd rewrites a share (0 to 1) of the compressed segments under
// dir, the oldest, as an older iamd sealed them, and returns the
// compressed segments.
func rewriteInZstd(t *testing.T, dir string, share float64) []string {
	t.Helper()
	z := compressedSegments(t, dir)
	for i := range int(share * float64(len(z))) {
		z[i] = sealedInZstd(t, z[i])
	}
	return z
}

// sealedInZstd rewrites the sealed S2 segment path as an older iamd
// sealed it: NNNN.log.zst, each frame one zstd frame, the index file
// naming the frames. It returns the new path.
func sealedInZstd(t *testing.T, path string) string {
	t.Helper()
	tr := newTrail(testKey, slog.New(slog.DiscardHandler))
	defer tr.close()
	raw := uncompressedPath(path)
	if err := decompressTo(path, raw+".raw"); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(raw + ".raw")
	ip := idxPath(raw)
	cp0, s, err := loadIndexFile(ip, testKey, tr.dec)
	if err != nil {
		t.Fatal(err)
	}
	zpath := raw + zstExt
	frames, zsize, err := compressSegment(zstdFrames{tr.enc}, raw+".raw", cp0.Size, zpath)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(frames, s.frames()) {
		t.Fatalf("zstd frames %v, S2 frames %v: not the same records", frames, s.frames())
	}
	cp := *cp0
	cp.ZSize = zsize
	ix := builtIndex{body: withFrames(s.data, frames), filter: s.filter}
	if len(s.small) > 0 {
		ix.small = withFrames(s.small, frames)
	}
	if err := writeIndexFile(ip, &cp, ix, testKey[0], tr.enc); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	return zpath
}

func (s *sealedIndex) frames() []block {
	out := make([]block, s.nblocks)
	for i := range out {
		out[i] = s.block(i)
	}
	return out
}

// TestSealedCodecs: sealed segments in either codec, or both, are read
// alike: at start, by lookups (every attribute, by event ID), by verify,
// by a Tail, by ReadSealed (delivery), when an index file is rebuilt (the
// segment keeps its codec), and by retention.
func TestSealedCodecs(t *testing.T) {
	for _, codec := range segmentCodecs() {
		t.Run(codec.name, func(t *testing.T) {
			dir := t.TempDir()
			const n = 300
			opts := writeSegments(t, dir, n)
			z := codec.sealed(t, dir)
			if len(z) < 8 {
				t.Fatalf("%d sealed segments", len(z))
			}
			// An index file lost: rebuilt from its segment, in its codec
			// (zstd but in the first case), and those after it too.
			rebuilt := z[len(z)/3]
			if err := os.Remove(idxPath(rebuilt)); err != nil {
				t.Fatal(err)
			}
			l, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if _, err := os.Stat(idxPath(rebuilt)); err != nil {
				t.Fatalf("index file of %s not rebuilt: %v", filepath.Base(rebuilt), err)
			}
			if got := compressedSegments(t, dir); !slices.Equal(got, z) {
				t.Fatalf("compressed segments %v, want %v", got, z)
			}
			checkLookups(t, l, n)
			checkVerify(t, dir, n)
			checkTail(t, filepath.Dir(z[0]), n)
			checkReadSealed(t, dir, z)
			checkRetention(t, z)
		})
	}
}

func checkLookups(t *testing.T, l *Log, n int) {
	t.Helper()
	ids := pageAll(t, l, Query{Account: "111111111111", Max: 50})
	if len(ids) != n {
		t.Fatalf("%d events, want %d", len(ids), n)
	}
	for _, id := range ids {
		p, err := l.Lookup(Query{Account: "111111111111", Attribute: AttrEventID, Value: id})
		if err != nil || len(p.Events) != 1 || p.Events[0].EventID != id {
			t.Fatalf("event %s: %v %+v", id, err, p)
		}
	}
	if got := len(pageAll(t, l, Query{Account: "111111111111", Attribute: AttrUsername, Value: "u3", Max: 50})); got != n/5 {
		t.Fatalf("%d events of u3, want %d", got, n/5)
	}
}

func checkVerify(t *testing.T, dir string, n int) {
	t.Helper()
	rep, err := Verify(dir, testKey)
	if err != nil || !rep.OK() || rep.Chains[0].Records != uint64(n) {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}

func checkTail(t *testing.T, cdir string, n int) {
	t.Helper()
	tl := NewTail(cdir, 0)
	defer tl.Close()
	var next uint64 = 1
	for {
		got, err := tl.Read(64, func(r *ChainRecord) error {
			if r.Seq != next {
				return errors.New("records out of order")
			}
			next++
			return nil
		})
		if err != nil {
			t.Fatalf("tail at record %d: %v", next, err)
		}
		if got == 0 {
			break
		}
	}
	if next != uint64(n)+1 {
		t.Fatalf("tail read %d records, want %d", next-1, n)
	}
}

func checkReadSealed(t *testing.T, dir string, z []string) {
	t.Helper()
	chain := filepath.Base(filepath.Dir(z[0]))
	segs, err := SealedSegments(dir, chain, testKey, 0)
	if err != nil || len(segs) != len(z) {
		t.Fatalf("%d sealed segments (%v), want %d", len(segs), err, len(z))
	}
	var next uint64 = 1
	for _, s := range segs {
		err := ReadSealed(s, func(r *SealedRecord) error {
			if r.Seq != next || len(r.Event) == 0 {
				return errors.New("records out of order")
			}
			next++
			return nil
		})
		if err != nil {
			t.Fatalf("segment %d: %v", s.First, err)
		}
	}
	if next-1 != segs[len(segs)-1].Last {
		t.Fatalf("read %d records, want %d", next-1, segs[len(segs)-1].Last)
	}
}

// checkRetention removes the oldest segment as retention does: its
// compressed form and its index file go.
func checkRetention(t *testing.T, z []string) {
	t.Helper()
	if err := removeSegment(z[0]); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{z[0], idxPath(z[0])} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind: %v", filepath.Base(p), err)
		}
	}
}
