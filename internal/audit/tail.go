package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ChainRecord is one record of a chain as a Tail reads it: the lookup
// attributes the record line repeats, and the CloudTrail record.
type ChainRecord struct {
	Seq         uint64
	Time        int64 // Unix seconds
	Account     string
	EventName   string
	Source      string
	Username    string
	AccessKeyID string
	EventID     string
	ReadOnly    bool
	Resources   []Resource
	// Event is the CloudTrail record; valid only during the callback.
	Event []byte
}

// ChainDir is the directory of the chain this process writes.
func (l *Log) ChainDir() string { return l.dir }

// Written moves the staged records to the segment and returns the
// sequence number of the newest record this process's chain holds: a Tail
// of the chain reading up to it sees every record written before the call.
func (l *Log) Written() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed && l.err == nil {
		if err := l.flushStaged(true); err != nil {
			return l.flushedSeq
		}
	}
	return l.flushedSeq
}

// Tail reads a chain's records in order, from a sequence number on, and
// keeps its place between calls, so that a reader follows the chain as it
// grows. It reads the files only, without the writer's locks: a record is
// seen once it is in its segment (see Log.Written). It does not verify the
// chain (see Verify). A Tail is not safe for concurrent use.
type Tail struct {
	dir  string
	next uint64 // the next record wanted

	cur  segmentFile
	f    io.ReadCloser // cur, open
	file *os.File      // cur, if uncompressed: read at off
	rd   *bufio.Reader // cur, if compressed: read in order
	off  int64
	buf  []byte
	head []byte
	ev   []byte // the record's event, rendered (renderEvent)
	rec  ChainRecord
}

// tailChunk is how much of a segment a Tail reads at a time.
const tailChunk = 256 << 10

// NewTail returns a Tail of the chain in dir that reads the records after
// record number after.
func NewTail(dir string, after uint64) *Tail {
	return &Tail{dir: dir, next: after + 1}
}

// Next is the sequence number of the next record the Tail will read.
func (t *Tail) Next() uint64 { return t.next }

// Close closes the segment being read.
func (t *Tail) Close() {
	if t.f != nil {
		t.f.Close()
		t.f, t.file, t.rd = nil, nil, nil
	}
}

// Read calls fn with each record after the last one read, up to max of
// them, and returns how many it read. A record missing from the chain
// (removed by retention, or damaged) is skipped. If fn fails, Read returns
// its error and the record is read again by the next call.
func (t *Tail) Read(max int, fn func(*ChainRecord) error) (int, error) {
	n := 0
	for n < max {
		if t.f == nil {
			ok, err := t.open()
			if err != nil || !ok {
				return n, err
			}
		}
		got, err := t.readSegment(max-n, fn)
		n += got
		if err != nil {
			return n, err
		}
		if got > 0 {
			continue
		}
		// Nothing more in this segment for now. A later segment means this
		// one is finished: read it once more (its last records may have
		// been written since), then move on.
		later, err := t.later()
		if err != nil || later == nil {
			return n, err
		}
		got, err = t.readSegment(max-n, fn)
		n += got
		if err != nil || got > 0 {
			if err != nil {
				return n, err
			}
			continue
		}
		t.Close()
		t.cur = *later
		if err := t.openCur(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// open opens the segment holding the next record (or the first one after
// it); ok is false if the chain has no segment yet.
func (t *Tail) open() (ok bool, err error) {
	segs, err := segments(t.dir)
	if err != nil || len(segs) == 0 {
		if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
		return false, err
	}
	t.cur = segs[0]
	for _, s := range segs {
		if s.first <= t.next {
			t.cur = s
		}
	}
	return true, t.openCur()
}

func (t *Tail) openCur() error {
	path := t.cur.path
	if !isCompressed(path) {
		f, err := os.Open(path)
		if err == nil {
			t.f, t.file, t.off = f, f, 0
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		path = compressedForm(path) // compressed since it was listed
	}
	f, err := openSegment(path)
	if err != nil {
		return err
	}
	t.f, t.file, t.rd, t.off = f, nil, bufio.NewReaderSize(f, tailChunk), 0
	return nil
}

// later returns the segment after the current one, or nil.
func (t *Tail) later() (*segmentFile, error) {
	segs, err := segments(t.dir)
	if err != nil {
		return nil, err
	}
	for _, s := range segs {
		if s.first > t.cur.first {
			return &s, nil
		}
	}
	return nil, nil
}

// readSegment reads up to max records of the current segment that are
// complete, and returns how many it passed to fn.
func (t *Tail) readSegment(max int, fn func(*ChainRecord) error) (int, error) {
	n := 0
	for n < max {
		line, err := t.line()
		if err != nil || line == nil {
			return n, err
		}
		emitted, err := t.emit(line[:len(line)-1], fn)
		if err != nil {
			return n, err
		}
		t.off += int64(len(line))
		if emitted {
			n++
		}
	}
	return n, nil
}

// line returns the next complete line of the current segment (with its
// newline), or nil if there is none yet. It does not advance.
func (t *Tail) line() ([]byte, error) {
	if t.rd != nil {
		b, err := t.rd.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long := append([]byte(nil), b...)
			for err == bufio.ErrBufferFull {
				b, err = t.rd.ReadSlice('\n')
				long = append(long, b...)
			}
			b = long
		}
		if err == io.EOF || (len(b) > 0 && b[0] == 0) {
			return nil, nil
		}
		return b, err
	}
	size := tailChunk
	for {
		if cap(t.buf) < size {
			t.buf = make([]byte, size)
		}
		buf := t.buf[:size]
		m, err := t.file.ReadAt(buf, t.off)
		if err != nil && err != io.EOF {
			return nil, err
		}
		buf = buf[:m]
		if z := bytes.IndexByte(buf, 0); z >= 0 {
			buf = buf[:z] // the preallocated zeros after the data
		}
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			return buf[:i+1], nil
		}
		if len(buf) < size {
			return nil, nil // an incomplete last record, or none
		}
		size *= 2 // a record longer than the chunk
	}
}

// emit passes the record line to fn if it is the next one wanted.
func (t *Tail) emit(body []byte, fn func(*ChainRecord) error) (bool, error) {
	i := bytes.Index(body, eventKey)
	s, e, ok := eventSpan(body)
	if i <= 0 || !ok {
		return false, nil // damaged: verify reports it
	}
	t.head = append(append(t.head[:0], body[:i]...), '}')
	var rec recordLine
	if parseHead(t.head, &rec) != nil || rec.Seq < t.next {
		return false, nil //nolint:nilerr // damaged (verify reports it), or read before
	}
	m := &rec.Meta
	r := &t.rec
	*r = ChainRecord{
		Seq: rec.Seq, Time: m.Time, Account: m.Account, EventName: m.Name, Source: m.Source, Username: m.User,
		AccessKeyID: m.Key, EventID: m.ID, ReadOnly: m.ReadOnly, Resources: r.Resources[:0],
	}
	t.ev = renderEvent(t.ev[:0], body[s:e], m)
	r.Event = t.ev
	for _, p := range m.Res {
		r.Resources = append(r.Resources, Resource{Type: p[0], Name: p[1]})
	}
	if err := fn(r); err != nil {
		return false, fmt.Errorf("audit: chain %s record %d: %w", filepath.Base(t.dir), rec.Seq, err)
	}
	t.next = rec.Seq + 1
	return true, nil
}
