package postgres

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/iamd/iamd/internal/store"
)

// groupTimeout bounds one group transaction, so that a hung connection fails
// its callers instead of stalling every commit behind it.
const groupTimeout = time.Minute

// request is one batch (or prune) waiting for the writer goroutine.
type request struct {
	ctx context.Context
	ops []store.Op

	isPrune bool
	prune   int64 // revisions of tombstones to keep

	// Set by the writer before closing done.
	res    store.Result
	pruned int64
	err    error
	done   chan struct{}
}

// The op statements check an op's expectation and apply it in one round
// trip, returning the version found (0 if absent or deleted), whether the
// expectation held, and the version after the op. They run only while the
// transaction holds the meta row lock, so no other writer can change the
// record between the check and the write. Parameters: $1 kind, $2 account,
// $3 key, $4 expect, $5 rev, $6 data.
const curState = `WITH cur AS (
	SELECT version, deleted FROM records WHERE kind = $1::text AND account = $2::text AND key = $3::text
), st AS (
	SELECT COALESCE((SELECT CASE WHEN deleted THEN 0 ELSE version END FROM cur), 0)::int8 AS live,
	       COALESCE((SELECT version FROM cur), 0)::int8 AS base
)`

const (
	putSQL = curState + `, w AS (
	INSERT INTO records AS r (kind, account, key, version, rev, deleted, data)
	SELECT $1::text, $2::text, $3::text, st.base + 1, $5::int8, false, $6::bytea FROM st
	WHERE $4::int8 = -1 OR st.live = $4::int8
	ON CONFLICT (kind, account, key) DO UPDATE
	SET version = EXCLUDED.version, rev = EXCLUDED.rev, deleted = false, data = EXCLUDED.data
	RETURNING r.version
)
SELECT st.live, $4::int8 = -1 OR st.live = $4::int8, COALESCE((SELECT version FROM w), 0)::int8 FROM st`

	deleteSQL = curState + `, w AS (
	UPDATE records SET deleted = true, data = '\x'::bytea, rev = $5::int8
	WHERE kind = $1::text AND account = $2::text AND key = $3::text AND NOT deleted
	  AND ($4::int8 = -1 OR version = $4::int8)
)
SELECT st.live, $4::int8 = -1 OR st.live = $4::int8, 0::int8 FROM st`

	checkSQL = curState + `
SELECT st.live, $4::int8 = -1 OR st.live = $4::int8, st.live FROM st`

	touchSQL = curState + `, w AS (
	UPDATE records SET version = version + 1, rev = $5::int8
	WHERE kind = $1::text AND account = $2::text AND key = $3::text AND NOT deleted
	  AND ($4::int8 = -1 OR version = $4::int8)
	RETURNING version
)
SELECT st.live, $4::int8 = -1 OR st.live = $4::int8, COALESCE((SELECT version FROM w), 0)::int8 FROM st`
)

func queueOp(b *pgx.Batch, op store.Op, rev int64) {
	switch op.Type {
	case store.Put:
		data := op.Data
		if data == nil {
			data = []byte{} // nil would be NULL
		}
		b.Queue(putSQL, op.Kind, op.Account, op.Key, op.Expect, rev, data)
	case store.Delete:
		b.Queue(deleteSQL, op.Kind, op.Account, op.Key, op.Expect, rev)
	case store.Check:
		b.Queue(checkSQL, op.Kind, op.Account, op.Key, op.Expect)
	case store.Touch:
		b.Queue(touchSQL, op.Kind, op.Account, op.Key, op.Expect, rev)
	}
}

// run is the writer goroutine: it takes every request waiting, up to
// maxGroup, and commits them in one transaction, until Close closes reqs.
func (s *Store) run() {
	defer close(s.done)
	group := make([]*request, 0, s.cfg.maxGroup)
	for req := range s.reqs {
		group = append(group[:0], req)
		// Callers answered by the previous group are usually about to send
		// their next batch; letting them run first makes groups larger.
		runtime.Gosched()
	fill:
		for len(group) < s.cfg.maxGroup {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break fill
				}
				group = append(group, r)
			default:
				break fill
			}
		}
		s.commitGroup(group)
		clear(group)
	}
}

// commitGroup commits the batches of group in one transaction and answers
// every request.
func (s *Store) commitGroup(group []*request) {
	live := group[:0:0]
	for _, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			close(r.done)
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	// The writer does not take a caller's context: one caller giving up must
	// not abort the others' transaction.
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	if err := s.runGroup(ctx, live); err != nil {
		for _, r := range live {
			r.res, r.pruned = store.Result{}, 0
			if !errors.Is(r.err, store.ErrConflict) {
				r.err = fmt.Errorf("postgres: commit: %w", err)
			}
		}
	}
	for _, r := range live {
		close(r.done)
	}
}

func (s *Store) runGroup(ctx context.Context, group []*request) (err error) {
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

	// Lock the revision counter first: this is what orders commits.
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(`SELECT rev FROM meta FOR UPDATE`)
	var head int64
	if err := exchange(ctx, conn, b, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		return br.QueryRow().Scan(&head)
	}); err != nil {
		return err
	}
	start := head

	var pending []string // savepoint cleanup, sent with the next round trip
	for _, r := range group {
		b := &pgx.Batch{}
		for _, q := range pending {
			b.Queue(q)
		}
		if r.isPrune {
			through := head - r.prune
			b.Queue(`DELETE FROM records WHERE deleted AND rev <= $1`, through)
			b.Queue(`UPDATE meta SET pruned_rev = GREATEST(pruned_rev, $1)`, max(through, 0))
			if err := exchange(ctx, conn, b, func(br pgx.BatchResults) error {
				if err := execN(br, len(pending)); err != nil {
					return err
				}
				tag, err := br.Exec()
				r.pruned = tag.RowsAffected()
				if err != nil {
					return err
				}
				_, err = br.Exec()
				return err
			}); err != nil {
				return err
			}
			pending = nil
			continue
		}
		b.Queue(`SAVEPOINT batch`)
		for _, op := range r.ops {
			queueOp(b, op, head+1)
		}
		versions := make([]int64, len(r.ops))
		conflict := -1
		var actual int64
		if err := exchange(ctx, conn, b, func(br pgx.BatchResults) error {
			if err := execN(br, len(pending)+1); err != nil {
				return err
			}
			for i := range r.ops {
				var found, version int64
				var ok bool
				if err := br.QueryRow().Scan(&found, &ok, &version); err != nil {
					return err
				}
				if !ok && conflict < 0 {
					conflict, actual = i, found
				}
				versions[i] = version
			}
			return nil
		}); err != nil {
			return err
		}
		if conflict >= 0 {
			r.err = &store.ConflictError{Index: conflict, Op: r.ops[conflict], Actual: actual}
			pending = []string{`ROLLBACK TO SAVEPOINT batch`, `RELEASE SAVEPOINT batch`}
			continue
		}
		head++
		r.res = store.Result{Rev: head, Versions: versions}
		pending = []string{`RELEASE SAVEPOINT batch`}
	}

	b = &pgx.Batch{}
	for _, q := range pending {
		b.Queue(q)
	}
	if head != start {
		b.Queue(`UPDATE meta SET rev = $1`, head)
		b.Queue(`SELECT pg_notify($1, $2)`, s.channel, strconv.FormatInt(head, 10))
	}
	b.Queue(`COMMIT`)
	return exchange(ctx, conn, b, func(br pgx.BatchResults) error {
		n := len(pending)
		if head != start {
			n += 2
		}
		if err := execN(br, n); err != nil {
			return err
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

func execN(br pgx.BatchResults, n int) error {
	for range n {
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	return nil
}
