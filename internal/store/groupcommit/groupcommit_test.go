package groupcommit

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/iamd/iamd/internal/store"
)

func batch(key string) []store.Op {
	return []store.Op{{Type: store.Put, Kind: "user", Key: key, Expect: store.Any}}
}

// TestQueue: every request is answered with what the commit function set;
// a failed group fails every request but those given a conflict; a closed
// queue refuses.
func TestQueue(t *testing.T) {
	var (
		mu    sync.Mutex
		rev   int64
		fail  error
		calls int
	)
	q := Start("test", 8, func(group []*Request) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		for _, r := range group {
			switch {
			case r.IsPrune:
				r.Pruned = r.Prune
			case r.Ops[0].Key == "conflict":
				r.Err = &store.ConflictError{Op: r.Ops[0]}
			default:
				rev++
				r.Result = store.Result{Rev: rev}
			}
		}
		return fail
	})
	ctx := context.Background()

	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if res, err := q.Commit(ctx, batch("a")); err != nil || res.Rev == 0 {
				t.Errorf("Commit = %+v, %v", res, err)
			}
		})
	}
	wg.Wait()
	if _, err := q.Commit(ctx, batch("conflict")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("conflicting batch: %v", err)
	}
	if n, err := q.Prune(ctx, 7); n != 7 || err != nil {
		t.Errorf("Prune = %d, %v", n, err)
	}
	if _, err := q.Commit(ctx, nil); !errors.Is(err, store.ErrInvalidBatch) {
		t.Errorf("empty batch: %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := q.Commit(canceled, batch("a")); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}

	mu.Lock()
	fail = errors.New("disk full")
	mu.Unlock()
	if _, err := q.Commit(ctx, batch("a")); err == nil || err.Error() != "test: commit: disk full" {
		t.Errorf("failed group: %v", err)
	}
	if _, err := q.Commit(ctx, batch("conflict")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("conflict in a failed group: %v", err)
	}

	q.Close()
	q.Close()
	if _, err := q.Commit(ctx, batch("a")); !errors.Is(err, store.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	if calls == 0 || calls > 36 {
		t.Errorf("%d groups for 36 requests", calls)
	}
}
