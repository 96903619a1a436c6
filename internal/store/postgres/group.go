package postgres

import (
	"github.com/jackc/pgx/v5"

	"github.com/iamd/iamd/internal/store"
)

type recKey struct{ kind, account, key string }

// recState is what a group transaction knows of one record: what it read,
// then what the group's batches did to it.
type recState struct {
	version int64 // the stored version; a tombstone keeps its last one
	deleted bool  // absent or tombstone
	exists  bool  // a row, live or tombstone, exists

	dirty   bool   // written by the group
	setData bool   // data (or a tombstone) must be written, not only version and rev
	data    []byte // the new data when setData and not deleted
	rev     int64
}

func (r *recState) live() int64 {
	if r.deleted {
		return 0
	}
	return r.version
}

// groupState decides the batches of one group transaction against the
// records as read under the meta lock.
type groupState struct {
	recs                  map[recKey]*recState
	order                 []recKey // first-named order, for deterministic writes
	kinds, accounts, keys []string // the records to read
}

func newGroupState() *groupState {
	return &groupState{recs: map[recKey]*recState{}}
}

// name adds op's record to those read at the start of the transaction.
func (g *groupState) name(op store.Op) {
	k := recKey{op.Kind, op.Account, op.Key}
	if _, ok := g.recs[k]; ok {
		return
	}
	g.recs[k] = &recState{deleted: true}
	g.order = append(g.order, k)
	g.kinds = append(g.kinds, k.kind)
	g.accounts = append(g.accounts, k.account)
	g.keys = append(g.keys, k.key)
}

// found records a row read from the database.
func (g *groupState) found(k recKey, version int64, deleted bool) {
	if r, ok := g.recs[k]; ok {
		r.version, r.deleted, r.exists = version, deleted, true
	}
}

// apply runs one batch at revision rev. On a conflict it changes nothing and
// returns the error; otherwise it returns the versions for store.Result.
func (g *groupState) apply(ops []store.Op, rev int64) ([]int64, *store.ConflictError) {
	// Work on copies so that a conflict part-way leaves the group untouched.
	touched := make(map[recKey]recState, len(ops))
	versions := make([]int64, len(ops))
	for i, op := range ops {
		k := recKey{op.Kind, op.Account, op.Key}
		r, ok := touched[k]
		if !ok {
			r = *g.recs[k]
		}
		live := r.live()
		if !store.Satisfied(op.Expect, live) {
			return nil, &store.ConflictError{Index: i, Op: op, Actual: live}
		}
		switch op.Type {
		case store.Put:
			data := op.Data
			if data == nil {
				data = []byte{} // nil would be NULL
			}
			r.version++
			r.deleted, r.exists, r.dirty, r.setData, r.data, r.rev = false, true, true, true, data, rev
			versions[i] = r.version
		case store.Delete:
			if live > 0 {
				r.deleted, r.dirty, r.setData, r.data, r.rev = true, true, true, []byte{}, rev
			}
		case store.Check:
			versions[i] = live
		case store.Touch:
			if live > 0 {
				r.version++
				r.dirty, r.rev = true, rev
				versions[i] = r.version
			}
		}
		touched[k] = r
	}
	for k, r := range touched {
		*g.recs[k] = r
	}
	return versions, nil
}

// queueWrites queues at most two statements writing the final state of
// every record the group changed.
func (g *groupState) queueWrites(b *pgx.Batch) {
	var full, touch struct {
		kinds, accounts, keys []string
		versions, revs        []int64
		deleted               []bool
		data                  [][]byte
	}
	for _, k := range g.order {
		r := g.recs[k]
		if !r.dirty {
			continue
		}
		w := &touch
		if r.setData {
			w = &full
			w.deleted = append(w.deleted, r.deleted)
			w.data = append(w.data, r.data)
		}
		w.kinds = append(w.kinds, k.kind)
		w.accounts = append(w.accounts, k.account)
		w.keys = append(w.keys, k.key)
		w.versions = append(w.versions, r.version)
		w.revs = append(w.revs, r.rev)
	}
	if len(full.keys) > 0 {
		b.Queue(`INSERT INTO records (kind, account, key, version, rev, deleted, data)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::bool[], $7::bytea[])
			ON CONFLICT (kind, account, key) DO UPDATE
			SET version = EXCLUDED.version, rev = EXCLUDED.rev, deleted = EXCLUDED.deleted, data = EXCLUDED.data`,
			full.kinds, full.accounts, full.keys, full.versions, full.revs, full.deleted, full.data)
	}
	if len(touch.keys) > 0 {
		b.Queue(`UPDATE records r SET version = t.version, rev = t.rev
			FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[]) AS t(kind, account, key, version, rev)
			WHERE r.kind = t.kind AND r.account = t.account AND r.key = t.key`,
			touch.kinds, touch.accounts, touch.keys, touch.versions, touch.revs)
	}
}
