package postgres

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/iamd/iamd/internal/store"
	"github.com/iamd/iamd/internal/store/groupcommit"
)

// groupTimeout bounds one group transaction, so that a hung connection fails
// its callers instead of stalling every commit behind it.
const groupTimeout = time.Minute

// commitGroup commits the batches of group in one transaction.
func (s *Store) commitGroup(group []*groupcommit.Request) error {
	// The writer does not take a caller's context: one caller giving up must
	// not abort the others' transaction.
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	return s.runGroup(ctx, group)
}

// runGroup commits group in two round trips. The first locks the meta row
// (the revision counter, whose lock orders all commits of all replicas) and
// reads every record the group names. Holding the lock, nobody else can write
// records, so the expectations are decided here in Go, batch by batch, each
// seeing the effects of the batches before it; a conflicting batch is simply
// left out. The second round trip writes the final state of every record the
// group changed, the revision and the notification, and commits.
func (s *Store) runGroup(ctx context.Context, group []*groupcommit.Request) (err error) {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			// The connection may be mid-transaction or broken: roll back,
			// and if even that fails, do not return it to the pool.
			if _, rbErr := pc.Exec(ctx, `ROLLBACK`); rbErr != nil {
				pc.Conn().Close(ctx)
			}
		}
		pc.Release()
	}()
	conn := pc.Conn()

	st := newGroupState()
	for _, r := range group {
		for _, op := range r.Ops {
			st.name(op)
		}
	}
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(`SELECT rev FROM meta FOR UPDATE`)
	b.Queue(`SELECT r.kind, r.account, r.key, r.version, r.deleted FROM records r
		JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(kind, account, key)
		ON r.kind = k.kind AND r.account = k.account AND r.key = k.key`, st.kinds, st.accounts, st.keys)
	var head int64
	if err := exchange(ctx, conn, b, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		if err := br.QueryRow().Scan(&head); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		var k recKey
		var version int64
		var deleted bool
		_, err = pgx.ForEachRow(rows, []any{&k.kind, &k.account, &k.key, &version, &deleted}, func() error {
			st.found(k, version, deleted)
			return nil
		})
		return err
	}); err != nil {
		return err
	}
	start := head

	b = &pgx.Batch{}
	for _, r := range group {
		if r.IsPrune {
			through := max(head-r.Prune, 0)
			r.Mark = b.Len() // the position of its DELETE, for its count
			b.Queue(`DELETE FROM records WHERE deleted AND rev <= $1`, through)
			b.Queue(`UPDATE meta SET pruned_rev = GREATEST(pruned_rev, $1)`, through)
			continue
		}
		versions, conflict := st.apply(r.Ops, head+1)
		if conflict != nil {
			r.Err = conflict
			continue
		}
		head++
		r.Result = store.Result{Rev: head, Versions: versions}
	}
	st.queueWrites(b)
	if head != start {
		b.Queue(`UPDATE meta SET rev = $1`, head)
		b.Queue(`SELECT pg_notify($1, $2)`, s.channel, strconv.FormatInt(head, 10))
	}
	b.Queue(`COMMIT`)
	return exchange(ctx, conn, b, func(br pgx.BatchResults) error {
		for i := range b.Len() - 1 {
			tag, err := br.Exec()
			if err != nil {
				return err
			}
			for _, r := range group {
				if r.IsPrune && r.Mark == i {
					r.Pruned = tag.RowsAffected()
				}
			}
		}
		tag, err := br.Exec()
		if err != nil {
			return err
		}
		if tag.String() != "COMMIT" { // COMMIT of a failed transaction reports ROLLBACK
			return errors.New("transaction rolled back")
		}
		return nil
	})
}

// exchange sends b in one round trip and lets read consume its results.
func exchange(ctx context.Context, conn *pgx.Conn, b *pgx.Batch, read func(pgx.BatchResults) error) error {
	br := conn.SendBatch(ctx, b)
	err := read(br)
	return errors.Join(err, br.Close())
}
