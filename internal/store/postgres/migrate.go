package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/iamd/iamd/internal/store"
)

// migrations are applied in order, each once; migration i brings the schema
// to version i+1. Never edit a released migration: append a new one.
var migrations = [][]string{
	{ // 1: records with tombstones, and the revision counter.
		`CREATE TABLE meta (
			id int PRIMARY KEY CHECK (id = 1),
			rev bigint NOT NULL,        -- revision of the last commit; its row lock orders commits
			pruned_rev bigint NOT NULL  -- tombstones at or below it are gone
		)`,
		`INSERT INTO meta (id, rev, pruned_rev) VALUES (1, 0, 0)`,
		`CREATE TABLE records (
			kind text NOT NULL,
			account text NOT NULL,
			key text NOT NULL,
			version bigint NOT NULL,  -- kept by tombstones, so recreation continues from it
			rev bigint NOT NULL,
			deleted boolean NOT NULL,
			data bytea NOT NULL,
			PRIMARY KEY (kind, account, key)
		)`,
		`CREATE INDEX records_rev ON records (rev)`,
	},
	{ // 2: the audit trail every replica ships (internal/audit/pgtrail).
		`CREATE TABLE audit_chains (
			chain text COLLATE "C" PRIMARY KEY,
			shipped bigint NOT NULL  -- records 1 to shipped of the chain are in audit_events (or trimmed)
		)`,
		`CREATE TABLE audit_events (
			chain text COLLATE "C" NOT NULL,
			seq bigint NOT NULL,
			account text NOT NULL,
			time bigint NOT NULL,  -- Unix seconds
			event_id text NOT NULL,
			name text NOT NULL,
			source text NOT NULL,
			username text NOT NULL,
			access_key text NOT NULL,
			read_only boolean NOT NULL,
			resources text NOT NULL,  -- JSON [[type, name], ...]
			event bytea NOT NULL,     -- the CloudTrail record
			PRIMARY KEY (chain, seq)
		)`,
		`CREATE INDEX audit_events_time ON audit_events (account, time, chain, seq)`,
		`CREATE INDEX audit_events_name ON audit_events (account, name, time, chain, seq)`,
		`CREATE INDEX audit_events_source ON audit_events (account, source, time, chain, seq)`,
		`CREATE INDEX audit_events_user ON audit_events (account, username, time, chain, seq)`,
		`CREATE INDEX audit_events_key ON audit_events (account, access_key, time, chain, seq)`,
		`CREATE INDEX audit_events_ro ON audit_events (account, read_only, time, chain, seq)`,
		`CREATE INDEX audit_events_id ON audit_events (account, event_id)`,
		`CREATE INDEX audit_events_retention ON audit_events USING brin (time)`,
		`CREATE TABLE audit_resources (
			account text NOT NULL,
			attr "char" NOT NULL,  -- 't' ResourceType, 'n' ResourceName
			value text NOT NULL,
			time bigint NOT NULL,
			chain text COLLATE "C" NOT NULL,
			seq bigint NOT NULL,
			PRIMARY KEY (account, attr, value, time, chain, seq)
		)`,
		`CREATE INDEX audit_resources_retention ON audit_resources USING brin (time)`,
	},
}

// migrate brings the schema up to date in one transaction. An advisory lock
// keeps replicas starting together from migrating at once.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.iamd_migrate'))`); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
			version int PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		var current int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		return store.ApplyMigrations(current, migrations, `INSERT INTO schema_version (version) VALUES ($1)`, func(q string, args ...any) error {
			_, err := tx.Exec(ctx, q, args...)
			return err
		})
	})
}
