package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/audit"
)

var (
	auditKeys = [][]byte{bytes.Repeat([]byte{7}, 32)}
	seeds     = [][]byte{bytes.Repeat([]byte{9}, 32)}
	t0        = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// writeChain records n events in small segments, over two accounts and
// two regions, and returns the audit directory and the chain.
func writeChain(t *testing.T, n int, at time.Time, opts func(*audit.Options)) (string, string) {
	t.Helper()
	dir := t.TempDir()
	o := audit.Options{Dir: dir, Keys: auditKeys, Now: func() time.Time { return at }, SegmentBytes: 8 << 10, NoSync: true}
	if opts != nil {
		opts(&o)
	}
	l, err := audit.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		account, region := "111111111111", "us-east-1"
		if i%3 == 0 {
			account = "222222222222"
		}
		if i%5 == 0 {
			region = "eu-west-1"
		}
		ev := &audit.Event{EventTime: audit.FormatTime(at.Add(time.Duration(i) * time.Second)), EventSource: audit.SourceIAM, EventName: "GetUser",
			AWSRegion: region, RecipientAccountID: account, UserIdentity: audit.UserIdentity{Type: "Root", AccountID: account},
			RequestParameters: []byte(fmt.Sprintf(`{"userName":"u-%d"}`, i))}
		if err := l.Record(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	chain := l.Chain()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, chain
}

// sealedIDs returns the event IDs of the chain's sealed segments.
func sealedIDs(t *testing.T, dir, chain string) []string {
	t.Helper()
	segs, err := audit.SealedSegments(dir, chain, auditKeys, 0)
	if err != nil || len(segs) < 3 {
		t.Fatalf("%d sealed segments (%v), want several", len(segs), err)
	}
	var ids []string
	for _, s := range segs {
		err := audit.ReadSealed(s, func(r *audit.SealedRecord) error {
			var ev struct{ EventID string }
			if err := json.Unmarshal(r.Event, &ev); err != nil {
				return err
			}
			ids = append(ids, ev.EventID)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// deliveredIDs returns the event IDs in every log file of a delivered
// tree, in file order.
func deliveredIDs(t *testing.T, root string) []string {
	t.Helper()
	var ids []string
	err := filepath.WalkDir(filepath.Join(root, "AWSLogs"), func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.Contains(p, "/CloudTrail/") || !strings.HasSuffix(p, ".json.gz") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		raw, err := gunzip(b)
		if err != nil {
			return err
		}
		var f struct {
			Records []struct {
				EventID            string `json:"eventID"`
				RecipientAccountID string `json:"recipientAccountId"`
				AWSRegion          string `json:"awsRegion"`
			}
		}
		if err := json.Unmarshal(raw, &f); err != nil {
			return fmt.Errorf("%s: %v", p, err)
		}
		for _, r := range f.Records {
			if !strings.Contains(p, "/"+r.RecipientAccountID+"/CloudTrail/"+r.AWSRegion+"/") {
				return fmt.Errorf("%s holds an event of %s in %s", p, r.RecipientAccountID, r.AWSRegion)
			}
			ids = append(ids, r.EventID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func newDeliverer(t *testing.T, dir, chain string, dest Destination, c *clock) *Deliverer {
	t.Helper()
	d, err := New(Options{Dir: dir, Chain: chain, AuditKeys: auditKeys, Keys: Keys(seeds), Dest: dest, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// deliverAll delivers the chain to root and writes the digests an hour
// later.
func deliverAll(t *testing.T, dir, chain, root string) {
	t.Helper()
	dest, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{now: t0.Add(10 * time.Minute)}
	d := newDeliverer(t, dir, chain, dest, c)
	if err := d.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := d.Stats(); st.Files == 0 || st.Digests != 0 {
		t.Fatalf("after the first step: %+v, want files and no digest before the hour ends", st)
	}
	c.Set(t0.Add(time.Hour))
	if err := d.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := d.Stats(); st.Digests != 4 {
		t.Fatalf("after the hour: %+v, want a digest per account and region", st)
	}
}

func verifyDir(t *testing.T, root string) *Report {
	t.Helper()
	src, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(context.Background(), src, "", Keys(seeds))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestDeliverAndVerify(t *testing.T) {
	dir, chain := writeChain(t, 400, t0, nil)
	root := t.TempDir()
	deliverAll(t, dir, chain, root)

	want, got := sealedIDs(t, dir, chain), deliveredIDs(t, root)
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(want, got) {
		t.Fatalf("delivered %d events, sealed %d", len(got), len(want))
	}
	rep := verifyDir(t, root)
	if !rep.OK() || rep.Digests != 4 || rep.LogFiles == 0 {
		t.Fatalf("verify: %+v", rep)
	}
	// The cursor is private.
	m, _ := filepath.Glob(filepath.Join(dir, chain, "delivery-*"))
	if len(m) != 1 {
		t.Fatalf("cursor files: %v", m)
	}
	if fi, err := os.Stat(m[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("cursor: %v %v", fi.Mode(), err)
	}
	// Names follow CloudTrail's.
	digests, _ := filepath.Glob(filepath.Join(root, "AWSLogs", "111111111111", "CloudTrail-Digest", "us-east-1", "2025", "03", "04",
		"111111111111_CloudTrail-Digest_us-east-1_iamd-"+chain+"_us-east-1_20250304T*Z.json.gz"))
	logs, _ := filepath.Glob(filepath.Join(root, "AWSLogs", "111111111111", "CloudTrail", "us-east-1", "2025", "03", "04",
		"111111111111_CloudTrail_us-east-1_20250304T????Z_????????????????.json.gz"))
	if len(digests) != 1 || len(logs) == 0 {
		t.Fatalf("digests %v, logs %v", digests, logs)
	}
}

// flaky fails the put numbered failAt (counting from 1), once, as a
// crash or an unreachable bucket would.
type flaky struct {
	*Dir
	n, failAt int
}

var errInjected = errors.New("injected failure")

func (f *flaky) Put(ctx context.Context, key string, body []byte, meta map[string]string) error {
	f.n++
	if f.n == f.failAt {
		return errInjected
	}
	return f.Dir.Put(ctx, key, body, meta)
}

// TestDeliveryResumes: whichever put fails (a crash there), a new
// deliverer started from the cursor ends with exactly the tree of a
// delivery that never failed: no gap, no duplicate.
func TestDeliveryResumes(t *testing.T) {
	dir, chain := writeChain(t, 300, t0, nil)
	clean := filepath.Join(t.TempDir(), "trail")
	deliverAll(t, dir, chain, clean)
	want := treeOf(t, clean)

	logs := 0
	for k := range want {
		if strings.Contains(k, "/CloudTrail/") {
			logs++
		}
	}
	// The first log file, one in the middle, the first digest, the last.
	for _, failAt := range []int{1, logs / 2, logs + 1, logs + 4} {
		t.Run(fmt.Sprint("put ", failAt), func(t *testing.T) {
			t.Parallel()
			// A directory of the same name: digests name it as their bucket.
			root := filepath.Join(t.TempDir(), "trail")
			d0, err := NewDir(root)
			if err != nil {
				t.Fatal(err)
			}
			c := &clock{now: t0.Add(10 * time.Minute)}
			cdir := copyChain(t, dir)
			dest := &flaky{Dir: d0, failAt: failAt}
			d := newDeliverer(t, cdir, chain, dest, c)
			failed := false
			for _, at := range []time.Duration{10 * time.Minute, time.Hour} {
				c.Set(t0.Add(at))
				if err := d.Step(context.Background()); errors.Is(err, errInjected) {
					failed = true
					d = newDeliverer(t, cdir, chain, dest, c) // restart
					if err := d.Step(context.Background()); err != nil {
						t.Fatal(err)
					}
				} else if err != nil {
					t.Fatal(err)
				}
			}
			if !failed {
				t.Fatalf("put %d never failed", failAt)
			}
			got := treeOf(t, root)
			if len(got) != len(want) {
				t.Fatalf("%d files, want %d", len(got), len(want))
			}
			for k, v := range want {
				if !bytes.Equal(got[k], v) {
					t.Fatalf("%s differs from the clean delivery's", k)
				}
			}
			if rep := verifyDir(t, root); !rep.OK() {
				t.Fatalf("verify: %+v", rep)
			}
		})
	}
}

// copyChain copies an audit directory (each subtest delivers from its own,
// so that each has its own cursor).
func copyChain(t *testing.T, dir string) string {
	t.Helper()
	out := t.TempDir()
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if e.IsDir() {
			return os.MkdirAll(filepath.Join(out, rel), 0o700)
		}
		if strings.HasPrefix(e.Name(), "delivery-") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(out, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// treeOf reads every file of a delivered tree, by its path under root.
func treeOf(t *testing.T, root string) map[string][]byte {
	t.Helper()
	m := make(map[string][]byte)
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		m[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestVerifyNamesEachBadFile(t *testing.T) {
	dir, chain := writeChain(t, 300, t0, nil)
	clean := t.TempDir()
	deliverAll(t, dir, chain, clean)
	var logs, digests []string
	for k := range treeOf(t, clean) {
		switch {
		case strings.Contains(k, "/CloudTrail/"):
			logs = append(logs, k)
		case strings.HasSuffix(k, ".json.gz"):
			digests = append(digests, k)
		}
	}
	slices.Sort(logs)
	slices.Sort(digests)
	rewrite := func(t *testing.T, path string, f func([]byte) []byte) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := gunzip(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, gzipBytes(f(raw)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, root string)
		want   string
	}{
		{"log file modified", func(t *testing.T, root string) {
			rewrite(t, filepath.Join(root, logs[0]), func(b []byte) []byte { return bytes.Replace(b, []byte("u-"), []byte("x-"), 1) })
		}, "log file " + logs[0] + " was modified"},
		{"log file missing", func(t *testing.T, root string) {
			must(t, os.Remove(filepath.Join(root, logs[1])))
		}, "log file " + logs[1] + " is missing"},
		{"log file not listed", func(t *testing.T, root string) {
			extra := strings.Replace(logs[0], "_CloudTrail_", "_CloudTrail_", 1)
			extra = extra[:len(extra)-len("0123456789abcdef.json.gz")] + "0123456789abcdef.json.gz"
			must(t, os.WriteFile(filepath.Join(root, extra), gzipBytes([]byte(`{"Records":[]}`)), 0o600))
		}, "is not listed in any valid digest file"},
		{"digest modified", func(t *testing.T, root string) {
			rewrite(t, filepath.Join(root, digests[0]), func(b []byte) []byte { return bytes.Replace(b, []byte(`"logFiles":[{`), []byte(`"logFiles":[ {`), 1) })
		}, "digest file " + digests[0] + " has an invalid signature"},
		{"digest signature removed", func(t *testing.T, root string) {
			must(t, os.Remove(filepath.Join(root, digests[0]+metaSuffix)))
		}, "digest file " + digests[0] + " has no signature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for k, v := range treeOf(t, clean) {
				must(t, os.MkdirAll(filepath.Dir(filepath.Join(root, k)), 0o700))
				must(t, os.WriteFile(filepath.Join(root, k), v, 0o600))
			}
			tc.damage(t, root)
			rep := verifyDir(t, root)
			if rep.OK() || !slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Fatalf("problems %q, want one with %q", rep.Problems, tc.want)
			}
		})
	}
}

// TestDigestChainAcrossHours: a second hour's digests chain to the
// first's; removing a digest in the middle is reported.
func TestDigestChainAcrossHours(t *testing.T) {
	dir := t.TempDir()
	at := t0
	o := audit.Options{Dir: dir, Keys: auditKeys, Now: func() time.Time { return at }, SegmentBytes: 8 << 10, NoSync: true}
	l, err := audit.Open(o)
	must(t, err)
	chain := l.Chain()
	root := t.TempDir()
	dest, err := NewDir(root)
	must(t, err)
	c := &clock{now: t0}
	d := newDeliverer(t, dir, chain, dest, c)
	for h := range 3 {
		for i := range 100 {
			ev := &audit.Event{EventTime: audit.FormatTime(t0.Add(time.Duration(h)*time.Hour + time.Duration(i)*time.Second)), EventSource: audit.SourceIAM,
				EventName: "GetUser", AWSRegion: "us-east-1", RecipientAccountID: "111111111111", UserIdentity: audit.UserIdentity{Type: "Root"}}
			must(t, l.Record(context.Background(), ev))
		}
		waitSealed(t, dir, chain, uint64(100*(h+1)-60))
		c.Set(t0.Add(time.Duration(h)*time.Hour + 30*time.Minute))
		must(t, d.Step(context.Background()))
		c.Set(t0.Add(time.Duration(h+1) * time.Hour))
		must(t, d.Step(context.Background()))
	}
	must(t, l.Close())
	rep := verifyDir(t, root)
	if !rep.OK() || rep.Digests != 3 {
		t.Fatalf("verify: %+v", rep)
	}
	ds, _ := filepath.Glob(filepath.Join(root, "AWSLogs/111111111111/CloudTrail-Digest/us-east-1/*/*/*/*.json.gz"))
	slices.Sort(ds)
	must(t, os.Remove(ds[1]))
	rep = verifyDir(t, root)
	rel, _ := filepath.Rel(root, ds[1])
	if rep.OK() || !slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.Contains(p, "digest file "+rel+" is missing") }) {
		t.Fatalf("after removing a digest: %q", rep.Problems)
	}
}

// waitSealed waits until the chain's sealed segments reach record n.
func waitSealed(t *testing.T, dir, chain string, n uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		segs, _ := audit.SealedSegments(dir, chain, auditKeys, 0)
		if len(segs) > 0 && segs[len(segs)-1].Last >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("records up to %d not sealed", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRetentionGap: records retention removed before delivery are named
// by the digests and reported by verify as retention's, not as missing.
func TestRetentionGap(t *testing.T) {
	dir, chain := writeChain(t, 300, t0, nil)
	// A start two days later with a retention of one day removes the
	// sealed segments.
	later := t0.Add(48 * time.Hour)
	l, err := audit.Open(audit.Options{Dir: dir, Keys: auditKeys, Now: func() time.Time { return later }, SegmentBytes: 8 << 10, NoSync: true, Retention: 24 * time.Hour})
	must(t, err)
	for i := range 200 {
		must(t, l.Record(context.Background(), &audit.Event{EventTime: audit.FormatTime(later.Add(time.Duration(i) * time.Second)), EventSource: audit.SourceIAM,
			EventName: "GetUser", AWSRegion: "us-east-1", RecipientAccountID: "111111111111", UserIdentity: audit.UserIdentity{Type: "Root"}}))
	}
	deadline := time.Now().Add(20 * time.Second)
	for audit.RemovedByRetention(dir, chain, auditKeys) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no retention cut")
		}
		time.Sleep(10 * time.Millisecond)
	}
	removed := audit.RemovedByRetention(dir, chain, auditKeys)
	must(t, l.Close())
	root := t.TempDir()
	dest, err := NewDir(root)
	must(t, err)
	c := &clock{now: later.Add(time.Hour)}
	d := newDeliverer(t, dir, chain, dest, c)
	must(t, d.Step(context.Background()))
	must(t, d.Flush(context.Background()))
	rep := verifyDir(t, root)
	want := fmt.Sprintf("chain %s: records 1 to %d were removed by retention", chain, removed)
	if !rep.OK() || len(rep.Removed) != 1 || !strings.HasPrefix(rep.Removed[0], want) {
		t.Fatalf("verify: %+v, want %q", rep, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
