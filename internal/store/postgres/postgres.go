// Package postgres is the store.Store backend for running several iamd
// servers on one PostgreSQL database, through pgx/v5.
//
// Every write transaction first locks the single row of the meta table, which
// holds the revision counter, and keeps the lock until it commits. Commits are
// therefore serialised in revision order and become visible in that order, so
// a replica following Changes never skips a revision that commits later.
// Within one server a writer goroutine groups the batches waiting for it into
// one transaction, each batch in its own SAVEPOINT with its ops pipelined in
// one round trip, so that concurrent commits share the lock and the fsync.
// Commits are announced with pg_notify in the committing transaction, which
// Notify turns into wake-ups for replicas.
//
// The schema lives in the connection's current schema (set search_path in the
// DSN to give each deployment its own).
package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/iamd/iamd/internal/store"
	"github.com/iamd/iamd/internal/store/groupcommit"
)

// Store is a store.Store on a PostgreSQL database. It is safe for concurrent
// use.
type Store struct {
	pool    *pgxpool.Pool
	channel string // NOTIFY channel of this schema
	cfg     config

	commits *groupcommit.Queue
	// mu orders Notify's registration of a listener with Close marking the
	// Store closed.
	mu        sync.RWMutex
	closed    atomic.Bool
	stop      context.Context
	stopFn    context.CancelFunc // ends Notify listeners
	listeners sync.WaitGroup
	closeOnce sync.Once
}

var (
	_ store.Store    = (*Store)(nil)
	_ store.Notifier = (*Store)(nil)
)

type config struct {
	maxGroup int
}

// Option configures Open.
type Option func(*config)

// WithMaxGroup sets the most batches committed in one transaction. The
// default is 256.
func WithMaxGroup(n int) Option { return func(c *config) { c.maxGroup = max(n, 1) } }

// Open connects to the database at dsn (a libpq URL or keyword/value string;
// pool settings such as pool_max_conns are accepted) and brings the schema up
// to date.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	cfg := config{maxGroup: 256}
	for _, o := range opts {
		o(&cfg)
	}
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse DSN: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s := &Store{pool: pool, cfg: cfg}
	var schema string
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: schema %q: %w", schema, err)
	}
	s.channel = channelName(schema)
	s.stop, s.stopFn = context.WithCancel(context.Background())
	s.commits = groupcommit.Start("postgres", cfg.maxGroup, s.commitGroup)
	return s, nil
}

// channelName is the NOTIFY channel for a schema: replicas of different
// deployments sharing a database do not wake each other.
func channelName(schema string) string {
	name := "iamd_" + schema
	if len(name) > 63 { // NAMEDATALEN-1
		sum := sha256.Sum256([]byte(schema))
		name = "iamd_" + hex.EncodeToString(sum[:16])
	}
	return name
}

// Close waits for commits already queued, stops Notify listeners and closes
// the connection pool. It may be called more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed.Store(true)
		s.mu.Unlock()
		s.commits.Close()
		s.stopFn()
		s.listeners.Wait()
		s.pool.Close()
	})
	return nil
}

// Commit implements store.Store. If ctx ends after the batch was queued, the
// batch may still commit.
func (s *Store) Commit(ctx context.Context, ops []store.Op) (store.Result, error) {
	return s.commits.Commit(ctx, ops)
}

// Prune deletes the tombstones of records deleted more than keep revisions
// ago. A replica whose Changes position is older than that gets
// store.ErrCompacted and must Load again.
func (s *Store) Prune(ctx context.Context, keep int64) (removed int64, err error) {
	return s.commits.Prune(ctx, keep)
}

// readErr maps errors of reads racing with Close to store.ErrClosed.
func (s *Store) readErr(what string, err error) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return fmt.Errorf("postgres: %s: %w", what, err)
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, kind, account, key string) (store.Record, bool, error) {
	if s.closed.Load() {
		return store.Record{}, false, store.ErrClosed
	}
	rec := store.Record{Kind: kind, Account: account, Key: key}
	err := s.pool.QueryRow(ctx,
		`SELECT version, rev, data FROM records WHERE kind = $1 AND account = $2 AND key = $3 AND NOT deleted`,
		kind, account, key).Scan(&rec.Version, &rec.Rev, &rec.Data)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Record{}, false, nil
	}
	if err != nil {
		return store.Record{}, false, s.readErr("get", err)
	}
	if rec.Data == nil {
		rec.Data = []byte{}
	}
	return rec, true, nil
}

// snapshot runs fn in a read-only REPEATABLE READ transaction, so that all
// its queries see one snapshot.
func (s *Store) snapshot(ctx context.Context, what string, fn func(pgx.Tx) error) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return s.readErr(what, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	return fn(tx)
}

// Load implements store.Store.
func (s *Store) Load(ctx context.Context, fn func(store.Record) error) (int64, error) {
	var rev int64
	var fnErr error
	err := s.snapshot(ctx, "load", func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT rev FROM meta`).Scan(&rev); err != nil {
			return s.readErr("load", err)
		}
		rows, err := tx.Query(ctx, `SELECT kind, account, key, version, rev, data FROM records WHERE NOT deleted`)
		if err != nil {
			return s.readErr("load", err)
		}
		defer rows.Close()
		for rows.Next() {
			var r store.Record
			if err := rows.Scan(&r.Kind, &r.Account, &r.Key, &r.Version, &r.Rev, &r.Data); err != nil {
				return s.readErr("load", err)
			}
			if r.Data == nil {
				r.Data = []byte{}
			}
			if fnErr = fn(r); fnErr != nil {
				return fnErr
			}
		}
		if err := rows.Err(); err != nil {
			return s.readErr("load", err)
		}
		return nil
	})
	if fnErr != nil {
		return 0, fnErr
	}
	if err != nil {
		return 0, err
	}
	return rev, nil
}

// Changes implements store.Store. It returns the current state of each
// record last written by a commit after after; a record written again since
// appears only at its latest revision.
func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]store.Record, int64, error) {
	var recs []store.Record
	var rev int64
	err := s.snapshot(ctx, "changes", func(tx pgx.Tx) error {
		var head, pruned int64
		if err := tx.QueryRow(ctx, `SELECT rev, pruned_rev FROM meta`).Scan(&head, &pruned); err != nil {
			return s.readErr("changes", err)
		}
		if after < pruned {
			return fmt.Errorf("postgres: changes after %d (pruned through %d): %w", after, pruned, store.ErrCompacted)
		}
		const cols = `SELECT kind, account, key, version, rev, deleted, data FROM records `
		var err error
		if limit <= 0 {
			recs, err = queryChanges(ctx, tx, cols+`WHERE rev > $1 ORDER BY rev, kind, account, key`, after)
		} else {
			recs, err = queryChanges(ctx, tx, cols+`WHERE rev > $1 ORDER BY rev, kind, account, key LIMIT $2`, after, limit+1)
		}
		if err != nil {
			return s.readErr("changes", err)
		}
		if limit <= 0 || len(recs) <= limit {
			rev = head
			return nil
		}
		// More than limit: stop at the last commit boundary within limit.
		cut := recs[limit].Rev
		n := limit
		for n > 0 && recs[n-1].Rev == cut {
			n--
		}
		if n > 0 {
			recs, rev = recs[:n], recs[n-1].Rev
			return nil
		}
		// A single commit larger than limit is returned whole.
		recs, err = queryChanges(ctx, tx, cols+`WHERE rev = $1 ORDER BY kind, account, key`, cut)
		if err != nil {
			return s.readErr("changes", err)
		}
		rev = cut
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return recs, rev, nil
}

func queryChanges(ctx context.Context, tx pgx.Tx, q string, args ...any) ([]store.Record, error) {
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return store.ScanChanges(rows)
}
