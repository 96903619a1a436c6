package pgtrail_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/iamd/iamd/internal/audit"
	"github.com/iamd/iamd/internal/audit/pgtrail"
	"github.com/iamd/iamd/internal/store/postgres"
	"github.com/iamd/iamd/internal/store/postgres/pgtest"
)

// testSchema returns the DSN of a fresh schema holding the store's tables
// (dropped when the test ends). Without IAMD_TEST_POSTGRES the test skips,
// unless CI is set: CI must run it.
func testSchema(t *testing.T) string {
	t.Helper()
	dsn := pgtest.Schema(t, "iamd_trail_")
	// The store creates the tables.
	st, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	return dsn
}

var key = [][]byte{bytes.Repeat([]byte{7}, 32)}

func openLog(t *testing.T, dir string) *audit.Log {
	t.Helper()
	l, err := audit.Open(audit.Options{Dir: dir, Keys: key, NoSync: true, SegmentBytes: 8192})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func openTrail(t *testing.T, dsn string, l *audit.Log) *pgtrail.Trail {
	t.Helper()
	tr, err := pgtrail.Open(context.Background(), pgtrail.Options{DSN: dsn, Log: l, Interval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// record writes event i: names, users, keys, sources, resources and times
// vary so that every lookup attribute selects a different subset, and
// several events share a second (ties broken by chain and sequence).
func record(t *testing.T, l *audit.Log, i int) {
	t.Helper()
	source, name := audit.SourceIAM, []string{"GetUser", "CreateUser", "ListUsers"}[i%3]
	if i%5 == 0 {
		source, name = audit.SourceSTS, "GetCallerIdentity"
	}
	user := fmt.Sprintf("u%d", i%4)
	res := []audit.Resource{{Type: "AWS::IAM::User", Name: "target" + user}}
	if i%7 == 0 {
		res = append(res, audit.Resource{Type: "AWS::IAM::Policy", Name: "arn:aws:iam::111111111111:policy/p"})
	}
	account := "111111111111"
	if i%11 == 0 {
		account = "222222222222"
	}
	ev := &audit.Event{
		EventTime: audit.FormatTime(t0.Add(time.Duration(i/3) * time.Second)), EventSource: source, EventName: name,
		AWSRegion: "us-east-1", RecipientAccountID: account,
		UserIdentity: audit.UserIdentity{Type: "IAMUser", UserName: user, AccessKeyID: "AKIA" + strings.ToUpper(user)},
		Username:     user, ReadOnly: audit.ReadOnly(source, name), Resources: res,
	}
	if err := l.Record(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
}

// chainRows returns the sequence numbers of a chain's rows.
func chainRows(t *testing.T, dsn, chain string) []int64 {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), `SELECT seq FROM audit_events WHERE chain = $1 ORDER BY seq`, chain)
	if err != nil {
		t.Fatal(err)
	}
	seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return seqs
}

func wantContiguous(t *testing.T, seqs []int64, n int) {
	t.Helper()
	if len(seqs) != n {
		t.Fatalf("%d rows, want %d", len(seqs), n)
	}
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("row %d is record %d: gap or duplicate", i, s)
		}
	}
}

func exec(t *testing.T, dsn, sql string, args ...any) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatal(err)
	}
}

// TestShipResumes ships a chain across segments, stops and restarts the
// shipper (also from a cursor set back, as after a crash between a batch
// and its cursor), and finds every record once.
func TestShipResumes(t *testing.T) {
	dsn := testSchema(t)
	dir := t.TempDir()
	l := openLog(t, dir)
	tr := openTrail(t, dsn, l)
	for i := range 150 {
		record(t, l, i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tr.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	wantContiguous(t, chainRows(t, dsn, l.Chain()), 150)
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}

	// Written while no shipper runs, then shipped by the next one.
	for i := 150; i < 200; i++ {
		record(t, l, i)
	}
	tr = openTrail(t, dsn, l)
	if err := tr.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	tr.Close()
	wantContiguous(t, chainRows(t, dsn, l.Chain()), 200)

	// A cursor behind the rows: shipped again, stored once.
	exec(t, dsn, `UPDATE audit_chains SET shipped = 40`)
	chain := l.Chain()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir)
	defer l.Close()
	if l.Chain() != chain {
		t.Fatalf("chain %s reopened as %s", chain, l.Chain())
	}
	record(t, l, 200)
	tr = openTrail(t, dsn, l)
	defer tr.Close()
	if err := tr.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if tr.Shipped() != 201 {
		t.Fatalf("shipped %d, want 201", tr.Shipped())
	}
	wantContiguous(t, chainRows(t, dsn, l.Chain()), 201)
}

// ids returns the event IDs of a query's pages, paging with max.
func ids(t *testing.T, lookup func(audit.Query) (*audit.Page, error), q audit.Query) []string {
	t.Helper()
	var out []string
	for range 1000 {
		p, err := lookup(q)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range p.Events {
			out = append(out, f.EventID)
		}
		if p.NextToken == "" {
			return out
		}
		q.Token = p.NextToken
	}
	t.Fatal("too many pages")
	return nil
}

// TestLookupMatchesLocal answers every kind of query from the tables and
// from the chain's own index, and expects the same events in the same
// order, page after page; then it adds a second replica's chain and
// expects both chains' events from either trail.
func TestLookupMatchesLocal(t *testing.T) {
	dsn := testSchema(t)
	l := openLog(t, t.TempDir())
	defer l.Close()
	tr := openTrail(t, dsn, l)
	defer tr.Close()
	for i := range 120 {
		record(t, l, i)
	}
	var some audit.Found
	p, err := l.Lookup(audit.Query{Account: "111111111111", Max: 1})
	if err != nil || len(p.Events) != 1 {
		t.Fatal(p, err)
	}
	some = p.Events[0]
	a := "111111111111"
	queries := []struct {
		name string
		q    audit.Query
	}{
		{"all", audit.Query{Account: a}},
		{"other account", audit.Query{Account: "222222222222"}},
		{"no account", audit.Query{Account: "333333333333"}},
		{"EventName", audit.Query{Account: a, Attribute: audit.AttrEventName, Value: "CreateUser"}},
		{"Username", audit.Query{Account: a, Attribute: audit.AttrUsername, Value: "u1"}},
		{"AccessKeyId", audit.Query{Account: a, Attribute: audit.AttrAccessKeyID, Value: "AKIAU2"}},
		{"EventSource", audit.Query{Account: a, Attribute: audit.AttrEventSource, Value: audit.SourceSTS}},
		{"ReadOnly true", audit.Query{Account: a, Attribute: audit.AttrReadOnly, Value: "true"}},
		{"ReadOnly false", audit.Query{Account: a, Attribute: audit.AttrReadOnly, Value: "false"}},
		{"ResourceType", audit.Query{Account: a, Attribute: audit.AttrResourceType, Value: "AWS::IAM::Policy"}},
		{"ResourceName", audit.Query{Account: a, Attribute: audit.AttrResourceName, Value: "targetu3"}},
		{"EventId", audit.Query{Account: a, Attribute: audit.AttrEventID, Value: some.EventID}},
		{"EventId upper case", audit.Query{Account: a, Attribute: audit.AttrEventID, Value: strings.ToUpper(some.EventID)}},
		{"time range", audit.Query{Account: a, Start: t0.Add(5 * time.Second), End: t0.Add(20 * time.Second)}},
		{"time range and name", audit.Query{Account: a, Attribute: audit.AttrEventName, Value: "GetUser", Start: t0.Add(10 * time.Second), End: t0.Add(30 * time.Second)}},
	}
	for _, tc := range queries {
		for _, max := range []int{50, 4, 1} {
			t.Run(fmt.Sprintf("%s/max %d", tc.name, max), func(t *testing.T) {
				q := tc.q
				q.Max = max
				want, got := ids(t, l.Lookup, q), ids(t, tr.Lookup, q)
				if !slices.Equal(want, got) {
					t.Fatalf("from the tables %d events %v\nfrom the chain %d events %v", len(got), got, len(want), want)
				}
			})
		}
	}

	t.Run("second replica", func(t *testing.T) {
		l2 := openLog(t, t.TempDir())
		defer l2.Close()
		tr2 := openTrail(t, dsn, l2)
		defer tr2.Close()
		for i := range 30 {
			record(t, l2, i)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := tr2.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		for _, tc := range queries {
			q := tc.q
			q.Max = 7
			one, two := ids(t, tr.Lookup, q), ids(t, tr2.Lookup, q)
			local1, local2 := ids(t, l.Lookup, q), ids(t, l2.Lookup, q)
			if !slices.Equal(one, two) {
				t.Errorf("%s: the two replicas answer differently:\n%v\n%v", tc.name, one, two)
			}
			if len(one) != len(local1)+len(local2) {
				t.Errorf("%s: %d events, want %d + %d", tc.name, len(one), len(local1), len(local2))
			}
		}
	})

	t.Run("bad token", func(t *testing.T) {
		p, err := tr.Lookup(audit.Query{Account: a, Max: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{"x", "cDE6MTox", "!" + p.NextToken[1:]} {
			if _, err := tr.Lookup(audit.Query{Account: a, Max: 2, Token: tok}); err != audit.ErrInvalidToken {
				t.Errorf("token %q: %v", tok, err)
			}
		}
		// A token of another query.
		if _, err := tr.Lookup(audit.Query{Account: a, Max: 2, Token: p.NextToken, Attribute: audit.AttrUsername, Value: "u1"}); err != audit.ErrInvalidToken {
			t.Errorf("token of another query: %v", err)
		}
	})

	t.Run("trim", func(t *testing.T) {
		n, err := tr.Trim(context.Background(), t0.Add(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatal("nothing trimmed")
		}
		got := ids(t, tr.Lookup, audit.Query{Account: a, End: t0.Add(9 * time.Second)})
		if len(got) != 0 {
			t.Fatalf("%d events before the cut remain", len(got))
		}
		got = ids(t, tr.Lookup, audit.Query{Account: a, Attribute: audit.AttrResourceType, Value: "AWS::IAM::User", End: t0.Add(9 * time.Second)})
		if len(got) != 0 {
			t.Fatalf("%d resources before the cut remain", len(got))
		}
	})
}
