package audit

import (
	"bytes"
	"cmp"
	"container/list"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/iamd/iamd/internal/uuid"
)

// trail is what LookupEvents reads: every segment of every chain, each
// either sealed (its index file on disk, read through a bounded cache) or
// in memory (the segment being written, and segments whose index file is
// still being written or could not be). Memory is thus bounded by the
// cache and one segment per chain, whatever the trail's length.
type trail struct {
	keys  [][]byte
	log   *slog.Logger
	enc   *zstd.Encoder // compresses index files (and rebuilt .zst segments)
	dec   *zstd.Decoder // reads them, and .zst segments
	mu    sync.RWMutex
	units []*unit
	cache sizedCache[*sealedIndex] // index files, by segment path
	files openFiles                // index files kept open, for their key filters
	// ignoreFilters reads every index file in a lookup's time range, as
	// before there were key filters: BenchmarkLongTrail's baseline.
	ignoreFilters bool
}

// unit is one segment of the trail.
type unit struct {
	chain string
	first uint64
	// Under trail.mu once the unit is in the trail: path changes when the
	// segment is compressed.
	path string
	// Once sealed: its checkpoint (time bounds, signed).
	cp *checkpoint
	// Until sealed: its in-memory index.
	mem *index
}

// idxCacheBytes bounds the index files held in memory.
const idxCacheBytes = 32 << 20

func newTrail(keys [][]byte, log *slog.Logger) *trail {
	t := &trail{keys: keys, log: log}
	t.cache.max = idxCacheBytes
	t.files.max = maxOpenIndexFiles()
	// Index bodies (and segments an older iamd compressed in zstd, when
	// rebuilt) at the fastest level, without entropy coding: half the CPU
	// of a seal's index file, for 7 % more of its bytes (178 B per event on disk in
	// BenchmarkLongTrail, against 172).
	t.enc, _ = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithNoEntropyCompression(true))
	t.dec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(2))
	return t
}

// compress compresses (in S2) the sealed, uncompressed segment of u (whose index
// file is written), rewrites its index file with the frames, and removes
// the uncompressed segment. Until the new index file and the compressed
// segment are both in place, the uncompressed one stays the one a start
// reads (see cleanChain).
func (t *trail) compress(u *unit) error {
	t.mu.RLock()
	path, cp0 := u.path, u.cp
	t.mu.RUnlock()
	if cp0 == nil || isCompressed(path) {
		return nil
	}
	zpath := compressedPath(path)
	frames, zsize, err := compressSegment(newS2Frames(), path, cp0.Size, zpath+".tmp")
	if err != nil {
		return err
	}
	ip := idxPath(path)
	_, s, err := loadIndexFile(ip, t.keys, t.dec)
	if err != nil {
		os.Remove(zpath + ".tmp")
		return err
	}
	cp := *cp0
	cp.ZSize = zsize
	ix := builtIndex{body: withFrames(s.data, frames), filter: s.filter}
	if len(s.small) > 0 {
		ix.small = withFrames(s.small, frames)
	}
	if err := writeIndexFile(ip, &cp, ix, t.keys[0], t.enc); err != nil {
		os.Remove(zpath + ".tmp")
		return err
	}
	t.files.drop(ip)
	if err := os.Rename(zpath+".tmp", zpath); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return err
	}
	t.mu.Lock()
	u.path, u.cp = zpath, kept(&cp, nil)
	t.mu.Unlock()
	t.cache.drop(path)
	// A lookup reading the old file meanwhile keeps its descriptor, or
	// retries.
	return os.Remove(path)
}

func (t *trail) add(u *unit) {
	t.mu.Lock()
	if u.cp != nil {
		u.cp = kept(u.cp, t.before(u, len(t.units)))
	}
	t.units = append(t.units, u)
	t.mu.Unlock()
}

// before returns the checkpoint of the unit before u in its chain,
// searching t.units back from end; nil if there is none or it is not
// sealed. Under t.mu.
func (t *trail) before(u *unit, end int) *checkpoint {
	for i := end - 1; i >= 0; i-- {
		if p := t.units[i]; p != u && p.chain == u.chain && p.first < u.first {
			return p.cp
		}
	}
	return nil
}

// kept is what a unit keeps in memory of its verified checkpoint cp, one
// per sealed segment for as long as the trail is open: a copy without
// the signature, its key and the body's checksum (the index file's own
// checkpoint is verified whenever the file is read, and writing one signs
// it anew), and sharing the chain hash before it with the checkpoint
// before (prev), which ends with it. That is about a third of it.
func kept(cp, prev *checkpoint) *checkpoint {
	k := *cp
	k.Key, k.Sig, k.Body = "", "", ""
	if prev != nil && prev.Head == k.Prev {
		k.Prev = prev.Head
	}
	if prev != nil && prev.Chain == k.Chain {
		k.Chain = prev.Chain
	}
	return &k
}

// sealed replaces the in-memory index of u by its index file.
func (t *trail) sealed(u *unit, cp *checkpoint) {
	// The in-memory index is not closed: a lookup may still read through
	// it (its file closes when it is collected).
	t.mu.Lock()
	u.cp, u.mem = kept(cp, t.before(u, len(t.units))), nil
	if cp.ZSize > 0 && !isCompressed(u.path) {
		u.path = compressedPath(u.path)
	}
	t.mu.Unlock()
}

func (t *trail) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, u := range t.units {
		if u.mem != nil {
			u.mem.close()
		}
	}
	t.units = nil
	t.cache.clear()
	t.files.clear()
	_ = t.enc.Close() // nothing was left to write
	t.dec.Close()
}

// cursor is a position in the order LookupEvents returns events in:
// newest first, by (time, chain, sequence number) descending.
type cursor struct {
	time  int64
	chain string
	seq   uint64
}

func (a cursor) less(b cursor) bool {
	if a.time != b.time {
		return a.time < b.time
	}
	if a.chain != b.chain {
		return a.chain < b.chain
	}
	return a.seq < b.seq
}

// cand is an event a lookup may return.
type cand struct {
	cursor
	mem    *index
	pos    uint32 // in mem
	sealed *sealedIndex
	u      *sealedRef
	entry  int // in sealed
}

// sealedRef is a sealed unit as a lookup saw it.
type sealedRef struct {
	chain string
	path  string
	cp    *checkpoint
}

// query is a Query resolved for matching.
type query struct {
	account string
	attr    string
	value   string
	id      [16]byte
	ro      bool
}

// Lookup answers a query.
func (l *Log) Lookup(q Query) (*Page, error) {
	// The index may name staged records: they reach the segment first.
	var err error
	l.mu.Lock()
	if !l.closed && l.err == nil {
		err = l.flushStaged(true)
	}
	l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return l.trail.lookup(q)
}

func (t *trail) lookup(q Query) (*Page, error) {
	p, err := t.lookup1(q)
	for try := 0; try < 3 && errors.Is(err, os.ErrNotExist); try++ {
		// A segment was compressed under the lookup: once more.
		p, err = t.lookup1(q)
	}
	return p, err
}

func (t *trail) lookup1(q Query) (*Page, error) {
	if q.Max <= 0 {
		q.Max = 50
	}
	rq := query{account: q.Account, attr: q.Attribute, value: q.Value}
	empty := q.Account == ""
	switch q.Attribute {
	case "", AttrEventName, AttrUsername, AttrAccessKeyID, AttrResourceType, AttrResourceName, AttrEventSource:
	case AttrEventID:
		rq.id = parseUUID(q.Value)
		empty = empty || rq.id == ([16]byte{})
	case AttrReadOnly:
		rq.ro = strings.EqualFold(q.Value, "true")
	default:
		return nil, fmt.Errorf("audit: unknown lookup attribute %q", q.Attribute)
	}
	fp := q.fingerprint()
	upper := cursor{time: 1 << 62}
	if q.Token != "" {
		c, err := parseToken(q.Token, fp)
		if err != nil {
			return nil, ErrInvalidToken
		}
		upper = c
	}
	if empty {
		return &Page{}, nil
	}
	if !q.End.IsZero() {
		if e := (cursor{time: q.End.Unix() + 1}); e.less(upper) {
			upper = e
		}
	}
	start := int64(-1 << 62)
	if !q.Start.IsZero() {
		start = q.Start.Unix()
	}
	if at, ok := uuid.TimeV7(rq.id); ok {
		// Record makes event IDs of their event's time: only the
		// segments that hold that second can have it.
		start = max(start, at.Unix())
		if e := (cursor{time: at.Unix() + 1}); e.less(upper) {
			upper = e
		}
	}

	type span struct {
		mem        *index
		sealed     sealedRef
		minT, maxT int64
	}
	t.mu.RLock()
	spans := make([]span, 0, len(t.units))
	for _, u := range t.units {
		s := span{mem: u.mem}
		if x := u.mem; x != nil {
			x.mu.RLock()
			s.minT, s.maxT = x.minTime, x.maxTime
			x.mu.RUnlock()
		} else {
			s.sealed = sealedRef{u.chain, u.path, u.cp}
			s.minT, s.maxT = u.cp.MinTime, u.cp.MaxTime
		}
		if s.maxT >= start && s.minT <= upper.time {
			spans = append(spans, s)
		}
	}
	t.mu.RUnlock()
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(b.maxT, a.maxT) })

	limit := q.Max + 1
	key := rq.key()
	filtered := rq.attr != AttrEventID && !t.ignoreFilters // event IDs are not in the filters
	var cs []cand
	var filters *filterReader
	if filtered {
		filters = &filterReader{t: t, key: key, n: len(spans), ref: func(i int) *sealedRef {
			if spans[i].mem != nil {
				return nil
			}
			return &spans[i].sealed
		}}
	}
	byKey := func(a, b cand) int {
		if b.less(a.cursor) {
			return -1
		}
		if a.less(b.cursor) {
			return 1
		}
		return 0
	}
	for i, s := range spans {
		if len(cs) >= limit && s.maxT < cs[limit-1].time {
			break
		}
		if x := s.mem; x != nil {
			cs = x.candidates(&rq, upper, start, limit, cs)
		} else {
			si, err := t.sealedIndexFor(&s.sealed, filters, i)
			if err != nil {
				return nil, err
			}
			if si == nil {
				continue
			}
			cs = si.candidates(&s.sealed, key, upper, start, limit, cs)
		}
		slices.SortFunc(cs, byKey)
		if len(cs) > limit {
			cs = cs[:limit]
		}
	}

	page := &Page{}
	rd := &segReader{dec: t.dec}
	defer rd.close()
	for i := range min(len(cs), q.Max) {
		c := &cs[i]
		var f Found
		var ok bool
		var err error
		if c.mem != nil {
			f, ok, err = c.mem.found(c.pos)
		} else {
			f, ok, err = c.sealed.found(c.u, c.entry, &rq, rd)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				// A damaged segment costs its damaged records, said in the
				// log, not every lookup that reaches it.
				t.log.Error("audit: a record cannot be read (run iamd audit verify)", "segment", c.u.path, "seq", c.seq, "err", err)
				continue
			}
		}
		if err != nil {
			return nil, err
		}
		if ok {
			page.Events = append(page.Events, f)
		}
	}
	if len(cs) > q.Max {
		page.NextToken = makeToken(cs[q.Max-1].cursor, fp)
	}
	return page, nil
}

// key is the posting list of an index file that holds q's events.
func (q *query) key() uint64 {
	switch q.attr {
	case "":
		return keyHash(postAccount, q.account, "")
	case AttrEventID:
		return idKey(q.account, q.id)
	case AttrReadOnly:
		return keyHash(postReadOnly, q.account, strconv.FormatBool(q.ro))
	}
	attr := map[string]uint8{AttrEventName: postName, AttrUsername: postUser, AttrAccessKeyID: postKeyID,
		AttrResourceType: postResType, AttrResourceName: postResName, AttrEventSource: postSource}[q.attr]
	return keyHash(attr, q.account, q.value)
}

// matches reports whether a record's meta matches q.
func (q *query) matches(m *recordMeta) bool {
	if m.Account != q.account {
		return false
	}
	switch q.attr {
	case AttrEventName:
		return m.Name == q.value
	case AttrUsername:
		return m.User == q.value
	case AttrAccessKeyID:
		return m.Key == q.value
	case AttrEventSource:
		return m.Source == q.value
	case AttrReadOnly:
		return m.ReadOnly == q.ro
	case AttrEventID:
		return parseUUID(m.ID) == q.id
	case AttrResourceType, AttrResourceName:
		i := 0
		if q.attr == AttrResourceName {
			i = 1
		}
		for _, r := range m.Res {
			if r[i] == q.value {
				return true
			}
		}
		return false
	}
	return true
}

// candidates appends to cs the best (up to limit) events of x that match
// q, come before upper and are not older than start.
func (x *index) candidates(q *query, upper cursor, start int64, limit int, cs []cand) []cand {
	x.mu.RLock()
	defer x.mu.RUnlock()
	account, ok := x.ids[q.account]
	if !ok {
		return cs
	}
	// keep says whether an event of the account matches q.
	var keep func(e *ievent) bool
	switch q.attr {
	case "":
		keep = func(*ievent) bool { return true }
	case AttrEventID:
		keep = func(e *ievent) bool { return e.id == q.id }
	case AttrReadOnly:
		keep = func(e *ievent) bool { return e.readOnly == q.ro }
	case AttrResourceName:
		keep = func(e *ievent) bool {
			for i := range int(e.nres) {
				if x.name(x.res.at(int(e.res)+i)) == q.value {
					return true
				}
			}
			return false
		}
	default:
		v, ok := x.ids[q.value]
		if !ok {
			return cs
		}
		switch q.attr {
		case AttrEventName:
			keep = func(e *ievent) bool { return e.name == v }
		case AttrUsername:
			keep = func(e *ievent) bool { return e.user == v }
		case AttrAccessKeyID:
			keep = func(e *ievent) bool { return e.key == v }
		case AttrEventSource:
			keep = func(e *ievent) bool { return e.source == v }
		case AttrResourceType:
			keep = func(e *ievent) bool {
				for i := range int(e.nres) {
					if x.res.at(int(e.res)+i).typ == v {
						return true
					}
				}
				return false
			}
		default:
			return cs
		}
	}
	from := len(cs)
	for pos := x.count; pos > 0; pos-- {
		e := x.event(pos - 1)
		if e.time < start-timeSlack {
			break // earlier events are older still (within timeSlack)
		}
		c := cursor{e.time, x.chain, e.seq}
		if e.account != account || e.time < start || !c.less(upper) || !keep(e) {
			continue
		}
		cs = append(cs, cand{cursor: c, mem: x, pos: pos - 1})
	}
	if len(cs)-from > limit {
		mine := cs[from:]
		slices.SortFunc(mine, func(a, b cand) int {
			if b.less(a.cursor) {
				return -1
			}
			if a.less(b.cursor) {
				return 1
			}
			return 0
		})
		cs = cs[:from+limit]
	}
	return cs
}

// found reads the event at pos; ok is false if it is gone.
func (x *index) found(pos uint32) (Found, bool, error) {
	x.mu.RLock()
	e := *x.event(pos)
	f := Found{
		EventID: formatUUID(e.id), EventName: x.strs[e.name], ReadOnly: e.readOnly, AccessKeyID: x.strs[e.key],
		Time: time.Unix(e.time, 0).UTC(), Source: x.strs[e.source], Username: x.strs[e.user],
	}
	for _, r := range x.resources(&e) {
		f.Resources = append(f.Resources, Resource{Type: x.strs[r.typ], Name: strings.Clone(x.name(r))})
	}
	account := x.strs[e.account]
	seg := x.seg
	buf := make([]byte, e.n)
	var err error
	if seg != nil {
		_, err = seg.ReadAt(buf, e.off)
	}
	x.mu.RUnlock()
	if seg == nil {
		// Sealed meanwhile: its file descriptor is closed.
		var f *os.File
		if f, err = os.Open(x.path); err == nil {
			_, err = f.ReadAt(buf, e.off)
			f.Close()
		}
	}
	if err != nil {
		return Found{}, false, fmt.Errorf("audit: read event: %w", err)
	}
	f.JSON = renderedEvent(buf, &recordMeta{
		Time: e.time, Account: account, Name: f.EventName, Source: f.Source, Key: f.AccessKeyID, ID: f.EventID, ReadOnly: e.readOnly,
	})
	return f, true, nil
}

// candidates is index.candidates for an index file: the list is sorted,
// so the events before upper are found by binary search.
func (s *sealedIndex) candidates(u *sealedRef, k uint64, upper cursor, start int64, limit int, cs []cand) []cand {
	first, n := s.list(k)
	p := sort.Search(n, func(i int) bool {
		t, seq := s.entry(s.pos(first + i))
		return !(cursor{t, u.chain, seq}).less(upper)
	})
	for i := p - 1; i >= 0 && limit > 0; i-- {
		e := s.pos(first + i)
		t, seq := s.entry(e)
		if t < start {
			break
		}
		cs = append(cs, cand{cursor: cursor{t, u.chain, seq}, sealed: s, u: u, entry: e})
		limit--
	}
	return cs
}

// found reads entry e from u's segment; ok is false if it does not match
// q after all (two keys of the same hash).
func (s *sealedIndex) found(u *sealedRef, e int, q *query, rd *segReader) (Found, bool, error) {
	line, evDelta, evLen := s.span(e)
	buf, err := rd.read(u, s, int64(line), int64(evDelta+evLen))
	if err != nil {
		return Found{}, false, fmt.Errorf("audit: read event: %w", err)
	}
	if int(evDelta) < len(eventKey) || !bytes.Equal(buf[evDelta-uint32(len(eventKey)):evDelta], eventKey) {
		return Found{}, false, fmt.Errorf("audit: segment %s does not match its index at offset %d (run iamd audit verify)", u.path, line)
	}
	head := append(buf[:evDelta-uint32(len(eventKey)):evDelta-uint32(len(eventKey))], '}')
	var rec recordLine
	if err := parseHead(head, &rec); err != nil {
		return Found{}, false, fmt.Errorf("audit: segment %s does not match its index at offset %d (run iamd audit verify): %v", u.path, line, err)
	}
	if !q.matches(&rec.Meta) {
		return Found{}, false, nil
	}
	m := metaOfRecord(&rec)
	return Found{
		EventID: m.id, EventName: m.name, ReadOnly: m.readOnly, AccessKeyID: m.key, Time: time.Unix(m.time, 0).UTC(),
		Source: m.source, Username: m.user, Resources: m.res,
		JSON: renderedEvent(buf[evDelta:], &rec.Meta),
	}, true, nil
}

// sealedIndexFor returns the index of sealed segment u (span i of the
// lookup) to look the lookup's key up in: u's index file if it is
// cached; else nil if u's key filter says u does not hold the key, u's
// small index if the key is rare in u, else u's index file. filters is
// nil for the keys that are not in the filters (event IDs).
func (t *trail) sealedIndexFor(u *sealedRef, filters *filterReader, i int) (*sealedIndex, error) {
	if s := t.cache.get(u.path); s != nil {
		return s, nil
	}
	if filters != nil {
		skip, small := filters.lookup(i)
		if skip {
			return nil, nil
		}
		if small != nil {
			return small, nil
		}
	}
	return t.index(u)
}

// index returns u's index file through the cache. An index file that no
// longer matches its checkpoint is rebuilt from the segment.
func (t *trail) index(u *sealedRef) (*sealedIndex, error) {
	if s := t.cache.get(u.path); s != nil {
		return s, nil
	}
	path := idxPath(u.path)
	_, s, err := loadIndexFile(path, t.keys, t.dec)
	if err != nil {
		t.log.Error("audit: index file unreadable; rebuilding it from its segment", "file", path, "err", err)
		if _, s, err = rebuildIndex(u, t.enc, t.dec, t.keys); err != nil {
			return nil, fmt.Errorf("audit: index %s: %w", path, err)
		}
		t.files.drop(path)
	}
	t.cache.put(u.path, s)
	return s, nil
}

// sizedCache holds recently used values (index files) by path, up to max
// bytes.
type sizedCache[V interface{ size() int }] struct {
	mu   sync.Mutex
	max  int
	size int
	m    map[string]*list.Element
	lru  list.List
}

type cached[V any] struct {
	path string
	v    V
}

// get returns the value cached for path, or the zero value.
func (c *sizedCache[V]) get(path string) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[path]; ok {
		c.lru.MoveToFront(e)
		return e.Value.(*cached[V]).v
	}
	var zero V
	return zero
}

// has reports whether a value is cached for path, without making it
// the most recently used.
func (c *sizedCache[V]) has(path string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.m[path]
	return ok
}

func (c *sizedCache[V]) put(path string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]*list.Element)
	}
	if _, ok := c.m[path]; ok {
		return
	}
	c.m[path] = c.lru.PushFront(&cached[V]{path, v})
	c.size += v.size()
	for c.size > c.max && c.lru.Len() > 1 {
		e := c.lru.Back()
		old := e.Value.(*cached[V])
		c.lru.Remove(e)
		delete(c.m, old.path)
		c.size -= old.v.size()
	}
}

func (c *sizedCache[V]) drop(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[path]; ok {
		c.lru.Remove(e)
		delete(c.m, path)
		c.size -= e.Value.(*cached[V]).v.size()
	}
}

func (c *sizedCache[V]) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m, c.size = nil, 0
	c.lru.Init()
}

func makeToken(c cursor, fp string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v2:" + strconv.FormatInt(c.time, 10) + ":" + c.chain + ":" +
		strconv.FormatUint(c.seq, 10) + ":" + fp))
}

func parseToken(tok, fp string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return cursor{}, ErrInvalidToken
	}
	parts := strings.Split(string(b), ":")
	if len(parts) != 5 || parts[0] != "v2" || parts[4] != fp {
		return cursor{}, ErrInvalidToken
	}
	t, err1 := strconv.ParseInt(parts[1], 10, 64)
	seq, err2 := strconv.ParseUint(parts[3], 10, 64)
	if err1 != nil || err2 != nil {
		return cursor{}, ErrInvalidToken
	}
	return cursor{t, parts[2], seq}, nil
}

var errSegmentMismatch = errors.New("segment does not match its checkpoint")

// minTime is the time of u's oldest event; under trail.mu.
func (u *unit) minTime() int64 {
	if u.cp != nil {
		return u.cp.MinTime
	}
	u.mem.mu.RLock()
	defer u.mem.mu.RUnlock()
	return u.mem.minTime
}
