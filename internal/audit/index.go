package audit

import (
	"encoding/base64"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

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

	seg uint32
	off int64
	n   uint32
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

// ievent is an indexed event: strings interned to small integers.
type ievent struct {
	time                             int64
	off                              int64
	n, seg                           uint32
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

type postKey struct {
	attr    uint8
	account uint32
	value   uint32
}

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
	fResName
	numFields
)

// index is the in-memory index over every chain's events, in time order
// (events appended live are near enough: a request's time precedes its
// append by at most its duration, covered by timeSlack).
type index struct {
	mu     sync.RWMutex
	ids    map[string]uint32
	strs   []string
	events [][]ievent // in chunks of eventChunk, so that growing copies nothing
	count  uint32
	// unsorted is set when an event was appended with an earlier time
	// than the one before it; sortLoaded puts them in order.
	unsorted bool
	res      chunked[[2]uint32] // resources (type, name) of the events
	post     map[postKey]uint32 // → lists
	lists    []chunked[uint32]  // posting lists: positions in events
	segs     []*os.File

	// The last string interned per field and the last posting list per
	// attribute: events come in runs (one caller, one operation), so these
	// spare most map lookups.
	lastStr [numFields]struct {
		s  string
		id uint32
	}
	lastPost [numPosts]struct {
		k    postKey
		list uint32
		ok   bool
	}
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

func newIndex() *index {
	return &index{ids: map[string]uint32{"": 0}, strs: []string{""}, post: make(map[postKey]uint32)}
}

// internField is intern with a one-entry cache per field.
func (x *index) internField(field int, s string) uint32 {
	if s == "" {
		return 0
	}
	c := &x.lastStr[field]
	if c.s == s {
		return c.id
	}
	id := x.intern(s)
	c.s, c.id = s, id
	return id
}

func (x *index) intern(s string) uint32 {
	if id, ok := x.ids[s]; ok {
		return id
	}
	id := uint32(len(x.strs))
	x.strs = append(x.strs, s)
	x.ids[s] = id
	return id
}

func (x *index) addSegment(f *os.File) uint32 {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.segs = append(x.segs, f)
	return uint32(len(x.segs) - 1)
}

func (x *index) close() {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, f := range x.segs {
		f.Close()
	}
	x.segs = nil
}

// addLoaded indexes the events read at start, sorted by time.
func (x *index) addLoaded(ms []meta) {
	byTime := func(a, b meta) int {
		switch {
		case a.time < b.time:
			return -1
		case a.time > b.time:
			return 1
		}
		return 0
	}
	// One chain is already in order; several are merged.
	if !slices.IsSortedFunc(ms, byTime) {
		slices.SortStableFunc(ms, byTime)
	}
	x.append(ms)
	x.sortLoaded()
}

func (x *index) append(ms []meta) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for i := range ms {
		x.appendMeta(&ms[i])
	}
}

// sortLoaded puts the events indexed while loading in time order (stable)
// if they were not, rebuilding the posting lists: a chain's records are in
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
		res [][2]uint32
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
	var res chunked[[2]uint32]
	x.events, x.count = nil, 0
	clear(x.post)
	x.lists = nil
	clear(x.lastPost[:])
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
		x.post1(&e, m.res, pos)
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
		time: m.time, off: m.off, n: m.n, seg: m.seg,
		account: x.internField(fAccount, m.account), name: x.internField(fName, m.name),
		source: x.internField(fSource, m.source), user: x.internField(fUser, m.user),
		key: x.internField(fKey, m.key), id: parseUUID(m.id), readOnly: m.readOnly,
		res: uint32(x.res.len()), nres: uint8(min(len(m.res), 255)),
	}
	pos := x.count
	if pos%eventChunk == 0 {
		x.events = append(x.events, make([]ievent, 0, eventChunk))
	}
	last := &x.events[len(x.events)-1]
	var res [4][2]uint32
	ids := res[:0]
	for _, r := range m.res[:e.nres] {
		id := [2]uint32{x.internField(fResType, r.Type), x.internField(fResName, r.Name)}
		x.res.add(id)
		ids = append(ids, id)
	}
	*last = append(*last, e)
	x.count++
	x.post1(&e, ids, pos)
}

// post1 adds the event at pos to its posting lists.
func (x *index) post1(e *ievent, res [][2]uint32, pos uint32) {
	x.add(postKey{postAccount, e.account, 0}, pos)
	x.add(postKey{postName, e.account, e.name}, pos)
	if e.user != 0 {
		x.add(postKey{postUser, e.account, e.user}, pos)
	}
	if e.key != 0 {
		x.add(postKey{postKeyID, e.account, e.key}, pos)
	}
	for _, r := range res {
		x.add(postKey{postResType, e.account, r[0]}, pos)
		x.add(postKey{postResName, e.account, r[1]}, pos)
	}
}

func (x *index) add(k postKey, pos uint32) {
	c := &x.lastPost[k.attr]
	if !c.ok || c.k != k {
		i, ok := x.post[k]
		if !ok {
			i = uint32(len(x.lists))
			x.lists = append(x.lists, chunked[uint32]{})
			x.post[k] = i
		}
		c.k, c.list, c.ok = k, i, true
	}
	l := &x.lists[c.list]
	if last, ok := l.last(); ok && last == pos {
		return // an event naming the same resource twice
	}
	l.add(pos)
}

// postings returns the posting list under k, empty if none.
func (x *index) postings(k postKey) *chunked[uint32] {
	if i, ok := x.post[k]; ok {
		return &x.lists[i]
	}
	return &chunked[uint32]{}
}

// resources returns the resources of an indexed event.
func (x *index) resources(e *ievent) [][2]uint32 {
	var res [][2]uint32
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
	return l.idx.lookup(q)
}

func (x *index) lookup(q Query) (*Page, error) {
	if q.Max <= 0 {
		q.Max = 50
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	account, ok := x.ids[q.Account]
	if !ok || q.Account == "" {
		return &Page{}, x.checkToken(q)
	}
	var list *chunked[uint32]
	var keep func(e *ievent) bool
	lookupValue := func() (uint32, bool) { v, ok := x.ids[q.Value]; return v, ok }
	switch q.Attribute {
	case "":
		list = x.postings(postKey{postAccount, account, 0})
	case AttrEventID:
		id := parseUUID(q.Value)
		if id == ([16]byte{}) {
			return &Page{}, x.checkToken(q)
		}
		list = x.postings(postKey{postAccount, account, 0})
		keep = func(e *ievent) bool { return e.id == id }
	case AttrEventName, AttrUsername, AttrAccessKeyID, AttrResourceType, AttrResourceName:
		v, ok := lookupValue()
		if !ok {
			return &Page{}, x.checkToken(q)
		}
		attr := map[string]uint8{AttrEventName: postName, AttrUsername: postUser, AttrAccessKeyID: postKeyID,
			AttrResourceType: postResType, AttrResourceName: postResName}[q.Attribute]
		list = x.postings(postKey{attr, account, v})
	case AttrEventSource:
		v, ok := lookupValue()
		if !ok {
			return &Page{}, x.checkToken(q)
		}
		list = x.postings(postKey{postAccount, account, 0})
		keep = func(e *ievent) bool { return e.source == v }
	case AttrReadOnly:
		want := strings.EqualFold(q.Value, "true")
		list = x.postings(postKey{postAccount, account, 0})
		keep = func(e *ievent) bool { return e.readOnly == want }
	default:
		return nil, fmt.Errorf("audit: unknown lookup attribute %q", q.Attribute)
	}
	fp := q.fingerprint()
	// top is one past the newest list position to consider.
	top := list.len()
	if q.Token != "" {
		p, err := parseToken(q.Token, fp)
		if err != nil || p > list.len() {
			return nil, ErrInvalidToken
		}
		top = p
	} else if !q.End.IsZero() {
		end := q.End.Unix() + timeSlack
		top = sort.Search(list.len(), func(i int) bool { return x.event(list.at(i)).time > end })
	}
	var start, end int64 = -1 << 62, 1 << 62
	if !q.Start.IsZero() {
		start = q.Start.Unix()
	}
	if !q.End.IsZero() {
		end = q.End.Unix()
	}
	page := &Page{}
	i := top - 1
	for ; i >= 0 && len(page.Events) < q.Max; i-- {
		e := x.event(list.at(i))
		if e.time < start-timeSlack {
			i = -1
			break
		}
		if e.time < start || e.time > end || (keep != nil && !keep(e)) {
			continue
		}
		f, err := x.found(e)
		if err != nil {
			return nil, err
		}
		page.Events = append(page.Events, f)
	}
	if i >= 0 && len(page.Events) == q.Max && x.more(list, i, start, end, keep) {
		page.NextToken = makeToken(i+1, fp)
	}
	return page, nil
}

// more reports whether any position at or below i matches.
func (x *index) more(list *chunked[uint32], i int, start, end int64, keep func(*ievent) bool) bool {
	for ; i >= 0; i-- {
		e := x.event(list.at(i))
		if e.time < start-timeSlack {
			return false
		}
		if e.time >= start && e.time <= end && (keep == nil || keep(e)) {
			return true
		}
	}
	return false
}

func (x *index) checkToken(q Query) error {
	if q.Token == "" {
		return nil
	}
	if _, err := parseToken(q.Token, q.fingerprint()); err != nil {
		return ErrInvalidToken
	}
	return nil
}

func (x *index) found(e *ievent) (Found, error) {
	if int(e.seg) >= len(x.segs) {
		return Found{}, errors.New("audit: index names a closed segment")
	}
	buf := make([]byte, e.n)
	if _, err := x.segs[e.seg].ReadAt(buf, e.off); err != nil {
		return Found{}, fmt.Errorf("audit: read event: %w", err)
	}
	f := Found{
		EventID: formatUUID(e.id), EventName: x.strs[e.name], ReadOnly: e.readOnly, AccessKeyID: x.strs[e.key],
		Time: time.Unix(e.time, 0).UTC(), Source: x.strs[e.source], Username: x.strs[e.user], JSON: buf,
	}
	for _, r := range x.resources(e) {
		f.Resources = append(f.Resources, Resource{Type: x.strs[r[0]], Name: x.strs[r[1]]})
	}
	return f, nil
}

func makeToken(pos int, fp string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v1:" + strconv.Itoa(pos) + ":" + fp))
}

func parseToken(tok, fp string) (int, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, ErrInvalidToken
	}
	parts := strings.Split(string(b), ":")
	if len(parts) != 3 || parts[0] != "v1" || parts[2] != fp {
		return 0, ErrInvalidToken
	}
	p, err := strconv.Atoi(parts[1])
	if err != nil || p < 0 {
		return 0, ErrInvalidToken
	}
	return p, nil
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
