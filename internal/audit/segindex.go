package audit

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/klauspost/compress/zstd"
)

// A sealed segment (one the chain has moved past) gets an index file next
// to it, NNNN.idx, written once in the background when the segment is
// sealed (or at start, for a segment that lacks one). It starts with a
// signed checkpoint: the segment's first and last sequence numbers, the
// chain hash before and after them, its size and time bounds, and the
// digests written until then. A start trusts the checkpoints instead of
// reading the segments they cover, so that it costs the same whatever the
// trail's length; `iamd audit verify` still reads everything.
//
// Format: the line "IAMDIDX1", the checkpoint as one JSON line, the key
// filter (keyFilter) and the small index (an index body of the keys rare
// in the segment: builtIndex.small), whose lengths and SHA-256 are in the
// checkpoint, then the body, compressed (one zstd frame), little-endian:
//
//	u32 entries, u32 keys, u32 positions, u32 frames
//	entries × {i64 time, u64 seq, u32 line offset, u32 event offset in the line, u32 event length}
//	keys × {u64 key hash, u32 first position, u32 count}   sorted by hash
//	positions × u32                                        entry numbers, ascending
//	frames × {i64 record offset, i64 file offset}          of a compressed segment
//
// Entries are sorted by (time, seq), so every posting list is too. A key
// hash names (lookup attribute, account, value); a collision only costs a
// record read, as every record found is checked against the query.
const (
	idxMagic  = "IAMDIDX1\n"
	idxExt    = ".idx"
	entrySize = 28
	keySize   = 16
)

// checkpoint is the signed head of an index file.
type checkpoint struct {
	Chain string `json:"chain"`
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
	Prev  string `json:"prev"` // chain hash before First
	Head  string `json:"head"` // chain hash after Last
	Size  int64  `json:"size"` // bytes of records in the segment
	// ZSize is the size of the compressed segment (NNNN.log.zst); zero
	// while it is not compressed.
	ZSize   int64 `json:"zsize,omitempty"`
	MinTime int64 `json:"minTime"`
	MaxTime int64 `json:"maxTime"`
	Events  int   `json:"events"`
	// The digests written before the segment was sealed end at DigestOff
	// in digests.log; there were Digests of them, the last signed
	// DigestSig over DigestCount records.
	DigestOff   int64  `json:"digestOff"`
	DigestSig   string `json:"digestSig"`
	DigestCount uint64 `json:"digestCount"`
	Digests     int    `json:"digests"`
	Body        string `json:"body"` // SHA-256 of the index body
	// The key filter (keyFilter) and the small index (builtIndex.small)
	// between the checkpoint line and the body: their SHA-256 and
	// lengths; empty in index files written before there were filters.
	Filter    string `json:"filter,omitempty"`
	FilterLen int    `json:"filterLen,omitempty"`
	Small     string `json:"small,omitempty"`
	SmallLen  int    `json:"smallLen,omitempty"`
	Key       string `json:"key"`
	Sig       string `json:"sig"`
	// sections is where the key filter starts in the index file (where
	// the checkpoint line ends), zero if not known: not in the file.
	sections int
}

func (c *checkpoint) message() []byte {
	f := []string{"iamd-audit/v1", "checkpoint", c.Chain, strconv.FormatUint(c.First, 10), strconv.FormatUint(c.Last, 10),
		c.Prev, c.Head, strconv.FormatInt(c.Size, 10), strconv.FormatInt(c.MinTime, 10), strconv.FormatInt(c.MaxTime, 10),
		strconv.Itoa(c.Events), strconv.FormatInt(c.DigestOff, 10), c.DigestSig, strconv.FormatUint(c.DigestCount, 10),
		strconv.Itoa(c.Digests), c.Body, strconv.FormatInt(c.ZSize, 10)}
	if c.Filter != "" {
		// Only then, so that the checkpoints signed before there were
		// filters still verify.
		f = append(f, "filter", c.Filter, strconv.Itoa(c.FilterLen), c.Small, strconv.Itoa(c.SmallLen))
	}
	return []byte(strings.Join(f, "\n"))
}

func (c *checkpoint) sign(key []byte) {
	c.Key = keyID(key)
	m := hmac.New(sha256.New, key)
	m.Write(c.message())
	c.Sig = hex.EncodeToString(m.Sum(nil))
}

func (c *checkpoint) verify(keys [][]byte) bool {
	sig, err := hex.DecodeString(c.Sig)
	if err != nil {
		return false
	}
	for _, k := range keys {
		if keyID(k) != c.Key {
			continue
		}
		m := hmac.New(sha256.New, k)
		m.Write(c.message())
		if hmac.Equal(m.Sum(nil), sig) {
			return true
		}
	}
	return false
}

func idxPath(segPath string) string {
	return strings.TrimSuffix(uncompressedPath(segPath), segmentExt) + idxExt
}

// readCheckpoint reads the checkpoint of an index file (not its body).
func readCheckpoint(path string, keys [][]byte) (*checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, 4096)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	cp, _, err := parseCheckpoint(buf[:n], keys)
	return cp, err
}

// parseCheckpoint parses and checks the signature of the checkpoint at the
// start of data, and returns where the body starts.
func parseCheckpoint(data []byte, keys [][]byte) (*checkpoint, int, error) {
	if !bytes.HasPrefix(data, []byte(idxMagic)) {
		return nil, 0, errors.New("not an index file")
	}
	rest := data[len(idxMagic):]
	i := bytes.IndexByte(rest, '\n')
	if i < 0 {
		return nil, 0, errors.New("checkpoint cut short")
	}
	var cp checkpoint
	if err := json.Unmarshal(rest[:i], &cp); err != nil {
		return nil, 0, fmt.Errorf("checkpoint: %w", err)
	}
	if !cp.verify(keys) {
		return nil, 0, errors.New("checkpoint has an invalid signature (changed or forged)")
	}
	cp.sections = len(idxMagic) + i + 1
	return &cp, cp.sections, nil
}

// sealedEntry is an event as an index file holds it.
type sealedEntry struct {
	time    int64
	seq     uint64
	line    uint32 // offset of the record line in the segment
	evDelta uint32 // offset of the event in the line
	evLen   uint32
	// id is the key of its event ID (idKey), zero if it has none; keys
	// are the others. Only keys are in the index file's key filter: a
	// lookup by event ID finds its segments by time.
	id   uint64
	keys []uint64
}

// keyHash names a posting list of an index file.
// It is FNV-1a of attr, account, a zero byte and value, computed without
// allocating: sealing hashes every key of every event.
func keyHash(attr uint8, account, value string) uint64 {
	return fnvString(keyPrefix(attr, account), value)
}

// keyPrefix is the FNV-1a state after attr, account and the zero byte,
// which keyHash goes on from with the value.
func keyPrefix(attr uint8, account string) uint64 {
	return fnvMix(fnvString(fnvMix(fnvOffset, attr), account), 0)
}

// idKey is the key of an event ID (its 16 bytes).
func idKey(account string, id [16]byte) uint64 {
	return idKeyFrom(keyPrefix(postEventID, account), id)
}

// idKeyFrom is idKey from the key prefix of postEventID and the account.
func idKeyFrom(prefix uint64, id [16]byte) uint64 {
	h := prefix
	for _, b := range id {
		h = fnvMix(h, b)
	}
	return h
}

func fnvString(h uint64, s string) uint64 {
	for i := range len(s) {
		h = fnvMix(h, s[i])
	}
	return h
}

// accountKeys hashes the keys of one account's events, each attribute's
// key prefix (and the two ReadOnly keys) computed once: an event's keys
// then cost the hashing of their values alone.
type accountKeys struct {
	account  string
	prefix   [postEventID + 1]uint64 // by attribute
	readOnly [2]uint64               // false, true
}

func newAccountKeys(account string) *accountKeys {
	a := &accountKeys{account: account}
	for attr := range a.prefix {
		a.prefix[attr] = keyPrefix(uint8(attr), account)
	}
	a.readOnly[0] = a.hash(postReadOnly, "false")
	a.readOnly[1] = a.hash(postReadOnly, "true")
	return a
}

// hash is keyHash of attr, the account and value.
func (a *accountKeys) hash(attr uint8, value string) uint64 {
	return fnvString(a.prefix[attr], value)
}

// readOnlyKey is the key of ReadOnly ro.
func (a *accountKeys) readOnlyKey(ro bool) uint64 {
	if ro {
		return a.readOnly[1]
	}
	return a.readOnly[0]
}

// id is idKey of the account and id.
func (a *accountKeys) id(id [16]byte) uint64 { return idKeyFrom(a.prefix[postEventID], id) }

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvMix(h uint64, b byte) uint64 { return (h ^ uint64(b)) * fnvPrime }

// Posting lists of index files, beyond those of the in-memory index.
const (
	postSource = numPosts + iota
	postReadOnly
	postEventID
)

// metaKeys returns the key hashes an event is listed under: that of its
// event ID (zero if it has none), and the others.
func metaKeys(m *recordMeta) (id uint64, ks []uint64) {
	return appendMetaKeys(nil, m, newAccountKeys(m.Account))
}

// appendMetaKeys is metaKeys appending to ks, with ak the key hashes of
// the event's account.
func appendMetaKeys(ks []uint64, m *recordMeta, ak *accountKeys) (id uint64, _ []uint64) {
	ks = append(ks, ak.hash(postAccount, ""), ak.hash(postName, m.Name), ak.hash(postSource, m.Source), ak.readOnlyKey(m.ReadOnly))
	if uid := parseUUID(m.ID); uid != ([16]byte{}) {
		id = ak.id(uid)
	}
	if m.User != "" {
		ks = append(ks, ak.hash(postUser, m.User))
	}
	if m.Key != "" {
		ks = append(ks, ak.hash(postKeyID, m.Key))
	}
	for _, r := range m.Res {
		ks = append(ks, ak.hash(postResType, r[0]), ak.hash(postResName, r[1]))
	}
	return id, ks
}

// builtIndex is what an index file holds beyond its checkpoint.
type builtIndex struct {
	body   []byte    // the index body
	filter keyFilter // the Bloom filter of its keys but event IDs
	// small is an index body of the keys (but event IDs) with at most a
	// few entries in the segment, all of them, and their entries: a value
	// that is rare in the segment is found there without decompressing
	// the body. Empty if even the rarest keys would not fit in
	// maxSmallIndex.
	small []byte
}

// Keys with at most smallCount entries in a segment go in its small index,
// if their entries fit in maxSmallIndex bytes (else those with fewer).
const (
	smallCount    = 4
	maxSmallIndex = 32 << 10
)

// buildIndex returns the index of a sealed segment over es (which it
// sorts), with the frames of the compressed segment if any.
func buildIndex(es []sealedEntry, frames []block) builtIndex {
	return new(sealScratch).buildIndex(es, frames)
}

// buildIndex is buildIndex with the buffers of s: the index body it
// returns is s's, valid until s is used again.
func (s *sealScratch) buildIndex(es []sealedEntry, frames []block) builtIndex {
	byTime := func(a, b sealedEntry) int {
		if c := cmp.Compare(a.time, b.time); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	}
	// The entries are nearly always in order already (see index.unsorted):
	// checking costs far less than a sort, and a stable sort of sorted
	// entries leaves them as they are.
	if !slices.IsSortedFunc(es, byTime) {
		slices.SortStableFunc(es, byTime)
	}
	pl := s.countPostings(es)
	body := s.encodeIndex(es, &pl, frames)
	upTo := smallUpTo(&pl, frames)
	var small []byte
	if upTo > 0 {
		// Buffers of their own: pl's are in use.
		if s.small == nil {
			s.small = new(sealScratch)
		}
		ses := rareEntries(es, &pl, upTo)
		spl := s.small.countPostings(ses)
		small = s.small.encodeIndex(ses, &spl, frames)
		s.small.keepPostings(&spl)
	}
	ix := builtIndex{body: body, filter: pl.filter(), small: small}
	s.keepPostings(&pl)
	return ix
}

// sealScratch holds the buffers a seal uses (the segment's entries and
// their keys, its posting lists, index body and file, the compression of
// its records), which a Log keeps for the next seal (sealSlot): a seal then
// allocates little, and spares the requests on the same cores the
// collection of what it would allocate. A zero sealScratch is ready to
// use; one is used by one seal at a time. Its buffers are about one
// segment's worth (see tooLarge).
type sealScratch struct {
	// entries
	es       []sealedEntry
	keys     []uint64 // the entries' keys, one after the other
	accounts map[uint32]*accountKeys
	// countPostings, renumberInOrder, encodeIndex
	pkeys            []uint64
	counts, counts2  []uint32
	ids, nums, ends  []uint32
	number           map[uint64]uint32
	recent           []uint32
	sorted, sortTmp  []numberedKey
	renumbered, next []uint32
	body, file       []byte
	small            *sealScratch // for the small index
	// compressSegment
	s2         *s2Frames
	read, zbuf []byte
	frames     []block
}

// reuse returns buf emptied if it holds n, else a new slice of capacity n.
func reuse[T any](buf []T, n int) []T {
	if cap(buf) < n {
		return make([]T, 0, n)
	}
	return buf[:0]
}

// keepPostings takes back, for the next seal, the buffers of pl, which
// s.countPostings returned; pl is not used after.
func (s *sealScratch) keepPostings(pl *postings) {
	s.pkeys, s.counts, s.ids, s.nums, s.ends = pl.keys[:0], pl.counts[:0], pl.ids[:0], pl.nums[:0], pl.ends[:0]
}

// maxSealScratch bounds the buffers a Log keeps between seals: a default
// segment's (16 MiB of typical events) come to about 6 MiB; a seal of an
// unusually large segment drops its buffers rather than keep them.
const maxSealScratch = 32 << 20

// tooLarge tells whether s holds more than maxSealScratch bytes.
func (s *sealScratch) tooLarge() bool {
	n := cap(s.es)*int(unsafe.Sizeof(sealedEntry{})) + cap(s.keys)*8 + cap(s.pkeys)*8 +
		(cap(s.counts)+cap(s.counts2)+cap(s.ids)+cap(s.nums)+cap(s.ends)+cap(s.renumbered)+cap(s.next))*4 +
		(cap(s.sorted)+cap(s.sortTmp))*int(unsafe.Sizeof(numberedKey{})) + len(s.number)*16 +
		cap(s.body) + cap(s.file) + cap(s.read) + cap(s.zbuf) + cap(s.frames)*16
	if s.small != nil && s.small.tooLarge() {
		return true
	}
	return n > maxSealScratch
}

// sealSlot keeps one sealScratch between seals. Seals may overlap (a
// segment filling before the last one is sealed, an old one compressed
// at start): each takes the kept one if there is one, or a new one, and
// the first to end keeps its own.
type sealSlot struct {
	mu sync.Mutex
	s  *sealScratch
}

func (k *sealSlot) get() *sealScratch {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := k.s
	k.s = nil
	if s == nil {
		s = new(sealScratch)
	}
	return s
}

func (k *sealSlot) put(s *sealScratch) {
	if s.tooLarge() {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.s == nil {
		k.s = s
	}
}

// postings are the posting lists of a segment's entries, counted: its
// distinct keys, numbered in their order, and each entry's keys by
// number. The entries' keys are numbered as they come (a map look-up per
// key but event IDs, which are nearly all distinct and take the next
// number), then sorted and renumbered; filling the lists then takes no
// look-up by hash.
type postings struct {
	keys   []uint64 // by number, ascending
	counts []uint32 // entries per key number, inFilter set for the keys but event IDs'
	ids    []uint32 // each entry's event ID key number, noKey if it has none
	// nums are the numbers of the entries' other keys, each once, entry
	// after entry; ends says where each entry's end. A key that is also
	// the entry's event ID key (a hash collision) has sameAsID set: it is
	// not counted again.
	nums []uint32
	ends []uint32
}

const (
	noKey    = ^uint32(0)
	sameAsID = 1 << 31
	// A segment's distinct keys but event IDs are a few thousand:
	// countPostings finds most of them in a table of 1<<recentBits keys
	// (recentSlot), without a map look-up.
	recentBits = 13
)

// countPostings numbers and counts the keys of es, with the buffers of s,
// which the postings returned use until s.keepPostings takes them back.
func (s *sealScratch) countPostings(es []sealedEntry) postings {
	nkeys := 0
	for i := range es {
		nkeys += len(es[i].keys)
	}
	pl := postings{keys: reuse(s.pkeys, len(es)+len(es)/4), counts: reuse(s.counts, len(es)+len(es)/4),
		ids: reuse(s.ids, len(es)), nums: reuse(s.nums, nkeys), ends: reuse(s.ends, len(es))}
	if s.number == nil {
		s.number = make(map[uint64]uint32, len(es)/4) // a typical segment has one distinct key (but event IDs) in six or seven events
	} else {
		clear(s.number)
	}
	number := s.number
	if s.recent == nil {
		s.recent = make([]uint32, 1<<recentBits)
	} else {
		clear(s.recent)
	}
	recent := s.recent // by recentSlot, 1 + the number of the last key seen there
	for i := range es {
		id, ks := es[i].id, es[i].keys
		idNum := noKey
		if id != 0 {
			idNum = pl.newNumber(id)
			pl.counts[idNum]++
		}
		pl.ids = append(pl.ids, idNum)
		for j, k := range ks {
			if slices.Contains(ks[:j], k) { // an event naming a resource twice
				continue
			}
			r := &recent[recentSlot(k)]
			n := *r - 1
			if *r == 0 || pl.keys[n] != k {
				n = pl.numberOf(k, number)
				*r = n + 1
			}
			if k == id {
				pl.nums = append(pl.nums, n|sameAsID)
				continue
			}
			pl.counts[n] = (pl.counts[n] + 1) | inFilter
			pl.nums = append(pl.nums, n)
		}
		pl.ends = append(pl.ends, uint32(len(pl.nums)))
	}
	pl.renumberInOrder(s)
	return pl
}

// recentSlot is where countPostings remembers key k: the top bits of k
// times a large odd constant (Fibonacci hashing), which depend on all of
// k's bits (FNV-1a's top bits vary little with a value's last byte).
func recentSlot(k uint64) uint64 { return k * 0x9e3779b97f4a7c15 >> (64 - recentBits) }

// newNumber numbers key k, uncounted.
func (pl *postings) newNumber(k uint64) uint32 {
	pl.keys, pl.counts = append(pl.keys, k), append(pl.counts, 0)
	return uint32(len(pl.keys) - 1)
}

// numberOf returns the number of k in number, numbering it if new.
func (pl *postings) numberOf(k uint64, number map[uint64]uint32) uint32 {
	n, ok := number[k]
	if !ok {
		n = pl.newNumber(k)
		number[k] = n
	}
	return n
}

// renumberInOrder numbers the keys in their order, one number for the
// numbers of a key (an event ID twice, or the key of an event ID and of
// something else), whose counts add up.
func (pl *postings) renumberInOrder(s *sealScratch) {
	nk := len(pl.keys)
	a, b := reuse(s.sorted, nk)[:nk], reuse(s.sortTmp, nk)[:nk]
	s.sorted, s.sortTmp = a[:0], b[:0]
	for n, k := range pl.keys {
		a[n] = numberedKey{k, uint32(n)}
	}
	sorted := radixSort(a, b) // a or b: s keeps both
	// By old number; every one is set below.
	renumbered := reuse(s.renumbered, nk)[:nk]
	s.renumbered = renumbered[:0]
	keys, counts := pl.keys[:0], reuse(s.counts2, len(sorted))
	for i, k := range sorted {
		if i == 0 || k.key != sorted[i-1].key {
			keys, counts = append(keys, k.key), append(counts, 0)
		}
		last := len(counts) - 1
		c := pl.counts[k.n]
		counts[last] = (counts[last]&^inFilter + c&^inFilter) | (counts[last]|c)&inFilter
		renumbered[k.n] = uint32(last)
	}
	// The counts by old number are free for the next renumbering.
	s.counts2 = pl.counts[:0]
	pl.keys, pl.counts = keys, counts
	for i, n := range pl.ids {
		if n != noKey {
			pl.ids[i] = renumbered[n]
		}
	}
	for i, n := range pl.nums {
		pl.nums[i] = renumbered[n&^sameAsID] | n&sameAsID
	}
}

// entryNums returns the numbers of entry i's keys but its event ID's.
func (pl *postings) entryNums(i int) []uint32 {
	start := uint32(0)
	if i > 0 {
		start = pl.ends[i-1]
	}
	return pl.nums[start:pl.ends[i]]
}

// count returns the number of entries of key number n.
func (pl *postings) count(n uint32) uint32 { return pl.counts[n] &^ inFilter }

// filter returns the key filter of the keys but event IDs'.
func (pl *postings) filter() keyFilter {
	filtered := 0
	for _, c := range pl.counts {
		if c&inFilter != 0 {
			filtered++
		}
	}
	f := newKeyFilter(filtered)
	for n, c := range pl.counts {
		if c&inFilter != 0 {
			f.add(pl.keys[n])
		}
	}
	return f
}

// smallUpTo returns the largest count whose keys' entries fit in the
// small index, counting each posting as an entry of its own (an upper
// bound); zero if none do.
func smallUpTo(pl *postings, frames []block) int {
	var perCount [smallCount + 1]int // postings of the filtered keys with each small count
	for n, c := range pl.counts {
		if c&inFilter != 0 {
			if c := pl.count(uint32(n)); c <= smallCount {
				perCount[c] += int(c)
			}
		}
	}
	upTo, size := 0, 16+len(frames)*16
	for c := 1; c <= smallCount; c++ {
		size += perCount[c] * (entrySize + 4 + keySize)
		if size > maxSmallIndex {
			break
		}
		upTo = c
	}
	return upTo
}

// rareEntries returns the entries of es with keys (but event IDs) of at
// most upTo entries, with those keys alone.
func rareEntries(es []sealedEntry, pl *postings, upTo int) []sealedEntry {
	var ses []sealedEntry
	var keys []uint64
	for i := range es {
		start := len(keys)
		for _, n := range pl.entryNums(i) {
			n &^= sameAsID
			if pl.counts[n]&inFilter != 0 && pl.count(n) <= uint32(upTo) {
				keys = append(keys, pl.keys[n])
			}
		}
		if len(keys) > start {
			e := es[i]
			e.id, e.keys = 0, keys[start:len(keys):len(keys)]
			ses = append(ses, e)
		}
	}
	return ses
}

// inFilter marks, in postings' counts, the keys that go in the key
// filter: all but event IDs'.
const inFilter = 1 << 31

// encodeIndex returns the index body over es (sorted by time and
// sequence number), whose keys pl counted, in s's buffer.
func (s *sealScratch) encodeIndex(es []sealedEntry, pl *postings, frames []block) []byte {
	npos := pl.positions()
	b := reuse(s.body, 16+len(es)*entrySize+len(pl.keys)*keySize+npos*4+len(frames)*16)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(es)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(pl.keys)))
	b = binary.LittleEndian.AppendUint32(b, uint32(npos))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(frames)))
	for _, e := range es {
		b = binary.LittleEndian.AppendUint64(b, uint64(e.time))
		b = binary.LittleEndian.AppendUint64(b, e.seq)
		b = binary.LittleEndian.AppendUint32(b, e.line)
		b = binary.LittleEndian.AppendUint32(b, e.evDelta)
		b = binary.LittleEndian.AppendUint32(b, e.evLen)
	}
	start := uint32(0)
	for n, k := range pl.keys {
		c := pl.count(uint32(n))
		b = binary.LittleEndian.AppendUint64(b, k)
		b = binary.LittleEndian.AppendUint32(b, start)
		b = binary.LittleEndian.AppendUint32(b, c)
		start += c
	}
	// Every position is put: what the buffer held before is overwritten.
	b = b[:len(b)+npos*4]
	s.next = pl.putPositions(b[len(b)-npos*4:], s.next)
	for _, f := range frames {
		b = binary.LittleEndian.AppendUint64(b, uint64(f.raw))
		b = binary.LittleEndian.AppendUint64(b, uint64(f.z))
	}
	s.body = b[:0]
	return b
}

// positions returns the number of positions: entries under each key,
// each once.
func (pl *postings) positions() int {
	n := 0
	for _, c := range pl.counts {
		n += int(c &^ inFilter)
	}
	return n
}

// putPositions puts the posting lists in dst (4 bytes a position), keys
// in order, each the entries of its key in entry order (which is their
// order): the lists are filled entry after entry, each key's at where its
// list starts. It returns next, grown, its buffer of a number per key.
func (pl *postings) putPositions(dst []byte, next []uint32) []uint32 {
	next = reuse(next, len(pl.keys))[:len(pl.keys)] // by key number, where its next entry goes
	at := uint32(0)
	for n := range pl.keys {
		next[n] = at
		at += pl.count(uint32(n))
	}
	for i, id := range pl.ids {
		if id != noKey {
			binary.LittleEndian.PutUint32(dst[4*next[id]:], uint32(i))
			next[id]++
		}
		for _, n := range pl.entryNums(i) {
			if n&sameAsID == 0 {
				binary.LittleEndian.PutUint32(dst[4*next[n]:], uint32(i))
				next[n]++
			}
		}
	}
	return next[:0]
}

type numberedKey struct {
	key uint64
	n   uint32
}

// radixSort sorts ks by key, a byte at a time from the lowest (stable),
// with tmp (as long) as the other buffer, and returns the one sorted.
// The keys are hashes: a comparison sort's branches are unpredictable.
func radixSort(ks, tmp []numberedKey) []numberedKey {
	if len(ks) < 2 {
		return ks
	}
	for shift := 0; shift < 64; shift += 8 {
		var counts [256]int
		for _, k := range ks {
			counts[byte(k.key>>shift)]++
		}
		if counts[byte(ks[0].key>>shift)] == len(ks) {
			continue // all alike in this byte
		}
		at := 0
		for d, c := range counts {
			counts[d] = at
			at += c
		}
		for _, k := range ks {
			d := byte(k.key >> shift)
			tmp[counts[d]] = k
			counts[d]++
		}
		ks, tmp = tmp, ks
	}
	return ks
}

// withFrames returns an index body with its frames replaced.
func withFrames(body []byte, frames []block) []byte {
	s, err := parseIndexBody(body)
	if err != nil {
		return nil
	}
	b := append([]byte(nil), body[:s.frameOff]...)
	binary.LittleEndian.PutUint32(b[12:], uint32(len(frames)))
	for _, f := range frames {
		b = binary.LittleEndian.AppendUint64(b, uint64(f.raw))
		b = binary.LittleEndian.AppendUint64(b, uint64(f.z))
	}
	return b
}

// writeIndexFile writes an index file atomically (a temporary file,
// synced, renamed). cp gets the checksums of the body, the filter and the
// small index, and is signed with key.
func writeIndexFile(path string, cp *checkpoint, ix builtIndex, key []byte, enc *zstd.Encoder) error {
	return new(sealScratch).writeIndexFile(path, cp, ix, key, enc)
}

// writeIndexFile is writeIndexFile with s's buffer for the file.
func (s *sealScratch) writeIndexFile(path string, cp *checkpoint, ix builtIndex, key []byte, enc *zstd.Encoder) error {
	body := ix.body
	sum := sha256.Sum256(body)
	cp.Body = hex.EncodeToString(sum[:])
	cp.Filter, cp.FilterLen, cp.Small, cp.SmallLen = "", 0, "", 0
	if len(ix.filter) > 0 {
		cp.Filter, cp.FilterLen = sectionSum(ix.filter), len(ix.filter)
		cp.Small, cp.SmallLen = sectionSum(ix.small), len(ix.small)
	}
	cp.sign(key)
	head, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	cp.sections = len(idxMagic) + len(head) + 1
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	// The body is stored compressed (one zstd frame): about half the size.
	data := reuse(s.file, len(idxMagic)+len(head)+1+len(ix.filter)+len(ix.small)+len(body)/2)
	data = append(append(append(data, idxMagic...), head...), '\n')
	if cp.Filter != "" {
		data = append(append(data, ix.filter...), ix.small...)
	}
	data = enc.EncodeAll(body, data)
	s.file = data[:0]
	_, err = f.Write(data)
	if err == nil {
		err = datasync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("audit: write index %s: %w", filepath.Base(path), err)
	}
	return syncDir(filepath.Dir(path))
}

// sealedIndex is the body of an index file, read into memory (with its
// key filter and small index, when it is a whole index file's), or a small
// index.
type sealedIndex struct {
	data                             []byte
	filter                           keyFilter
	small                            []byte
	n, nkeys, npos, nblocks          int
	entOff, keyOff, posOff, frameOff int
}

// loadIndexFile reads an index file, checking its signature and body.
func loadIndexFile(path string, keys [][]byte, dec *zstd.Decoder) (*checkpoint, *sealedIndex, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	cp, start, err := parseCheckpoint(data, keys)
	if err != nil {
		return nil, nil, err
	}
	var filter keyFilter
	var small []byte
	if cp.Filter != "" {
		if start+cp.FilterLen+cp.SmallLen > len(data) {
			return nil, nil, errors.New("index key filter does not match its checkpoint (cut short)")
		}
		filter = keyFilter(bytes.Clone(data[start : start+cp.FilterLen]))
		small = bytes.Clone(data[start+cp.FilterLen : start+cp.FilterLen+cp.SmallLen])
		if sectionSum(filter) != cp.Filter || sectionSum(small) != cp.Small {
			return nil, nil, errors.New("index key filter does not match its checkpoint (changed or damaged)")
		}
		start += cp.FilterLen + cp.SmallLen
	}
	body, err := dec.DecodeAll(data[start:], nil)
	if err != nil {
		return nil, nil, fmt.Errorf("index body does not match its checkpoint (changed or damaged): %v", err)
	}
	sum := sha256.Sum256(body)
	if hex.EncodeToString(sum[:]) != cp.Body {
		return nil, nil, errors.New("index body does not match its checkpoint (changed or damaged)")
	}
	s, err := parseIndexBody(body)
	if err != nil {
		return nil, nil, err
	}
	if (cp.ZSize > 0) != (s.nblocks > 0) {
		return nil, nil, errors.New("index frames do not match the checkpoint")
	}
	s.filter, s.small = filter, small
	return cp, s, nil
}

func parseIndexBody(body []byte) (*sealedIndex, error) {
	if len(body) < 16 {
		return nil, errors.New("index body cut short")
	}
	s := &sealedIndex{data: body, n: int(binary.LittleEndian.Uint32(body)), nkeys: int(binary.LittleEndian.Uint32(body[4:])),
		npos: int(binary.LittleEndian.Uint32(body[8:])), nblocks: int(binary.LittleEndian.Uint32(body[12:]))}
	s.entOff = 16
	s.keyOff = s.entOff + s.n*entrySize
	s.posOff = s.keyOff + s.nkeys*keySize
	s.frameOff = s.posOff + s.npos*4
	if s.frameOff+s.nblocks*16 != len(body) {
		return nil, errors.New("index body has the wrong length")
	}
	return s, nil
}

// block returns where frame i of the compressed segment starts.
func (s *sealedIndex) block(i int) block {
	b := s.data[s.frameOff+i*16:]
	return block{int64(binary.LittleEndian.Uint64(b)), int64(binary.LittleEndian.Uint64(b[8:]))}
}

func (s *sealedIndex) size() int { return len(s.data) + len(s.filter) + len(s.small) }

// entry returns the time and sequence number of entry i.
func (s *sealedIndex) entry(i int) (time int64, seq uint64) {
	b := s.data[s.entOff+i*entrySize:]
	return int64(binary.LittleEndian.Uint64(b)), binary.LittleEndian.Uint64(b[8:])
}

// span returns where entry i's record line and event are in the segment.
func (s *sealedIndex) span(i int) (line, evDelta, evLen uint32) {
	b := s.data[s.entOff+i*entrySize+16:]
	return binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint32(b[8:])
}

// list returns the posting list of key k as a range of positions.
func (s *sealedIndex) list(k uint64) (start, n int) {
	lo, hi := 0, s.nkeys
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if binary.LittleEndian.Uint64(s.data[s.keyOff+m*keySize:]) < k {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == s.nkeys || binary.LittleEndian.Uint64(s.data[s.keyOff+lo*keySize:]) != k {
		return 0, 0
	}
	b := s.data[s.keyOff+lo*keySize+8:]
	return int(binary.LittleEndian.Uint32(b)), int(binary.LittleEndian.Uint32(b[4:]))
}

// pos returns the entry number at position i of the positions.
func (s *sealedIndex) pos(i int) int {
	return int(binary.LittleEndian.Uint32(s.data[s.posOff+i*4:]))
}

// rebuildIndex rebuilds the index file of a sealed segment from the
// segment, which must still match the segment's signed checkpoint; a
// compressed segment is compressed again, in its own codec (the file keeps
// its name), to know its frames.
func rebuildIndex(u *sealedRef, enc *zstd.Encoder, dec *zstd.Decoder, keys [][]byte) (*checkpoint, *sealedIndex, error) {
	cp := *u.cp
	prev, err := hex.DecodeString(cp.Prev)
	if err != nil || len(prev) != 32 {
		return nil, nil, errors.New("checkpoint names no previous hash")
	}
	var es []sealedEntry
	var entryKeys []uint64 // the entries' keys, one after the other
	var ak *accountKeys
	from := scanFrom{count: cp.First - 1, head: [32]byte(prev), set: true, segs: 1}
	st, err := scanChain(filepath.Dir(u.path), u.chain, from, nil, func(_ string, off int64, line []byte, rec *recordLine) {
		if s, e, ok := eventSpan(line); ok {
			if ak == nil || ak.account != rec.Meta.Account {
				ak = newAccountKeys(rec.Meta.Account)
			}
			es = append(es, sealedEntry{time: rec.Meta.Time, seq: rec.Seq, line: uint32(off), evDelta: uint32(s), evLen: uint32(e - s)})
			e, start := &es[len(es)-1], len(entryKeys)
			e.id, entryKeys = appendMetaKeys(entryKeys, &rec.Meta, ak)
			e.keys = entryKeys[start:len(entryKeys):len(entryKeys)]
		}
	})
	if err != nil {
		return nil, nil, err
	}
	if len(st.problems) > 0 || st.count != cp.Last || hex.EncodeToString(st.head[:]) != cp.Head {
		return nil, nil, fmt.Errorf("%w (run iamd audit verify): %s", errSegmentMismatch, strings.Join(st.problems, "; "))
	}
	var frames []block
	if isCompressed(u.path) {
		raw := uncompressedPath(u.path) + ".raw.tmp"
		if err := decompressTo(u.path, raw); err != nil {
			return nil, nil, err
		}
		frames, cp.ZSize, err = compressSegment(frameEncoderFor(u.path, enc), raw, cp.Size, u.path+".tmp")
		os.Remove(raw)
		if err != nil {
			return nil, nil, err
		}
		if err := os.Rename(u.path+".tmp", u.path); err != nil {
			return nil, nil, err
		}
	}
	path := idxPath(u.path)
	if err := writeIndexFile(path, &cp, buildIndex(es, frames), keys[0], enc); err != nil {
		return nil, nil, err
	}
	_, s, err := loadIndexFile(path, keys, dec)
	return &cp, s, err
}

// decompressTo writes the records of the compressed segment src to dst.
func decompressTo(src, dst string) error {
	r, err := openSegment(src)
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
