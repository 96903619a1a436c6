package iam

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/iamd/iamd/internal/store"
)

// Follow keeps the view up to date with commits made by other processes
// (replicas on a shared PostgreSQL, or admin commands on the same SQLite
// file). It applies the store's changes after revision from, in revision
// order, whenever the store notifies (if it can) and at least every
// interval, until ctx is done. Records this process already applied are
// recognised by their revision and skipped. report, if not nil, is told
// the outcome of every pass.
func (v *View) Follow(ctx context.Context, st store.Store, from int64, interval time.Duration, log *slog.Logger, report func(FollowPass)) {
	var notify <-chan struct{}
	if n, ok := st.(store.Notifier); ok {
		if ch, err := n.Notify(ctx); err == nil {
			notify = ch
		} else {
			log.Warn("store notifications unavailable; polling", "err", err)
		}
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	rev := from
	// The first pass runs at once: commits made between the view's load and
	// the subscription to notifications were announced to nobody.
	for first := true; ; first = false {
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			case <-notify:
			case <-v.passes.kick:
			}
		}
		n := v.passes.start()
		pass := FollowPass{Start: time.Now()}
		for {
			recs, next, err := st.Changes(ctx, rev, 1000)
			pass.Err = err
			if errors.Is(err, store.ErrCompacted) {
				log.Warn("change log compacted past this replica; reloading")
				fresh := NewView()
				r, lerr := fresh.LoadFrom(ctx, st)
				if lerr != nil {
					log.Error("reload", "err", lerr)
					break
				}
				v.replaceWith(fresh)
				rev, pass.Err = r, nil
				break
			}
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("follow changes", "err", err)
				}
				break
			}
			if err := v.ApplyBatch(recs); err != nil {
				log.Error("apply changes", "err", err)
			}
			if next <= rev || len(recs) == 0 {
				rev = max(rev, next)
				break
			}
			rev = next
		}
		// Reads from now on start after rev: they see every deletion up
		// to it.
		v.PruneTombs(rev)
		v.passes.finish(n, pass.Err == nil)
		if report != nil && ctx.Err() == nil {
			pass.Rev = rev
			report(pass)
		}
	}
}

// FollowPass is the outcome of one pass of the change follower.
type FollowPass struct {
	// Start is when the pass began reading the store's change log.
	Start time.Time
	// Rev is the revision the follower has applied through.
	Rev int64
	// Err is why the pass stopped before the end of the change log; nil
	// means the view holds every commit made before Start.
	Err error
}

// replaceWith swaps in the state of a freshly loaded view.
func (v *View) replaceWith(fresh *View) {
	fresh.mu.Lock()
	defer fresh.mu.Unlock()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.rev, v.accounts, v.keys, v.usage, v.aliases, v.order, v.tombs = fresh.rev, fresh.accounts, fresh.keys, fresh.usage, fresh.aliases, fresh.order, fresh.tombs
}
