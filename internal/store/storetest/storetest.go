// Package storetest is the conformance suite for store.Store backends.
//
// It is written once and run from each backend's tests
// (internal/store/sqlite, internal/store/postgres) so that every backend keeps
// the same promises. Besides the contract in package store it pins down
// behaviour the interface leaves open:
//
//   - Ops of a batch apply in order; a later op sees the effects of an earlier
//     one on the same record.
//   - Put stores empty data for nil or empty Data; a live record's Data is
//     never nil.
//   - Deleting a record leaves a tombstone that keeps its last version, and
//     recreating it continues from there (Put after v1 and Delete gives v2),
//     so a stale writer holding v1 cannot succeed against the new record.
//   - Delete and Touch of an absent record whose expectation holds write
//     nothing and report version 0.
//   - Every successful batch gets a revision, including one of only Checks;
//     Changes reports no records for such a commit but its rev covers it.
//   - Changes returns the current state of each record last written after
//     `after`; a commit with more records than limit is returned whole.
//   - Close may be called more than once.
//
// It is not a benchmark harness for production tuning, though it carries the
// shared benchmarks (BenchCommitParallel, BenchLoad) so that the figures of
// all backends measure the same thing.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/store"
)

// Backend tells the suite how to open the store under test.
type Backend struct {
	// New opens a Store on a new, empty database and registers its cleanup
	// with tb. The suite may Close the Store itself first.
	New func(tb testing.TB) store.Store
	// Reopen opens another Store on the database of s, which may still be
	// open (a second replica) or already closed (a restart). Nil if the
	// backend cannot reopen a database.
	Reopen func(tb testing.TB, s store.Store) store.Store
	// Parallel says that New gives every test a database of its own, so
	// that the suite's tests may run in parallel. Leave it false for a
	// backend whose tests share a database (they then run one at a time).
	Parallel bool
}

// waitFor bounds every wait on another goroutine or process; reaching it is a
// failure, not a timing assertion.
const waitFor = 30 * time.Second

// Run runs the conformance suite against b.
func Run(t *testing.T, b Backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, Backend)
	}{
		{"InvalidBatch", testInvalidBatch},
		{"Expectations", testExpectations},
		{"BatchAllOrNothing", testBatchAllOrNothing},
		{"ConflictError", testConflictError},
		{"ResultVersions", testResultVersions},
		{"SameRecordTwiceInBatch", testSameRecordTwice},
		{"RevisionsIncrease", testRevisionsIncrease},
		{"Get", testGet},
		{"DataRoundTrip", testDataRoundTrip},
		{"Addressing", testAddressing},
		{"Load", testLoad},
		{"LoadThenChanges", testLoadThenChanges},
		{"Changes", testChanges},
		{"ChangesLimit", testChangesLimit},
		{"ChangesCheckOnlyCommit", testChangesCheckOnly},
		{"ConcurrentCreateSameKey", testConcurrentCreate},
		{"ConcurrentDistinct", testConcurrentDistinct},
		{"ConcurrentCounter", testConcurrentCounter},
		{"ConcurrentTouchPresent", testConcurrentTouchPresent},
		{"CanceledContext", testCanceledContext},
		{"Close", testClose},
		{"Reopen", testReopen},
		{"TwoReplicas", testTwoReplicas},
		{"Notify", testNotify},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if b.Parallel {
				t.Parallel()
			}
			tc.fn(t, b)
		})
	}
}

func put(kind, account, key string, expect int64, data string) store.Op {
	return store.Op{Type: store.Put, Kind: kind, Account: account, Key: key, Expect: expect, Data: []byte(data)}
}

func op(typ store.OpType, key string, expect int64) store.Op {
	return store.Op{Type: typ, Kind: "user", Account: "111122223333", Key: key, Expect: expect}
}

func mustCommit(tb testing.TB, s store.Store, ops ...store.Op) store.Result {
	tb.Helper()
	res, err := s.Commit(context.Background(), ops)
	if err != nil {
		tb.Fatalf("Commit(%v): %v", ops, err)
	}
	return res
}

func mustGet(tb testing.TB, s store.Store, kind, account, key string) (store.Record, bool) {
	tb.Helper()
	rec, ok, err := s.Get(context.Background(), kind, account, key)
	if err != nil {
		tb.Fatalf("Get(%q, %q, %q): %v", kind, account, key, err)
	}
	return rec, ok
}

func mustChanges(tb testing.TB, s store.Store, after int64, limit int) ([]store.Record, int64) {
	tb.Helper()
	recs, rev, err := s.Changes(context.Background(), after, limit)
	if err != nil {
		tb.Fatalf("Changes(%d, %d): %v", after, limit, err)
	}
	return recs, rev
}

func mustLoad(tb testing.TB, s store.Store) (map[string]store.Record, int64) {
	tb.Helper()
	got := map[string]store.Record{}
	rev, err := s.Load(context.Background(), func(r store.Record) error {
		id := ident(r)
		if _, dup := got[id]; dup {
			return fmt.Errorf("record %s loaded twice", id)
		}
		got[id] = r
		return nil
	})
	if err != nil {
		tb.Fatalf("Load: %v", err)
	}
	return got, rev
}

func ident(r store.Record) string { return r.Kind + "/" + r.Account + "/" + r.Key }

func testInvalidBatch(t *testing.T, b Backend) {
	s := b.New(t)
	tests := []struct {
		name string
		ops  []store.Op
	}{
		{"nil", nil},
		{"empty", []store.Op{}},
		{"unknown type", []store.Op{{Type: 9, Kind: "user", Key: "a", Expect: store.Any}}},
		{"zero type", []store.Op{{Kind: "user", Key: "a", Expect: store.Any}}},
		{"empty kind", []store.Op{{Type: store.Put, Key: "a", Expect: store.Any}}},
		{"empty key", []store.Op{{Type: store.Put, Kind: "user", Expect: store.Any}}},
		{"expect below present", []store.Op{{Type: store.Put, Kind: "user", Key: "a", Expect: -3}}},
		{"second op bad", []store.Op{op(store.Put, "a", store.Any), {Type: store.Put, Kind: "user"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Commit(context.Background(), tc.ops)
			if !errors.Is(err, store.ErrInvalidBatch) {
				t.Fatalf("Commit: got %v, want ErrInvalidBatch", err)
			}
		})
	}
	if recs, _ := mustChanges(t, s, 0, 0); len(recs) != 0 {
		t.Fatalf("invalid batches wrote %v", recs)
	}
}

// testExpectations checks every op type against every expectation from each
// starting state of a record.
func testExpectations(t *testing.T, b Backend) {
	type state int
	const (
		absent  state = iota
		v1            // Put once, data "old"
		v2            // Put twice, data "old"
		deleted       // Put once, then Delete
	)
	tests := []struct {
		name     string
		from     state
		typ      store.OpType
		expect   int64
		conflict bool
		actual   int64 // ConflictError.Actual when conflict
		version  int64 // Result.Versions[0] otherwise
	}{
		{"put absent any", absent, store.Put, store.Any, false, 0, 1},
		{"put absent absent", absent, store.Put, store.Absent, false, 0, 1},
		{"put absent exact", absent, store.Put, 1, true, 0, 0},
		{"put v1 any", v1, store.Put, store.Any, false, 0, 2},
		{"put v1 exact", v1, store.Put, 1, false, 0, 2},
		{"put v1 wrong", v1, store.Put, 2, true, 1, 0},
		{"put v1 absent", v1, store.Put, store.Absent, true, 1, 0},
		{"put v2 exact", v2, store.Put, 2, false, 0, 3},
		{"put deleted absent", deleted, store.Put, store.Absent, false, 0, 2},
		{"put deleted any", deleted, store.Put, store.Any, false, 0, 2},
		{"put deleted stale", deleted, store.Put, 1, true, 0, 0},
		{"delete absent any", absent, store.Delete, store.Any, false, 0, 0},
		{"delete absent absent", absent, store.Delete, store.Absent, false, 0, 0},
		{"delete absent exact", absent, store.Delete, 1, true, 0, 0},
		{"delete v1 any", v1, store.Delete, store.Any, false, 0, 0},
		{"delete v1 exact", v1, store.Delete, 1, false, 0, 0},
		{"delete v2 stale", v2, store.Delete, 1, true, 2, 0},
		{"delete v1 absent", v1, store.Delete, store.Absent, true, 1, 0},
		{"delete deleted any", deleted, store.Delete, store.Any, false, 0, 0},
		{"check absent absent", absent, store.Check, store.Absent, false, 0, 0},
		{"check absent exact", absent, store.Check, 1, true, 0, 0},
		{"check v1 exact", v1, store.Check, 1, false, 0, 1},
		{"check v1 any", v1, store.Check, store.Any, false, 0, 1},
		{"check v1 wrong", v1, store.Check, 2, true, 1, 0},
		{"check v1 absent", v1, store.Check, store.Absent, true, 1, 0},
		{"check deleted absent", deleted, store.Check, store.Absent, false, 0, 0},
		{"touch v1 exact", v1, store.Touch, 1, false, 0, 2},
		{"touch v1 any", v1, store.Touch, store.Any, false, 0, 2},
		{"touch v2 stale", v2, store.Touch, 1, true, 2, 0},
		{"touch absent absent", absent, store.Touch, store.Absent, false, 0, 0},
		{"touch absent any", absent, store.Touch, store.Any, false, 0, 0},
		{"touch absent exact", absent, store.Touch, 1, true, 0, 0},
		{"touch v1 present", v1, store.Touch, store.Present, false, 0, 2},
		{"touch v2 present", v2, store.Touch, store.Present, false, 0, 3},
		{"touch absent present", absent, store.Touch, store.Present, true, 0, 0},
		{"touch deleted present", deleted, store.Touch, store.Present, true, 0, 0},
		{"check v1 present", v1, store.Check, store.Present, false, 0, 1},
		{"check absent present", absent, store.Check, store.Present, true, 0, 0},
		{"put v1 present", v1, store.Put, store.Present, false, 0, 2},
		{"put absent present", absent, store.Put, store.Present, true, 0, 0},
		{"put deleted present", deleted, store.Put, store.Present, true, 0, 0},
		{"delete v1 present", v1, store.Delete, store.Present, false, 0, 0},
		{"delete absent present", absent, store.Delete, store.Present, true, 0, 0},
	}
	s := b.New(t)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := fmt.Sprintf("k%d", i)
			old := func(expect int64) store.Op {
				o := op(store.Put, key, expect)
				o.Data = []byte("old")
				return o
			}
			switch tc.from {
			case v1:
				mustCommit(t, s, old(store.Absent))
			case v2:
				mustCommit(t, s, old(store.Absent))
				mustCommit(t, s, old(1))
			case deleted:
				mustCommit(t, s, old(store.Absent))
				mustCommit(t, s, op(store.Delete, key, 1))
			}
			before, existed := mustGet(t, s, "user", "111122223333", key)
			_, headBefore := mustChanges(t, s, 0, 0)

			o := op(tc.typ, key, tc.expect)
			if tc.typ == store.Put {
				o.Data = []byte("new")
			}
			res, err := s.Commit(context.Background(), []store.Op{o})

			if tc.conflict {
				var ce *store.ConflictError
				if !errors.As(err, &ce) || !errors.Is(err, store.ErrConflict) {
					t.Fatalf("Commit: got %v, want *ConflictError wrapping ErrConflict", err)
				}
				if ce.Index != 0 || ce.Actual != tc.actual {
					t.Fatalf("ConflictError Index=%d Actual=%d, want 0 and %d", ce.Index, ce.Actual, tc.actual)
				}
				after, ok := mustGet(t, s, "user", "111122223333", key)
				if ok != existed || !equalRecord(after, before) {
					t.Fatalf("conflicting op changed the record: before %+v (%v), after %+v (%v)", before, existed, after, ok)
				}
				if _, head := mustChanges(t, s, 0, 0); head != headBefore {
					t.Fatalf("conflicting batch moved the revision from %d to %d", headBefore, head)
				}
				return
			}
			if err != nil {
				t.Fatalf("Commit: %v", err)
			}
			if res.Rev <= headBefore {
				t.Fatalf("Rev %d, want > %d", res.Rev, headBefore)
			}
			if !slices.Equal(res.Versions, []int64{tc.version}) {
				t.Fatalf("Versions %v, want [%d]", res.Versions, tc.version)
			}
			after, ok := mustGet(t, s, "user", "111122223333", key)
			if ok != (tc.version > 0) {
				t.Fatalf("Get ok=%v after commit, want %v", ok, tc.version > 0)
			}
			if !ok {
				return
			}
			if after.Version != tc.version {
				t.Fatalf("Get version %d, want %d", after.Version, tc.version)
			}
			wantData, wantRev := string(before.Data), res.Rev
			switch tc.typ {
			case store.Put:
				wantData = "new"
			case store.Check:
				wantRev = before.Rev
			}
			if string(after.Data) != wantData || after.Rev != wantRev {
				t.Fatalf("Get data %q rev %d, want %q rev %d", after.Data, after.Rev, wantData, wantRev)
			}
		})
	}
}

func equalRecord(a, b store.Record) bool {
	return a.Kind == b.Kind && a.Account == b.Account && a.Key == b.Key && a.Version == b.Version &&
		a.Rev == b.Rev && a.Deleted == b.Deleted && bytes.Equal(a.Data, b.Data)
}

func testBatchAllOrNothing(t *testing.T, b Backend) {
	s := b.New(t)
	mustCommit(t, s, op(store.Put, "existing", store.Absent))
	_, head := mustChanges(t, s, 0, 0)

	_, err := s.Commit(context.Background(), []store.Op{
		op(store.Put, "new1", store.Absent),
		op(store.Put, "new2", store.Any),
		op(store.Delete, "existing", 1),
		op(store.Put, "existing", 7), // conflicts: the version is 1
		op(store.Put, "new3", store.Absent),
	})
	var ce *store.ConflictError
	if !errors.As(err, &ce) || ce.Index != 3 {
		t.Fatalf("Commit: got %v, want ConflictError at index 3", err)
	}
	// The delete in op 2 made the record absent before op 3 ran.
	if ce.Actual != 0 {
		t.Fatalf("Actual %d, want 0 (deleted by op 2 of the same batch)", ce.Actual)
	}
	for _, key := range []string{"new1", "new2", "new3"} {
		if _, ok := mustGet(t, s, "user", "111122223333", key); ok {
			t.Errorf("%s written by a rejected batch", key)
		}
	}
	if rec, ok := mustGet(t, s, "user", "111122223333", "existing"); !ok || rec.Version != 1 {
		t.Errorf("existing: got %+v ok=%v, want version 1", rec, ok)
	}
	if recs, h := mustChanges(t, s, head, 0); len(recs) != 0 || h != head {
		t.Errorf("Changes after rejected batch: %v rev %d, want nothing at %d", recs, h, head)
	}
}

func testConflictError(t *testing.T, b Backend) {
	s := b.New(t)
	mustCommit(t, s, op(store.Put, "a", store.Absent))
	mustCommit(t, s, op(store.Put, "a", 1))
	bad := op(store.Check, "a", 1)
	_, err := s.Commit(context.Background(), []store.Op{op(store.Put, "b", store.Absent), bad})
	var ce *store.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("Commit: got %v, want *ConflictError", err)
	}
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("error %v does not wrap ErrConflict", err)
	}
	if ce.Index != 1 || ce.Actual != 2 || ce.Op.Key != bad.Key || ce.Op.Type != bad.Type || ce.Op.Expect != bad.Expect {
		t.Errorf("ConflictError %+v, want Index 1, Actual 2, Op %+v", ce, bad)
	}
}

func testResultVersions(t *testing.T, b Backend) {
	s := b.New(t)
	mustCommit(t, s, op(store.Put, "a", store.Absent), op(store.Put, "b", store.Absent))
	mustCommit(t, s, op(store.Put, "b", 1))
	res := mustCommit(t, s,
		op(store.Put, "a", 1),            // 2
		op(store.Check, "b", 2),          // 2
		op(store.Touch, "b", 2),          // 3
		op(store.Delete, "c", store.Any), // 0: absent
		op(store.Put, "c", store.Absent), // 1
		op(store.Delete, "a", 2),         // 0
	)
	if want := []int64{2, 2, 3, 0, 1, 0}; !slices.Equal(res.Versions, want) {
		t.Fatalf("Versions %v, want %v", res.Versions, want)
	}
}

func testSameRecordTwice(t *testing.T, b Backend) {
	s := b.New(t)
	res := mustCommit(t, s, op(store.Put, "a", store.Absent), op(store.Put, "a", 1), op(store.Check, "a", 2))
	if want := []int64{1, 2, 2}; !slices.Equal(res.Versions, want) {
		t.Fatalf("Versions %v, want %v", res.Versions, want)
	}
	recs, _ := mustChanges(t, s, 0, 0)
	if len(recs) != 1 || recs[0].Version != 2 || recs[0].Rev != res.Rev {
		t.Fatalf("Changes %+v, want one record at version 2 rev %d", recs, res.Rev)
	}
}

func testRevisionsIncrease(t *testing.T, b Backend) {
	s := b.New(t)
	var last int64
	for i := range 20 {
		res := mustCommit(t, s, op(store.Put, fmt.Sprintf("k%d", i%3), store.Any))
		if res.Rev <= last {
			t.Fatalf("commit %d: Rev %d after %d", i, res.Rev, last)
		}
		last = res.Rev
		rec, _ := mustGet(t, s, "user", "111122223333", fmt.Sprintf("k%d", i%3))
		if rec.Rev != res.Rev {
			t.Fatalf("commit %d: record Rev %d, want %d", i, rec.Rev, res.Rev)
		}
	}
	if _, head := mustChanges(t, s, 0, 0); head != last {
		t.Fatalf("Changes rev %d, want last commit %d", head, last)
	}
	if _, rev := mustLoad(t, s); rev != last {
		t.Fatalf("Load rev %d, want last commit %d", rev, last)
	}
}

func testGet(t *testing.T, b Backend) {
	s := b.New(t)
	if _, ok := mustGet(t, s, "user", "111122223333", "nobody"); ok {
		t.Fatal("Get of a missing record: ok")
	}
	data := []byte(`{"name":"alice"}`)
	o := put("user", "111122223333", "alice", store.Absent, "")
	o.Data = data
	res := mustCommit(t, s, o)
	data[2] = 'X' // the store must have copied the caller's buffer
	rec, ok := mustGet(t, s, "user", "111122223333", "alice")
	want := store.Record{Kind: "user", Account: "111122223333", Key: "alice", Version: 1, Rev: res.Rev, Data: []byte(`{"name":"alice"}`)}
	if !ok || !equalRecord(rec, want) {
		t.Fatalf("Get: %+v ok=%v, want %+v", rec, ok, want)
	}
	mustCommit(t, s, op(store.Delete, "alice", 1))
	if rec, ok := mustGet(t, s, "user", "111122223333", "alice"); ok {
		t.Fatalf("Get after Delete: %+v", rec)
	}
}

func testDataRoundTrip(t *testing.T, b Backend) {
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	tests := []struct {
		name string
		data []byte
		want []byte
	}{
		{"nil stores empty", nil, []byte{}},
		{"empty", []byte{}, []byte{}},
		{"json", []byte(`{"a":[1,2,{"b":"\u00e9"}]}`), nil},
		{"nul bytes", []byte{0, 1, 0, 0, 2}, nil},
		{"invalid utf8", []byte{0xff, 0xfe, 'a', 0xc3}, nil},
		{"trailing spaces", []byte("x  \n\t "), nil},
		{"one MiB", big, nil},
	}
	s := b.New(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			if want == nil {
				want = tc.data
			}
			o := op(store.Put, tc.name, store.Absent)
			o.Data = tc.data
			res := mustCommit(t, s, o)
			check := func(where string, r store.Record) {
				t.Helper()
				if r.Data == nil || !bytes.Equal(r.Data, want) {
					t.Errorf("%s: data %d bytes (nil=%v), want %d bytes", where, len(r.Data), r.Data == nil, len(want))
				}
			}
			rec, _ := mustGet(t, s, "user", "111122223333", tc.name)
			check("Get", rec)
			all, _ := mustLoad(t, s)
			check("Load", all["user/111122223333/"+tc.name])
			recs, _ := mustChanges(t, s, res.Rev-1, 0)
			if len(recs) != 1 {
				t.Fatalf("Changes: %d records, want 1", len(recs))
			}
			check("Changes", recs[0])
		})
	}
}

// testAddressing checks that Kind, Account and Key are compared exactly:
// case-sensitively (callers lower-case where IAM is case-insensitive) and
// with no special meaning for wildcard or separator characters.
func testAddressing(t *testing.T, b Backend) {
	s := b.New(t)
	keys := []struct{ kind, account, key string }{
		{"user", "111122223333", "alice"},
		{"user", "111122223333", "Alice"},
		{"user", "111122223333", "ALICE"},
		{"User", "111122223333", "alice"},
		{"user", "", "alice"},
		{"user", "111122223334", "alice"},
		{"group", "111122223333", "alice"},
		{"user", "111122223333", "al%"},
		{"user", "111122223333", "al_ce"},
		{"user", "111122223333", "a/l/i/c/e"},
		{"user", "111122223333", "alice "},
		{"user", "111122223333", "ålice"},
		{"user", "111122223333", "user/111122223333/alice"},
	}
	for i, k := range keys {
		mustCommit(t, s, put(k.kind, k.account, k.key, store.Absent, fmt.Sprint(i)))
	}
	for i, k := range keys {
		rec, ok := mustGet(t, s, k.kind, k.account, k.key)
		if !ok || string(rec.Data) != fmt.Sprint(i) || rec.Version != 1 {
			t.Errorf("Get(%q, %q, %q): %+v ok=%v, want data %d version 1", k.kind, k.account, k.key, rec, ok, i)
		}
	}
	if _, ok := mustGet(t, s, "user", "111122223333", "al"); ok {
		t.Error("Get of a prefix found a record")
	}
	all, _ := mustLoad(t, s)
	if len(all) != len(keys) {
		t.Errorf("Load: %d records, want %d", len(all), len(keys))
	}
}

func testLoad(t *testing.T, b Backend) {
	s := b.New(t)
	got, rev := mustLoad(t, s)
	if len(got) != 0 || rev != 0 {
		t.Fatalf("Load of an empty store: %d records at rev %d, want none at 0", len(got), rev)
	}
	mustCommit(t, s, put("user", "1", "a", store.Absent, "a1"), put("user", "1", "b", store.Absent, "b1"))
	mustCommit(t, s, put("user", "1", "a", 1, "a2"), put("group", "", "g", store.Absent, "g1"))
	mustCommit(t, s, store.Op{Type: store.Delete, Kind: "user", Account: "1", Key: "b", Expect: 1})
	last := mustCommit(t, s, store.Op{Type: store.Touch, Kind: "group", Key: "g", Expect: 1})

	got, rev = mustLoad(t, s)
	if rev != last.Rev {
		t.Errorf("Load rev %d, want %d", rev, last.Rev)
	}
	want := map[string]string{"user/1/a": "a2", "group//g": "g1"}
	if len(got) != len(want) {
		t.Errorf("Load: %v, want %v", got, want)
	}
	for id, data := range want {
		if r, ok := got[id]; !ok || string(r.Data) != data || r.Deleted {
			t.Errorf("Load %s: %+v ok=%v, want data %q", id, r, ok, data)
		}
	}
	if g := got["group//g"]; g.Version != 2 || g.Rev != last.Rev {
		t.Errorf("touched record %+v, want version 2 rev %d", g, last.Rev)
	}

	stop := errors.New("stop")
	calls := 0
	_, err := s.Load(context.Background(), func(store.Record) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Load with failing fn: err %v after %d calls, want %v after 1", err, calls, stop)
	}
}

// testLoadThenChanges is how a replica starts: Load, then follow Changes from
// the loaded revision while others commit concurrently. The replica's view
// must end equal to a fresh Load.
func testLoadThenChanges(t *testing.T, b Backend) {
	s := b.New(t)
	for i := range 50 {
		mustCommit(t, s, op(store.Put, fmt.Sprintf("k%d", i), store.Absent))
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			<-start
			for i := range 25 {
				k := fmt.Sprintf("k%d", (w*25+i)%60)
				o := op(store.Put, k, store.Any)
				if i%5 == 4 {
					o = op(store.Delete, k, store.Any)
				}
				if _, err := s.Commit(context.Background(), []store.Op{o}); err != nil {
					t.Errorf("Commit: %v", err)
				}
			}
		})
	}
	close(start)
	view, rev := mustLoad(t, s)
	wg.Wait()
	for {
		recs, next := mustChanges(t, s, rev, 7)
		for _, r := range recs {
			if r.Rev <= rev {
				t.Fatalf("Changes(%d) returned %s at rev %d", rev, ident(r), r.Rev)
			}
			if r.Deleted {
				delete(view, ident(r))
			} else {
				view[ident(r)] = r
			}
		}
		if next == rev {
			break
		}
		rev = next
	}
	fresh, freshRev := mustLoad(t, s)
	if freshRev != rev {
		t.Errorf("followed to rev %d, Load is at %d", rev, freshRev)
	}
	if len(view) != len(fresh) {
		t.Fatalf("followed view has %d records, Load %d", len(view), len(fresh))
	}
	for id, r := range fresh {
		if v, ok := view[id]; !ok || !equalRecord(v, r) {
			t.Errorf("%s: followed %+v, loaded %+v", id, v, r)
		}
	}
}

func testChanges(t *testing.T, b Backend) {
	s := b.New(t)
	if recs, rev := mustChanges(t, s, 0, 0); len(recs) != 0 || rev != 0 {
		t.Fatalf("Changes of an empty store: %v at %d", recs, rev)
	}
	r1 := mustCommit(t, s, put("user", "1", "a", store.Absent, "a"), put("user", "1", "b", store.Absent, "b"))
	r2 := mustCommit(t, s, put("user", "1", "c", store.Absent, "c"))
	r3 := mustCommit(t, s, store.Op{Type: store.Delete, Kind: "user", Account: "1", Key: "a", Expect: 1})
	r4 := mustCommit(t, s, put("user", "1", "c", 1, "c2"))

	recs, rev := mustChanges(t, s, 0, 0)
	if rev != r4.Rev {
		t.Errorf("rev %d, want %d", rev, r4.Rev)
	}
	type change struct {
		key     string
		rev     int64
		deleted bool
		data    string
	}
	var got []change
	for i, r := range recs {
		got = append(got, change{r.Key, r.Rev, r.Deleted, string(r.Data)})
		if i > 0 && recs[i-1].Rev > r.Rev {
			t.Errorf("Changes out of revision order: %v", recs)
		}
		if r.Deleted && r.Data != nil {
			t.Errorf("deleted %s has data %q, want nil", r.Key, r.Data)
		}
	}
	want := []change{{"b", r1.Rev, false, "b"}, {"a", r3.Rev, true, ""}, {"c", r4.Rev, false, "c2"}}
	if !slices.Equal(got, want) {
		t.Errorf("Changes(0) = %v, want %v", got, want)
	}

	recs, rev = mustChanges(t, s, r2.Rev, 0)
	if len(recs) != 2 || recs[0].Key != "a" || !recs[0].Deleted || recs[1].Key != "c" || rev != r4.Rev {
		t.Errorf("Changes(%d) = %v at %d, want a deleted and c at %d", r2.Rev, recs, rev, r4.Rev)
	}
	recs, rev = mustChanges(t, s, r4.Rev, 0)
	if len(recs) != 0 || rev != r4.Rev {
		t.Errorf("Changes(head) = %v at %d, want nothing at %d", recs, rev, r4.Rev)
	}
}

// testChangesLimit checks that, for every limit, following Changes visits
// the same records as one unlimited call and only ever stops between commits.
func testChangesLimit(t *testing.T, b Backend) {
	s := b.New(t)
	sizes := []int{3, 1, 2, 5, 1, 1, 4}
	for c, n := range sizes {
		var ops []store.Op
		for i := range n {
			ops = append(ops, op(store.Put, fmt.Sprintf("c%d-%d", c, i), store.Absent))
		}
		mustCommit(t, s, ops...)
	}
	all, head := mustChanges(t, s, 0, 0)
	perRev := map[int64]int{}
	for _, r := range all {
		perRev[r.Rev]++
	}
	for limit := 1; limit <= 8; limit++ {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			var got []store.Record
			var after int64
			for calls := 0; ; calls++ {
				if calls > len(all)+1 {
					t.Fatalf("Changes does not advance past %d", after)
				}
				recs, rev := mustChanges(t, s, after, limit)
				if rev < after {
					t.Fatalf("Changes(%d) returned rev %d", after, rev)
				}
				if len(recs) > limit && len(recs) != perRev[recs[0].Rev] {
					t.Fatalf("Changes(%d, %d) returned %d records spanning commits", after, limit, len(recs))
				}
				seen := map[int64]int{}
				for _, r := range recs {
					if r.Rev > rev {
						t.Fatalf("record at rev %d beyond returned rev %d", r.Rev, rev)
					}
					seen[r.Rev]++
				}
				for r, n := range seen {
					if n != perRev[r] {
						t.Fatalf("Changes(%d, %d) split commit %d: %d of %d records", after, limit, r, n, perRev[r])
					}
				}
				got = append(got, recs...)
				if rev == after {
					break
				}
				after = rev
			}
			if after != head {
				t.Errorf("followed to %d, head is %d", after, head)
			}
			if len(got) != len(all) {
				t.Fatalf("followed %d records, want %d", len(got), len(all))
			}
			for i := range got {
				if !equalRecord(got[i], all[i]) {
					t.Errorf("record %d: %+v, want %+v", i, got[i], all[i])
				}
			}
		})
	}
}

func testChangesCheckOnly(t *testing.T, b Backend) {
	s := b.New(t)
	r1 := mustCommit(t, s, op(store.Put, "a", store.Absent))
	r2 := mustCommit(t, s, op(store.Check, "a", 1))
	if r2.Rev <= r1.Rev {
		t.Fatalf("Check-only commit got rev %d after %d", r2.Rev, r1.Rev)
	}
	recs, rev := mustChanges(t, s, r1.Rev, 0)
	if len(recs) != 0 || rev != r2.Rev {
		t.Fatalf("Changes(%d) = %v at %d, want nothing at %d", r1.Rev, recs, rev, r2.Rev)
	}
	recs, rev = mustChanges(t, s, 0, 1)
	if len(recs) != 1 || rev < r1.Rev {
		t.Fatalf("Changes(0, 1) = %v at %d", recs, rev)
	}
}

// testConcurrentCreate races many goroutines to create the same record, as
// two replicas creating the same user would: exactly one may win.
func testConcurrentCreate(t *testing.T, b Backend) {
	s := b.New(t)
	const n = 32
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = s.Commit(context.Background(), []store.Op{put("user", "1", "same", store.Absent, fmt.Sprint(i))})
		})
	}
	close(start)
	wg.Wait()
	winners := 0
	for i, err := range errs {
		var ce *store.ConflictError
		switch {
		case err == nil:
			winners++
		case errors.As(err, &ce):
			if ce.Actual != 1 {
				t.Errorf("goroutine %d: Actual %d, want 1", i, ce.Actual)
			}
		default:
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
	if winners != 1 {
		t.Fatalf("%d goroutines created the record, want 1", winners)
	}
	if rec, _ := mustGet(t, s, "user", "1", "same"); rec.Version != 1 {
		t.Fatalf("version %d, want 1", rec.Version)
	}
}

func testConcurrentDistinct(t *testing.T, b Backend) {
	s := b.New(t)
	const workers, each = 16, 20
	var mu sync.Mutex
	revs := map[int64]string{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				key := fmt.Sprintf("w%d-%d", w, i)
				res, err := s.Commit(context.Background(), []store.Op{op(store.Put, key, store.Absent)})
				if err != nil {
					t.Errorf("Commit %s: %v", key, err)
					return
				}
				mu.Lock()
				if other, dup := revs[res.Rev]; dup {
					t.Errorf("%s and %s both got rev %d", key, other, res.Rev)
				}
				revs[res.Rev] = key
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	recs, _ := mustChanges(t, s, 0, 0)
	if len(recs) != workers*each {
		t.Fatalf("Changes: %d records, want %d", len(recs), workers*each)
	}
	for _, r := range recs {
		if revs[r.Rev] != r.Key {
			t.Errorf("%s at rev %d, but that rev was returned for %q", r.Key, r.Rev, revs[r.Rev])
		}
	}
}

// testConcurrentTouchPresent: batches that touch a shared record expecting
// only that it exists never conflict with each other (attaching one managed
// policy to many users), while a deletion expecting the version it read
// conflicts with any of them that committed after the read.
func testConcurrentTouchPresent(t *testing.T, b Backend) {
	s := b.New(t)
	mustCommit(t, s, put("policy", "", "shared", store.Absent, "p"))
	const workers, each = 8, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				_, err := s.Commit(context.Background(), []store.Op{
					op(store.Put, fmt.Sprintf("w%d-%d", w, i), store.Absent),
					{Type: store.Touch, Kind: "policy", Key: "shared", Expect: store.Present},
				})
				if err != nil {
					t.Errorf("Commit: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	rec, _ := mustGet(t, s, "policy", "", "shared")
	if rec.Version != workers*each+1 || string(rec.Data) != "p" {
		t.Fatalf("shared record at version %d with %q, want %d with \"p\"", rec.Version, rec.Data, workers*each+1)
	}
	// A deletion expecting an older version conflicts; then the touch of
	// the deleted record conflicts too.
	_, err := s.Commit(context.Background(), []store.Op{{Type: store.Delete, Kind: "policy", Key: "shared", Expect: rec.Version - 1}})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Delete at a stale version: %v, want ErrConflict", err)
	}
	mustCommit(t, s, store.Op{Type: store.Delete, Kind: "policy", Key: "shared", Expect: rec.Version})
	_, err = s.Commit(context.Background(), []store.Op{op(store.Put, "late", store.Absent), {Type: store.Touch, Kind: "policy", Key: "shared", Expect: store.Present}})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Touch of a deleted record expecting Present: %v, want ErrConflict", err)
	}
}

// testConcurrentCounter increments one record by read-modify-write with
// compare-and-swap from many goroutines; no increment may be lost.
func testConcurrentCounter(t *testing.T, b Backend) {
	s := b.New(t)
	mustCommit(t, s, put("counter", "", "c", store.Absent, "0"))
	const workers, each = 8, 15
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				for {
					rec, _, err := s.Get(context.Background(), "counter", "", "c")
					if err != nil {
						t.Errorf("Get: %v", err)
						return
					}
					var n int
					if _, err := fmt.Sscan(string(rec.Data), &n); err != nil {
						t.Errorf("counter %q: %v", rec.Data, err)
						return
					}
					_, err = s.Commit(context.Background(), []store.Op{put("counter", "", "c", rec.Version, fmt.Sprint(n+1))})
					if err == nil {
						break
					}
					if !errors.Is(err, store.ErrConflict) {
						t.Errorf("Commit: %v", err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	rec, _ := mustGet(t, s, "counter", "", "c")
	if want := fmt.Sprint(workers * each); string(rec.Data) != want || rec.Version != workers*each+1 {
		t.Fatalf("counter %s at version %d, want %s at %d", rec.Data, rec.Version, want, workers*each+1)
	}
}

func testCanceledContext(t *testing.T, b Backend) {
	s := b.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Commit(ctx, []store.Op{op(store.Put, "a", store.Absent)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Commit with canceled context: %v, want context.Canceled", err)
	}
	if _, ok := mustGet(t, s, "user", "111122223333", "a"); ok {
		t.Fatal("Commit with canceled context wrote the record")
	}
}

func testClose(t *testing.T, b Backend) {
	s := b.New(t)
	mustCommit(t, s, op(store.Put, "a", store.Absent))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx := context.Background()
	calls := []struct {
		name string
		call func() error
	}{
		{"Commit", func() error { _, err := s.Commit(ctx, []store.Op{op(store.Put, "b", store.Absent)}); return err }},
		{"Get", func() error { _, _, err := s.Get(ctx, "user", "111122223333", "a"); return err }},
		{"Load", func() error { _, err := s.Load(ctx, func(store.Record) error { return nil }); return err }},
		{"Changes", func() error { _, _, err := s.Changes(ctx, 0, 0); return err }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); !errors.Is(err, store.ErrClosed) {
				t.Fatalf("%s after Close: %v, want ErrClosed", c.name, err)
			}
		})
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func testReopen(t *testing.T, b Backend) {
	if b.Reopen == nil {
		t.Skip("backend cannot reopen a database")
	}
	s := b.New(t)
	mustCommit(t, s, put("user", "1", "a", store.Absent, "a"), put("user", "1", "b", store.Absent, "b"))
	last := mustCommit(t, s, store.Op{Type: store.Delete, Kind: "user", Account: "1", Key: "b", Expect: 1})
	wantLoad, wantRev := mustLoad(t, s)
	wantChanges, _ := mustChanges(t, s, 0, 0)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s2 := b.Reopen(t, s)
	gotLoad, gotRev := mustLoad(t, s2)
	if gotRev != wantRev || gotRev != last.Rev || len(gotLoad) != len(wantLoad) {
		t.Fatalf("after reopen Load: %d records at %d, want %d at %d", len(gotLoad), gotRev, len(wantLoad), wantRev)
	}
	for id, r := range wantLoad {
		if !equalRecord(gotLoad[id], r) {
			t.Errorf("%s: %+v after reopen, want %+v", id, gotLoad[id], r)
		}
	}
	gotChanges, _ := mustChanges(t, s2, 0, 0)
	if len(gotChanges) != len(wantChanges) {
		t.Fatalf("after reopen Changes: %v, want %v", gotChanges, wantChanges)
	}
	for i := range wantChanges {
		if !equalRecord(gotChanges[i], wantChanges[i]) {
			t.Errorf("change %d: %+v, want %+v", i, gotChanges[i], wantChanges[i])
		}
	}
	res := mustCommit(t, s2, put("user", "1", "b", store.Absent, "b again"))
	if res.Rev <= last.Rev || res.Versions[0] != 2 {
		t.Fatalf("commit after reopen: %+v, want rev > %d and version 2", res, last.Rev)
	}
}

// testTwoReplicas opens a second Store on the same database while the first
// is open, as two iamd servers sharing one database would.
func testTwoReplicas(t *testing.T, b Backend) {
	if b.Reopen == nil {
		t.Skip("backend cannot open a second store on a database")
	}
	s1 := b.New(t)
	s2 := b.Reopen(t, s1)
	replicas := []store.Store{s1, s2}

	const n = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners, revs := 0, map[int64]bool{}
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			s := replicas[i%2]
			if _, err := s.Commit(context.Background(), []store.Op{put("user", "1", "same", store.Absent, "x")}); err == nil {
				mu.Lock()
				winners++
				mu.Unlock()
			} else if !errors.Is(err, store.ErrConflict) {
				t.Errorf("Commit: %v", err)
			}
			res, err := s.Commit(context.Background(), []store.Op{put("user", "1", fmt.Sprint("k", i), store.Absent, "x")})
			if err != nil {
				t.Errorf("Commit: %v", err)
				return
			}
			mu.Lock()
			if revs[res.Rev] {
				t.Errorf("rev %d assigned twice", res.Rev)
			}
			revs[res.Rev] = true
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	if winners != 1 {
		t.Fatalf("%d replicas created the same record, want 1", winners)
	}
	c1, h1 := mustChanges(t, s1, 0, 0)
	c2, h2 := mustChanges(t, s2, 0, 0)
	if h1 != h2 || len(c1) != n+1 || len(c2) != n+1 {
		t.Fatalf("replicas disagree: %d records at %d and %d at %d, want %d", len(c1), h1, len(c2), h2, n+1)
	}
}

func testNotify(t *testing.T, b Backend) {
	s := b.New(t)
	n, ok := s.(store.Notifier)
	if !ok {
		t.Skip("backend does not implement store.Notifier")
	}
	other := s
	if b.Reopen != nil {
		other = b.Reopen(t, s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := n.Notify(ctx)
	if err != nil {
		t.Fatalf("Notify: %v", err)
	}
	for i, committer := range []store.Store{s, other} {
		// Commit until a notification arrives: the listener may not be
		// subscribed yet when the first commit lands.
		deadline := time.After(waitFor)
		for got := false; !got; {
			mustCommit(t, committer, op(store.Put, fmt.Sprint("n", i), store.Any))
			select {
			case <-ch:
				got = true
			case <-deadline:
				t.Fatalf("no notification within %v of commits by replica %d", waitFor, i)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	cancel()
	deadline := time.After(waitFor)
	for {
		select {
		case _, open := <-ch:
			if !open {
				return
			}
		case <-deadline:
			t.Fatalf("channel not closed within %v of cancel", waitFor)
		}
	}
}
