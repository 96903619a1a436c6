package audit

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseRetention(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"", DefaultRetention, false},
		{"0", 0, false},
		{"90d", 90 * 24 * time.Hour, false},
		{"36h", 36 * time.Hour, false},
		{"-1h", 0, true},
		{"soon", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRetention(tc.in)
			if (err != nil) != tc.err || got != tc.want {
				t.Fatalf("ParseRetention(%q) = %v, %v", tc.in, got, err)
			}
		})
	}
}

// TestRetention: segments past the retention go, the digests sign what
// went, verify tells it from a deletion, and a start continues the chain.
func TestRetention(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	mc := &manualClock{now: t0}
	clock := mc.Now
	opts := retentionOptions(dir, clock)
	l, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		record(t, l, "111111111111", "GetUser", "old", t0.Add(time.Duration(i)*time.Second))
	}
	mc.Add(48 * time.Hour)
	for range 30 {
		record(t, l, "111111111111", "GetUser", "new", clock())
	}
	l.sealWG.Wait() // index files written
	if err := l.applyRetention(); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(dir, testKey)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	c := rep.Chains[0]
	if c.Removed == nil || c.Removed.First != 1 || c.Removed.Last < 50 || c.Records != 130 {
		t.Fatalf("report: %+v %+v", c, c.Removed)
	}
	removed := c.Removed.Last
	if got := countEvents(t, l); got != 130-int(removed) {
		t.Fatalf("%d events after the cut, want %d", got, 130-removed)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if segs, _ := filepath.Glob(filepath.Join(dir, "*", segmentName(1)+"*")); len(segs) != 0 {
		t.Fatalf("removed segments still there: %v", segs)
	}

	// A start continues the chain after the cut.
	l, err = Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if l.Chain() != c.Chain {
		t.Fatal("a new chain started after retention")
	}
	if got := countEvents(t, l); got != 130-int(removed) {
		t.Fatalf("%d events after reopening, want %d", got, 130-removed)
	}
	record(t, l, "111111111111", "GetUser", "new", clock())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err = Verify(dir, testKey)
	if err != nil || !rep.OK() || rep.Chains[0].Records != 131 || rep.Chains[0].Removed == nil {
		t.Fatalf("verify after reopening: %v %+v", err, rep)
	}

	// Someone else removing the oldest kept segment is not retention.
	segs, err := segments(filepath.Join(dir, c.Chain))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(segs[0].path); err != nil {
		t.Fatal(err)
	}
	rep, err = Verify(dir, testKey)
	if err != nil || rep.OK() || !strings.Contains(strings.Join(rep.Chains[0].Problems, "\n"), "missing") {
		t.Fatalf("deletion not detected: %v %+v", err, rep)
	}
}

// TestRetentionCutsDigests: each retention cut also cuts the digests
// before its removal digest, so the digest file stays bounded; verify and
// a start (from a checkpoint older than the cut) go on from the removal
// digest, and digests deleted any other way are still found.
func TestRetentionCutsDigests(t *testing.T) {
	dir := t.TempDir()
	mc := &manualClock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	clock, advance := mc.Now, mc.Add
	opts := retentionOptions(dir, clock)
	l, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	cut := func(round int) ChainReport {
		t.Helper()
		for range 100 {
			record(t, l, "111111111111", "GetUser", "u", clock())
			advance(time.Second)
		}
		total += 100
		advance(48 * time.Hour)
		for range 30 {
			record(t, l, "111111111111", "GetUser", "u", clock())
		}
		total += 30
		l.sealWG.Wait()
		if err := l.applyRetention(); err != nil {
			t.Fatal(err)
		}
		lines := digestLines(t, dir, l.Chain())
		if !strings.HasPrefix(lines[0], `{"cut":`) || !strings.Contains(lines[1], `"removed"`) || len(lines) != 2 {
			t.Fatalf("round %d: digest file after the cut:\n%s", round, strings.Join(lines, "\n"))
		}
		rep, err := Verify(dir, testKey)
		if err != nil || !rep.OK() {
			t.Fatalf("round %d: verify: %v %+v", round, err, rep)
		}
		c := rep.Chains[0]
		if c.Removed == nil || c.Records != uint64(total) || c.Digests != l.digestN || c.Removed.Digest != l.digestN {
			t.Fatalf("round %d: report %+v, removed %+v; %d records and %d digests written", round, c, c.Removed, total, l.digestN)
		}
		return c
	}
	cut(1)
	// The newest checkpoint names digests the cut removed: a start goes on
	// from the removal digest.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l, err = Open(opts); err != nil {
		t.Fatal(err)
	}
	c := cut(2)
	record(t, l, "111111111111", "GetUser", "u", clock())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	total++
	rep, err := Verify(dir, testKey)
	if err != nil || !rep.OK() || rep.Chains[0].Records != uint64(total) || rep.Chains[0].Removed.Last != c.Removed.Last {
		t.Fatalf("verify after closing: %v %+v", err, rep)
	}

	path := filepath.Join(dir, c.Chain, digestsFile)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(orig), "\n")
	for _, tc := range []struct {
		name, data, problem string
	}{
		{"cut line deleted", strings.Join(lines[1:], ""), "does not chain"},
		{"removal digest deleted", lines[0] + strings.Join(lines[2:], ""), "does not sign a removal"},
	} {
		if err := os.WriteFile(path, []byte(tc.data), 0o600); err != nil {
			t.Fatal(err)
		}
		rep, err := Verify(dir, testKey)
		if err != nil || rep.OK() || !strings.Contains(strings.Join(rep.Chains[0].Problems, "\n"), tc.problem) {
			t.Errorf("%s: verify: %v %+v", tc.name, err, rep)
		}
	}
	// A start with a damaged digest file says so.
	if err := os.WriteFile(path, []byte(`{"cut":{"base":-1}}`+"\n"+strings.Join(lines[1:], "")), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err = Verify(dir, testKey)
	if err != nil || rep.OK() || !strings.Contains(strings.Join(rep.Chains[0].Problems, "\n"), "damaged") {
		t.Errorf("damaged cut line: verify: %v %+v", err, rep)
	}
}

// digestLines returns the lines of a chain's digest file.
func digestLines(t *testing.T, dir, chain string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, chain, digestsFile))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// manualClock is a clock a test moves.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// retentionOptions are small segments and frequent digests under a day's
// retention.
func retentionOptions(dir string, clock func() time.Time) Options {
	return Options{Dir: dir, Keys: testKey, Now: clock, DigestEvery: 10, SegmentBytes: 4096, NoSync: true, Retention: 24 * time.Hour}
}

// FuzzReadDigests reads any digest file without a panic, and a file cut
// after any of its digests gives, from every offset of the uncut file, the
// digests the uncut one gives from there (all those kept, for an offset
// the cut removed).
func FuzzReadDigests(f *testing.F) {
	f.Add([]byte(`{"cut":{"base":700,"digests":2}}`+"\n"+`{"chain":"c","count":30}`+"\n"), uint8(1), uint16(0))
	f.Add([]byte(`{"chain":"c","count":10}`+"\n"+`{"chain":"c","count":20,"prev":"x"}`+"\n"+`{"chain":"c","cou`), uint8(0), uint16(30))
	f.Add([]byte(`{"cut":{"base":-3}}`+"\n"), uint8(2), uint16(5))
	f.Add([]byte(`{"chain":"c","count":10}`+"\n"+`{"chain":"c","count":20,"prev":"x"}`+"\n"+`{"chain":"c","count":30,"prev":"y"}`+"\n"), uint8(2), uint16(25))
	f.Fuzz(func(t *testing.T, data []byte, cutAfter uint8, off uint16) {
		dir := t.TempDir()
		path := filepath.Join(dir, digestsFile)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, _, _, _ = readDigestsEnd(path, int64(off))

		// A file of whole digests, cut after digest k.
		uncut, _, torn, _, err := readDigestsEnd(path, 0)
		if err != nil || torn || len(uncut) == 0 || bytes.HasPrefix(data, []byte(`{"cut":`)) {
			return
		}
		lines := bytes.SplitAfter(data, []byte("\n"))
		k := int(cutAfter) % len(uncut)
		at := int64(len(bytes.Join(lines[:k], nil)))
		cutFile := append(digestsCut{Base: at, Digests: k}.line(), bytes.Join(lines[k:], nil)...)
		if err := os.WriteFile(path, cutFile, 0o600); err != nil {
			t.Fatal(err)
		}
		from := min(int64(off), int64(len(data)))
		if err := os.WriteFile(filepath.Join(dir, "uncut"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		want, wantEnd, _, _, err := readDigestsEnd(filepath.Join(dir, "uncut"), max(from, at))
		if err != nil {
			return // from is inside a line
		}
		got, gotEnd, torn, c, err := readDigestsEnd(path, from)
		if err != nil || torn || c.Base != at || c.Digests != k || gotEnd != wantEnd || !reflect.DeepEqual(got, want) {
			t.Fatalf("cut after %d, from %d: %d digests to %d, cut %+v, torn %v, err %v; uncut from %d: %d digests to %d",
				k, from, len(got), gotEnd, c, torn, err, max(from, at), len(want), wantEnd)
		}
	})
}
