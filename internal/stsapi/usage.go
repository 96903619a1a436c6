package stsapi

import (
	"context"
	"sync"
	"time"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/store"
)

// roleUsage records when roles were last assumed (GetRole's RoleLastUsed).
// Assumptions are noted in memory and written in batches, at most one
// record per role per flush, so that AssumeRole does not wait on the store.
// A use starts a background flush when none ran for flushEvery, so no
// ticker needs running; Flush writes what is left at shutdown.
type roleUsage struct {
	writer *iam.Writer

	mu        sync.Mutex
	pending   map[roleKey]iam.RoleUsage
	lastFlush time.Time
	flushing  bool
}

// flushEvery is how often uses are written at most.
const flushEvery = time.Second

type roleKey struct{ account, roleID string }

func newRoleUsage(w *iam.Writer) *roleUsage {
	return &roleUsage{writer: w, pending: make(map[roleKey]iam.RoleUsage)}
}

// used notes that a role was assumed at (second precision).
func (u *roleUsage) used(account, roleID, region string, at time.Time) {
	at = at.UTC().Truncate(time.Second)
	k := roleKey{account, roleID}
	u.mu.Lock()
	if p, ok := u.pending[k]; !ok || p.LastUsed.Before(at) {
		u.pending[k] = iam.RoleUsage{LastUsed: at, Region: region}
	}
	start := !u.flushing && u.writer != nil && time.Since(u.lastFlush) >= flushEvery
	if start {
		u.flushing = true
	}
	u.mu.Unlock()
	if start {
		go func() {
			// A failed flush keeps its uses for the next one.
			_ = u.Flush(context.Background())
			u.mu.Lock()
			u.flushing, u.lastFlush = false, time.Now()
			u.mu.Unlock()
		}()
	}
}

// Flush writes pending uses to the store.
func (u *roleUsage) Flush(ctx context.Context) error {
	if u.writer == nil {
		return nil
	}
	u.mu.Lock()
	batch := u.pending
	u.pending = make(map[roleKey]iam.RoleUsage, len(batch))
	u.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	muts := make([]iam.Mutation, 0, len(batch))
	for k, use := range batch {
		exists := false
		u.writer.View.Read(k.account, func(a *iam.AccountView) {
			_, exists = a.RoleByID(k.roleID)
		})
		if !exists {
			continue // deleted since
		}
		muts = append(muts, iam.Put(iam.KindRoleUsage, k.account, k.roleID, &use, store.Any))
	}
	if len(muts) == 0 {
		return nil
	}
	if err := u.writer.Commit(ctx, muts...); err != nil {
		u.mu.Lock()
		for k, use := range batch {
			if _, ok := u.pending[k]; !ok {
				u.pending[k] = use
			}
		}
		u.mu.Unlock()
		return err
	}
	return nil
}
