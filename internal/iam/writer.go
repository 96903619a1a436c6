package iam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/iamd/iamd/internal/store"
)

// Mutation is one operation of a write: a store operation and, for a Put, the
// typed value it encodes, so that the view need not decode what was just
// encoded.
type Mutation struct {
	Op    store.Op
	Value any
}

// Put writes value as the record (kind, account, key), expecting version
// expect (store.Absent to create, store.Any to overwrite).
func Put(kind, account, key string, value any, expect int64) Mutation {
	data, err := json.Marshal(value)
	if err != nil {
		// Every value passed here is one of this package's record types,
		// which always marshal.
		panic(fmt.Sprintf("iam: marshal %s: %v", kind, err))
	}
	return Mutation{
		Op:    store.Op{Type: store.Put, Kind: kind, Account: account, Key: key, Expect: expect, Data: data},
		Value: value,
	}
}

// Delete removes the record, expecting version expect.
func Delete(kind, account, key string, expect int64) Mutation {
	return Mutation{Op: store.Op{Type: store.Delete, Kind: kind, Account: account, Key: key, Expect: expect}}
}

// Touch bumps the record's version, expecting version expect, so that a
// concurrent write that relied on the record's previous state conflicts.
func Touch(kind, account, key string, expect int64) Mutation {
	return Mutation{Op: store.Op{Type: store.Touch, Kind: kind, Account: account, Key: key, Expect: expect}}
}

// TouchExisting bumps the record's version if it exists, whatever its
// version, and conflicts if it does not: a batch that starts to rely on a
// shared record (attaching a managed policy, joining a group) conflicts
// with the record's concurrent deletion, which expects the version it read,
// but never with other batches relying on it the same way.
func TouchExisting(kind, account, key string) Mutation {
	return Mutation{Op: store.Op{Type: store.Touch, Kind: kind, Account: account, Key: key, Expect: store.Present}}
}

// Check requires the record to be at version expect.
func Check(kind, account, key string, expect int64) Mutation {
	return Mutation{Op: store.Op{Type: store.Check, Kind: kind, Account: account, Key: key, Expect: expect}}
}

// Writer commits mutations to the store and applies them to the view.
type Writer struct {
	Store store.Store
	View  *View
}

// Commit writes the mutations atomically. On a version conflict it refreshes
// the conflicting record in the view from the store and returns an error
// wrapping store.ErrConflict: the caller re-reads the view and tries again
// (see Retry).
func (w *Writer) Commit(ctx context.Context, muts ...Mutation) error {
	ops := make([]store.Op, len(muts))
	for i, m := range muts {
		ops[i] = m.Op
	}
	res, err := w.Store.Commit(ctx, ops)
	if err != nil {
		var ce *store.ConflictError
		if errors.As(err, &ce) {
			w.catchUp(ctx, ce.Op)
		}
		return err
	}
	w.View.mu.Lock()
	defer w.View.mu.Unlock()
	defer w.View.notifyLocked()
	for i, m := range muts {
		r := store.Record{Kind: m.Op.Kind, Account: m.Op.Account, Key: m.Op.Key, Version: res.Versions[i], Rev: res.Rev}
		switch m.Op.Type {
		case store.Put:
			r.Data = m.Op.Data
			w.View.apply(r, m.Value)
		case store.Delete:
			r.Deleted = true
			w.View.apply(r, nil)
		case store.Touch:
			w.View.touch(r)
		}
	}
	return nil
}

// catchUpTimeout bounds how long a writer that lost a race waits for the
// winner's batch to reach the view before loading the record itself.
const catchUpTimeout = 2 * time.Second

// catchUp waits until the view reflects the store's current state of the
// record a commit conflicted on. The winning commit is applied to the view
// as a whole (by its writer, or by the change follower for other
// processes), so waiting for this one record guarantees the retry sees the
// winner's entire batch, not a part of it. If the batch does not arrive in
// time (its writer died between commit and apply), the record is loaded
// directly.
func (w *Writer) catchUp(ctx context.Context, op store.Op) {
	rec, ok, err := w.Store.Get(ctx, op.Kind, op.Account, op.Key)
	if err != nil {
		return
	}
	v := w.View
	timer := time.NewTimer(catchUpTimeout)
	defer timer.Stop()
	for {
		v.mu.RLock()
		rev, has := v.entryRev(op.Kind, op.Account, op.Key)
		changed := v.changed
		v.mu.RUnlock()
		if (ok && has && rev >= rec.Rev) || (!ok && !has) {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		case <-timer.C:
			if !ok {
				rec = store.Record{Kind: op.Kind, Account: op.Account, Key: op.Key, Deleted: true, Rev: rev + 1}
			}
			_ = v.Apply(rec)
			return
		}
	}
}

// Retry runs fn until it succeeds or fails with an error other than a store
// conflict. fn must re-read the view each time. Only two writers of the
// same entity conflict; Retry absorbs that server-side: after a lost race
// it waits a random time below a bound that doubles from 1 ms up to
// 128 ms, so that writers that keep colliding spread out, and gives up
// with the conflict after retryAttempts tries (about a second in all).
func Retry(ctx context.Context, fn func() error) error {
	var err error
	for attempt := range retryAttempts {
		if err = fn(); !errors.Is(err, store.ErrConflict) {
			return err
		}
		if attempt == retryAttempts-1 {
			break
		}
		bound := min(time.Millisecond<<attempt, 128*time.Millisecond)
		t := time.NewTimer(rand.N(bound) + 1)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	return err
}

// retryAttempts bounds Retry: with its backoff, about one second of
// retrying before a conflict is reported as ConcurrentModification.
const retryAttempts = 16

// touch records a version bump without a data change.
func (v *View) touch(r store.Record) {
	if r.Rev > v.rev {
		v.rev = r.Rev
	}
	a, ok := v.accounts[r.Account]
	if !ok {
		return
	}
	bump := func(version *int64, rev *int64) {
		if r.Rev > *rev {
			*version, *rev = r.Version, r.Rev
		}
	}
	switch r.Kind {
	case KindUser:
		if e, ok := a.users.get(r.Key); ok {
			n := *e
			bump(&n.Version, &n.Rev)
			a.users.put(r.Key, &n)
			a.usersByID[n.V.ID] = &n
		}
	case KindGroup:
		if e, ok := a.groups.get(r.Key); ok {
			n := *e
			bump(&n.Version, &n.Rev)
			a.groups.put(r.Key, &n)
			a.groupsByID[n.V.ID] = &n
		}
		a.policyGen++
	case KindRole:
		if e, ok := a.roles.get(r.Key); ok {
			n := *e
			bump(&n.Version, &n.Rev)
			a.roles.put(r.Key, &n)
			a.rolesByID[n.V.ID] = &n
		}
		a.policyGen++
	case KindPolicy:
		if e, ok := a.policies.get(r.Key); ok {
			n := *e
			bump(&n.Version, &n.Rev)
			a.policies.put(r.Key, &n)
		}
		a.policyGen++
	case KindInstanceProfile:
		if e, ok := a.profiles.get(r.Key); ok {
			n := *e
			bump(&n.Version, &n.Rev)
			a.profiles.put(r.Key, &n)
		}
	case KindAccount:
		if a.Account != nil {
			n := *a.Account
			bump(&n.Version, &n.Rev)
			a.Account = &n
		}
	}
}
