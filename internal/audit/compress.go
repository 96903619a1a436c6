package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/klauspost/compress/zstd"
)

// Sealed segments are compressed: NNNN.log becomes NNNN.log.zst, a series
// of independent zstd frames of about blockBytes of whole records each,
// so that one record is read by decompressing one frame. Where each frame
// starts (in the records and in the file) is in the segment's index file.
// The hash chain covers the records, not their compressed form: `iamd
// audit verify` decompresses as it reads.
const (
	zstExt     = ".zst"
	blockBytes = 256 << 10
)

// block is where one frame of a compressed segment starts: in the records
// (raw) and in the file (z).
type block struct{ raw, z int64 }

// compressSegment writes the first size bytes of the segment at src (whole
// records) compressed to dst, synced, and returns its frames and size.
func compressSegment(enc *zstd.Encoder, src string, size int64, dst string) ([]block, int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return nil, 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, 0, err
	}
	r := bufio.NewReaderSize(io.LimitReader(in, size), 1<<20)
	var blocks []block
	var raw, z int64
	buf := make([]byte, 0, blockBytes+64<<10)
	var zbuf []byte
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		zbuf = enc.EncodeAll(buf, zbuf[:0])
		if _, err := out.Write(zbuf); err != nil {
			return err
		}
		blocks = append(blocks, block{raw, z})
		raw, z, buf = raw+int64(len(buf)), z+int64(len(zbuf)), buf[:0]
		return nil
	}
	for err == nil {
		var line []byte
		line, err = r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			buf = append(buf, line...)
			err = nil
			continue
		}
		buf = append(buf, line...)
		if len(buf) >= blockBytes && err == nil {
			err = flush()
		}
	}
	if errors.Is(err, io.EOF) {
		err = flush()
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

// openSegment opens a segment for reading its records in order,
// decompressing a compressed one.
func openSegment(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if !isCompressed(path) {
		return f, nil
	}
	d, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		f.Close()
		return nil, err
	}
	return &zstdFile{d, f}, nil
}

type zstdFile struct {
	*zstd.Decoder
	f *os.File
}

func (z *zstdFile) Close() error {
	z.Decoder.Close()
	return z.f.Close()
}

func isCompressed(path string) bool {
	return len(path) > len(zstExt) && path[len(path)-len(zstExt):] == zstExt
}

// segReader reads records of sealed segments for one lookup, keeping the
// files it opened and the frames it decompressed.
type segReader struct {
	dec    *zstd.Decoder
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
		b := s.block(i)
		end := u.cp.ZSize
		if i+1 < s.nblocks {
			end = s.block(i + 1).z
		}
		z := make([]byte, end-b.z)
		if _, err := f.ReadAt(z, b.z); err != nil {
			return nil, err
		}
		if raw, err = r.dec.DecodeAll(z, nil); err != nil {
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
