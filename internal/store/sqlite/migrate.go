package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/iamd/iamd/internal/store"
)

// migrations are applied in order, each once; migration i brings the schema
// to version i+1. Never edit a released migration: append a new one.
var migrations = [][]string{
	{ // 1: records with tombstones, and the revision counter.
		`CREATE TABLE meta (
			id INTEGER PRIMARY KEY CHECK (id = 1),
			rev INTEGER NOT NULL,        -- revision of the last commit
			pruned_rev INTEGER NOT NULL  -- tombstones at or below it are gone
		)`,
		`INSERT INTO meta (id, rev, pruned_rev) VALUES (1, 0, 0)`,
		`CREATE TABLE records (
			kind TEXT NOT NULL,
			account TEXT NOT NULL,
			key TEXT NOT NULL,
			version INTEGER NOT NULL,  -- kept by tombstones, so recreation continues from it
			rev INTEGER NOT NULL,
			deleted INTEGER NOT NULL,
			data BLOB NOT NULL,
			PRIMARY KEY (kind, account, key)
		)`,
		`CREATE INDEX records_rev ON records (rev)`,
	},
}

// migrate brings the database's schema up to date in one transaction.
func migrate(ctx context.Context, c *sql.Conn) (err error) {
	if _, err := c.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() {
		if err != nil {
			if _, rbErr := c.ExecContext(ctx, `ROLLBACK`); rbErr != nil {
				err = errors.Join(err, rbErr)
			}
		}
	}()
	if _, err := c.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version INTEGER PRIMARY KEY,
		applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
	)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var current int
	if err := c.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := store.ApplyMigrations(current, migrations, `INSERT INTO schema_version (version) VALUES (?)`, func(q string, args ...any) error {
		_, err := c.ExecContext(ctx, q, args...)
		return err
	}); err != nil {
		return err
	}
	if _, err := c.ExecContext(ctx, `COMMIT`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
