package iam

import (
	"context"
	"sync"
)

// passes tracks the change follower's passes, so that a request can wait
// until the view holds every commit made before it (Sync).
type passes struct {
	mu       sync.Mutex
	started  uint64
	finished uint64
	done     chan struct{} // closed (and replaced) when a pass finishes
	kick     chan struct{} // asks the follower for a pass now
}

func newPasses() *passes {
	return &passes{done: make(chan struct{}), kick: make(chan struct{}, 1)}
}

func (p *passes) start() {
	p.mu.Lock()
	p.started++
	p.mu.Unlock()
}

func (p *passes) finish() {
	p.mu.Lock()
	p.finished++
	close(p.done)
	p.done = make(chan struct{})
	p.mu.Unlock()
}

// Sync waits until the change follower has read the store's change log
// through a pass that began after the call, so that the view holds every
// commit any replica made before it: read-your-writes across replicas for
// a request that did not find what another replica just wrote. It returns
// false if ctx ends first, or if no follower runs.
func (v *View) Sync(ctx context.Context) bool {
	p := v.passes
	p.mu.Lock()
	if p.started == 0 {
		p.mu.Unlock()
		return false // no follower (yet)
	}
	want := p.started + 1 // the next pass to start, which begins after now
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default: // a pass is already asked for
	}
	for {
		p.mu.Lock()
		finished, done := p.finished, p.done
		p.mu.Unlock()
		if finished >= want {
			return true
		}
		select {
		case <-done:
		case <-ctx.Done():
			return false
		}
	}
}
