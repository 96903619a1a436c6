package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/iamd/iamd/internal/store"
)

var _ store.Importer = (*Store)(nil)

// Import implements store.Importer. It writes through a connection of its
// own, outside the writer goroutine: BEGIN IMMEDIATE takes SQLite's write
// lock, and the writer reads the revision under that lock, so the two
// serialise like two Stores on one file.
func (s *Store) Import(ctx context.Context, recs []store.Record) (int64, error) {
	if s.closed.Load() {
		return 0, store.ErrClosed
	}
	if err := store.ValidateImport(recs); err != nil {
		return 0, err
	}
	db, err := sql.Open("sqlite", dsn(s.path, s.cfg.busyTimeout))
	if err != nil {
		return 0, fmt.Errorf("sqlite: import: %w", err)
	}
	defer db.Close()
	c, err := db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlite: import: %w", err)
	}
	defer c.Close()
	rev, err := importTx(ctx, c, recs)
	if err != nil {
		_, _ = c.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
		return 0, fmt.Errorf("sqlite: import: %w", err)
	}
	return rev, nil
}

func importTx(ctx context.Context, c *sql.Conn, recs []store.Record) (int64, error) {
	if _, err := c.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		return 0, err
	}
	var rev int64
	if err := c.QueryRowContext(ctx, `SELECT rev FROM meta`).Scan(&rev); err != nil {
		return 0, err
	}
	rev++
	st, err := c.PrepareContext(ctx, `INSERT INTO records (kind, account, key, version, rev, data, deleted) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (kind, account, key) DO UPDATE
		SET version = excluded.version, rev = excluded.rev, data = excluded.data, deleted = excluded.deleted`)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	for _, r := range recs {
		data := r.Data
		if data == nil || r.Deleted {
			data = []byte{}
		}
		if _, err := st.ExecContext(ctx, r.Kind, r.Account, r.Key, r.Version, rev, data, r.Deleted); err != nil {
			return 0, err
		}
	}
	if _, err := c.ExecContext(ctx, `UPDATE meta SET rev = ?`, rev); err != nil {
		return 0, err
	}
	if _, err := c.ExecContext(ctx, `COMMIT`); err != nil {
		return 0, err
	}
	return rev, nil
}
