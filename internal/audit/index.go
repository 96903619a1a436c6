package audit

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/iamd/iamd/internal/uuid"
)

// meta is what the index keeps of an event; the event itself stays on disk.
type meta struct {
	time     int64 // Unix seconds
	account  string
	name     string
	source   string
	user     string
	key      string
	id       string
	readOnly bool
	res      []Resource

	seq  uint64
	line int64  // where the record line starts in its segment
	off  int64  // where the event starts
	n    uint32 // the event's length
	unit *index // the in-memory index of the segment

	// idBytes is id decoded when Record made it, which spares the index
	// parsing it; zero otherwise.
	idBytes [16]byte
}

func metaOfEvent(ev *Event) meta {
	t := ev.time
	if t.IsZero() {
		t, _ = time.Parse(TimeFormat, ev.EventTime)
	}
	return meta{
		time: t.Unix(), account: ev.RecipientAccountID, name: ev.EventName, source: ev.EventSource,
		user: ev.Username, key: ev.UserIdentity.AccessKeyID, id: ev.EventID, readOnly: ev.ReadOnly,
		res: ev.Resources,
	}
}

// uuid returns the event ID decoded.
func (m *meta) uuid() [16]byte {
	if m.idBytes != ([16]byte{}) {
		return m.idBytes
	}
	return parseUUID(m.id)
}

func metaOfRecord(r *recordLine) meta {
	m := meta{
		time: r.Meta.Time, account: r.Meta.Account, name: r.Meta.Name, source: r.Meta.Source,
		user: r.Meta.User, key: r.Meta.Key, id: r.Meta.ID, readOnly: r.Meta.ReadOnly,
	}
	for _, p := range r.Meta.Res {
		m.res = append(m.res, Resource{Type: p[0], Name: p[1]})
	}
	return m
}

// ievent is an indexed event: its strings interned to small integers, but
// for its resources' names (see resRef).
type ievent struct {
	time                             int64
	seq                              uint64
	off                              int64
	n, lineDelta                     uint32 // event length, offset in its line
	account, name, source, user, key uint32
	id                               [16]byte
	res                              uint32 // start in index.res
	nres                             uint8
	readOnly                         bool
}

// Lookup attributes, as LookupEvents names them.
const (
	AttrEventID      = "EventId"
	AttrEventName    = "EventName"
	AttrReadOnly     = "ReadOnly"
	AttrUsername     = "Username"
	AttrResourceType = "ResourceType"
	AttrResourceName = "ResourceName"
	AttrEventSource  = "EventSource"
	AttrAccessKeyID  = "AccessKeyId"
)

const (
	postAccount = iota
	postName
	postUser
	postKeyID
	postResType
	postResName
	numPosts
)

// Fields whose strings are interned, for the intern cache.
const (
	fAccount = iota
	fName
	fSource
	fUser
	fKey
	fResType
	numFields
)

// index is the in-memory index of one segment's events (the segment being
// written, or one without an index file yet), in time order (events
// appended live are near enough: a request's time precedes its append by
// at most its duration, covered by timeSlack). It keeps no posting lists:
// a lookup scans the segment's events, newest first (a 16 MiB segment holds
// some 14,000 typical events: a scan of well under a millisecond), which
// spares every request the lists' upkeep; sealed segments' index files
// have posting lists.
type index struct {
	chain string
	first uint64   // sequence number of the segment's first record
	path  string   // the segment
	seg   *os.File // the segment, for reading events
	// minTime and maxTime bound the events' times (under mu).
	minTime, maxTime int64
	// waitFor and filled: filled is closed once count reaches waitFor
	// (the sealer waits for every event of the segment; under mu).
	waitFor uint32
	filled  chan struct{}

	mu     sync.RWMutex
	ids    map[string]uint32
	strs   []string
	events [][]ievent // in chunks of eventChunk, so that growing copies nothing
	count  uint32
	// unsorted is set when an event was appended with an earlier time
	// than the one before it; sortLoaded puts them in order.
	unsorted bool
	res      chunked[resRef] // resources of the events
	// names holds the resources' names, in chunks that never move once
	// written (see resRef).
	names [][]byte

	// The last string interned per field: events come in runs (one
	// caller, one operation), so this spares most map lookups.
	lastStr [numFields]struct {
		s  string
		id uint32
	}
}

// resRef is an indexed resource: its type interned, its name in the
// index's names. Names are not interned: under load they change with
// nearly every event (the user of each GetUser, every new user's name), so
// interning them cost a map lookup per event, the dearest part of indexing
// one once the request path has pushed the map out of the CPU's caches.
type resRef struct{ typ, chunk, off, n uint32 }

// nameChunk is the size of a chunk of index.names.
const nameChunk = 64 << 10

// addName appends a resource's name to x.names.
func (x *index) addName(s string) (chunk, off uint32) {
	if n := len(x.names); n == 0 || cap(x.names[n-1])-len(x.names[n-1]) < len(s) {
		x.names = append(x.names, make([]byte, 0, max(nameChunk, len(s))))
	}
	last := &x.names[len(x.names)-1]
	off = uint32(len(*last))
	*last = append(*last, s...)
	return uint32(len(x.names) - 1), off
}

// name returns a resource's name. It shares x.names's bytes, which are
// never written again: callers that keep it past the index copy it.
func (x *index) name(r resRef) string {
	if r.n == 0 {
		return ""
	}
	return unsafe.String(&x.names[r.chunk][r.off], r.n)
}

// eventChunk is the number of events per chunk of index.events.
const eventChunk = 4096

// event returns the event at position pos.
func (x *index) event(pos uint32) *ievent {
	return &x.events[pos/eventChunk][pos%eventChunk]
}

// timeSlack bounds how far an event's time may trail the events appended
// after it.
const timeSlack = 5 * 60

func newIndex(chain string, first uint64, path string, seg *os.File) *index {
	return &index{chain: chain, first: first, path: path, seg: seg, minTime: 1 << 62, maxTime: -1 << 62,
		ids: map[string]uint32{"": 0}, strs: []string{""}}
}

// internField is intern with a one-entry cache per field. The cache holds
// the index's own copy, which stays in the CPU's caches while a run of
// events repeats it (the caller's string is new with every request).
func (x *index) internField(field int, s string) uint32 {
	if s == "" {
		return 0
	}
	c := &x.lastStr[field]
	if c.s == s {
		return c.id
	}
	id := x.intern(s)
	c.s, c.id = x.strs[id], id
	return id
}

// intern returns the number of s, storing a copy of it if it is new: the
// caller's string may point into a whole request's bytes.
func (x *index) intern(s string) uint32 {
	if id, ok := x.ids[s]; ok {
		return id
	}
	id := uint32(len(x.strs))
	s = strings.Clone(s)
	x.strs = append(x.strs, s)
	x.ids[s] = id
	return id
}

func (x *index) close() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.seg != nil {
		x.seg.Close()
		x.seg = nil
	}
}

// wait returns once n events are indexed.
func (x *index) wait(n uint32) {
	x.mu.Lock()
	if x.count >= n {
		x.mu.Unlock()
		return
	}
	x.waitFor, x.filled = n, make(chan struct{})
	ch := x.filled
	x.mu.Unlock()
	<-ch
}

// sortLoaded puts the events indexed while loading in time order (stable)
// if they were not: a chain's records are in
// the order they were written, which is the order of their times only to
// within a request's duration.
func (x *index) sortLoaded() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.unsorted {
		return
	}
	x.unsorted = false
	type moved struct {
		e   ievent
		res []resRef
	}
	all := make([]moved, 0, x.count)
	for _, chunk := range x.events {
		for _, e := range chunk {
			all = append(all, moved{e: e, res: x.resources(&e)})
		}
	}
	slices.SortStableFunc(all, func(a, b moved) int {
		switch {
		case a.e.time < b.e.time:
			return -1
		case a.e.time > b.e.time:
			return 1
		}
		return 0
	})
	var res chunked[resRef]
	x.events, x.count = nil, 0
	for _, m := range all {
		e := m.e
		e.res = uint32(res.len())
		for _, r := range m.res {
			res.add(r)
		}
		pos := x.count
		if pos%eventChunk == 0 {
			x.events = append(x.events, make([]ievent, 0, eventChunk))
		}
		last := &x.events[len(x.events)-1]
		*last = append(*last, e)
		x.count++
	}
	x.res = res
}

// appendOne indexes an event just written.
func (x *index) appendOne(m *meta) {
	x.mu.Lock()
	x.appendMeta(m)
	x.mu.Unlock()
}

// appendMeta indexes one event; x.mu is held.
func (x *index) appendMeta(m *meta) {
	if n := len(x.events); n > 0 {
		if last := x.events[n-1]; len(last) > 0 && m.time < last[len(last)-1].time {
			x.unsorted = true
		}
	}
	e := ievent{
		time: m.time, seq: m.seq, off: m.off, n: m.n, lineDelta: uint32(m.off - m.line),
		account: x.internField(fAccount, m.account), name: x.internField(fName, m.name),
		source: x.internField(fSource, m.source), user: x.internField(fUser, m.user),
		key: x.internField(fKey, m.key), id: m.uuid(), readOnly: m.readOnly,
		res: uint32(x.res.len()), nres: uint8(min(len(m.res), 255)),
	}
	pos := x.count
	if pos%eventChunk == 0 {
		x.events = append(x.events, make([]ievent, 0, eventChunk))
	}
	last := &x.events[len(x.events)-1]
	for _, r := range m.res[:e.nres] {
		ref := resRef{typ: x.internField(fResType, r.Type), n: uint32(len(r.Name))}
		if ref.n > 0 {
			ref.chunk, ref.off = x.addName(r.Name)
		}
		x.res.add(ref)
	}
	*last = append(*last, e)
	x.count++
	x.minTime, x.maxTime = min(x.minTime, m.time), max(x.maxTime, m.time)
	if x.filled != nil && x.count >= x.waitFor {
		close(x.filled)
		x.filled = nil
	}
}

// resources returns the resources of an indexed event.
func (x *index) resources(e *ievent) []resRef {
	var res []resRef
	for i := range int(e.nres) {
		res = append(res, x.res.at(int(e.res)+i))
	}
	return res
}

// Query selects events of one account, newest first.
type Query struct {
	Account string
	// Attribute and Value filter on one lookup attribute (Attr*); empty
	// Attribute selects all events.
	Attribute string
	Value     string
	// Start and End bound the event time, inclusive; zero means unbounded.
	Start, End time.Time
	// Max is the page size.
	Max int
	// Token continues a previous query with the same parameters.
	Token string
}

// Found is an event a query returned.
type Found struct {
	EventID     string
	EventName   string
	ReadOnly    bool
	AccessKeyID string
	Time        time.Time
	Source      string
	Username    string
	Resources   []Resource
	// JSON is the CloudTrail record.
	JSON []byte
}

// Page is one page of a query's results.
type Page struct {
	Events    []Found
	NextToken string
}

// ErrInvalidToken is returned for a token that is malformed or belongs to
// a query with other parameters.
var ErrInvalidToken = errors.New("audit: invalid next token")

func (q *Query) fingerprint() string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%d\x00%d", q.Account, q.Attribute, q.Value, q.Start.Unix(), q.End.Unix())
	return strconv.FormatUint(h.Sum64(), 36)
}

// parseUUID decodes an event ID; IDs that are not UUIDs decode to zero
// (and match no lookup).
func parseUUID(s string) [16]byte {
	id, _ := uuid.Parse(s)
	return id
}

// formatUUID is the event ID of an indexed event, "" for none.
func formatUUID(id [16]byte) string {
	if id == ([16]byte{}) {
		return ""
	}
	return uuid.Format(id)
}

// entries returns the events as an index file holds them, and their time
// bounds. Keys share one slice, and each account's key prefixes are
// hashed once (accountKeys): sealing runs beside the requests, so it
// allocates little per event.
func (x *index) entries() (es []sealedEntry, minT, maxT int64) {
	return x.entriesInto(new(sealScratch))
}

// entriesInto is entries with s's buffers: the entries are s's, valid
// until s is used again.
func (x *index) entriesInto(s *sealScratch) (es []sealedEntry, minT, maxT int64) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	es = reuse(s.es, int(x.count))
	keys := reuse(s.keys, int(x.count)*8)
	if s.accounts == nil {
		s.accounts = make(map[uint32]*accountKeys)
	} else {
		clear(s.accounts) // numbered by x
	}
	accounts := s.accounts
	var ak *accountKeys
	var last lastHashes
	lastAccount := ^uint32(0)
	for pos := range x.count {
		e := x.event(pos)
		if e.account != lastAccount {
			if ak = accounts[e.account]; ak == nil {
				ak = newAccountKeys(x.strs[e.account])
				accounts[e.account] = ak
			}
			lastAccount = e.account
		}
		start := len(keys)
		keys = x.appendKeys(keys, e, ak, &last)
		var id uint64
		if e.id != ([16]byte{}) {
			id = ak.id(e.id)
		}
		es = append(es, sealedEntry{time: e.time, seq: e.seq, line: uint32(e.off) - e.lineDelta, evDelta: e.lineDelta, evLen: e.n, id: id, keys: keys[start:len(keys):len(keys)]})
	}
	s.es, s.keys = es[:0], keys[:0]
	return es, x.minTime, x.maxTime
}

// appendKeys appends the keys of e but its event ID's, those of its
// account ak, in metaKeys's order.
func (x *index) appendKeys(keys []uint64, e *ievent, ak *accountKeys, last *lastHashes) []uint64 {
	hash := func(attr uint8, value uint32) uint64 { return last.hash(attr, value, ak, x.strs) }
	keys = append(keys, ak.hash(postAccount, ""), hash(postName, e.name), hash(postSource, e.source), ak.readOnlyKey(e.readOnly))
	if e.user != 0 {
		keys = append(keys, hash(postUser, e.user))
	}
	if e.key != 0 {
		keys = append(keys, hash(postKeyID, e.key))
	}
	for i := range int(e.nres) {
		r := x.res.at(int(e.res) + i)
		keys = append(keys, hash(postResType, r.typ), ak.hash(postResName, x.name(r)))
	}
	return keys
}

// lastHashes holds, by attribute, the last value's key that entries
// hashed: events come in runs (one source, one resource type, one
// caller), so many keys are those of the event before.
type lastHashes [postSource + 1]struct {
	ak    *accountKeys
	value uint32
	key   uint64
}

// hash returns the key of attr and value (an interned string of strs) in
// ak's account.
func (l *lastHashes) hash(attr uint8, value uint32, ak *accountKeys, strs []string) uint64 {
	h := &l[attr]
	if h.ak != ak || h.value != value {
		h.ak, h.value, h.key = ak, value, ak.hash(attr, strs[value])
	}
	return h.key
}
