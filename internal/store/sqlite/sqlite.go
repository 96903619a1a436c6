// Package sqlite is the embedded store.Store backend: one SQLite database file
// in WAL mode, opened with the pure-Go modernc.org/sqlite driver.
//
// Writes go through a single writer goroutine that groups the batches waiting
// for it into one SQLite transaction, each batch inside its own SAVEPOINT so a
// conflicting batch is rolled back alone; the group costs one fsync
// (synchronous=FULL), which is what makes durable commits cheap under
// concurrency. Reads use a separate pool of read-only connections, which WAL
// lets run alongside the writer.
//
// It is not for sharing one database between servers on different machines
// (SQLite over a network filesystem is not safe); use internal/store/postgres.
// Several Stores on one file in one or more processes on one machine are
// correct, only slower, because every group reads the revision from the file.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iamd/iamd/internal/store"
	"github.com/iamd/iamd/internal/store/groupcommit"

	// Registers the "sqlite" database/sql driver.
	_ "modernc.org/sqlite"
)

// Store is a store.Store on a SQLite database file. It is safe for concurrent
// use.
type Store struct {
	path string
	cfg  config

	wdb  *sql.DB   // one connection, used only by the writer goroutine
	wc   *sql.Conn // that connection
	rdb  *sql.DB   // read-only connections
	stmt writeStmts

	commits   *groupcommit.Queue
	closed    atomic.Bool
	closeErr  error
	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

type config struct {
	busyTimeout time.Duration
	maxGroup    int
	readConns   int
}

// Option configures Open.
type Option func(*config)

// WithBusyTimeout sets how long a connection waits for a lock held by another
// connection or process before failing. The default is 10s.
func WithBusyTimeout(d time.Duration) Option { return func(c *config) { c.busyTimeout = d } }

// WithMaxGroup sets the most batches committed in one transaction. The
// default is 512.
func WithMaxGroup(n int) Option { return func(c *config) { c.maxGroup = max(n, 1) } }

// WithReadConns sets the size of the read connection pool. The default is 4.
func WithReadConns(n int) Option { return func(c *config) { c.readConns = max(n, 1) } }

// Open opens, creating it if needed, the database at path and brings its
// schema up to date. path must name a file: an in-memory database cannot be
// shared between the writer and the readers.
func Open(path string, opts ...Option) (*Store, error) {
	cfg := config{busyTimeout: 10 * time.Second, maxGroup: 512, readConns: 4}
	for _, o := range opts {
		o(&cfg)
	}
	if path == "" || path == ":memory:" {
		return nil, fmt.Errorf("sqlite: open %q: a database file path is required", path)
	}
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s := &Store{path: path, cfg: cfg}
	if err := s.open(); err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: open %s: %w", path, err), s.closeDBs())
	}
	s.commits = groupcommit.Start("sqlite", cfg.maxGroup, s.commitGroup)
	return s, nil
}

// createPrivate creates the database file, empty and readable and writable
// by its owner only, unless it exists. Left to SQLite, it would be created
// 0644 less the umask, readable by everyone; and SQLite creates the -wal and
// -shm files with the database file's permissions, so they are private too.
// An existing file keeps its mode: the server refuses to start on one that
// others can read rather than change it behind the operator's back.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

func dsn(path string, busy time.Duration, extra ...string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	for _, p := range extra {
		q.Add("_pragma", p)
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

func (s *Store) open() error {
	ctx := context.Background()
	var err error
	s.wdb, err = sql.Open("sqlite", dsn(s.path, s.cfg.busyTimeout))
	if err != nil {
		return err
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	if s.wc, err = s.wdb.Conn(ctx); err != nil {
		return err
	}
	if err := migrate(ctx, s.wc); err != nil {
		return err
	}
	if err := s.stmt.prepare(ctx, s.wc); err != nil {
		return err
	}
	s.rdb, err = sql.Open("sqlite", dsn(s.path, s.cfg.busyTimeout, "query_only(1)", "mmap_size(1073741824)", "cache_size(-32000)"))
	if err != nil {
		return err
	}
	s.rdb.SetMaxOpenConns(s.cfg.readConns)
	s.rdb.SetMaxIdleConns(s.cfg.readConns)
	s.rdb.SetConnMaxIdleTime(0)
	s.rdb.SetConnMaxLifetime(0)
	return s.rdb.PingContext(ctx)
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close waits for commits already queued, then closes the database. It may
// be called more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.commits.Close()
		s.closeErr = s.closeDBs()
	})
	return s.closeErr
}

func (s *Store) closeDBs() error {
	var errs []error
	s.stmt.close()
	if s.wc != nil {
		errs = append(errs, s.wc.Close())
	}
	if s.wdb != nil {
		errs = append(errs, s.wdb.Close())
	}
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	return errors.Join(errs...)
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

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, kind, account, key string) (store.Record, bool, error) {
	if s.closed.Load() {
		return store.Record{}, false, store.ErrClosed
	}
	rec := store.Record{Kind: kind, Account: account, Key: key}
	err := s.rdb.QueryRowContext(ctx,
		`SELECT version, rev, data FROM records WHERE kind = ? AND account = ? AND key = ? AND deleted = 0`,
		kind, account, key).Scan(&rec.Version, &rec.Rev, &rec.Data)
	if errors.Is(err, sql.ErrNoRows) {
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

// readErr maps errors of reads racing with Close to store.ErrClosed.
func (s *Store) readErr(what string, err error) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return fmt.Errorf("sqlite: %s: %w", what, err)
}

// Load implements store.Store. It reads through the driver directly rather
// than database/sql's Scan, which would copy every document a second time:
// start-up time of a large account is spent here.
func (s *Store) Load(ctx context.Context, fn func(store.Record) error) (int64, error) {
	if s.closed.Load() {
		return 0, store.ErrClosed
	}
	c, err := s.rdb.Conn(ctx)
	if err != nil {
		return 0, s.readErr("load", err)
	}
	defer c.Close()
	var rev int64
	var fnErr error
	err = c.Raw(func(dc any) error {
		rev, fnErr, err = loadRaw(ctx, dc, fn)
		return err
	})
	if fnErr != nil {
		return 0, fnErr
	}
	if err != nil {
		return 0, s.readErr("load", err)
	}
	return rev, nil
}

// loadRaw runs Load's read transaction on a driver connection. It returns
// fn's error separately so that it reaches the caller unwrapped.
func loadRaw(ctx context.Context, dc any, fn func(store.Record) error) (rev int64, fnErr, err error) {
	ex, ok1 := dc.(driver.ExecerContext)
	qu, ok2 := dc.(driver.QueryerContext)
	if !ok1 || !ok2 {
		return 0, nil, fmt.Errorf("driver connection %T cannot query", dc)
	}
	if _, err := ex.ExecContext(ctx, `BEGIN`, nil); err != nil {
		return 0, nil, err
	}
	defer func() {
		if _, rbErr := ex.ExecContext(context.Background(), `ROLLBACK`, nil); rbErr != nil && err == nil {
			err = rbErr
		}
	}()
	// The snapshot starts with the first read, so meta and records agree.
	rows, err := qu.QueryContext(ctx, `SELECT rev FROM meta`, nil)
	if err != nil {
		return 0, nil, err
	}
	row := make([]driver.Value, 1)
	err = rows.Next(row)
	rows.Close()
	if err != nil {
		return 0, nil, fmt.Errorf("read revision: %w", err)
	}
	rev, _ = row[0].(int64)

	rows, err = qu.QueryContext(ctx, `SELECT kind, account, key, version, rev, data FROM records WHERE deleted = 0`, nil)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	row = make([]driver.Value, 6)
	for {
		if err := rows.Next(row); err == io.EOF {
			return rev, nil, nil
		} else if err != nil {
			return 0, nil, err
		}
		var r store.Record
		r.Kind, _ = row[0].(string)
		r.Account, _ = row[1].(string)
		r.Key, _ = row[2].(string)
		r.Version, _ = row[3].(int64)
		r.Rev, _ = row[4].(int64)
		r.Data, _ = row[5].([]byte) // the driver's own copy
		if r.Data == nil {
			r.Data = []byte{}
		}
		if err := fn(r); err != nil {
			return 0, err, nil
		}
		if err := ctx.Err(); err != nil {
			return 0, nil, err
		}
	}
}

// Changes implements store.Store. It returns the current state of each
// record last written by a commit after after; a record written again since
// appears only at its latest revision.
func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]store.Record, int64, error) {
	if s.closed.Load() {
		return nil, 0, store.ErrClosed
	}
	tx, err := s.rdb.BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, s.readErr("changes", err)
	}
	defer tx.Rollback()
	var head, pruned int64
	if err := tx.QueryRowContext(ctx, `SELECT rev, pruned_rev FROM meta`).Scan(&head, &pruned); err != nil {
		return nil, 0, s.readErr("changes", err)
	}
	if after < pruned {
		return nil, 0, fmt.Errorf("sqlite: changes after %d (pruned through %d): %w", after, pruned, store.ErrCompacted)
	}
	const cols = `SELECT kind, account, key, version, rev, deleted, data FROM records `
	q, args := cols+`WHERE rev > ? ORDER BY rev, kind, account, key`, []any{after}
	if limit > 0 {
		q, args = q+` LIMIT ?`, append(args, limit+1)
	}
	recs, err := scanChanges(tx.QueryContext(ctx, q, args...))
	if err != nil {
		return nil, 0, s.readErr("changes", err)
	}
	if limit <= 0 || len(recs) <= limit {
		return recs, head, nil
	}
	// More than limit: stop at the last commit boundary within limit.
	cut := recs[limit].Rev
	n := limit
	for n > 0 && recs[n-1].Rev == cut {
		n--
	}
	if n > 0 {
		return recs[:n], recs[n-1].Rev, nil
	}
	// A single commit larger than limit is returned whole.
	recs, err = scanChanges(tx.QueryContext(ctx, cols+`WHERE rev = ? ORDER BY kind, account, key`, cut))
	if err != nil {
		return nil, 0, s.readErr("changes", err)
	}
	return recs, cut, nil
}

func scanChanges(rows *sql.Rows, err error) ([]store.Record, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return store.ScanChanges(rows)
}
