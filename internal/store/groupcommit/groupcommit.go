// Package groupcommit gathers the commits of concurrent callers into groups
// that a store backend writes in one transaction: one writer goroutine
// takes every request waiting, up to a maximum, and hands the group to the
// backend, which decides each batch and answers it. Both backends (SQLite
// and PostgreSQL) share it; what a group's transaction looks like is theirs.
//
// It is not a store itself and knows nothing of SQL.
package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/iamd/iamd/internal/store"
)

// Request is one batch, or one prune of tombstones, waiting to be
// committed.
type Request struct {
	Ctx context.Context
	Ops []store.Op

	// IsPrune marks a prune; Prune is how many revisions of tombstones to
	// keep.
	IsPrune bool
	Prune   int64

	// Set by the backend's commit function: the batch's result (or the
	// prune's count) and its error, such as a *store.ConflictError that
	// leaves the rest of the group to commit.
	Result store.Result
	Pruned int64
	Err    error
	// Mark is free for the backend's bookkeeping while it commits.
	Mark int

	done chan struct{}
}

// CommitFunc writes a group in one transaction, setting each request's
// Result (or Pruned) and, for a batch it leaves out, Err. An error it
// returns fails the whole group: every request gets it, but for those
// already given a conflict.
type CommitFunc func(group []*Request) error

// Queue feeds a backend's commits through one writer goroutine.
type Queue struct {
	name     string // the backend's name, to prefix errors
	maxGroup int
	commit   CommitFunc

	mu     sync.RWMutex
	closed bool
	reqs   chan *Request
	done   chan struct{}
}

// Start runs the writer goroutine of a backend named name (for errors),
// gathering groups of at most maxGroup requests.
func Start(name string, maxGroup int, commit CommitFunc) *Queue {
	q := &Queue{name: name, maxGroup: max(maxGroup, 1), commit: commit,
		reqs: make(chan *Request, 1024), done: make(chan struct{})}
	go q.run()
	return q
}

// Commit queues a batch and waits for its result. If ctx ends after the
// batch was queued, the batch may still commit.
func (q *Queue) Commit(ctx context.Context, ops []store.Op) (store.Result, error) {
	if err := store.ValidateBatch(ops); err != nil {
		return store.Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return store.Result{}, err
	}
	r := &Request{Ctx: ctx, Ops: ops, done: make(chan struct{})}
	if err := q.wait(ctx, r); err != nil {
		return store.Result{}, err
	}
	return r.Result, r.Err
}

// Prune queues a prune that keeps the tombstones of the last keep
// revisions, and waits for the number removed.
func (q *Queue) Prune(ctx context.Context, keep int64) (int64, error) {
	r := &Request{Ctx: ctx, IsPrune: true, Prune: max(keep, 0), done: make(chan struct{})}
	if err := q.wait(ctx, r); err != nil {
		return 0, err
	}
	return r.Pruned, r.Err
}

// wait queues r and waits until it is answered or ctx ends.
func (q *Queue) wait(ctx context.Context, r *Request) error {
	if err := q.enqueue(ctx, r); err != nil {
		return err
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (q *Queue) enqueue(ctx context.Context, r *Request) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return store.ErrClosed
	}
	select {
	case q.reqs <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close refuses new requests with store.ErrClosed and waits for those
// already queued to be committed. It may be called more than once.
func (q *Queue) Close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.reqs)
	}
	q.mu.Unlock()
	<-q.done
}

// run is the writer goroutine: it takes every request waiting, up to
// maxGroup, and commits them together, until Close.
func (q *Queue) run() {
	defer close(q.done)
	group := make([]*Request, 0, q.maxGroup)
	for r := range q.reqs {
		group = append(group[:0], r)
		// Callers answered by the previous group are usually about to send
		// their next batch; letting them run first makes groups larger.
		runtime.Gosched()
	fill:
		for len(group) < q.maxGroup {
			select {
			case r, ok := <-q.reqs:
				if !ok {
					break fill
				}
				group = append(group, r)
			default:
				break fill
			}
		}
		q.commitGroup(group)
		clear(group)
	}
}

// commitGroup answers at once the requests whose callers gave up, commits
// the others and answers them.
func (q *Queue) commitGroup(group []*Request) {
	live := group[:0:0]
	for _, r := range group {
		if err := r.Ctx.Err(); err != nil {
			r.Err = err
			close(r.done)
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	if err := q.commit(live); err != nil {
		for _, r := range live {
			r.Result, r.Pruned = store.Result{}, 0
			if !errors.Is(r.Err, store.ErrConflict) {
				r.Err = fmt.Errorf("%s: commit: %w", q.name, err)
			}
		}
	}
	for _, r := range live {
		close(r.done)
	}
}
