package iam

import (
	"context"
	"sync"
)

// passes tracks the change follower's passes, so that a request can wait
// until the view holds every commit made before it (Sync).
type passes struct {
	mu       sync.Mutex
	started  uint64        // passes begun
	finished uint64        // passes ended
	synced   uint64        // the last pass that read the change log to its end
	done     chan struct{} // closed (and replaced) when a pass finishes
	kick     chan struct{} // asks the follower for a pass now
}

func newPasses() *passes {
	return &passes{done: make(chan struct{}), kick: make(chan struct{}, 1)}
}

// start records the beginning of a pass and returns its number.
func (p *passes) start() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.started++
	return p.started
}

// finish records the end of pass n; complete tells whether it read the
// change log to its end (false: the store could not be read).
func (p *passes) finish(n uint64, complete bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finished++
	if complete {
		p.synced = max(p.synced, n)
	}
	close(p.done)
	p.done = make(chan struct{})
}

// Sync waits until the change follower has read the store's change log to
// its end in a pass that began after the call, so that the view holds
// every commit any replica made before it: read-your-writes across
// replicas for a request that did not find what another replica just
// wrote. A pass that fails to read the store does not count; another is
// asked for. Before the follower's first pass, Sync waits for it. It
// returns false if ctx ends first (or no follower runs).
func (v *View) Sync(ctx context.Context) bool {
	p := v.passes
	p.mu.Lock()
	want := p.started + 1 // the next pass to start, which begins after now
	p.mu.Unlock()
	asked, first := uint64(0), true // passes finished when a pass was last asked for
	for {
		p.mu.Lock()
		synced, finished, done := p.synced, p.finished, p.done
		p.mu.Unlock()
		if synced >= want {
			return true
		}
		if first || finished != asked {
			// Ask for a pass: at first, and again whenever one ended
			// without bringing the view far enough.
			first, asked = false, finished
			select {
			case p.kick <- struct{}{}:
			default: // a pass is already asked for
			}
		}
		select {
		case <-done:
		case <-ctx.Done():
			return false
		}
	}
}
