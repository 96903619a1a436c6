package audit

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/uuid"
)

// benchEvent is a typical API call's event: GetUser by an IAM user through
// the AWS CLI, as iamd records it. Its event ID is of its time (version
// 7), as Record makes them, or random (version 4, as iamd made them
// before) with IAMD_AUDIT_BENCH_V4_IDS set.
func benchEvent(i int, at time.Time) *Event {
	id := uuid.NewV7(at)
	if os.Getenv("IAMD_AUDIT_BENCH_V4_IDS") != "" {
		id = uuid.New()
	}
	user := fmt.Sprintf("user%d", i%500)
	target := fmt.Sprintf("target%d", i%1000)
	key := fmt.Sprintf("AKIA%016d", i%700)
	name := []string{"GetUser", "ListUsers", "GetRole", "ListAttachedUserPolicies", "CreateUser"}[i%5]
	source, resType := SourceIAM, "AWS::IAM::User"
	if i%rareEvery == rareEvery/2 {
		// A value seen once in a million events, in every attribute
		// but ReadOnly: the lookups that visit the whole trail.
		user, target, key, name, source, resType = "rare-user", "rare-target", "AKIARARE000000000000", "DeleteRolePermissionsBoundary", "sts.amazonaws.com", "AWS::IAM::Role"
	}
	return &Event{
		EventVersion: EventVersion,
		UserIdentity: UserIdentity{Type: "IAMUser", PrincipalID: fmt.Sprintf("AIDA%017d", i%500), ARN: "arn:aws:iam::123456789012:user/" + user,
			AccountID: "123456789012", AccessKeyID: key, UserName: user},
		EventTime: FormatTime(at), EventSource: source, EventName: name,
		AWSRegion: "us-east-1", SourceIPAddress: fmt.Sprintf("10.0.%d.%d", i%7, i%250),
		UserAgent:         "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.22 md/prompt#off md/command#iam.get-user",
		RequestParameters: json.RawMessage(`{"userName":"` + target + `"}`),
		ResponseElements:  json.RawMessage("null"),
		RequestID:         uuid.New(), EventID: id, ReadOnly: i%5 != 4, EventType: TypeAPICall, ManagementEvent: true,
		RecipientAccountID: "123456789012", EventCategory: "Management",
		Resources: []Resource{{Type: resType, Name: target}}, Username: user,
	}
}

// rareEvery spaces the events of rare values (one per million).
const rareEvery = 1_000_000

// genTrail writes a chain of n events into dir directly, as the writer
// would have (segments of 16 MiB with their index files, digests every
// 1,000 records, the signed head), a thousand events a second ending now.
// With fullOpen it goes on until the open segment is nearly full (the
// dearest start), and returns how many events it wrote.
func genTrail(tb testing.TB, dir string, n int, fullOpen bool) int {
	tb.Helper()
	chain := "00000000be0c4a11"
	cdir := filepath.Join(dir, chain)
	if err := os.MkdirAll(cdir, 0o700); err != nil {
		tb.Fatal(err)
	}
	keys := testKey
	tr := newTrail(keys, slog.New(slog.DiscardHandler))
	defer tr.close()
	prev := genesis(chain)
	t0 := time.Now().Add(-time.Duration(n) * time.Millisecond)
	dig, err := os.Create(filepath.Join(cdir, digestsFile))
	if err != nil {
		tb.Fatal(err)
	}
	defer dig.Close()
	var (
		lastSig                   string
		lastCount                 uint64
		digestN                   int
		digestsSize               int64
		seg                       *os.File
		w                         *bufio.Writer
		segPath                   string
		segFirst                  uint64
		segPrev                   [32]byte
		segSize                   int64
		es                        []sealedEntry
		minT, maxT                int64
		buf                       []byte
		segLimit                  = int64(DefaultSegmentBytes)
		digestEvery               = 1000
		closeSeg, sealAndContinue func(last uint64)
	)
	closeSeg = func(last uint64) {
		if err := w.Flush(); err != nil {
			tb.Fatal(err)
		}
		seg.Close()
	}
	sealAndContinue = func(last uint64) {
		closeSeg(last)
		cp := &checkpoint{Chain: chain, First: segFirst, Last: last, Prev: hex.EncodeToString(segPrev[:]), Head: hex.EncodeToString(prev[:]),
			Size: segSize, MinTime: minT, MaxTime: maxT, Events: len(es), DigestOff: digestsSize, DigestSig: lastSig, DigestCount: lastCount, Digests: digestN}
		if err := writeIndexFile(idxPath(segPath), cp, buildIndex(es, nil), keys[0], tr.enc); err != nil {
			tb.Fatal(err)
		}
		if err := tr.compress(&unit{chain: chain, first: segFirst, path: segPath, cp: cp}); err != nil {
			tb.Fatal(err)
		}
	}
	newSeg := func(first uint64) {
		segPath = filepath.Join(cdir, segmentName(first))
		var err error
		if seg, err = os.Create(segPath); err != nil {
			tb.Fatal(err)
		}
		w = bufio.NewWriterSize(seg, 1<<20)
		segFirst, segPrev, segSize, es, minT, maxT = first, prev, 0, es[:0], 1<<62, -1<<62
	}
	newSeg(1)
	for i := 1; i <= n || fullOpen && segSize < segLimit-(1<<20); i++ {
		n = max(n, i)
		ev := benchEvent(i, t0.Add(time.Duration(i)*time.Millisecond))
		m := metaOfEvent(ev)
		buf = append(buf[:0], prev[:]...)
		buf = appendRecordPrefix(buf, uint64(i), prev)
		buf = appendMeta(buf, &m)
		buf = append(buf, eventKey...)
		evStart := len(buf) - len(prev)
		// As Record stores the events it names:
		buf = appendStoredEvent(buf, ev, compactable(ev, m.uuid()), FormatTime(time.Unix(m.time, 0)))
		evLen := len(buf) - len(prev) - evStart
		buf = append(buf, '}')
		prev = sha256.Sum256(buf) // the previous hash, then the line
		buf = append(buf, '\n')
		if _, err := w.Write(buf[len(prev):]); err != nil {
			tb.Fatal(err)
		}
		rm := recordMeta{Time: m.time, Account: m.account, Name: m.name, Source: m.source, User: m.user, Key: m.key, ID: m.id, ReadOnly: m.readOnly}
		for _, r := range m.res {
			rm.Res = append(rm.Res, [2]string{r.Type, r.Name})
		}
		es = append(es, sealedEntry{time: m.time, seq: uint64(i), line: uint32(segSize), evDelta: uint32(evStart), evLen: uint32(evLen)})
		e := &es[len(es)-1]
		e.id, e.keys = metaKeys(&rm)
		minT, maxT = min(minT, m.time), max(maxT, m.time)
		segSize += int64(len(buf) - len(prev))
		if i%digestEvery == 0 || i == n {
			s := signed{Chain: chain, Count: uint64(i), Head: hex.EncodeToString(prev[:]), Time: FormatTime(t0), Prev: lastSig}
			s.sign("digest", keys[0])
			data, _ := json.Marshal(&s)
			data = append(data, '\n')
			if _, err := dig.Write(data); err != nil {
				tb.Fatal(err)
			}
			lastSig, lastCount, digestN, digestsSize = s.Sig, s.Count, digestN+1, digestsSize+int64(len(data))
		}
		if segSize >= segLimit {
			sealAndContinue(uint64(i))
			newSeg(uint64(i) + 1)
		}
	}
	closeSeg(uint64(n))
	s := signed{Chain: chain, Count: uint64(n), Head: hex.EncodeToString(prev[:]), Time: FormatTime(t0)}
	s.sign("head", keys[0])
	data, _ := json.Marshal(&s)
	slot := bytes.Repeat([]byte(" "), headSlot)
	copy(slot, data)
	slot[headSlot-1] = '\n'
	if err := os.WriteFile(filepath.Join(cdir, headFile), slot, 0o600); err != nil {
		tb.Fatal(err)
	}
	return n
}

// trailFigures is what the child process of BenchmarkLongTrail reports.
type trailFigures struct {
	StartNs     int64
	StartCPUNs  int64 // user and system CPU time of the start
	RSSBefore   int64 // bytes, before Open
	RSSOpen     int64 // after Open
	RSSLookups  int64 // after the lookups
	HeapOpen    uint64
	LookupP50Ns int64
	LookupP99Ns int64
	// SlowestNs is each query's slowest lookup (a page and the next),
	// by its attribute ("time" for the time range, "" for none).
	SlowestNs map[string]int64
	// PerQuery is each query's p50, p99 and slowest lookup in ms; Found
	// how many events its first round found (a page and the next).
	PerQuery     map[string][3]float64
	Found        map[string]int
	Lookups      int
	Events       int
	EventsPaged  int
	OpenedChains int
}

// BenchmarkLongTrail measures a start over a long trail:
// IAMD_AUDIT_BENCH_EVENTS events (default 1,000,000), generated by writing
// segments directly into IAMD_AUDIT_BENCH_DIR (kept, and reused if it
// holds a trail of that length; a temporary directory otherwise). A fresh
// process opens the log, so that start-up time and resident memory are
// its alone, then answers lookups by every attribute.
//
//	IAMD_AUDIT_BENCH_EVENTS=5000000 IAMD_AUDIT_BENCH_DIR=/tmp/trail5m \
//	  go test ./internal/audit -run '^$' -bench LongTrail -benchtime 1x
//
// IAMD_AUDIT_BENCH_NO_FILTERS=1 ignores the segments' key filters (the
// baseline); IAMD_AUDIT_BENCH_ROUNDS and IAMD_AUDIT_BENCH_RARE_ROUNDS set
// how many rounds of lookups, of all kinds and of rare values, are made
// (20 each).
func BenchmarkLongTrail(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("IAMD_AUDIT_BENCH_EVENTS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	fullOpen := os.Getenv("IAMD_AUDIT_BENCH_FULL_OPEN") != ""
	dir := os.Getenv("IAMD_AUDIT_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	stamp := filepath.Join(dir, fmt.Sprintf("generated-%d", n))
	if data, err := os.ReadFile(stamp); err == nil {
		n, _ = strconv.Atoi(string(data))
	} else {
		os.RemoveAll(dir)
		start := time.Now()
		n = genTrail(b, dir, n, fullOpen)
		if err := os.WriteFile(stamp, []byte(strconv.Itoa(n)), 0o600); err != nil {
			b.Fatal(err)
		}
		b.Logf("generated %d events in %v", n, time.Since(start).Round(time.Millisecond))
	}
	// All files, and the sealed part alone (compressed segments, index
	// files) over the events it holds: the open segment is uncompressed.
	var disk, sealed int64
	var sealedEvents int
	filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			disk += fi.Size()
			if isCompressed(path) || strings.HasSuffix(path, idxExt) {
				sealed += fi.Size()
			}
			if strings.HasSuffix(path, idxExt) {
				if cp, err := readCheckpoint(path, testKey); err == nil {
					sealedEvents += cp.Events
				}
			}
		}
		return nil
	})
	b.ResetTimer()
	for range b.N {
		// Drop what a previous open left in the chain (a new segment).
		cmd := exec.Command(os.Args[0], "-test.run=^TestLongTrailChild$", "-test.v")
		cmd.Env = append(os.Environ(), "IAMD_AUDIT_BENCH_CHILD="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("child: %v\n%s", err, out)
		}
		_, after, ok := bytes.Cut(out, []byte("FIGURES "))
		if !ok {
			b.Fatalf("child said:\n%s", out)
		}
		line, _, _ := bytes.Cut(after, []byte("\n"))
		var f trailFigures
		if err := json.Unmarshal(line, &f); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(f.StartNs)/1e6, "start-ms")
		b.ReportMetric(float64(f.StartCPUNs)/1e6, "start-cpu-ms")
		b.ReportMetric(float64(f.RSSOpen)/(1<<20), "rss-open-MiB")
		b.ReportMetric(float64(f.RSSLookups)/(1<<20), "rss-lookups-MiB")
		b.ReportMetric(float64(f.HeapOpen)/(1<<20), "heap-open-MiB")
		b.ReportMetric(float64(f.LookupP50Ns)/1e6, "lookup-p50-ms")
		b.ReportMetric(float64(f.LookupP99Ns)/1e6, "lookup-p99-ms")
		b.ReportMetric(float64(disk)/float64(n), "disk-B/event")
		if sealedEvents > 0 {
			b.ReportMetric(float64(sealed)/float64(sealedEvents), "sealed-B/event")
		}
		b.Logf("%d events: %+v", n, f)
	}
}

// TestLongTrailChild is BenchmarkLongTrail's child process.
func TestLongTrailChild(t *testing.T) {
	dir := os.Getenv("IAMD_AUDIT_BENCH_CHILD")
	if dir == "" {
		t.Skip("run by BenchmarkLongTrail")
	}
	var f trailFigures
	runtime.GC()
	f.RSSBefore = rss(t)
	start, cpu0 := time.Now(), cpuTime()
	l, err := Open(Options{Dir: dir, Keys: testKey, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	f.StartNs, f.StartCPUNs = time.Since(start).Nanoseconds(), (cpuTime() - cpu0).Nanoseconds()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	f.RSSOpen, f.HeapOpen = rss(t), ms.HeapAlloc
	// The baseline: every index file in a lookup's time range is read.
	l.trail.ignoreFilters = os.Getenv("IAMD_AUDIT_BENCH_NO_FILTERS") != ""
	const account = "123456789012"
	var ids []string
	p, err := l.Lookup(Query{Account: account, Max: 50})
	if err != nil || len(p.Events) != 50 {
		t.Fatalf("lookup: %v", err)
	}
	for _, e := range p.Events {
		ids = append(ids, e.EventID)
	}
	// The oldest event, by a time range over the trail's first hour.
	l.trail.mu.RLock()
	oldest := time.Unix(l.trail.units[0].minTime(), 0)
	l.trail.mu.RUnlock()
	var oldID string
	if p, err := l.Lookup(Query{Account: account, Start: oldest, End: oldest.Add(time.Minute), Max: 1}); err == nil && len(p.Events) > 0 {
		oldID = p.Events[0].EventID
	}
	type named struct {
		name string
		q    Query
		rare bool
	}
	queries := []named{
		{"all", Query{Account: account}, false},
		{"EventName", Query{Account: account, Attribute: AttrEventName, Value: "CreateUser"}, false},
		{"Username", Query{Account: account, Attribute: AttrUsername, Value: "user7"}, false},
		{"ResourceName", Query{Account: account, Attribute: AttrResourceName, Value: "target7"}, false},
		{"ResourceType", Query{Account: account, Attribute: AttrResourceType, Value: "AWS::IAM::User"}, false},
		{"AccessKeyId", Query{Account: account, Attribute: AttrAccessKeyID, Value: fmt.Sprintf("AKIA%016d", 7)}, false},
		{"EventSource", Query{Account: account, Attribute: AttrEventSource, Value: SourceIAM}, false},
		{"ReadOnly", Query{Account: account, Attribute: AttrReadOnly, Value: "false"}, false},
		{"EventId", Query{Account: account, Attribute: AttrEventID, Value: ids[len(ids)-1]}, false},
		{"time", Query{Account: account, Start: time.Now().Add(-time.Hour), End: time.Now().Add(-50 * time.Minute)}, false},
		{"time/old", Query{Account: account, Start: oldest.Add(time.Minute), End: oldest.Add(2 * time.Minute)}, false},
		{"rare/EventName", Query{Account: account, Attribute: AttrEventName, Value: "DeleteRolePermissionsBoundary"}, true},
		{"rare/Username", Query{Account: account, Attribute: AttrUsername, Value: "rare-user"}, true},
		{"rare/ResourceName", Query{Account: account, Attribute: AttrResourceName, Value: "rare-target"}, true},
		{"rare/ResourceType", Query{Account: account, Attribute: AttrResourceType, Value: "AWS::IAM::Role"}, true},
		{"rare/AccessKeyId", Query{Account: account, Attribute: AttrAccessKeyID, Value: "AKIARARE000000000000"}, true},
		{"rare/EventSource", Query{Account: account, Attribute: AttrEventSource, Value: "sts.amazonaws.com"}, true},
		{"absent/Username", Query{Account: account, Attribute: AttrUsername, Value: "nobody"}, true},
		{"EventId/old", Query{Account: account, Attribute: AttrEventID, Value: oldID}, false},
	}
	rounds, rareRounds := 20, 20
	if s := os.Getenv("IAMD_AUDIT_BENCH_ROUNDS"); s != "" {
		rounds, _ = strconv.Atoi(s)
		rareRounds = rounds
	}
	if s := os.Getenv("IAMD_AUDIT_BENCH_RARE_ROUNDS"); s != "" {
		rareRounds, _ = strconv.Atoi(s)
	}
	var lat []time.Duration
	per := map[string][]time.Duration{}
	f.SlowestNs = map[string]int64{}
	f.Found = map[string]int{}
	for round := range rounds {
		for _, nq := range queries {
			if nq.rare && round >= rareRounds {
				continue
			}
			q := nq.q
			q.Max = 50
			s := time.Now()
			p, err := l.Lookup(q)
			if err != nil {
				t.Fatal(err)
			}
			found := len(p.Events)
			// And the next page.
			if p.NextToken != "" {
				q.Token = p.NextToken
				p2, err := l.Lookup(q)
				if err != nil {
					t.Fatal(err)
				}
				found += len(p2.Events)
			}
			d := time.Since(s)
			lat = append(lat, d)
			per[nq.name] = append(per[nq.name], d)
			f.SlowestNs[nq.name] = max(f.SlowestNs[nq.name], d.Nanoseconds())
			if round == 0 {
				f.EventsPaged += found
				f.Found[nq.name] = found
			}
		}
	}
	f.PerQuery = map[string][3]float64{}
	for name, ds := range per {
		slices.Sort(ds)
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		f.PerQuery[name] = [3]float64{ms(ds[len(ds)/2]), ms(ds[len(ds)*99/100]), ms(ds[len(ds)-1])}
	}
	slices.Sort(lat)
	f.Lookups = len(lat)
	f.LookupP50Ns, f.LookupP99Ns = lat[len(lat)/2].Nanoseconds(), lat[len(lat)*99/100].Nanoseconds()
	runtime.GC()
	f.RSSLookups = rss(t)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(&f)
	fmt.Printf("FIGURES %s\n", out)
}

// rss returns the resident set size of this process.
func rss(t *testing.T) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpuTime returns the user and system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
