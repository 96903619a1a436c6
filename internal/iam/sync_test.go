package iam

import (
	"context"
	"testing"
)

// syncing starts Sync on v and returns where its result arrives.
func syncing(ctx context.Context, v *View) <-chan bool {
	res := make(chan bool, 1)
	go func() { res <- v.Sync(ctx) }()
	return res
}

// TestSyncWaitsForACompletePassAfterIt drives the follower's passes by hand:
// Sync returns only after a pass that began after it read the change log to
// its end, and asks for another pass when one fails.
func TestSyncWaitsForACompletePassAfterIt(t *testing.T) {
	tests := []struct {
		name string
		// before runs passes before Sync is called.
		before func(p *passes)
	}{
		{"before the follower's first pass", func(*passes) {}},
		{"after complete passes", func(p *passes) { p.finish(p.start(), true) }},
		{"during a pass", func(p *passes) { p.start() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := NewView()
			p := v.passes
			tt.before(p)
			res := syncing(context.Background(), v)
			<-p.kick // Sync asks for a pass
			// A pass in progress when Sync was called finishes: it may have
			// read the change log before the caller's commit.
			p.mu.Lock()
			running := p.started > p.synced
			p.mu.Unlock()
			if running {
				p.finish(p.started, true)
				select {
				case <-res:
					t.Fatal("Sync returned after a pass that began before it")
				case <-p.kick:
				}
			}
			// A pass that could not read the store does not count.
			p.finish(p.start(), false)
			select {
			case <-res:
				t.Fatal("Sync returned after a failed pass")
			case <-p.kick: // another pass is asked for
			}
			p.finish(p.start(), true)
			if !<-res {
				t.Fatal("Sync = false after a complete pass")
			}
		})
	}
}

func TestSyncEndsWithItsContext(t *testing.T) {
	v := NewView()
	ctx, cancel := context.WithCancel(context.Background())
	res := syncing(ctx, v)
	<-v.passes.kick
	cancel()
	if <-res {
		t.Fatal("Sync = true with no pass")
	}
}
