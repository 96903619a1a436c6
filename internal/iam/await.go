package iam

import "context"

// Await waits until cond holds, checking it at once and again after every
// change applied to the view (local commits and other replicas' commits
// alike), and reports whether it held before ctx was done. cond reads the
// view as any reader does; it is called without the view's lock.
//
// A replica uses it to read what another replica has just written (a
// last-accessed job names a user created a moment before on the other
// replica): the change follower brings the record within about a second.
func (v *View) Await(ctx context.Context, cond func() bool) bool {
	for {
		v.mu.RLock()
		changed := v.changed
		v.mu.RUnlock()
		if cond() {
			return true
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return false
		}
	}
}
