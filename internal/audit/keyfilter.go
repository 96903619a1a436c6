package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
)

// keyFilter is a Bloom filter of the keys an index file lists (all but
// event IDs): a lookup skips the sealed segments whose filter says they do
// not hold its value, without reading and decompressing their index files.
// A value seen once a month thus costs the filters of the segments in its
// time range and the index files of the few that hold it, not every index
// file of the trail.
//
// It is stored between an index file's checkpoint line and its body, and
// the checkpoint names its length and SHA-256, so a filter is checked
// against the signed checkpoint before it is trusted. Format: one byte,
// the number of probes, then the bits.
//
// With 20 bits and 14 probes per key a filter answers "maybe" for an
// absent key about once in 15,000: over the 3,850 segments of 50 M events
// that is one needless small index (and, for a value not rare where the
// filter errs, index file) in 4 lookups of an absent value. Typical
// segments (13,000 GetUser-like events, 2,200 distinct keys) have 5.5 KB
// filters.
type keyFilter []byte

const (
	filterBitsPerKey = 20
	filterProbes     = 14
)

// newKeyFilter returns an empty filter sized for n keys.
func newKeyFilter(n int) keyFilter {
	f := make(keyFilter, 1+max(64, (n*filterBitsPerKey+7)/8)) // at least 512 bits: double hashing needs room
	f[0] = filterProbes
	return f
}

// probes calls fn with the bits of k's probes in a filter of m bits. Each
// probe is a step of SplitMix64 seeded with the key hash: independent
// probes, as double hashing's are not in small filters.
func probes(k uint64, n uint8, m uint64, fn func(bit uint64) bool) {
	x := k
	for range n {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		z ^= z >> 31
		if !fn(z % m) {
			return
		}
	}
}

func (f keyFilter) add(k uint64) {
	bits := f[1:]
	probes(k, f[0], uint64(len(bits))*8, func(b uint64) bool {
		bits[b>>3] |= 1 << (b & 7)
		return true
	})
}

// mayContain is false if k was never added.
func (f keyFilter) mayContain(k uint64) bool {
	if len(f) < 2 {
		return true
	}
	bits := f[1:]
	found := true
	probes(k, f[0], uint64(len(bits))*8, func(b uint64) bool {
		found = bits[b>>3]&(1<<(b&7)) != 0
		return found
	})
	return found
}

// sealedLookup is how a lookup reads the sealed segment u for key k:
// skip is true if u's key filter says u does not hold k; otherwise, if k
// is rare in u, small is u's small index, which lists all of k's entries;
// otherwise both are zero and u's index file decides. A segment without a
// filter (an index file written before there were filters), or whose
// filter or small index cannot be read or does not match its checkpoint,
// may hold anything: its index file decides, and is rebuilt if it is
// damaged.
//
// The filter is read from the index file at every lookup (into scratch,
// which the lookup reuses) and checked against the signed checkpoint each
// time, not kept in memory: the filters of a long trail (5.5 KB a
// segment, 21 MB at 50 M events) would make the process grow with the
// trail. Read from the page cache, which is not the process's memory, a
// filter costs a few µs; the index file is kept open (t.files) for the
// next lookup, as opening and closing it costs nearly as much.
func (t *trail) sealedLookup(u *sealedRef, k uint64, scratch *[]byte) (skip bool, small *sealedIndex) {
	cp := u.cp
	if cp.Filter == "" {
		return false, nil
	}
	path := idxPath(u.path)
	for try := 0; ; try++ {
		file, cached, err := t.files.open(path)
		if err != nil {
			t.sectionUnreadable(path, err)
			return false, nil
		}
		skip, small, err = readSections(file.f, cp, k, scratch)
		t.files.release(file)
		if err != nil && cached && try == 0 {
			// Kept open from before the file was replaced (a segment
			// compressed, its index file rebuilt): once more, opened anew.
			t.files.drop(path)
			continue
		}
		if err != nil {
			t.sectionUnreadable(path, err)
			return false, nil
		}
		return skip, small
	}
}

// readSections is sealedLookup on an open index file.
func readSections(file sectionFile, cp *checkpoint, k uint64, scratch *[]byte) (skip bool, small *sealedIndex, err error) {
	at := cp.sections
	f, err := readSection(file, &at, 0, cp.FilterLen, cp.Filter, scratch)
	if err != nil {
		return false, nil, err
	}
	if !keyFilter(f).mayContain(k) {
		return true, nil, nil
	}
	if cp.SmallLen == 0 {
		return false, nil, nil
	}
	b, err := readSection(file, &at, cp.FilterLen, cp.SmallLen, cp.Small, nil)
	if err == nil {
		small, err = parseIndexBody(b)
	}
	if err != nil {
		return false, nil, err
	}
	if _, n := small.list(k); n == 0 {
		return false, nil, nil // not rare in u (or not in u at all)
	}
	return false, small, nil
}

// openFiles keeps index files open for reading their key filters, by
// path, up to max of them (evicting at random: a lookup that reads more
// filters than fit, newest first, would under LRU find none open). What
// they cost is descriptors, not the process's memory. An index file
// replaced or removed is dropped (its descriptor would keep the old file
// on disk).
type openFiles struct {
	mu  sync.Mutex
	max int
	m   map[string]*openFile
}

// openFile is an index file kept open; refs counts its users, plus one
// while it is kept.
type openFile struct {
	f    sectionFile
	refs int
}

// open returns the index file at path, opened, and whether it was kept
// open from before. The caller releases it.
func (c *openFiles) open(path string) (*openFile, bool, error) {
	c.mu.Lock()
	if o, ok := c.m[path]; ok {
		o.refs++
		c.mu.Unlock()
		return o, true, nil
	}
	c.mu.Unlock()
	f, err := openSectionFile(path)
	if err != nil {
		return nil, false, err
	}
	o := &openFile{f: f, refs: 1}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max <= 0 {
		return o, false, nil
	}
	if c.m == nil {
		c.m = make(map[string]*openFile)
	}
	if other, ok := c.m[path]; ok {
		// Opened meanwhile by another lookup.
		other.refs++
		o.unref()
		return other, true, nil
	}
	for p, old := range c.m { // map order is random
		if len(c.m) < c.max {
			break
		}
		delete(c.m, p)
		old.unref()
	}
	o.refs++
	c.m[path] = o
	return o, false, nil
}

// release ends a use of o.
func (c *openFiles) release(o *openFile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o.unref()
}

// drop closes the index file at path once no lookup reads it.
func (c *openFiles) drop(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if o, ok := c.m[path]; ok {
		delete(c.m, path)
		o.unref()
	}
}

func (c *openFiles) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, o := range c.m {
		delete(c.m, p)
		o.unref()
	}
}

// unref drops a reference to o, closing it with the last; under
// openFiles.mu.
func (o *openFile) unref() {
	if o.refs--; o.refs == 0 {
		_ = o.f.Close() // read only: nothing to lose
	}
}

// filterResult is what the key filter (and small index) of a sealed
// segment said of a lookup's key: sealedLookup's answer, if read.
type filterResult struct {
	read  bool
	skip  bool
	small *sealedIndex
}

// filterReader reads the key filters of the sealed segments a lookup
// visits, ahead of it, in batches spread over the CPUs: a lookup of a
// value rare in the trail reads every segment's filter (3,850 at 50 M
// events), a few µs each, nearly all of it system calls. Batches start
// small and double, so that a lookup that stops early (a common value,
// found in the newest segments) reads few filters it does not need.
type filterReader struct {
	t   *trail
	key uint64
	n   int
	// ref returns the sealed segment of span i, nil if it is in memory.
	ref func(i int) *sealedRef
	// Spans [base, base+len(res)) are read.
	base    int
	res     []filterResult
	todo    []int
	scratch [maxFilterWorkers][]byte // each worker's
}

const (
	firstFilterBatch = 8
	maxFilterBatch   = 512
	maxFilterWorkers = 4
)

// at returns what span i's key filter said, reading the next batch of
// filters if it is not read yet. Spans are asked for in order.
func (r *filterReader) at(i int) *filterResult {
	if i >= r.base+len(r.res) {
		r.readBatch(i)
	}
	return &r.res[i-r.base]
}

// readBatch reads the filters of the spans from i on, but those of
// segments whose index file is cached.
func (r *filterReader) readBatch(i int) {
	size := min(max(2*len(r.res), firstFilterBatch), maxFilterBatch, r.n-i)
	r.base = i
	if cap(r.res) < size {
		r.res = make([]filterResult, size)
	}
	r.res = r.res[:size]
	clear(r.res)
	r.todo = r.todo[:0]
	for j := i; j < i+size; j++ {
		if u := r.ref(j); u != nil && !r.t.cache.has(u.path) {
			r.todo = append(r.todo, j)
		}
	}
	var next atomic.Int64
	work := func(w int) {
		for {
			k := int(next.Add(1)) - 1
			if k >= len(r.todo) {
				return
			}
			j := r.todo[k]
			skip, small := r.t.sealedLookup(r.ref(j), r.key, &r.scratch[w])
			r.res[j-r.base] = filterResult{read: true, skip: skip, small: small}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), maxFilterWorkers, 1+len(r.todo)/firstFilterBatch)
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Go(func() { work(w) })
	}
	work(0)
	wg.Wait()
}

// lookup is sealedLookup for span i, from its batch if it was read.
func (r *filterReader) lookup(i int) (skip bool, small *sealedIndex) {
	if f := r.at(i); f.read {
		return f.skip, f.small
	}
	return r.t.sealedLookup(r.ref(i), r.key, &r.scratch[0])
}

func (t *trail) sectionUnreadable(path string, err error) {
	if !errors.Is(err, os.ErrNotExist) {
		t.log.Warn("audit: key filter unreadable; the index file is read instead", "file", path, "err", err)
	}
}

// readSection reads n bytes at off past the checkpoint line of an index
// file, which must have the SHA-256 sum: the key filter or the small
// index of the file's checkpoint (already verified). *at is where the
// checkpoint line ends, zero if not known: it is then found, and set. The
// bytes are read into *buf (grown as needed) if buf is not nil, else into
// a new slice.
func readSection(file sectionFile, at *int, off, n int, sum string, buf *[]byte) ([]byte, error) {
	var b []byte
	if buf != nil {
		if cap(*buf) < n {
			*buf = make([]byte, n)
		}
		b = (*buf)[:n]
	} else {
		b = make([]byte, n)
	}
	if *at > 0 {
		if _, err := file.ReadAt(b, int64(*at+off)); err == nil && sumIs(b, sum) {
			return b, nil
		}
		// The file may have been rewritten since (a segment compressed
		// under the lookup, its checkpoint line longer): found again.
	}
	start, err := sectionsStart(file)
	if err != nil {
		return nil, err
	}
	*at = start
	if _, err := file.ReadAt(b, int64(start+off)); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("key filter cut short")
		}
		return nil, err
	}
	if !sumIs(b, sum) {
		return nil, errors.New("key filter does not match its checkpoint (changed or damaged)")
	}
	return b, nil
}

// sectionsStart returns where the checkpoint line of an index file ends.
func sectionsStart(file sectionFile) (int, error) {
	// The checkpoint line is well under 4 KiB (readCheckpoint).
	buf := make([]byte, len(idxMagic)+4096)
	got, err := file.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	buf = buf[:got]
	if !bytes.HasPrefix(buf, []byte(idxMagic)) {
		return 0, errors.New("not an index file")
	}
	i := bytes.IndexByte(buf[len(idxMagic):], '\n')
	if i < 0 {
		return 0, errors.New("key filter cut short")
	}
	return len(idxMagic) + i + 1, nil
}

// sumIs reports whether the SHA-256 of b is sum (in hex).
func sumIs(b []byte, sum string) bool {
	h := sha256.Sum256(b)
	var x [2 * sha256.Size]byte
	hex.Encode(x[:], h[:])
	return string(x[:]) == sum
}

func sectionSum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
