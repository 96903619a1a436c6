package iam

import (
	"context"
	"sync"
	"time"

	"github.com/iamd/iamd/internal/store"
)

// UsageTracker records when access keys were last used. Every authenticated
// request reports its key; the tracker keeps the newest use in memory, where
// reads see it at once, and writes the uses to the store in the background,
// at most one record per key per flush, so that tracking costs requests
// nothing measurable.
type UsageTracker struct {
	writer *Writer

	mu      sync.Mutex
	pending map[string]KeyUsage
}

// NewUsageTracker returns a tracker that persists through w.
func NewUsageTracker(w *Writer) *UsageTracker {
	return &UsageTracker{writer: w, pending: make(map[string]KeyUsage)}
}

// Used records a use of an access key, at second precision.
func (t *UsageTracker) Used(keyID, service, region string, at time.Time) {
	at = at.UTC().Truncate(time.Second)
	t.mu.Lock()
	if p, ok := t.pending[keyID]; !ok || p.LastUsed.Before(at) || p.Service != service {
		t.pending[keyID] = KeyUsage{LastUsed: at, Service: service, Region: region}
	}
	t.mu.Unlock()
}

// LastUsed returns the newest known use of a key.
func (t *UsageTracker) LastUsed(keyID string) (KeyUsage, bool) {
	t.mu.Lock()
	p, ok := t.pending[keyID]
	t.mu.Unlock()
	if ok {
		return p, true
	}
	if u, ok := t.writer.View.KeyUsage(keyID); ok {
		return *u, true
	}
	return KeyUsage{}, false
}

// Flush writes pending uses to the store.
func (t *UsageTracker) Flush(ctx context.Context) error {
	t.mu.Lock()
	batch := t.pending
	t.pending = make(map[string]KeyUsage, len(batch))
	t.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	muts := make([]Mutation, 0, len(batch))
	for id, u := range batch {
		if _, exists := t.writer.View.AccessKey(id); !exists {
			continue // deleted since
		}
		muts = append(muts, Put(KindKeyUsage, "", id, &u, store.Any))
	}
	if len(muts) == 0 {
		return nil
	}
	if err := t.writer.Commit(ctx, muts...); err != nil {
		// Keep the uses for the next flush unless newer ones arrived.
		t.mu.Lock()
		for id, u := range batch {
			if _, ok := t.pending[id]; !ok {
				t.pending[id] = u
			}
		}
		t.mu.Unlock()
		return err
	}
	return nil
}

// Run flushes every interval until ctx is done, then once more.
func (t *UsageTracker) Run(ctx context.Context, interval time.Duration) {
	flushEvery(ctx, interval, t.Flush)
}

// flushEvery calls flush every interval until ctx is done, then once more
// with ctx's values but not its end, so that what was pending is written.
// A failed flush keeps its records for the next.
func flushEvery(ctx context.Context, interval time.Duration, flush func(context.Context) error) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = flush(context.WithoutCancel(ctx))
			return
		case <-tick.C:
			_ = flush(ctx)
		}
	}
}
