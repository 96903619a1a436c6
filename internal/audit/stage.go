package audit

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
)

// The staging area (NoSync): a file in the chain's directory, mapped
// shared, into which each request copies its record. A record there is in
// the operating system's page cache as soon as it is copied, so it
// survives a killed process exactly as a written one would, but costs no
// system call and takes no file system lock. Staged records reach the
// segment in batches, one write at a time (at the latest maxHeadLag after
// they were staged), and the signed head and digests cover only records
// that have. On start, records staged but not yet in the segment (the
// process was killed) are moved there before anything else is written.
const (
	stageFile = "staging"
	stageSize = 4 << 20
)

// stage is the mapped staging file, used as a ring: the records not yet in
// the segment are [start, end), or, once staging went on at the front of
// the file, [start, wrapEnd) then [0, end).
type stage struct {
	f          *os.File
	m          []byte
	start, end int
	wrapEnd    int // 0 unless wrapped
}

// room reports whether n more bytes can be staged without overwriting
// records not yet in the segment.
func (s *stage) room(n int) bool {
	if s.wrapEnd == 0 {
		return s.end+n <= len(s.m) || n < s.start
	}
	return s.end+n < s.start
}

// put stages line; room(len(line)) must hold. A fault while copying (the
// staging file was truncated under the log) is returned as an error
// instead of ending the process.
func (s *stage) put(line []byte) (err error) {
	if s.wrapEnd == 0 && s.end+len(line) > len(s.m) {
		s.wrapEnd, s.end = s.end, 0
	}
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if recover() != nil {
			err = errStageFault
		}
	}()
	copy(s.m[s.end:], line)
	s.end += len(line)
	return nil
}

// errStageFault reports a fault writing to the mapped staging file.
var errStageFault = errors.New("audit: fault writing the staging file (was it truncated or removed?)")

// pending returns the staged records not yet in the segment, in order.
func (s *stage) pending() (first, second []byte) {
	if s.wrapEnd == 0 {
		return s.m[s.start:s.end], nil
	}
	return s.m[s.start:s.wrapEnd], s.m[:s.end]
}

// written records that the first n pending bytes reached the segment.
func (s *stage) written(n int) {
	if s.wrapEnd != 0 {
		if s.start+n < s.wrapEnd {
			s.start += n
			return
		}
		n -= s.wrapEnd - s.start
		s.start, s.wrapEnd = 0, 0
	}
	s.start += n
	if s.start == s.end {
		s.start, s.end = 0, 0 // empty: start again at the front
	}
}

// openStage opens (creating it if need be) and maps the chain's staging
// file of size bytes (or more, if it is larger already); nil, nil where
// mapping is not supported. Records longer than an eighth of it are
// written straight to the segment.
func openStage(dir string, size int) (*stage, error) {
	f, err := os.OpenFile(filepath.Join(dir, stageFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil {
		if fi.Size() > int64(size) {
			size = int(fi.Size()) // staged records may lie beyond size
		} else if fi.Size() < int64(size) {
			err = f.Truncate(int64(size))
		}
	}
	if err == nil {
		err = allocate(f, int64(size))
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	m, err := mapFile(f, size)
	if err != nil || m == nil {
		f.Close()
		return nil, err
	}
	return &stage{f: f, m: m}, nil
}

// stagedRecord is a record found in a staging file: its line (with the
// newline), its parsed head and its chain hash.
type stagedRecord struct {
	line []byte
	rec  recordLine
	hash [32]byte
}

// stagedRecords reads the staging file of the chain in dir, without
// mapping it, and returns the records there that continue a chain of count
// records ending in hash head, in order: records a writer acknowledged but
// had not yet moved to a segment (it was killed, or is running). A record
// is taken only if it carries the next sequence number and names the
// previous record's hash, so records already in the segment, stale ones from
// earlier rounds, torn ones and ones a running writer is changing are
// left out.
func stagedRecords(dir string, count uint64, head [32]byte) []stagedRecord {
	data, err := os.ReadFile(filepath.Join(dir, stageFile))
	if err != nil {
		return nil
	}
	var recs []stagedRecord
	for b := data; len(b) > 0; {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break
		}
		line := b[:i+1]
		b = b[i+1:]
		if z := bytes.LastIndexByte(line, 0); z >= 0 {
			line = line[z+1:] // the end of an overwritten record, or zeros
		}
		body := line[:len(line)-1]
		j := bytes.Index(body, eventKey)
		if j <= 0 {
			continue
		}
		var r recordLine
		if parseHead(append(slices.Clip(body[:j]), '}'), &r) != nil || r.Seq <= count {
			continue
		}
		recs = append(recs, stagedRecord{line: line, rec: r})
	}
	slices.SortFunc(recs, func(a, b stagedRecord) int { return cmp.Compare(a.rec.Seq, b.rec.Seq) })
	out := recs[:0]
	var hasher chainHasher
	for _, r := range recs {
		if r.rec.Seq != count+1 || !r.rec.follows(head) {
			continue
		}
		r.hash = hasher.next(head, &r.rec, r.line[:len(r.line)-1])
		out = append(out, r)
		count, head = r.rec.Seq, r.hash
	}
	return out
}

// reset empties the staging file (which also brings every page of the
// mapping in, ahead of the requests).
func (s *stage) reset() {
	clear(s.m)
	s.start, s.end, s.wrapEnd = 0, 0, 0
}

func (s *stage) close() error {
	err := unmapFile(s.m)
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("audit: staging: %w", err)
	}
	return nil
}
