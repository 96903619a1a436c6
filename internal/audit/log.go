package audit

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Options configures a Log.
type Options struct {
	// Dir is the audit directory (DATA/audit); it holds one chain per
	// replica.
	Dir string
	// Keys sign heads and digests, newest first; Verify accepts any of
	// them. Use secrets.Keyring.DeriveKeys(KeyPurpose).
	Keys [][]byte
	Now  func() time.Time
	Log  *slog.Logger
	// DigestEvery and DigestInterval say how often a signed digest is
	// appended: every DigestEvery records or DigestInterval (if records
	// were added), whichever comes first, and at Close. Defaults: 1000
	// records, one minute.
	DigestEvery    int
	DigestInterval time.Duration
	// SegmentBytes is the size after which a new segment file starts;
	// default 64 MiB.
	SegmentBytes int64
	// NoSync skips the fsync before a request is released: records still
	// reach the operating system first (surviving a killed process), and
	// reach the disk within SyncInterval (a power loss may lose the newest
	// records written in that interval).
	NoSync bool
	// SyncInterval, with NoSync, is how often written records are fsynced
	// in the background; zero never syncs them except with digests.
	SyncInterval time.Duration
	// AccountOfKey names the account owning a long-term access key, to
	// attribute requests that failed authentication; optional.
	AccountOfKey func(accessKeyID string) (string, bool)
}

// ErrClosed is returned by Record after Close.
var ErrClosed = errors.New("audit: log closed")

// Log is the audit log of one replica: a writer for its own chain and an
// index over every chain in the directory. It is safe for concurrent use.
type Log struct {
	opts  Options
	chain string
	dir   string
	lock  *os.File
	idx   *index
	calls sync.Map // *authz.Caller → *Call, while a request is served

	batches, records atomic.Uint64
	// inflight counts requests between Begin and the end of Finish: the
	// writer waits briefly (maxCommitDelay) while there are more of them
	// than records in the batch (commit siblings), so that one write and
	// one fsync serve more requests.
	inflight atomic.Int64
	delay    *time.Timer

	mu     sync.Mutex
	cur    *batch
	closed bool
	kick   chan struct{}
	stop   chan struct{}
	done   chan struct{}

	// Writer state, owned by the writer goroutine.
	seg         *os.File
	segID       uint32
	segSize     int64 // end of the data in seg
	segAlloc    int64 // bytes of seg written (data and zeros)
	resumeEnd   int64 // end of the data in the last segment of a resumed chain
	head        *os.File
	digests     *os.File
	seq         uint64
	prev        [32]byte
	lastDigest  string // signature of the previous digest
	digestCount uint64
	sinceDigest int
	buf         []byte
	err         error // sticky: once a write fails, every batch fails
}

type batch struct {
	items []entry
	done  chan struct{}
	err   error
}

type entry struct {
	event []byte
	meta  meta
}

func newBatch() *batch { return &batch{done: make(chan struct{})} }

// Open opens the audit directory: it indexes every chain in it, then
// continues a chain no other process holds (if it verifies) or starts a
// new one.
func Open(opts Options) (*Log, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.DigestEvery <= 0 {
		opts.DigestEvery = 1000
	}
	if opts.DigestInterval <= 0 {
		opts.DigestInterval = time.Minute
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = 64 << 20
	}
	if len(opts.Keys) == 0 {
		return nil, errors.New("audit: no signing key")
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit directory: %w", err)
	}
	l := &Log{opts: opts, idx: newIndex(), cur: newBatch(), kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	ents, err := os.ReadDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	var loaded []meta
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		chain := e.Name()
		dir := filepath.Join(opts.Dir, chain)
		metas, cr, st, err := l.load(dir, chain)
		if err != nil {
			l.idx.close()
			return nil, fmt.Errorf("audit chain %s: %w", chain, err)
		}
		if len(cr.Problems) > 0 {
			opts.Log.Error("audit chain fails verification (run iamd audit verify)", "chain", chain, "problems", cr.Problems)
		}
		loaded = append(loaded, metas...)
		if l.chain != "" {
			continue
		}
		lock, err := tryLock(dir)
		if err != nil {
			continue // another process writes this chain
		}
		if len(cr.Problems) > 0 {
			// Left as evidence; a new chain starts.
			unlock(lock)
			continue
		}
		if err := resume(st); err != nil {
			unlock(lock)
			l.idx.close()
			return nil, err
		}
		l.chain, l.dir, l.lock = chain, dir, lock
		l.seq, l.prev, l.resumeEnd = st.count, st.head, st.end
		if st.tornPath != "" {
			l.resumeEnd = st.tornAt
		}
	}
	l.idx.addLoaded(loaded)
	if l.chain == "" {
		if err := l.create(); err != nil {
			l.idx.close()
			return nil, err
		}
	}
	if err := l.openFiles(); err != nil {
		l.idx.close()
		unlock(l.lock)
		return nil, err
	}
	go l.run()
	return l, nil
}

// load indexes one chain and verifies it.
func (l *Log) load(dir, chain string) ([]meta, *ChainReport, *scanned, error) {
	var metas []meta
	files := make(map[string]uint32)
	cr, st, err := verifyChain(dir, chain, l.opts.Keys, func(path string, off int64, line []byte, rec *recordLine) {
		start, end, ok := eventSpan(line)
		if !ok {
			return
		}
		id, ok := files[path]
		if !ok {
			f, err := os.Open(path)
			if err != nil {
				return
			}
			id = l.idx.addSegment(f)
			files[path] = id
		}
		m := metaOfRecord(rec)
		m.seg, m.off, m.n = id, off+int64(start), uint32(end-start)
		metas = append(metas, m)
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return metas, cr, st, nil
}

// resume prepares a verified chain to be continued: an incomplete last
// record (a write cut short by a crash, so never acknowledged) is dropped.
func resume(st *scanned) error {
	if st.tornPath == "" {
		return nil
	}
	return os.Truncate(st.tornPath, st.tornAt)
}

func (l *Log) create() error {
	var b [8]byte
	_, _ = rand.Read(b[:])
	chain := hex.EncodeToString(b[:])
	dir := filepath.Join(l.opts.Dir, chain)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("audit chain: %w", err)
	}
	lock, err := tryLock(dir)
	if err != nil {
		return err
	}
	l.chain, l.dir, l.lock = chain, dir, lock
	l.seq, l.prev = 0, genesis(chain)
	return syncDir(l.opts.Dir)
}

func (l *Log) openFiles() error {
	segs, err := segments(l.dir)
	if err != nil {
		return err
	}
	if len(segs) == 0 {
		if err := l.newSegment(); err != nil {
			return err
		}
	} else {
		last := segs[len(segs)-1]
		f, err := os.OpenFile(last.path, os.O_RDWR, 0o600)
		if err != nil {
			return err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		r, err := os.Open(last.path)
		if err != nil {
			f.Close()
			return err
		}
		l.seg, l.segSize, l.segAlloc, l.segID = f, l.resumeEnd, fi.Size(), l.idx.addSegment(r)
	}
	if l.head, err = os.OpenFile(filepath.Join(l.dir, headFile), os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return err
	}
	dpath := filepath.Join(l.dir, digestsFile)
	ds, torn, err := readDigests(dpath)
	if err != nil {
		return err
	}
	if torn {
		if fi, err := os.Stat(dpath); err == nil {
			data, _ := os.ReadFile(dpath)
			keep := int64(0)
			for i := len(data) - 1; i >= 0; i-- {
				if data[i] == '\n' {
					keep = int64(i + 1)
					break
				}
			}
			if keep < fi.Size() {
				_ = os.Truncate(dpath, keep)
			}
		}
	}
	if len(ds) > 0 {
		l.lastDigest, l.digestCount = ds[len(ds)-1].Sig, ds[len(ds)-1].Count
	}
	if l.digests, err = os.OpenFile(dpath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err != nil {
		return err
	}
	return nil
}

func (l *Log) newSegment() error {
	path := filepath.Join(l.dir, segmentName(l.seq+1))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	r, err := os.Open(path)
	if err != nil {
		f.Close()
		return err
	}
	if l.seg != nil {
		l.seg.Close()
	}
	l.seg, l.segSize, l.segAlloc, l.segID = f, 0, 0, l.idx.addSegment(r)
	return syncDir(l.dir)
}

// preallocChunk is how far ahead of the data a segment is filled with
// zeros. Overwriting allocated blocks lets fdatasync flush data alone,
// without a journal commit for a new file size: about a third of the cost
// of fsync after an append on ext4.
const preallocChunk = 4 << 20

var zeros = make([]byte, 1<<20)

// reserve makes sure n more bytes of seg are allocated.
func (l *Log) reserve(n int64) error {
	for l.segAlloc < l.segSize+n {
		if _, err := l.seg.WriteAt(zeros, l.segAlloc); err != nil {
			return fmt.Errorf("audit: preallocate: %w", err)
		}
		l.segAlloc += int64(len(zeros))
	}
	if l.segAlloc < l.segSize+n+preallocChunk/2 {
		for end := l.segAlloc + preallocChunk; l.segAlloc < end; l.segAlloc += int64(len(zeros)) {
			if _, err := l.seg.WriteAt(zeros, l.segAlloc); err != nil {
				return fmt.Errorf("audit: preallocate: %w", err)
			}
		}
	}
	return nil
}

// Chain returns the name of the chain this process writes.
func (l *Log) Chain() string { return l.chain }

// Record appends ev and returns once it is durable (written and, unless
// NoSync, fsynced), or the error that kept it from being so. EventID,
// EventVersion, EventType and EventCategory are filled in if empty.
func (l *Log) Record(ctx context.Context, ev *Event) error {
	if ev.EventID == "" {
		ev.EventID = NewEventID()
	}
	if ev.EventVersion == "" {
		ev.EventVersion = EventVersion
	}
	if ev.EventType == "" {
		ev.EventType = TypeAPICall
	}
	if ev.EventCategory == "" {
		ev.EventCategory = "Management"
		ev.ManagementEvent = true
	}
	if ev.EventTime == "" {
		ev.EventTime = FormatTime(l.opts.Now())
	}
	if ev.RequestParameters == nil {
		ev.RequestParameters = json.RawMessage("null")
	}
	if ev.ResponseElements == nil {
		ev.ResponseElements = json.RawMessage("null")
	}
	if !ev.trusted {
		for _, raw := range []*json.RawMessage{&ev.RequestParameters, &ev.ResponseElements, &ev.AdditionalEventData} {
			if len(*raw) > 0 && !json.Valid(*raw) {
				return fmt.Errorf("audit: event %s has invalid JSON", ev.EventName)
			}
		}
	}
	e := entry{event: appendEvent(make([]byte, 0, 1024), ev), meta: metaOfEvent(ev)}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	b := l.cur
	b.items = append(b.items, e)
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
	// The batch completes promptly whatever ctx says: a request whose
	// client went away still must not be answered before its event lands.
	<-b.done
	return b.err
}

func (l *Log) run() {
	defer close(l.done)
	t := time.NewTicker(l.opts.DigestInterval)
	defer t.Stop()
	var syncC <-chan time.Time
	if l.opts.NoSync && l.opts.SyncInterval > 0 {
		st := time.NewTicker(l.opts.SyncInterval)
		defer st.Stop()
		syncC = st.C
	}
	synced := l.seq
	for {
		select {
		case <-syncC:
			if l.seq != synced && l.err == nil {
				if err := datasync(l.seg); err != nil {
					l.fail(fmt.Errorf("audit: sync: %w", err))
				} else if err := datasync(l.head); err != nil {
					l.fail(fmt.Errorf("audit: sync head: %w", err))
				}
				synced = l.seq
			}
		case <-l.kick:
			l.flush()
		case <-t.C:
			if l.sinceDigest > 0 && l.err == nil {
				if err := l.writeDigest(); err != nil {
					l.fail(err)
				}
			}
		case <-l.stop:
			l.flush()
			if l.err == nil && (l.sinceDigest > 0 || l.digestCount != l.seq) {
				if err := l.writeDigest(); err != nil {
					l.fail(err)
				}
			}
			return
		}
	}
}

func (l *Log) fail(err error) {
	if l.err == nil {
		l.err = err
		l.opts.Log.Error("audit log write failed; requests are refused until restart", "err", err)
	}
}

// maxCommitDelay bounds how long the writer waits for requests in flight
// to join a batch.
const maxCommitDelay = time.Millisecond

// maxNoSyncDelay is maxCommitDelay when events are not fsynced before
// answering.
const maxNoSyncDelay = 200 * time.Microsecond

func (l *Log) flush() {
	for {
		l.mu.Lock()
		b := l.cur
		if len(b.items) == 0 {
			l.mu.Unlock()
			return
		}
		if n := len(b.items); n < 256 && int64(n) < l.inflight.Load() {
			// Others are being served and will record soon: give them
			// until maxCommitDelay to join.
			l.mu.Unlock()
			l.waitSiblings(b)
			l.mu.Lock()
		}
		l.cur = newBatch()
		l.mu.Unlock()
		if l.err == nil {
			if err := l.write(b.items); err != nil {
				l.fail(err)
			}
		}
		b.err = l.err
		close(b.done)
	}
}

// waitSiblings waits until every request in flight joined b, or
// maxCommitDelay passed.
func (l *Log) waitSiblings(b *batch) {
	d := maxCommitDelay
	if l.opts.NoSync {
		// Without an fsync to share, a batch only shares a write and a
		// signed head: wait less.
		d = maxNoSyncDelay
	}
	if l.delay == nil {
		l.delay = time.NewTimer(d)
	} else {
		l.delay.Reset(d)
	}
	defer l.delay.Stop()
	for {
		select {
		case <-l.kick:
		case <-l.delay.C:
			return
		}
		l.mu.Lock()
		n := len(b.items)
		l.mu.Unlock()
		if int64(n) >= l.inflight.Load() {
			return
		}
	}
}

var (
	seqPrefix  = []byte(`{"seq":`)
	prevPrefix = []byte(`,"prev":"`)
)

// write appends a batch, makes it durable, signs the new head and indexes
// the records.
func (l *Log) write(items []entry) error {
	if l.segSize > 0 && l.segSize >= l.opts.SegmentBytes {
		if err := l.newSegment(); err != nil {
			return err
		}
	}
	buf := l.buf[:0]
	seq, prev := l.seq, l.prev
	for i := range items {
		e := &items[i]
		seq++
		start := len(buf)
		buf = append(buf, seqPrefix...)
		buf = strconv.AppendUint(buf, seq, 10)
		buf = append(buf, prevPrefix...)
		buf = hex.AppendEncode(buf, prev[:])
		buf = appendMeta(buf, &e.meta)
		buf = append(buf, eventKey...)
		evStart := len(buf)
		buf = append(buf, e.event...)
		buf = append(buf, '}')
		prev = sha256.Sum256(buf[start:])
		buf = append(buf, '\n')
		e.meta.seg, e.meta.off, e.meta.n = l.segID, l.segSize+int64(evStart), uint32(len(e.event))
	}
	if cap(buf) <= 1<<20 {
		l.buf = buf
	}
	if err := l.reserve(int64(len(buf))); err != nil {
		return err
	}
	if _, err := l.seg.WriteAt(buf, l.segSize); err != nil {
		return fmt.Errorf("audit: write: %w", err)
	}
	if !l.opts.NoSync {
		if err := datasync(l.seg); err != nil {
			return fmt.Errorf("audit: sync: %w", err)
		}
	}
	l.segSize += int64(len(buf))
	l.seq, l.prev = seq, prev
	if err := l.writeHead(); err != nil {
		return err
	}
	l.sinceDigest += len(items)
	if l.sinceDigest >= l.opts.DigestEvery {
		if err := l.writeDigest(); err != nil {
			return err
		}
	}
	ms := make([]meta, len(items))
	for i := range items {
		ms[i] = items[i].meta
	}
	l.idx.append(ms)
	l.batches.Add(1)
	l.records.Add(uint64(len(items)))
	return nil
}

// Stats returns how many batches and records this process has written.
func (l *Log) Stats() (batches, records uint64) { return l.batches.Load(), l.records.Load() }

func (l *Log) state() signed {
	return signed{Chain: l.chain, Count: l.seq, Head: hex.EncodeToString(l.prev[:]), Time: l.opts.Now().UTC().Format(time.RFC3339Nano)}
}

// writeHead overwrites one of the two head slots (alternating, so that a
// torn write leaves the other intact). It is written after the records it
// covers are durable; the head itself is only fsynced with digests, so
// after a power loss it may lag the records, never lead them.
func (l *Log) writeHead() error {
	s := l.state()
	s.sign("head", l.opts.Keys[0])
	data, err := json.Marshal(&s)
	if err != nil {
		return err
	}
	if len(data) >= headSlot {
		return fmt.Errorf("audit: head record of %d bytes exceeds its slot", len(data))
	}
	slot := make([]byte, headSlot)
	copy(slot, data)
	for i := len(data); i < headSlot-1; i++ {
		slot[i] = ' '
	}
	slot[headSlot-1] = '\n'
	if _, err := l.head.WriteAt(slot, int64(l.seq%2)*headSlot); err != nil {
		return fmt.Errorf("audit: write head: %w", err)
	}
	return nil
}

// writeDigest appends a signed digest chained to the previous one, and
// logs it so that a copy exists outside the data directory.
func (l *Log) writeDigest() error {
	s := l.state()
	s.Prev = l.lastDigest
	s.sign("digest", l.opts.Keys[0])
	data, err := json.Marshal(&s)
	if err != nil {
		return err
	}
	if _, err := l.digests.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("audit: write digest: %w", err)
	}
	if !l.opts.NoSync {
		if err := datasync(l.digests); err != nil {
			return fmt.Errorf("audit: sync digest: %w", err)
		}
		if err := datasync(l.head); err != nil {
			return fmt.Errorf("audit: sync head: %w", err)
		}
	}
	l.lastDigest, l.digestCount, l.sinceDigest = s.Sig, s.Count, 0
	l.opts.Log.Info("audit digest", "chain", s.Chain, "count", s.Count, "head", s.Head, "sig", s.Sig)
	return nil
}

// Close writes pending records and a final digest, and closes the files.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	err := l.err
	for _, f := range []*os.File{l.seg, l.head, l.digests} {
		if f != nil {
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
	}
	l.idx.close()
	unlock(l.lock)
	return err
}

func tryLock(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func unlock(f *os.File) {
	if f != nil {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// appendMeta appends the closing quote of prev and the meta object.
func appendMeta(b []byte, m *meta) []byte {
	b = append(b, `","meta":{"t":`...)
	b = strconv.AppendInt(b, m.time, 10)
	b = appendField(b, "a", m.account)
	b = appendField(b, "n", m.name)
	b = appendField(b, "s", m.source)
	b = appendField(b, "u", m.user)
	b = appendField(b, "k", m.key)
	b = appendField(b, "i", m.id)
	b = append(b, `,"ro":`...)
	b = strconv.AppendBool(b, m.readOnly)
	b = append(b, `,"res":`...)
	b = appendResources(b, m.res)
	return append(b, '}')
}

func appendResources(b []byte, res []Resource) []byte {
	b = append(b, '[')
	for i, r := range res {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = appendString(b, r.Type)
		b = append(b, ',')
		b = appendString(b, r.Name)
		b = append(b, ']')
	}
	return append(b, ']')
}
