package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"sort"
	"strings"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// Sealed segments are compressed: NNNN.log becomes NNNN.log.s2, a series
// of frames of about blockBytes of whole records each, every frame a
// complete S2 stream (stream identifier, then chunks with the CRC of their
// records), so that one record is read by decompressing one frame, and the
// whole file, the frames one after the other, is itself one S2 stream.
// Where each frame starts (in the records and in the file) is in the
// segment's index file. Segments sealed by an older iamd are NNNN.log.zst,
// the same frames in zstd; they are read as they are, never rewritten to
// S2. The hash chain covers the records, not their compressed form: `iamd
// audit verify` decompresses as it reads.
const (
	s2Ext      = ".s2"
	zstExt     = ".zst"
	blockBytes = 256 << 10
)

// compressedExt returns the extension naming the codec of a compressed
// segment's path (s2Ext or zstExt), or "" for an uncompressed one.
func compressedExt(path string) string {
	for _, ext := range []string{s2Ext, zstExt} {
		if len(path) > len(ext) && strings.HasSuffix(path, ext) {
			return ext
		}
	}
	return ""
}

func isCompressed(path string) bool { return compressedExt(path) != "" }

// uncompressedPath returns the path of a segment's uncompressed form.
func uncompressedPath(path string) string {
	return strings.TrimSuffix(path, compressedExt(path))
}

// block is where one frame of a compressed segment starts: in the records
// (raw) and in the file (z).
type block struct{ raw, z int64 }

// frameEncoder compresses the frames of one segment, one at a time.
type frameEncoder interface {
	// appendFrame appends src to dst as one frame, decodable alone.
	appendFrame(dst, src []byte) ([]byte, error)
}

// s2Frames writes each frame as a complete S2 stream.
type s2Frames struct{ w *s2.Writer }

func newS2Frames() *s2Frames {
	return &s2Frames{s2.NewWriter(nil, s2.WriterConcurrency(1))}
}

func (e *s2Frames) appendFrame(dst, src []byte) ([]byte, error) {
	out := bytes.NewBuffer(dst)
	e.w.Reset(out)
	// With one goroutine, EncodeBuffer compresses src now, without
	// copying it first.
	if err := e.w.EncodeBuffer(src); err != nil {
		return dst, err
	}
	if err := e.w.Close(); err != nil {
		return dst, err
	}
	return out.Bytes(), nil
}

// zstdFrames writes each frame as one zstd frame, as an older iamd did.
type zstdFrames struct{ enc *zstd.Encoder }

func (e zstdFrames) appendFrame(dst, src []byte) ([]byte, error) {
	return e.enc.EncodeAll(src, dst), nil
}

// compressedPath returns the path a segment compressed now gets.
func compressedPath(raw string) string { return raw + s2Ext }

// compressedForm returns the path of the compressed form of the segment
// raw: in S2 unless an older iamd compressed it in zstd.
func compressedForm(raw string) string {
	if _, err := os.Stat(raw + zstExt); err == nil {
		return raw + zstExt
	}
	return compressedPath(raw)
}

// frameEncoderFor returns the encoder of the codec the compressed segment
// path is named for; enc is the zstd one.
func frameEncoderFor(path string, enc *zstd.Encoder) frameEncoder {
	if compressedExt(path) == zstExt {
		return zstdFrames{enc}
	}
	return newS2Frames()
}

// compressSegment writes the first size bytes of the segment at src (whole
// records) compressed to dst, synced, and returns its frames and size.
func compressSegment(enc frameEncoder, src string, size int64, dst string) ([]block, int64, error) {
	return new(sealScratch).compressSegment(enc, src, size, dst)
}

// s2Frames returns s's S2 frame encoder.
func (s *sealScratch) s2Frames() *s2Frames {
	if s.s2 == nil {
		s.s2 = newS2Frames()
	}
	return s.s2
}

// compressSegment is compressSegment with s's buffers: the frames it
// returns are s's, valid until s is used again.
func (s *sealScratch) compressSegment(enc frameEncoder, src string, size int64, dst string) ([]block, int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return nil, 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, 0, err
	}
	blocks := s.frames[:0]
	var raw, z int64
	zbuf := s.zbuf[:0]
	defer func() { s.zbuf, s.frames = zbuf[:0], blocks[:0] }()
	flush := func(frame []byte) error {
		var err error
		if zbuf, err = enc.appendFrame(zbuf[:0], frame); err != nil {
			return err
		}
		if _, err := out.Write(zbuf); err != nil {
			return err
		}
		blocks = append(blocks, block{raw, z})
		raw, z = raw+int64(len(frame)), z+int64(len(zbuf))
		return nil
	}
	// The records are compressed where they are: mapped, where that can
	// be, which spares copying them; read in large pieces otherwise.
	if m := mapRecords(in, size); m != nil {
		err = mappedFrames(m, flush)
		unmapRecords(m)
	} else {
		s.read, err = readFrames(io.LimitReader(in, size), reuse(s.read, 4*blockBytes), flush)
		s.read = s.read[:0]
	}
	if err == nil && raw != size {
		err = fmt.Errorf("compressed %d bytes of %d", raw, size)
	}
	if err == nil {
		err = datasync(out)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return nil, 0, fmt.Errorf("audit: compress %s: %w", src, err)
	}
	return blocks, z, nil
}

// mappedFrames passes the frames of the records m, mapped, to flush. A
// frame ends at the first record end at least blockBytes into it (the
// records are not split into lines first). A fault reading m (the segment
// was truncated under it) is returned as an error instead of ending the
// process.
func mappedFrames(m []byte, flush func([]byte) error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			if _, fault := r.(interface{ Addr() uintptr }); !fault {
				panic(r) // not a memory fault: a bug, not to be hidden
			}
			err = fmt.Errorf("fault reading the mapped segment (was it truncated?): %v", r)
		}
	}()
	for start := 0; start < len(m); {
		end := len(m)
		if from := start + blockBytes - 1; from < len(m) {
			if i := bytes.IndexByte(m[from:], '\n'); i >= 0 {
				end = from + i + 1
			}
		}
		if err := flush(m[start:end]); err != nil {
			return err
		}
		start = end
	}
	return nil
}

// readFrames is mappedFrames of the records of r, read into data (which
// it grows if a frame needs it, and returns).
func readFrames(r io.Reader, data []byte, flush func([]byte) error) ([]byte, error) {
	var err error
	start, scanned := 0, 0 // the frame being read starts at data[start]; no record ends in data[start+blockBytes-1:scanned]
	for eof := false; err == nil; {
		from := max(start+blockBytes-1, scanned)
		if i := bytes.IndexByte(data[min(from, len(data)):], '\n'); i >= 0 {
			end := from + i + 1
			err = flush(data[start:end])
			start, scanned = end, end
			continue
		}
		if eof {
			if start < len(data) {
				err = flush(data[start:])
			}
			break
		}
		scanned = len(data)
		if start > 0 {
			n := copy(data, data[start:])
			data, scanned, start = data[:n], scanned-start, 0
		}
		if len(data) == cap(data) {
			data = slices.Grow(data, cap(data))
		}
		var n int
		n, err = r.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if errors.Is(err, io.EOF) {
			eof, err = true, nil
		}
	}
	return data, err
}

// openSegment opens a segment for reading its records in order,
// decompressing a compressed one.
func openSegment(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	switch compressedExt(path) {
	case s2Ext:
		// The frames, one after the other, are one S2 stream.
		return &s2File{s2.NewReader(f), f}, nil
	case zstExt:
		d, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			f.Close()
			return nil, err
		}
		return &zstdFile{d, f}, nil
	}
	return f, nil
}

type s2File struct {
	*s2.Reader
	f *os.File
}

func (s *s2File) Close() error { return s.f.Close() }

type zstdFile struct {
	*zstd.Decoder
	f *os.File
}

func (z *zstdFile) Close() error {
	z.Decoder.Close()
	return z.f.Close()
}

// segReader reads records of sealed segments for one lookup, keeping the
// files it opened and the frames it decompressed.
type segReader struct {
	dec    *zstd.Decoder // the trail's, for .zst segments
	s2     *s2.Reader    // for .s2 segments, made at the first
	files  map[string]*os.File
	frames map[frameKey][]byte
}

type frameKey struct {
	path string
	i    int
}

func (r *segReader) close() {
	for _, f := range r.files {
		f.Close()
	}
}

func (r *segReader) file(path string) (*os.File, error) {
	if f, ok := r.files[path]; ok {
		return f, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if r.files == nil {
		r.files = make(map[string]*os.File)
	}
	r.files[path] = f
	return f, nil
}

// read returns n bytes of u's records from offset off.
func (r *segReader) read(u *sealedRef, s *sealedIndex, off, n int64) ([]byte, error) {
	f, err := r.file(u.path)
	if err != nil {
		return nil, err
	}
	if !isCompressed(u.path) {
		buf := make([]byte, n)
		_, err := f.ReadAt(buf, off)
		return buf, err
	}
	i := sort.Search(s.nblocks, func(i int) bool { return s.block(i).raw > off }) - 1
	if i < 0 {
		return nil, errors.New("offset before the first frame")
	}
	k := frameKey{u.path, i}
	raw, ok := r.frames[k]
	if !ok {
		b, end := s.block(i), block{u.cp.Size, u.cp.ZSize}
		if i+1 < s.nblocks {
			end = s.block(i + 1)
		}
		if b.raw > end.raw || b.z > end.z {
			return nil, errors.New("frames out of order: the index does not match the segment")
		}
		z := make([]byte, end.z-b.z)
		if _, err := f.ReadAt(z, b.z); err != nil {
			return nil, err
		}
		if raw, err = r.decodeFrame(u.path, z, end.raw-b.raw); err != nil {
			return nil, err
		}
		if r.frames == nil {
			r.frames = make(map[frameKey][]byte)
		}
		r.frames[k] = raw
	}
	start := off - s.block(i).raw
	if start+n > int64(len(raw)) {
		return nil, errors.New("record crosses a frame")
	}
	return bytes.Clone(raw[start : start+n]), nil
}

// decodeFrame decompresses one frame, z, of the compressed segment path,
// which holds size bytes of records (an S2 stream does not say how many).
func (r *segReader) decodeFrame(path string, z []byte, size int64) ([]byte, error) {
	if compressedExt(path) == zstExt {
		return r.dec.DecodeAll(z, nil)
	}
	if r.s2 == nil {
		r.s2 = s2.NewReader(nil, s2.ReaderAllocBlock(blockBytes))
	}
	r.s2.Reset(bytes.NewReader(z))
	raw := make([]byte, size)
	if _, err := io.ReadFull(r.s2, raw); err != nil {
		return nil, err
	}
	return raw, nil
}
