package audit

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/iotest"
)

// TestSealScratchSameBytes: sealing with buffers kept from earlier seals
// (as a Log does, segment after segment, larger and smaller) writes the
// same bytes as sealing with new ones: index files, and compressed
// segments.
func TestSealScratchSameBytes(t *testing.T) {
	tr := newTrail(testKey, slog.New(slog.DiscardHandler))
	defer tr.close()
	dir := t.TempDir()
	inOrder := func(n int) *index { // no event out of time order: buildIndex does not sort
		x := newIndex("00000000be0c4a11", 1, "", nil)
		for i, m := range pinnedMetas(n) {
			m.time = 1_700_000_000 + int64(i/3)
			x.appendMeta(&m)
		}
		if x.unsorted {
			t.Fatal("events out of order")
		}
		return x
	}
	frames := []block{{0, 0}, {262_144, 81_000}, {524_288, 160_500}}
	segs := []struct {
		x      func() *index
		frames []block
	}{
		{func() *index { return pinnedIndex(1000) }, frames},
		{func() *index { return pinnedIndex(300) }, nil},
		{func() *index { return inOrder(2000) }, frames[:2]},
		{func() *index { return pinnedIndex(5) }, frames[:1]},
		{func() *index { return inOrder(700) }, nil},
		{func() *index { return pinnedIndex(1000) }, frames},
	}
	write := func(s *sealScratch, name string, x *index, frames []block) (builtIndex, []byte) {
		es, minT, maxT := x.entriesInto(s)
		ix := s.buildIndex(es, frames)
		cp := &checkpoint{Chain: "00000000be0c4a11", First: 1, Last: uint64(len(es)), Prev: "00", Head: "ff", Size: 1 << 20,
			MinTime: minT, MaxTime: maxT, Events: len(es)}
		if frames != nil {
			cp.ZSize = 230_500
		}
		path := filepath.Join(dir, name+idxExt)
		// What the index holds, before writing the file reuses s again.
		got := builtIndex{body: bytes.Clone(ix.body), filter: bytes.Clone(ix.filter), small: bytes.Clone(ix.small)}
		if err := s.writeIndexFile(path, cp, ix, testKey[0], tr.enc); err != nil {
			t.Fatal(err)
		}
		file, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return got, file
	}
	kept := new(sealScratch)
	for i, seg := range segs {
		got, gotFile := write(kept, fmt.Sprintf("kept%d", i), seg.x(), seg.frames)
		want, wantFile := write(new(sealScratch), fmt.Sprintf("new%d", i), seg.x(), seg.frames)
		if !bytes.Equal(got.body, want.body) || !bytes.Equal(got.filter, want.filter) || !bytes.Equal(got.small, want.small) {
			t.Errorf("segment %d: index with kept buffers differs from a new one's", i)
		}
		if !bytes.Equal(gotFile, wantFile) {
			t.Errorf("segment %d: index file with kept buffers differs from a new one's", i)
		}
	}

	// Compressed segments: records of several sizes, one with a record
	// longer than a frame.
	records := func(n, long int) string {
		var b []byte
		for i := range n {
			b = fmt.Appendf(b, `{"seq":%d,"event":"%s"}`+"\n", i, bytes.Repeat([]byte{byte('a' + i%26)}, 100+i%300+long*(i%50/49)))
		}
		path := filepath.Join(dir, fmt.Sprintf("records%d-%d", n, long))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for i, src := range []string{records(20_000, 0), records(300, 0), records(5_000, 1_500_000), records(9_000, 0)} {
		fi, err := os.Stat(src)
		if err != nil {
			t.Fatal(err)
		}
		gotPath, wantPath := filepath.Join(dir, fmt.Sprintf("kept%d.s2", i)), filepath.Join(dir, fmt.Sprintf("new%d.s2", i))
		gotFrames, gotSize, err := kept.compressSegment(kept.s2Frames(), src, fi.Size(), gotPath)
		if err != nil {
			t.Fatal(err)
		}
		gotFrames = slices.Clone(gotFrames)
		wantFrames, wantSize, err := compressSegment(newS2Frames(), src, fi.Size(), wantPath)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(gotPath)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(wantPath)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) || gotSize != wantSize || !slices.Equal(gotFrames, wantFrames) {
			t.Errorf("segment %d: compressed with kept buffers differs from with new ones", i)
		}
	}
}

// TestSealSlot: a Log keeps one seal's buffers, and not those grown
// unusually large.
func TestSealSlot(t *testing.T) {
	var k sealSlot
	a, b := k.get(), k.get()
	if a == b {
		t.Fatal("two seals got the same buffers")
	}
	k.put(a)
	k.put(b)
	if k.get() != a {
		t.Error("the first buffers put back are not the ones kept")
	}
	large := &sealScratch{read: make([]byte, 0, maxSealScratch+1)}
	k.put(large)
	if k.get() == large {
		t.Error("buffers larger than maxSealScratch kept")
	}
}

// TestMappedFramesMatchRead: records compressed where they are mapped are
// cut into the same frames as records read.
func TestMappedFramesMatchRead(t *testing.T) {
	line := func(n int, c byte) []byte { return append(bytes.Repeat([]byte{c}, n-1), '\n') }
	var typical, long, exact []byte
	for i := range 3000 {
		typical = append(typical, line(200+i%700, 'a'+byte(i%26))...)
	}
	for i := range 40 {
		long = append(long, line(1+i*i*i*17%(5*blockBytes), 'x')...)
	}
	exact = append(line(blockBytes, 'e'), line(blockBytes, 'f')...)
	for _, data := range [][]byte{
		typical, long, exact, exact[:len(exact)-1], typical[:len(typical)-100], line(10, 'z'), {},
	} {
		frames := func(f func(flush func([]byte) error) error) [][2]int {
			var got [][2]int
			at := 0
			if err := f(func(frame []byte) error {
				got = append(got, [2]int{at, len(frame)})
				at += len(frame)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			return got
		}
		mapped := frames(func(flush func([]byte) error) error { return mappedFrames(data, flush) })
		read := frames(func(flush func([]byte) error) error {
			_, err := readFrames(iotest.HalfReader(bytes.NewReader(data)), make([]byte, 0, 1000), flush)
			return err
		})
		if !slices.Equal(mapped, read) {
			t.Errorf("%d bytes: frames mapped %v, read %v", len(data), mapped, read)
		}
	}
}

// TestMappedSegmentTruncated: a segment truncated while it is compressed
// from its mapping is an error, not the end of the process.
func TestMappedSegmentTruncated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "records")
	data := bytes.Repeat(append(bytes.Repeat([]byte{'r'}, 999), '\n'), 2000)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := mapRecords(f, int64(len(data)))
	if m == nil {
		t.Skip("segments are not mapped here")
	}
	defer unmapRecords(m)
	if mapRecords(f, int64(len(data))+1) != nil {
		t.Error("mapped beyond the end of the file")
	}
	frames := 0
	err = mappedFrames(m, func([]byte) error {
		if frames++; frames == 1 {
			return os.Truncate(path, 0)
		}
		return nil
	})
	if err == nil || frames != 1 {
		t.Errorf("truncated under its mapping: %d frames, err %v", frames, err)
	}
	defer func() {
		if recover() == nil {
			t.Error("a panic that is not a fault was taken for one")
		}
	}()
	_ = mappedFrames(m[:1], func([]byte) error { panic("a bug") })
}
