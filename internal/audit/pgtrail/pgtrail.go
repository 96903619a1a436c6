// Package pgtrail makes the audit trails of several replicas one: each
// replica ships the records of its own chain (their lookup attributes and
// CloudTrail records) to tables of the PostgreSQL store in the background,
// and LookupEvents, policy generation and anything else that reads events
// query those tables, so that every replica answers alike. The replicas'
// signed chains stay in their data directories, unchanged: they remain the
// evidence (`iamd audit verify`); the tables are a shared index and copy,
// trimmed by the same retention.
//
// It is not used with SQLite (one server reads its own directory) and is
// not on the request path: records are read back from the chain's files,
// never handed over by requests.
package pgtrail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/iamd/iamd/internal/audit"
)

// Options configures Open.
type Options struct {
	// DSN is the PostgreSQL store's URL; its schema (search_path) must
	// hold the tables (the store creates them when it opens).
	DSN string
	// Log is this replica's audit log, whose chain is shipped; nil opens
	// the tables for reading only (the command line's tools).
	Log *audit.Log
	// Retention trims events older than it from the tables (at start and
	// hourly); zero keeps everything.
	Retention time.Duration
	// Logger receives shipping failures; nil discards them.
	Logger *slog.Logger
	// Interval is how often the chain is checked for new records;
	// default 100 ms.
	Interval time.Duration
	// Now defaults to time.Now.
	Now func() time.Time
}

// Trail is the shared trail of every replica on one database.
type Trail struct {
	pool *pgxpool.Pool
	opts Options

	// shipped is the newest record of this replica's chain in the tables;
	// advanced is closed (and replaced) each time it moves.
	shipped  atomic.Uint64
	mu       sync.Mutex
	advanced chan struct{}
	wake     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	close    sync.Once
}

// maxConns bounds the trail's own connections: shipping takes one, each
// lookup one; IAM's commits keep the store's pool for themselves.
const maxConns = 4

// Open connects to the database. With opts.Log it starts shipping the
// log's chain from where the tables end (a restart resumes there).
func Open(ctx context.Context, opts Options) (*Trail, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Interval <= 0 {
		opts.Interval = 100 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	cfg, err := pgxpool.ParseConfig(opts.DSN)
	if err != nil {
		return nil, fmt.Errorf("audit trail: parse DSN: %w", err)
	}
	cfg.MaxConns = min(cfg.MaxConns, maxConns)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("audit trail: %w", err)
	}
	t := &Trail{pool: pool, opts: opts, advanced: make(chan struct{}), wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	if opts.Log == nil {
		close(t.done)
		return t, nil
	}
	var shipped int64
	err = pool.QueryRow(ctx, `SELECT COALESCE((SELECT shipped FROM audit_chains WHERE chain = $1), 0)`, opts.Log.Chain()).Scan(&shipped)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("audit trail: read where chain %s was shipped to: %w", opts.Log.Chain(), err)
	}
	t.shipped.Store(uint64(shipped))
	go t.run()
	return t, nil
}

// Close ships what the chain holds (for a few seconds at most), stops, and
// closes the connections. Close the audit log first.
func (t *Trail) Close() error {
	t.close.Do(func() { close(t.stop) })
	<-t.done
	t.pool.Close()
	return nil
}

// Shipped returns the sequence number of the newest record of this
// replica's chain in the tables.
func (t *Trail) Shipped() uint64 { return t.shipped.Load() }

// batchMax bounds the records shipped in one statement (and in memory).
const batchMax = 1000

func (t *Trail) run() {
	defer close(t.done)
	chain, dir := t.opts.Log.Chain(), t.opts.Log.ChainDir()
	tail := audit.NewTail(dir, t.shipped.Load())
	defer func() { tail.Close() }()
	tick := time.NewTicker(t.opts.Interval)
	defer tick.Stop()
	var b batch
	var lastTrim time.Time
	failing := false
	for {
		stopping := false
		select {
		case <-t.stop:
			stopping = true
		case <-tick.C:
		case <-t.wake:
		}
		if t.opts.Retention > 0 && t.opts.Now().Sub(lastTrim) >= time.Hour {
			lastTrim = t.opts.Now()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if _, err := t.Trim(ctx, t.opts.Now().Add(-t.opts.Retention)); err != nil {
				t.opts.Logger.Error("audit trail: retention of the shared trail failed", "err", err)
			}
			cancel()
		}
		limit := 10 * time.Second
		if stopping {
			limit = 3 * time.Second // within the shutdown's budget
		}
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		err := t.shipAll(ctx, chain, tail, &b)
		cancel()
		switch {
		case err != nil && !failing:
			t.opts.Logger.Error("audit trail: shipping events to the database failed; retrying (other replicas do not see them meanwhile)", "chain", chain, "err", err)
			failing = true
		case err == nil && failing:
			t.opts.Logger.Info("audit trail: shipping events to the database again", "chain", chain)
			failing = false
		}
		if err != nil {
			// Read again from what the tables hold.
			tail.Close()
			tail = audit.NewTail(dir, t.shipped.Load())
		}
		if stopping {
			return
		}
	}
}

// shipAll ships the chain's records until the tail has none left.
func (t *Trail) shipAll(ctx context.Context, chain string, tail *audit.Tail, b *batch) error {
	for {
		b.reset()
		n, err := tail.Read(batchMax, b.add)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if err := t.insert(ctx, chain, b); err != nil {
			return err
		}
		t.advance(b.seq[len(b.seq)-1])
	}
}

func (t *Trail) advance(seq int64) {
	t.shipped.Store(uint64(seq))
	t.mu.Lock()
	close(t.advanced)
	t.advanced = make(chan struct{})
	t.mu.Unlock()
}

// Sync waits until every record this replica wrote before the call is in
// the tables, or ctx ends.
func (t *Trail) Sync(ctx context.Context) error {
	if t.opts.Log == nil {
		return nil
	}
	want := t.opts.Log.Written()
	for {
		t.mu.Lock()
		ch := t.advanced
		t.mu.Unlock()
		if t.shipped.Load() >= want {
			return nil
		}
		select {
		case t.wake <- struct{}{}:
		default:
		}
		select {
		case <-ch:
		case <-t.done:
			return errors.New("audit trail: shipping stopped")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// batch is records to ship, column by column.
type batch struct {
	seq, time                                     []int64
	account, id, name, source, user, key, resJSON []string
	ro                                            []bool
	event                                         [][]byte
	// audit_resources rows
	rAccount, rAttr, rValue []string
	rTime, rSeq             []int64
	// arena holds the events' bytes
	arena []byte
}

func (b *batch) reset() {
	b.seq, b.time = b.seq[:0], b.time[:0]
	b.account, b.id, b.name, b.source, b.user, b.key, b.resJSON = b.account[:0], b.id[:0], b.name[:0], b.source[:0], b.user[:0], b.key[:0], b.resJSON[:0]
	b.ro, b.event = b.ro[:0], b.event[:0]
	b.rAccount, b.rAttr, b.rValue, b.rTime, b.rSeq = b.rAccount[:0], b.rAttr[:0], b.rValue[:0], b.rTime[:0], b.rSeq[:0]
	// The previous batch's events were sent: the arena may be reused.
	b.arena = b.arena[:0]
}

func (b *batch) add(r *audit.ChainRecord) error {
	seq, tm := int64(r.Seq), r.Time
	b.seq, b.time = append(b.seq, seq), append(b.time, tm)
	b.account, b.id, b.name = append(b.account, r.Account), append(b.id, strings.ToLower(r.EventID)), append(b.name, r.EventName)
	b.source, b.user, b.key = append(b.source, r.Source), append(b.user, r.Username), append(b.key, r.AccessKeyID)
	b.ro = append(b.ro, r.ReadOnly)
	b.resJSON = append(b.resJSON, resourcesJSON(r.Resources))
	// Events are copied into one arena per batch; earlier slices stay
	// valid if it grows (they point at the old array).
	start := len(b.arena)
	b.arena = append(b.arena, r.Event...)
	b.event = append(b.event, b.arena[start:len(b.arena):len(b.arena)])
	for _, res := range r.Resources {
		for _, kv := range [2][2]string{{"t", res.Type}, {"n", res.Name}} {
			if kv[1] == "" {
				continue
			}
			b.rAccount, b.rAttr, b.rValue = append(b.rAccount, r.Account), append(b.rAttr, kv[0]), append(b.rValue, kv[1])
			b.rTime, b.rSeq = append(b.rTime, tm), append(b.rSeq, seq)
		}
	}
	return nil
}

// insert writes a batch and moves the chain's cursor in one transaction;
// a batch written before (a restart after the commit, before the cursor
// was read back) changes nothing: rows are keyed by (chain, seq).
func (t *Trail) insert(ctx context.Context, chain string, b *batch) error {
	return pgx.BeginFunc(ctx, t.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO audit_events
			(chain, seq, time, account, event_id, name, source, username, access_key, read_only, resources, event)
			SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],
				$8::text[], $9::text[], $10::bool[], $11::text[], $12::bytea[])
			ON CONFLICT DO NOTHING`,
			chain, b.seq, b.time, b.account, b.id, b.name, b.source, b.user, b.key, b.ro, b.resJSON, b.event); err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
		if len(b.rSeq) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO audit_resources (account, attr, value, time, chain, seq)
				SELECT a, t::"char", v, tm, $1, s FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[]) AS x(a, t, v, tm, s)
				ON CONFLICT DO NOTHING`,
				chain, b.rAccount, b.rAttr, b.rValue, b.rTime, b.rSeq); err != nil {
				return fmt.Errorf("insert resources: %w", err)
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO audit_chains (chain, shipped) VALUES ($1, $2)
			ON CONFLICT (chain) DO UPDATE SET shipped = GREATEST(audit_chains.shipped, EXCLUDED.shipped)`,
			chain, b.seq[len(b.seq)-1])
		return err
	})
}

// trimChunk bounds the rows one statement of Trim removes, so that no
// transaction holds many locks or a long snapshot.
const trimChunk = 10000

// Trim removes the events (of every replica) older than before, and
// returns how many.
func (t *Trail) Trim(ctx context.Context, before time.Time) (int64, error) {
	cut := before.Unix()
	var total int64
	for _, q := range []string{
		`DELETE FROM audit_events WHERE ctid = ANY (ARRAY(SELECT ctid FROM audit_events WHERE time < $1 LIMIT $2))`,
		`DELETE FROM audit_resources WHERE ctid = ANY (ARRAY(SELECT ctid FROM audit_resources WHERE time < $1 LIMIT $2))`,
	} {
		for {
			tag, err := t.pool.Exec(ctx, q, cut, trimChunk)
			if err != nil {
				return total, fmt.Errorf("trim: %w", err)
			}
			if strings.HasPrefix(q, "DELETE FROM audit_events") {
				total += tag.RowsAffected()
			}
			if tag.RowsAffected() < trimChunk {
				break
			}
		}
	}
	return total, nil
}
