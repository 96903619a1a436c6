package postgres

import (
	"context"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/iamd/iamd/internal/store"
)

var _ store.Importer = (*Store)(nil)

// Import implements store.Importer in one transaction on a pooled
// connection. It takes the meta row's lock like the writer's groups, so it
// is ordered with every replica's commits, and announces its revision with
// pg_notify.
func (s *Store) Import(ctx context.Context, recs []store.Record) (int64, error) {
	if s.closed.Load() {
		return 0, store.ErrClosed
	}
	if err := store.ValidateImport(recs); err != nil {
		return 0, err
	}
	var (
		kinds, accounts, keys = make([]string, len(recs)), make([]string, len(recs)), make([]string, len(recs))
		versions              = make([]int64, len(recs))
		deleted               = make([]bool, len(recs))
		data                  = make([][]byte, len(recs))
	)
	for i, r := range recs {
		kinds[i], accounts[i], keys[i], versions[i], deleted[i] = r.Kind, r.Account, r.Key, r.Version, r.Deleted
		data[i] = r.Data
		if data[i] == nil || r.Deleted {
			data[i] = []byte{}
		}
	}
	var rev int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT rev FROM meta FOR UPDATE`).Scan(&rev); err != nil {
			return err
		}
		rev++
		if _, err := tx.Exec(ctx, `INSERT INTO records (kind, account, key, version, rev, deleted, data)
			SELECT k, a, y, v, $5, d, b FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $6::bool[], $7::bytea[]) AS t(k, a, y, v, d, b)
			ON CONFLICT (kind, account, key) DO UPDATE
			SET version = EXCLUDED.version, rev = EXCLUDED.rev, deleted = EXCLUDED.deleted, data = EXCLUDED.data`,
			kinds, accounts, keys, versions, rev, deleted, data); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE meta SET rev = $1`, rev); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, s.channel, strconv.FormatInt(rev, 10))
		return err
	})
	if err != nil {
		return 0, s.readErr("import", err)
	}
	return rev, nil
}
