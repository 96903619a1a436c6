package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/iamd/iamd/internal/store"
	"github.com/iamd/iamd/internal/store/groupcommit"
)

// writeStmts are prepared once on the writer's connection.
type writeStmts struct {
	get, put, del, touch *sql.Stmt
}

func (w *writeStmts) prepare(ctx context.Context, c *sql.Conn) error {
	for _, p := range []struct {
		dst **sql.Stmt
		q   string
	}{
		{&w.get, `SELECT version, deleted FROM records WHERE kind = ? AND account = ? AND key = ?`},
		{&w.put, `INSERT INTO records (kind, account, key, version, rev, data, deleted) VALUES (?, ?, ?, ?, ?, ?, 0)
			ON CONFLICT (kind, account, key) DO UPDATE
			SET version = excluded.version, rev = excluded.rev, data = excluded.data, deleted = 0`},
		{&w.del, `UPDATE records SET deleted = 1, data = x'', rev = ? WHERE kind = ? AND account = ? AND key = ?`},
		{&w.touch, `UPDATE records SET version = ?, rev = ? WHERE kind = ? AND account = ? AND key = ?`},
	} {
		st, err := c.PrepareContext(ctx, p.q)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		*p.dst = st
	}
	return nil
}

func (w *writeStmts) close() {
	for _, st := range []*sql.Stmt{w.get, w.put, w.del, w.touch} {
		if st != nil {
			st.Close()
		}
	}
}

// commitGroup commits the batches of group in one transaction; a batch
// whose expectations fail is left out and given its conflict.
func (s *Store) commitGroup(group []*groupcommit.Request) error {
	// The writer's statements do not take a caller's context: one caller
	// giving up must not abort the others' transaction.
	ctx := context.Background()
	err := s.runGroup(ctx, group)
	if err != nil {
		if _, rbErr := s.wc.ExecContext(ctx, `ROLLBACK`); rbErr != nil {
			err = errors.Join(err, rbErr)
		}
	}
	return err
}

func (s *Store) runGroup(ctx context.Context, group []*groupcommit.Request) error {
	if _, err := s.wc.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		return err
	}
	// Read the revision inside the write lock rather than caching it, so
	// that several Stores (or processes) on one file stay correct.
	var head, start int64
	if err := s.wc.QueryRowContext(ctx, `SELECT rev FROM meta`).Scan(&head); err != nil {
		return err
	}
	start = head
	for _, r := range group {
		if r.IsPrune {
			n, err := s.prune(ctx, head-r.Prune)
			if err != nil {
				return err
			}
			r.Pruned = n
			continue
		}
		// A batch's expectations are all checked before it writes
		// anything, so a conflict leaves nothing to roll back: no
		// savepoint per batch (two more statements each).
		plan, err := s.plan(ctx, r.Ops)
		var ce *store.ConflictError
		switch {
		case errors.As(err, &ce):
			r.Err = ce
			continue
		case err != nil:
			return err
		}
		versions, err := s.apply(ctx, r.Ops, plan, head+1)
		if err != nil {
			return err
		}
		head++
		r.Result = store.Result{Rev: head, Versions: versions}
	}
	if head != start {
		if _, err := s.wc.ExecContext(ctx, `UPDATE meta SET rev = ?`, head); err != nil {
			return err
		}
	}
	_, err := s.wc.ExecContext(ctx, `COMMIT`)
	return err
}

// stored is what a batch's op finds stored under its key: the version,
// live or tombstone, and whether it is a tombstone.
type stored struct {
	base    int64
	deleted bool
}

// live is the version an expectation is checked against (0 if absent).
func (st stored) live() int64 {
	if st.deleted {
		return 0
	}
	return st.base
}

// plan reads what each op of a batch finds stored, counting the batch's
// own earlier ops on the same key, and checks every expectation, before
// anything is written. It returns a *store.ConflictError for the first
// expectation that fails.
func (s *Store) plan(ctx context.Context, ops []store.Op) ([]stored, error) {
	found := make([]stored, len(ops))
	for i, op := range ops {
		st, seen := stored{}, false
		for j := i - 1; j >= 0; j-- {
			if p := ops[j]; p.Kind == op.Kind && p.Account == op.Account && p.Key == op.Key {
				st, seen = after(p, found[j]), true
				break
			}
		}
		if !seen {
			err := s.stmt.get.QueryRowContext(ctx, op.Kind, op.Account, op.Key).Scan(&st.base, &st.deleted)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return nil, err
			}
		}
		if !store.Satisfied(op.Expect, st.live()) {
			return nil, &store.ConflictError{Index: i, Op: op, Actual: st.live()}
		}
		found[i] = st
	}
	return found, nil
}

// after is what op leaves stored, given what it found.
func after(op store.Op, st stored) stored {
	switch op.Type {
	case store.Put:
		return stored{base: st.base + 1}
	case store.Delete:
		if st.live() > 0 {
			st.deleted = true
		}
	case store.Touch:
		if live := st.live(); live > 0 {
			st.base = live + 1
		}
	}
	return st
}

// apply writes one planned batch's ops at revision rev, in order.
func (s *Store) apply(ctx context.Context, ops []store.Op, plan []stored, rev int64) ([]int64, error) {
	versions := make([]int64, len(ops))
	for i, op := range ops {
		base, live := plan[i].base, plan[i].live()
		switch op.Type {
		case store.Put:
			data := op.Data
			if data == nil {
				data = []byte{}
			}
			if _, err := s.stmt.put.ExecContext(ctx, op.Kind, op.Account, op.Key, base+1, rev, data); err != nil {
				return nil, err
			}
			versions[i] = base + 1
		case store.Delete:
			if live > 0 {
				if _, err := s.stmt.del.ExecContext(ctx, rev, op.Kind, op.Account, op.Key); err != nil {
					return nil, err
				}
			}
		case store.Check:
			versions[i] = live
		case store.Touch:
			if live > 0 {
				if _, err := s.stmt.touch.ExecContext(ctx, live+1, rev, op.Kind, op.Account, op.Key); err != nil {
					return nil, err
				}
				versions[i] = live + 1
			}
		}
	}
	return versions, nil
}

// prune deletes tombstones at or below revision through.
func (s *Store) prune(ctx context.Context, through int64) (int64, error) {
	if through <= 0 {
		return 0, nil
	}
	res, err := s.wc.ExecContext(ctx, `DELETE FROM records WHERE deleted = 1 AND rev <= ?`, through)
	if err != nil {
		return 0, err
	}
	if _, err := s.wc.ExecContext(ctx, `UPDATE meta SET pruned_rev = max(pruned_rev, ?)`, through); err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
