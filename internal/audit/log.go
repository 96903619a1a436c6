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
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/iamd/iamd/internal/uuid"
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
	// default 16 MiB: a start verifies and indexes the open segment, so
	// its size bounds the start's cost.
	SegmentBytes int64
	// NoSync skips the fsync before a request is released: records still
	// reach the operating system first (surviving a killed process), and
	// reach the disk within SyncInterval (a power loss may lose the newest
	// records written in that interval).
	NoSync bool
	// SyncInterval, with NoSync, is how often written records are fsynced
	// in the background; zero never syncs them except with digests.
	SyncInterval time.Duration
	// Retention is how long events are kept: sealed segments whose
	// events are all older are removed (see applyRetention). Zero keeps
	// everything.
	Retention time.Duration
	// AccountOfKey names the account owning a long-term access key, to
	// attribute requests that failed authentication; optional.
	AccountOfKey func(accessKeyID string) (string, bool)

	stageBytes int // size of the staging file; tests make it small
}

// DefaultSegmentBytes is the default Options.SegmentBytes.
const DefaultSegmentBytes = 16 << 20

// ErrClosed is returned by Record after Close.
var ErrClosed = errors.New("audit: log closed")

// ErrUnavailable is returned by Record, wrapped with its cause, while the
// trail cannot be written (a full disk, say): the record was not taken,
// and a later one may be, once writes succeed again.
var ErrUnavailable = errors.New("audit: the trail cannot be written for now")

// syncError is a failed fsync. Unlike a failed write, it is not retried:
// after one, the operating system may have dropped the records it was to
// flush, so the log refuses requests until a restart verifies the trail.
type syncError struct{ err error }

func (e *syncError) Error() string { return e.err.Error() }
func (e *syncError) Unwrap() error { return e.err }

// writeRetry is how often headDue tries the writes again while they fail.
const writeRetry = 100 * time.Millisecond

// Log is the audit log of one replica: a writer for its own chain and an
// index over every chain in the directory. It is safe for concurrent use.
type Log struct {
	opts  Options
	chain string
	dir   string
	lock  *os.File
	trail *trail
	// sealWG counts the segments being sealed (their index files written).
	sealWG sync.WaitGroup
	// sealBufs keeps a seal's buffers for the next.
	sealBufs sealSlot

	// Per-request garbage avoided: Calls and encoded events are reused,
	// and the formatted event time is kept for the current second.
	callPool  sync.Pool // *Call
	eventBufs sync.Pool // *recordBuf
	clock     atomic.Pointer[formattedSecond]

	records atomic.Uint64
	stop    chan struct{} // closed by Close
	done    chan struct{} // closed when run ends

	// mu guards the chain's write state below. Each request appends its
	// own record under it with one write (the chain hash makes records
	// sequential anyway); no goroutine hand-off, no batching delay.
	mu     sync.Mutex
	closed bool
	err    error // sticky: after a failed fsync (or staging fault) every request fails until a restart
	// writeErr is the last failure to write the chain's files (a full
	// disk, say), which a later write may overcome: while it is set, new
	// records are refused (ErrUnavailable) until the staged ones reach
	// the segment, which the next record or headDue tries again.
	writeErr    error
	seg         *os.File
	cur         *index // the in-memory index of seg
	curUnit     *unit
	segFirst    uint64   // sequence number of seg's first record
	segPrev     [32]byte // chain hash before it
	segSize     int64    // end of the data in seg
	segAlloc    int64    // bytes of seg written (data and zeros)
	resumeEnd   int64    // end of the data in the last segment of a resumed chain
	head        *os.File
	digests     *os.File
	seq         uint64
	prev        [32]byte
	lastDigest  string // signature of the previous digest
	digestCount uint64
	digestN     int   // digests written
	digestsSize int64 // bytes of digests.log, counting those retention cut
	// digestsShift is digestsSize minus the file's size, and digestsBase
	// the offset of the file's first digest (see digestsCut); both count
	// the bytes retention cut.
	digestsShift, digestsBase int64
	lastDigestAt              int64 // offset of the last digest written
	sinceDigest               int
	headSeq                   uint64 // count of records the head file covers
	headWrites                uint64
	headTimer                 *time.Timer // pending head write (NoSync), nil if none

	// stage holds the records not yet in the segment (NoSync; nil
	// otherwise, or where files cannot be mapped). The segment holds the
	// chain up to flushedSeq (hash flushedPrev), ending at flushedEnd;
	// heads and digests cover only that much. flushing is set while a
	// staged batch is written with mu released; flushCond (on mu) is
	// signalled when it is done.
	stage       *stage
	flushing    bool
	flushCond   *sync.Cond
	flushedSeq  uint64
	flushedPrev [32]byte
	flushedEnd  int64
	headLag     time.Duration // maxHeadLag; tests lengthen it

	// segMu guards the swap of seg (under mu) against fsyncs of it, which
	// run outside mu so that appends continue meanwhile, and retired: the
	// finished segments syncLoop has yet to fsync and close (NoSync).
	segMu   sync.Mutex
	retired []*os.File
	// Group fsync (not NoSync): one request at a time fsyncs, covering
	// every record written before it started; the others wait for it.
	smu     sync.Mutex
	scond   *sync.Cond
	syncing bool
	synced  uint64
	// written is seq for syncLoop (NoSync background fsync), and
	// writtenEnd the end of the data written to the current segment.
	written    atomic.Uint64
	writtenEnd atomic.Int64
	syncDone   chan struct{} // closed when syncLoop ends; nil without it
	syncFailed chan error
}

// formattedSecond is a Unix second and its CloudTrail form.
type formattedSecond struct {
	unix int64
	text string
}

// formatTime is FormatTime, formatting each second once.
func (l *Log) formatTime(t time.Time) string {
	sec := t.Unix()
	if f := l.clock.Load(); f != nil && f.unix == sec {
		return f.text
	}
	f := &formattedSecond{unix: sec, text: FormatTime(t)}
	l.clock.Store(f)
	return f.text
}

// recordBuf is a buffer Record builds a record in, pooled (a pointer, so
// that putting it back allocates nothing).
type recordBuf struct{ b []byte }

func (l *Log) getRecordBuf() *recordBuf {
	if rb, ok := l.eventBufs.Get().(*recordBuf); ok {
		return rb
	}
	return &recordBuf{b: make([]byte, 0, 1536)}
}

func (l *Log) putRecordBuf(rb *recordBuf) {
	if cap(rb.b) <= 16<<10 {
		l.eventBufs.Put(rb)
	}
}

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
	if opts.stageBytes <= 0 {
		opts.stageBytes = stageSize
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	if len(opts.Keys) == 0 {
		return nil, errors.New("audit: no signing key")
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit directory: %w", err)
	}
	l := &Log{opts: opts, trail: newTrail(opts.Keys, opts.Log), syncFailed: make(chan error, 1), stop: make(chan struct{}), done: make(chan struct{})}
	l.scond = sync.NewCond(&l.smu)
	l.flushCond = sync.NewCond(&l.mu)
	l.headLag = maxHeadLag
	ents, err := os.ReadDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	var base verifyFrom // the digests of the resumed chain up to its last checkpoint
	var old []*unit     // its sealed segments not compressed yet
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		chain := e.Name()
		dir := filepath.Join(opts.Dir, chain)
		// A chain no other process holds may be tidied up, and continued.
		lock, lockErr := tryLock(dir)
		if lockErr == nil {
			l.cleanChain(dir)
		}
		ld, err := l.loadChain(dir, chain, lockErr == nil)
		if err != nil {
			if lockErr == nil {
				unlock(lock)
			}
			l.trail.close()
			unlock(l.lock)
			return nil, fmt.Errorf("audit chain %s: %w", chain, err)
		}
		cr, st := ld.cr, ld.st
		if len(cr.Problems) > 0 {
			opts.Log.Error("audit chain fails verification (run iamd audit verify)", "chain", chain, "problems", cr.Problems)
		}
		if lockErr != nil {
			continue // another process writes this chain
		}
		if l.chain != "" {
			unlock(lock)
			continue
		}
		if len(cr.Problems) > 0 {
			// Left as evidence; a new chain starts.
			unlock(lock)
			continue
		}
		if err := resume(st); err != nil {
			unlock(lock)
			l.trail.close()
			return nil, err
		}
		l.chain, l.dir, l.lock = chain, dir, lock
		l.seq, l.prev, l.resumeEnd = st.count, st.head, st.end
		if st.tornPath != "" {
			l.resumeEnd = st.tornAt
		}
		l.cur, l.curUnit, l.segFirst, l.segPrev = ld.last, ld.lastUnit, ld.lastFirst, ld.lastPrev
		base = ld.from
		old = ld.uncompressed
	}
	if l.chain == "" {
		if err := l.create(); err != nil {
			l.trail.close()
			return nil, err
		}
	}
	if err := l.openFiles(base); err != nil {
		l.trail.close()
		unlock(l.lock)
		return nil, err
	}
	l.flushedSeq, l.flushedPrev, l.flushedEnd = l.seq, l.prev, l.segSize
	if err := l.openStage(); err != nil {
		_ = l.closeFiles() // the staging error is the one to report
		l.trail.close()
		unlock(l.lock)
		return nil, err
	}
	go l.run()
	if len(old) > 0 {
		l.sealWG.Add(1)
		go l.compressOld(old)
	}
	if opts.NoSync && opts.SyncInterval > 0 {
		l.syncDone = make(chan struct{})
		go l.syncLoop()
	}
	return l, nil
}

// loaded is what loadChain found in one chain.
type loaded struct {
	cr *ChainReport
	st *scanned
	// The last segment: its in-memory index and unit (nil if the chain
	// has no segment), first record and the chain hash before it.
	last      *index
	lastUnit  *unit
	lastFirst uint64
	lastPrev  [32]byte
	// from is where verification started: the last checkpoint.
	from verifyFrom
	// uncompressed are the sealed segments not compressed yet.
	uncompressed []*unit
}

// loadChain verifies one chain from its last valid checkpoint on and adds
// its segments to the trail: sealed ones by their index files (rebuilt
// for those that lack one), the last one indexed in memory. Its cost does
// not depend on the length of the trail before the checkpoint: earlier
// records are taken as verified by the signed checkpoints, each chained to
// the one before (iamd audit verify reads them all).
func (l *Log) loadChain(dir, chain string, locked bool) (*loaded, error) {
	segs, err := segments(dir)
	if err != nil {
		return nil, err
	}
	warn := func(msg string, args ...any) {
		l.opts.Log.Warn(msg, append([]any{"chain", chain}, args...)...)
	}
	head := genesis(chain)
	expect := uint64(1)
	var from verifyFrom
	// After retention, the chain continues from the signed removal.
	rem, err := readRetention(dir, chain, l.opts.Keys)
	if err != nil {
		l.opts.Log.Error("audit: "+err.Error()+": the chain is read from its start", "chain", chain)
	} else if rem != nil {
		if h, ok := hexHash(rem.Head); ok {
			expect, head = rem.Last+1, h
			from = verifyFrom{scanFrom: scanFrom{count: rem.Last, head: h, set: true}}
			for len(segs) > 0 && segs[0].first < expect {
				if locked {
					// Retention was cut short after signing the removal.
					if err := removeSegment(segs[0].path); err != nil {
						return nil, err
					}
				}
				segs = segs[1:]
			}
		}
	}
	var units []*unit
	for i := 0; i+1 < len(segs); i++ {
		sf := segs[i]
		ip := idxPath(sf.path)
		cp, err := readCheckpoint(ip, l.opts.Keys)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				warn("audit: index file unreadable; the segments from it on are read and their index files rebuilt", "file", ip, "err", err)
			}
			break
		}
		fi, serr := os.Stat(sf.path)
		h, herr := hex.DecodeString(cp.Head)
		sizeOK := serr == nil && (isCompressed(sf.path) && cp.ZSize == fi.Size() || !isCompressed(sf.path) && cp.ZSize == 0 && fi.Size() >= cp.Size)
		if cp.Chain != chain || cp.First != sf.first || cp.First != expect || cp.Prev != hex.EncodeToString(head[:]) ||
			!sizeOK || segs[i+1].first != cp.Last+1 || herr != nil || len(h) != 32 {
			warn("audit: checkpoint does not match its segment; the segments from it on are read and their index files rebuilt", "file", ip)
			break
		}
		units = append(units, &unit{chain: chain, first: sf.first, path: sf.path, cp: cp})
		expect, head = cp.Last+1, [32]byte(h)
		from = verifyFrom{scanFrom: scanFrom{count: cp.Last, head: head, set: true},
			digestOff: cp.DigestOff, digestSig: cp.DigestSig, digestCount: cp.DigestCount, digests: cp.Digests}
	}

	// The segments after the last checkpoint are read, each into an
	// in-memory index.
	firstOf := make(map[string]uint64, len(segs))
	for _, sf := range segs {
		firstOf[sf.path] = sf.first
	}
	mems := make(map[string]*index)
	prevOf := make(map[string]string) // chain hash before a segment's first record
	endOf := make(map[string]int64)
	var openErr error
	cr, st, err := verifyChain(dir, chain, l.opts.Keys, from, func(path string, off int64, line []byte, rec *recordLine) {
		x := mems[path]
		if x == nil {
			f, err := os.Open(path)
			if err != nil {
				openErr = err
				return
			}
			x = newIndex(chain, firstOf[path], path, f)
			mems[path], prevOf[path] = x, hex.EncodeToString(rec.before[:])
		}
		endOf[path] = off + int64(len(line)) + 1
		s, e, ok := eventSpan(line)
		if !ok {
			return
		}
		m := metaOfRecord(rec)
		m.seq, m.line, m.off, m.n = rec.Seq, off, off+int64(s), uint32(e-s)
		x.appendMeta(&m)
	})
	if err == nil {
		err = openErr
	}
	if err != nil {
		for _, x := range mems {
			x.close()
		}
		return nil, err
	}
	ld := &loaded{cr: cr, st: st, from: from}
	rest := segs[len(units):]
	for i, sf := range rest {
		x := mems[sf.path]
		last := i == len(rest)-1
		if x == nil {
			if !last {
				continue // no records
			}
			f, err := os.Open(sf.path)
			if err != nil {
				return nil, err
			}
			x = newIndex(chain, sf.first, sf.path, f)
		}
		u := &unit{chain: chain, first: sf.first, path: sf.path, mem: x}
		units = append(units, u)
		if last {
			x.sortLoaded()
			ld.last, ld.lastUnit, ld.lastFirst = x, u, sf.first
			ld.lastPrev = st.head
			if p, ok := prevOf[sf.path]; ok {
				h, _ := hex.DecodeString(p)
				copy(ld.lastPrev[:], h)
			}
			break
		}
		if len(cr.Problems) > 0 {
			x.sortLoaded()
			continue // kept in memory: no checkpoint vouches for a broken chain
		}
		next := rest[i+1]
		cp := &checkpoint{Chain: chain, First: sf.first, Last: next.first - 1, Prev: prevOf[sf.path], Size: endOf[sf.path],
			DigestOff: from.digestOff, DigestSig: from.digestSig, DigestCount: from.digestCount, Digests: from.digests}
		if p, ok := prevOf[next.path]; ok {
			cp.Head = p
		} else {
			cp.Head = hex.EncodeToString(st.head[:])
		}
		if isCompressed(sf.path) {
			// Its frames are known by compressing it again.
			x.mu.RLock()
			cp.MinTime, cp.MaxTime, cp.Events = x.minTime, x.maxTime, int(x.count)
			x.mu.RUnlock()
			x.close()
			units = units[:len(units)-1]
			if !locked {
				l.opts.Log.Error("audit: a compressed segment of a chain another process writes has no valid index file: its events are not found by LookupEvents until that process rebuilds it", "chain", chain, "segment", sf.path)
				continue
			}
			rcp, _, err := rebuildIndex(&sealedRef{chain, sf.path, cp}, l.trail.enc, l.trail.dec, l.opts.Keys)
			if err != nil {
				l.opts.Log.Error("audit: cannot rebuild the index of a compressed segment: its events are not found by LookupEvents (run iamd audit verify)", "chain", chain, "segment", sf.path, "err", err)
				continue
			}
			l.opts.Log.Info("audit: wrote the index of a segment that had none", "chain", chain, "segment", sf.path, "events", rcp.Events)
			units = append(units, &unit{chain: chain, first: sf.first, path: sf.path, cp: rcp})
			continue
		}
		if err := l.writeSealed(x, cp); err != nil {
			warn("audit: cannot write the index of a segment; it stays in memory", "segment", sf.path, "err", err)
			x.sortLoaded()
			continue
		}
		l.opts.Log.Info("audit: wrote the index of a segment that had none", "chain", chain, "segment", sf.path, "events", cp.Events)
		u.cp, u.mem = cp, nil
		x.close()
	}
	for _, u := range units {
		l.trail.add(u)
		if u.cp != nil && !isCompressed(u.path) {
			ld.uncompressed = append(ld.uncompressed, u)
		}
	}
	return ld, nil
}

// writeSealed writes the index file of a segment from its in-memory index.
func (l *Log) writeSealed(x *index, cp *checkpoint) error {
	es, minT, maxT := x.entries()
	cp.MinTime, cp.MaxTime, cp.Events = minT, maxT, len(es)
	return writeIndexFile(idxPath(x.path), cp, buildIndex(es, nil), l.opts.Keys[0], l.trail.enc)
}

// sealJob is a segment the writer moved past, whose index file is due.
type sealJob struct {
	u  *unit
	x  *index
	n  uint32 // its records, all of which x must have indexed first
	cp checkpoint
}

// seal writes the index file of a segment the writer moved past, once
// every event of it is indexed, and then drops its in-memory index. It
// runs beside the writers: nothing of it is under the log's lock.
func (l *Log) seal(j sealJob) {
	defer l.sealWG.Done()
	j.x.wait(j.n)
	s := l.sealBufs.get()
	defer l.sealBufs.put(s)
	err := func() error {
		// The index file never names records that are not on disk.
		f, err := os.Open(j.u.path)
		if err != nil {
			return err
		}
		err = datasync(f)
		f.Close()
		if err != nil {
			return err
		}
		// Compressed first, so that the index file is written once, with
		// the frames. Until the compressed segment is renamed into place,
		// a start reads the uncompressed one (see cleanChain).
		es, minT, maxT := j.x.entriesInto(s)
		j.cp.MinTime, j.cp.MaxTime, j.cp.Events = minT, maxT, len(es)
		zpath := compressedPath(j.u.path)
		frames, zsize, cerr := s.compressSegment(s.s2Frames(), j.u.path, j.cp.Size, zpath+".tmp")
		if cerr != nil {
			l.opts.Log.Error("audit: cannot compress a sealed segment; it stays uncompressed", "segment", j.u.path, "err", cerr)
			return s.writeIndexFile(idxPath(j.u.path), &j.cp, s.buildIndex(es, nil), l.opts.Keys[0], l.trail.enc)
		}
		j.cp.ZSize = zsize
		if err := s.writeIndexFile(idxPath(j.u.path), &j.cp, s.buildIndex(es, frames), l.opts.Keys[0], l.trail.enc); err != nil {
			os.Remove(zpath + ".tmp")
			return err
		}
		if err := os.Rename(zpath+".tmp", zpath); err != nil {
			return err
		}
		return syncDir(l.dir)
	}()
	if err != nil {
		l.opts.Log.Error("audit: cannot write the index of a sealed segment; it stays in memory and is rebuilt at the next start", "segment", j.u.path, "err", err)
		return
	}
	raw := j.u.path
	// The trail keeps a copy: a pointer into j would keep all of j alive,
	// the segment's in-memory index with it, for as long as the trail
	// holds the segment (every segment's index, ~3 MB each, leaked).
	cp := j.cp
	l.trail.sealed(j.u, &cp)
	if j.cp.ZSize > 0 {
		// A lookup reading the old file meanwhile keeps its descriptor,
		// or retries.
		if err := os.Remove(raw); err != nil {
			l.opts.Log.Error("audit: cannot remove a compressed segment's uncompressed form", "segment", raw, "err", err)
		}
	}
}

// compressOld compresses, in the background, the sealed segments of the
// resumed chain that are not compressed yet (written by an older iamd, or
// whose index file was rebuilt at start).
func (l *Log) compressOld(units []*unit) {
	defer l.sealWG.Done()
	for _, u := range units {
		select {
		case <-l.stop:
			return
		default:
		}
		if err := l.trail.compress(u); err != nil {
			l.opts.Log.Error("audit: cannot compress a sealed segment; it stays uncompressed", "segment", u.path, "err", err)
		}
	}
}

// cleanChain finishes or undoes what a compression cut short in a chain
// this process holds: where a segment is there in both forms, the
// compressed one is kept if its index file names it, and the uncompressed
// one otherwise. Temporary files are removed.
func (l *Log) cleanChain(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		name := e.Name()
		path := filepath.Join(dir, name)
		switch {
		case strings.HasSuffix(name, ".tmp"):
			os.Remove(path)
		case isCompressed(name) && strings.HasSuffix(uncompressedPath(name), segmentExt):
			raw := uncompressedPath(path)
			if _, err := os.Stat(raw); err != nil {
				continue
			}
			cp, err := readCheckpoint(idxPath(raw), l.opts.Keys)
			fi, serr := os.Stat(path)
			if err == nil && serr == nil && cp.ZSize == fi.Size() {
				os.Remove(raw)
			} else {
				os.Remove(path)
			}
		}
	}
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
	l.segFirst, l.segPrev = 1, l.prev
	return syncDir(l.opts.Dir)
}

func (l *Log) openFiles(base verifyFrom) error {
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
		l.seg, l.segSize, l.segAlloc = f, l.resumeEnd, fi.Size()
	}
	if l.head, err = os.OpenFile(filepath.Join(l.dir, headFile), os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return err
	}
	dpath := filepath.Join(l.dir, digestsFile)
	// Only the digests after the last checkpoint are read.
	ds, end, torn, cut, err := readDigestsEnd(dpath, base.digestOff)
	if err != nil {
		return err
	}
	if torn {
		_ = os.Truncate(dpath, end-cut.shift)
	}
	before := base.digests
	if cut.cuts(base.digestOff) {
		// Retention cut the digests after the checkpoint; the first kept
		// one signs everything they did.
		before = cut.Digests
	}
	l.lastDigest, l.digestCount, l.digestN, l.digestsSize = base.digestSig, base.digestCount, before+len(ds), end
	l.digestsShift, l.digestsBase, l.lastDigestAt = cut.shift, cut.Base, cut.Base
	if len(ds) > 0 {
		l.lastDigest, l.digestCount = ds[len(ds)-1].Sig, ds[len(ds)-1].Count
	}
	if l.digests, err = os.OpenFile(dpath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err != nil {
		return err
	}
	return nil
}

func (l *Log) newSegment() error {
	// The staged records belong to the finished segment.
	if err := l.flushStaged(false); err != nil {
		return err
	}
	path := filepath.Join(l.dir, segmentName(l.seq+1))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	r, err := os.Open(path)
	if err != nil {
		f.Close()
		os.Remove(path) // so that the next try creates it again
		return err
	}
	if l.cur != nil {
		// The finished segment's index file is written in the background.
		l.sealWG.Add(1)
		go l.seal(sealJob{u: l.curUnit, x: l.cur, n: uint32(l.seq - l.segFirst + 1), cp: checkpoint{
			Chain: l.chain, First: l.segFirst, Last: l.seq, Prev: hex.EncodeToString(l.segPrev[:]), Head: hex.EncodeToString(l.prev[:]),
			Size: l.segSize, DigestOff: l.digestsSize, DigestSig: l.lastDigest, DigestCount: l.digestCount, Digests: l.digestN,
		}})
	}
	l.cur = newIndex(l.chain, l.seq+1, path, r)
	l.curUnit = &unit{chain: l.chain, first: l.seq + 1, path: path, mem: l.cur}
	l.trail.add(l.curUnit)
	l.segFirst, l.segPrev = l.seq+1, l.prev
	l.segMu.Lock()
	defer l.segMu.Unlock()
	if l.seg != nil {
		if l.opts.NoSync {
			// syncLoop fsyncs and closes the finished segment, and the
			// directory, so that no request waits for it.
			l.retired = append(l.retired, l.seg)
		} else {
			// The finished segment's last records reach the disk now:
			// later fsyncs only cover the current segment.
			if err := datasync(l.seg); err != nil {
				f.Close()
				r.Close()
				return &syncError{fmt.Errorf("audit: sync: %w", err)}
			}
			l.seg.Close()
		}
	}
	l.seg, l.segSize, l.segAlloc = f, 0, 0
	l.flushedEnd = 0
	l.writtenEnd.Store(0)
	if l.opts.NoSync && l.syncDone != nil {
		return nil
	}
	if err := syncDir(l.dir); err != nil {
		return &syncError{err}
	}
	return nil
}

// preallocChunk is how far ahead of the data a segment is filled with
// zeros. Overwriting allocated blocks lets fdatasync flush data alone,
// without a journal commit for a new file size: about a third of the cost
// of fsync after an append on ext4.
const preallocChunk = 4 << 20

var zeros = make([]byte, 1<<20)

// reserve makes sure n more bytes of seg are allocated. Without fsync
// (NoSync) it does nothing: the background sync can afford the journal
// commit, and writing each block twice would cost the requests.
func (l *Log) reserve(n int64) error {
	if l.opts.NoSync {
		return nil
	}
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
// NoSync, fsynced), or the error that kept it from being so: wrapping
// ErrUnavailable while the trail cannot be written. EventTime, EventID,
// EventVersion, EventType and EventCategory are filled in if empty (but
// EventID of a Call's event, which only the record needs). An EventID
// given by the caller must be random (version 4) or a version 7 UUID of
// EventTime, as Record makes them: a lookup by a version 7 ID looks only
// at that time.
func (l *Log) Record(ctx context.Context, ev *Event) error {
	if ev.EventTime == "" {
		ev.time = l.opts.Now()
		ev.EventTime = l.formatTime(ev.time)
	}
	var id [16]byte // the EventID made here, which the index need not parse
	if ev.EventID == "" {
		// Time-ordered, of the event's second: a lookup by event ID
		// visits only the segments that hold that second.
		t := ev.time
		if t.IsZero() {
			t, _ = time.Parse(TimeFormat, ev.EventTime)
		}
		id = uuid.V7(t)
		if !ev.trusted {
			// A trusted event (a Call's) is the log's own: its ID goes
			// into the record from id, without a string (see below).
			ev.EventID = uuid.Format(id)
		}
	}
	if ev.EventVersion == "" {
		ev.EventVersion = EventVersion
	}
	if ev.EventType == "" {
		ev.EventType = TypeAPICall
	}
	if ev.EventCategory == "" {
		ev.EventCategory = categoryManagement
		ev.ManagementEvent = true
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
	// The record is built outside the lock, leaving room at the front
	// for its sequence number and the previous record's hash.
	compact := compactable(ev, id)
	if !compact && ev.EventID == "" {
		ev.EventID = uuid.Format(id) // the full form holds it
	}
	m := metaOfEvent(ev)
	m.idBytes = id
	rb := l.getRecordBuf()
	buf := rb.b[:prefixRoom]
	buf = appendMeta(buf, &m)
	buf = append(buf, eventKey...)
	evStart := len(buf)
	buf = appendStoredEvent(buf, ev, compact, l.formatTime(time.Unix(m.time, 0)))
	m.n = uint32(len(buf) - evStart)
	buf = append(buf, '}', '\n')
	l.mu.Lock()
	seq, err := l.append(buf, evStart, &m)
	l.mu.Unlock()
	rb.b = buf
	l.putRecordBuf(rb)
	if m.unit != nil {
		// Written (even if a digest then failed): indexed.
		m.unit.appendOne(&m)
	}
	if err != nil {
		return err
	}
	if l.opts.NoSync {
		return nil
	}
	// The record was written; it is durable once an fsync that started
	// after the write has finished. ctx is not consulted: a request whose
	// client went away still must not be answered before its event lands.
	return l.syncTo(seq)
}

// prefixRoom is the room Record leaves in front of a record's meta: for
// the longest record prefix, and the previous chain hash in front of it,
// which the record's hash covers (see chain.go).
const prefixRoom = 32 + maxRecordPrefix

// append writes one record with l.mu held: rec holds the record from
// offset prefixRoom (meta, event, closing brace and newline; the event
// starts at evStart), and append fills in the prefix in front of it. It
// sets m's position and returns the record's sequence number.
func (l *Log) append(rec []byte, evStart int, m *meta) (uint64, error) {
	n := len(rec) // an upper bound of the line's length (rec has room for its prefix)
	staged := l.stage != nil && n <= len(l.stage.m)/8
	for {
		if l.closed {
			return 0, ErrClosed
		}
		if l.err != nil {
			return 0, l.err
		}
		// Writing the staged records out (before a new segment, before
		// staging starts again at the front, or before a record written
		// directly) needs any background write of them to be over.
		roll := l.segSize > 0 && l.segSize >= l.opts.SegmentBytes
		wrap := staged && !l.stage.room(n)
		if !l.flushing || !(roll || wrap || (!staged && l.stage != nil) || l.writeErr != nil) {
			break
		}
		l.flushCond.Wait()
	}
	if l.writeErr != nil {
		// Records wait in the staging file no longer than they would
		// if writes succeeded: none is taken until they reach the segment.
		if err := l.retryWrites(); err != nil {
			return 0, err
		}
	}
	if l.segSize > 0 && l.segSize >= l.opts.SegmentBytes {
		if err := l.newSegment(); err != nil {
			return 0, l.writeFailed(err)
		}
	}
	seq := l.seq + 1
	var pre [maxRecordPrefix]byte
	p := appendRecordPrefix(pre[:0], seq, l.prev)
	start := prefixRoom - len(p)
	copy(rec[start:], p)
	line := rec[start:]
	// The chain hash covers the previous one, then the line without its
	// newline: the previous one goes in the room in front of the line.
	copy(rec[start-len(l.prev):], l.prev[:])
	prev := sha256.Sum256(rec[start-len(l.prev) : len(rec)-1])
	if staged {
		if !l.stage.room(len(line)) {
			// The background writes fell a whole staging file behind.
			if err := l.flushStaged(false); err != nil {
				return 0, l.writeFailed(err)
			}
		}
		if err := l.stage.put(line); err != nil {
			return 0, l.fail(err)
		}
	} else {
		// A failed write here takes nothing: the next record is written
		// at the same place, over whatever part of this one was.
		if err := l.flushStaged(false); err != nil {
			return 0, l.writeFailed(err)
		}
		if err := l.reserve(int64(len(line))); err != nil {
			return 0, l.writeFailed(err)
		}
		if _, err := l.seg.WriteAt(line, l.segSize); err != nil {
			return 0, l.writeFailed(fmt.Errorf("audit: write: %w", err))
		}
		l.flushedSeq, l.flushedPrev, l.flushedEnd = seq, prev, l.segSize+int64(len(line))
		l.written.Store(seq)
		l.writtenEnd.Store(l.flushedEnd)
	}
	m.seq, m.line, m.off, m.unit = seq, l.segSize, l.segSize+int64(evStart-start), l.cur
	l.segSize += int64(len(line))
	l.seq, l.prev = seq, prev
	l.records.Add(1)
	l.sinceDigest++
	if l.sinceDigest >= l.opts.DigestEvery {
		if err := l.writeDigest(nil); err != nil {
			// The record is in the chain: its request succeeds (unless an
			// fsync failed), and the next record tries the digest again.
			if ferr := l.writeFailed(err); l.err != nil {
				return 0, ferr
			}
		}
	}
	if l.opts.NoSync && l.headTimer == nil && (l.headSeq != l.seq || l.flushedSeq != l.seq) {
		// The staged records reach the segment, and the head follows,
		// within maxHeadLag. (Without NoSync, syncTo writes the head once
		// the records are durable.)
		l.headTimer = time.AfterFunc(l.headLag, l.headDue)
	}
	return seq, nil
}

// flushStaged writes the staged records to the segment (l.mu held; with
// release, l.mu is released during the write, and appends go on staging
// meanwhile). The caller makes sure no other flush is running when it
// does not release.
func (l *Log) flushStaged(release bool) error {
	for release && l.flushing {
		l.flushCond.Wait()
	}
	st := l.stage
	if st == nil || (st.start == st.end && st.wrapEnd == 0) {
		return nil
	}
	first, second := st.pending()
	off, seq, prev, seg := l.flushedEnd, l.seq, l.prev, l.seg
	if release {
		l.flushing = true
		l.mu.Unlock()
	}
	_, err := seg.WriteAt(first, off)
	if err == nil && len(second) > 0 {
		_, err = seg.WriteAt(second, off+int64(len(first)))
	}
	if release {
		l.mu.Lock()
		l.flushing = false
		l.flushCond.Broadcast()
	}
	if err != nil {
		return fmt.Errorf("audit: write: %w", err)
	}
	n := len(first) + len(second)
	st.written(n)
	l.flushedSeq, l.flushedPrev, l.flushedEnd = seq, prev, off+int64(n)
	l.written.Store(seq)
	l.writtenEnd.Store(l.flushedEnd)
	return nil
}

// openStage moves into the segment any records a killed process left
// staged (whatever the mode now), then, with NoSync, maps the staging file.
// Where it cannot be mapped, records are written straight to the segment.
func (l *Log) openStage() error {
	if err := l.recoverStaged(); err != nil {
		return fmt.Errorf("audit: recover staged records: %w", err)
	}
	if !l.opts.NoSync {
		return nil
	}
	st, err := openStage(l.dir, l.opts.stageBytes)
	if err != nil {
		l.opts.Log.Warn("audit: no staging file: each record is written to its segment", "err", err)
		return nil
	}
	if st != nil {
		st.reset()
		l.stage = st
	}
	return nil
}

// recoverStaged appends to the segment, indexes and signs the staged
// records that continue the chain.
func (l *Log) recoverStaged() error {
	staged := stagedRecords(l.dir, l.seq, l.prev)
	if len(staged) == 0 {
		return nil
	}
	for _, r := range staged {
		if _, err := l.seg.WriteAt(r.line, l.segSize); err != nil {
			return err
		}
		body := r.line[:len(r.line)-1]
		if s, e, ok := eventSpan(body); ok {
			m := metaOfRecord(&r.rec)
			m.seq, m.line, m.off, m.n = r.rec.Seq, l.segSize, l.segSize+int64(s), uint32(e-s)
			l.cur.appendOne(&m)
		}
		l.seq, l.prev = l.seq+1, r.hash
		l.segSize += int64(len(r.line))
		l.records.Add(1)
		l.sinceDigest++
	}
	// What fsync mode preallocates starts after them.
	l.segAlloc = max(l.segAlloc, l.segSize)
	if err := datasync(l.seg); err != nil {
		return err
	}
	l.flushedSeq, l.flushedPrev, l.flushedEnd = l.seq, l.prev, l.segSize
	l.writtenEnd.Store(l.segSize)
	l.opts.Log.Info("audit: moved staged records to the segment", "chain", l.chain, "records", len(staged))
	return l.writeHead(l.seq, l.prev)
}

// headDue writes the head that append scheduled.
func (l *Log) headDue() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.headTimer = nil
	if l.closed || l.err != nil {
		return
	}
	if l.writeErr != nil {
		for l.flushing {
			l.flushCond.Wait()
		}
		if l.closed || l.err != nil || l.writeErr == nil {
			return
		}
		if err := l.retryWrites(); err != nil && l.err == nil && l.headTimer == nil {
			l.headTimer = time.AfterFunc(writeRetry, l.headDue)
		}
		return
	}
	err := l.flushStaged(true)
	if err == nil && l.headSeq != l.flushedSeq {
		err = l.writeHead(l.flushedSeq, l.flushedPrev)
	}
	if err != nil && l.err == nil {
		_ = l.writeFailed(err)
		if l.headTimer == nil {
			l.headTimer = time.AfterFunc(writeRetry, l.headDue)
		}
	}
}

// writeFailed records a failed write (l.mu held) and returns the error
// for the record it kept from being taken: ErrUnavailable and the cause,
// or, for a failed fsync, the log's sticky failure (see fail).
func (l *Log) writeFailed(err error) error {
	var se *syncError
	if errors.As(err, &se) {
		return l.fail(err)
	}
	if l.writeErr == nil {
		l.opts.Log.Error("audit: cannot write the trail; requests are refused until it can (retrying)", "chain", l.chain, "err", err)
	}
	l.writeErr = err
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// retryWrites writes what failed to be written (l.mu held, no flush
// running): the staged records, the head and a digest due; it clears
// writeErr once they are written.
func (l *Log) retryWrites() error {
	err := l.flushStaged(false)
	if err == nil && l.headSeq != l.flushedSeq {
		err = l.writeHead(l.flushedSeq, l.flushedPrev)
	}
	if err == nil && l.sinceDigest >= l.opts.DigestEvery {
		err = l.writeDigest(nil)
	}
	if err != nil {
		return l.writeFailed(err)
	}
	l.opts.Log.Info("audit: the trail is written again", "chain", l.chain, "records", l.seq)
	l.writeErr = nil
	return nil
}

// Trouble reports what keeps the log from taking records: a nil error if
// nothing; otherwise the cause, and whether it lasts until a restart (a
// failed fsync, or the log closed) or may pass (a failed write, retried).
func (l *Log) Trouble() (lasting bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.err != nil:
		return true, l.err
	case l.closed:
		return true, ErrClosed
	case l.writeErr != nil:
		return false, l.writeErr
	}
	return false, nil
}

// syncTo returns once record seq is fsynced: one caller fsyncs at a time
// for every record written before it began (group commit), then signs the
// head for them.
func (l *Log) syncTo(seq uint64) error {
	l.smu.Lock()
	defer l.smu.Unlock()
	for l.synced < seq {
		if l.syncing {
			l.scond.Wait()
			continue
		}
		l.syncing = true
		l.smu.Unlock()
		l.mu.Lock()
		target, prev, failed := l.seq, l.prev, l.err
		l.mu.Unlock()
		err := failed
		if err == nil {
			l.segMu.Lock()
			err = datasync(l.seg)
			l.segMu.Unlock()
		}
		if err == nil {
			l.mu.Lock()
			if target > l.headSeq && l.err == nil {
				err = l.writeHead(target, prev)
			}
			l.mu.Unlock()
		}
		l.smu.Lock()
		l.syncing = false
		l.scond.Broadcast()
		if err != nil {
			l.mu.Lock()
			err = l.fail(fmt.Errorf("audit: sync: %w", err))
			l.mu.Unlock()
			return err
		}
		l.synced = max(l.synced, target)
	}
	return nil
}

func (l *Log) run() {
	defer close(l.done)
	t := time.NewTicker(l.opts.DigestInterval)
	defer t.Stop()
	retain := func() {
		if err := l.applyRetention(); err != nil {
			l.opts.Log.Error("audit: retention failed", "chain", l.chain, "err", err)
		}
	}
	retain()
	r := time.NewTicker(retentionEvery)
	defer r.Stop()
	for {
		select {
		case <-r.C:
			retain()
		case err := <-l.syncFailed:
			l.mu.Lock()
			_ = l.fail(err)
			l.mu.Unlock()
		case <-t.C:
			l.mu.Lock()
			if l.sinceDigest > 0 && l.err == nil && l.writeErr == nil {
				if err := l.writeDigest(nil); err != nil {
					_ = l.writeFailed(err)
				}
			}
			l.mu.Unlock()
		case <-l.stop:
			return
		}
	}
}

// syncLoop fsyncs, every SyncInterval, the records written since the last
// time (NoSync). It runs beside the writers, so that a slow fsync delays no
// request.
func (l *Log) syncLoop() {
	defer close(l.syncDone)
	t := time.NewTicker(l.opts.SyncInterval)
	defer t.Stop()
	var synced uint64
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		written := l.written.Load()
		if written == synced {
			continue
		}
		// The fsyncs run without segMu, so that a new segment (which
		// takes it under mu) never waits for them: only this loop closes
		// a retired segment, so seg stays open meanwhile.
		l.segMu.Lock()
		retired, seg, end := l.retired, l.seg, l.writtenEnd.Load()
		l.retired = nil
		l.segMu.Unlock()
		err := datasync(seg)
		if err == nil {
			err = datasync(l.head)
		}
		if err == nil {
			// Synced records leave the page cache, but for the newest
			// (what LookupEvents reads most): a growing cache costs the
			// writes a fresh page each, which is dear in a VM.
			dropCached(seg, 0, end-keepCached)
		}
		for _, f := range retired {
			serr := datasync(f)
			if serr == nil {
				dropCached(f, 0, 1<<62)
			} else if err == nil {
				err = serr
			}
			f.Close()
		}
		if len(retired) > 0 && err == nil {
			err = syncDir(l.dir)
		}
		if err != nil {
			// Records may not reach the disk: requests are refused from
			// now on, as when a write fails.
			select {
			case l.syncFailed <- fmt.Errorf("audit: sync: %w", err):
			default:
			}
			return
		}
		synced = written
	}
}

// keepCached is how much of the newest records syncLoop leaves cached.
const keepCached = 8 << 20

// fail records the first write failure (l.mu held) and returns it.
func (l *Log) fail(err error) error {
	if l.err == nil {
		l.err = err
		l.opts.Log.Error("audit trail failed; requests are refused until iamd restarts (/healthz answers 503)", "err", err)
	}
	return l.err
}

// maxHeadLag is, with NoSync, how long the signed head may lag the records
// written: it is rewritten at most about this often. Staged records are
// already safe from a killed process, and readers in this process
// (lookups, Written) move them to the segment themselves, so the lag only
// bounds how stale the head is for a reader of the files alone. At 1 ms,
// the timer, the batch write and the head's write and signature cost about
// 4 % of GetUser's CPU on one core; at 10 ms, a tenth of that.
const maxHeadLag = 10 * time.Millisecond

// Records returns how many records this process has written.
func (l *Log) Records() uint64 { return l.records.Load() }

func (l *Log) state(count uint64, head [32]byte) signed {
	return signed{Chain: l.chain, Count: count, Head: hex.EncodeToString(head[:]), Time: l.opts.Now().UTC().Format(time.RFC3339Nano)}
}

// writeHead overwrites one of the two head slots (alternating, so that a
// torn write leaves the other intact) with a head covering count records
// ending in hash head; l.mu is held. Without NoSync it is written after
// the records it covers are durable; the head itself is only fsynced with
// digests, so after a power loss it may lag the records, never lead them.
// With NoSync it lags the records written by up to maxHeadLag.
func (l *Log) writeHead(count uint64, head [32]byte) error {
	s := l.state(count, head)
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
	// The slots alternate per write: a torn write leaves the other,
	// older head intact.
	l.headWrites++
	if _, err := l.head.WriteAt(slot, int64(l.headWrites%2)*headSlot); err != nil {
		return fmt.Errorf("audit: write head: %w", err)
	}
	l.headSeq = count
	return nil
}

// writeDigest appends a signed digest chained to the previous one, and
// logs it so that a copy exists outside the data directory.
func (l *Log) writeDigest(rem *removal) error {
	// A digest covers every record appended so far: the staged ones
	// reach the segment first (l.mu is released meanwhile).
	if err := l.flushStaged(true); err != nil {
		return err
	}
	if !l.opts.NoSync {
		// The digest and the head cover only durable records.
		l.segMu.Lock()
		err := datasync(l.seg)
		l.segMu.Unlock()
		if err != nil {
			return &syncError{fmt.Errorf("audit: sync: %w", err)}
		}
	}
	if l.headSeq != l.flushedSeq {
		// A digest never counts more records than the head.
		if err := l.writeHead(l.flushedSeq, l.flushedPrev); err != nil {
			return err
		}
	}
	s := l.state(l.flushedSeq, l.flushedPrev)
	s.Prev, s.Removed = l.lastDigest, rem
	s.sign("digest", l.opts.Keys[0])
	data, err := json.Marshal(&s)
	if err != nil {
		return err
	}
	if _, err := l.digests.Write(append(data, '\n')); err != nil {
		// What part of the line was written goes, so that the digest
		// written again starts a line of its own.
		_ = l.digests.Truncate(l.digestsSize - l.digestsShift)
		return fmt.Errorf("audit: write digest: %w", err)
	}
	l.digestN++
	l.lastDigestAt = l.digestsSize
	l.digestsSize += int64(len(data) + 1)
	if !l.opts.NoSync || rem != nil {
		if err := datasync(l.digests); err != nil {
			return &syncError{fmt.Errorf("audit: sync digest: %w", err)}
		}
		if err := datasync(l.head); err != nil {
			return &syncError{fmt.Errorf("audit: sync head: %w", err)}
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
	if l.headTimer != nil {
		l.headTimer.Stop()
		l.headTimer = nil
	}
	if l.err == nil {
		if err := l.flushStaged(true); err != nil {
			_ = l.fail(err)
		}
	}
	if l.err == nil && (l.sinceDigest > 0 || l.digestCount != l.seq) {
		if err := l.writeDigest(nil); err != nil {
			_ = l.fail(err)
		}
	}
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	if l.syncDone != nil {
		<-l.syncDone
	}
	l.opts.Log.Info("audit log closed", "records", l.records.Load())
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.err
	if len(l.retired) > 0 {
		for _, f := range l.retired {
			if serr := datasync(f); err == nil {
				err = serr
			}
			f.Close()
		}
		l.retired = nil
		if serr := syncDir(l.dir); err == nil {
			err = serr
		}
	}
	if cerr := l.closeFiles(); err == nil {
		err = cerr
	}
	l.mu.Unlock()
	l.sealWG.Wait()
	l.mu.Lock()
	l.trail.close()
	unlock(l.lock)
	return err
}

// closeFiles closes the chain's files and the staging area.
func (l *Log) closeFiles() error {
	var err error
	if l.stage != nil {
		err = l.stage.close()
		l.stage = nil
	}
	for _, f := range []*os.File{l.seg, l.head, l.digests} {
		if f != nil {
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
	}
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

// appendMeta appends the closing quote of prev8 and the meta object.
func appendMeta(b []byte, m *meta) []byte {
	b = append(b, `","meta":{"t":`...)
	b = strconv.AppendInt(b, m.time, 10)
	b = appendField(b, "a", m.account)
	b = appendField(b, "n", m.name)
	b = appendField(b, "s", m.source)
	b = appendField(b, "u", m.user)
	b = appendField(b, "k", m.key)
	if m.id == "" && m.idBytes != ([16]byte{}) {
		b = append(b, `,"i":"`...)
		b = uuid.Append(b, m.idBytes)
		b = append(b, '"')
	} else {
		b = appendField(b, "i", m.id)
	}
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
