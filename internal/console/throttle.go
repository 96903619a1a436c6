package console

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/store"
)

// Limiter slows down password and MFA guessing. It counts failed attempts
// per key (an account and user name, or a source address) and, past a few
// free failures, refuses further attempts on that key for a delay that
// doubles with each failure, up to a maximum. Failures are forgotten after
// Forget without any.
//
// The counts are kept in the store (see iam.Ephemeral), read and written
// there directly, so that every replica sees the same count at once:
// failures on any replica add up, and a key throttled on one replica is
// throttled on all of them. Limiters with different settings keep separate
// counts.
//
// The limiter decides; it never sleeps, so a flood of attempts costs the
// server a store read, and tests observe its decisions through the clock
// they inject.
type Limiter struct {
	// Free is how many failures a key may have before attempts are slowed.
	Free int
	// Base is the delay after the first failure beyond Free; it doubles
	// with each further failure.
	Base time.Duration
	// Max caps the delay.
	Max time.Duration
	// Forget is how long after its last failure a key is forgotten.
	Forget time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Store keeps the counts; New sets it to the console's store when nil.
	Store store.Store
}

// throttleKind is the record kind of the counts.
const throttleKind = "console-throttle"

// Throttle buckets: the store holds at most throttleBuckets records of
// throttleKind with throttleBucketSize keys each (about 130,000 keys). Past
// that, under a spray of distinct keys, the keys soonest forgotten go first.
const (
	throttleBuckets    = 1024
	throttleBucketSize = 128
)

// limitEntry is a key's count as stored.
type limitEntry struct {
	Failures int       `json:"f"`
	Last     time.Time `json:"l"` // last failure
	Until    time.Time `json:"u"` // attempts refused before this
}

// NewLimiter returns a limiter allowing free failures per key, then
// delaying from base, doubling, up to max.
func NewLimiter(free int, base, max time.Duration, now func() time.Time) *Limiter {
	return &Limiter{Free: free, Base: base, Max: max, Forget: 24 * time.Hour, Now: now}
}

func (l *Limiter) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Limiter) counts() (*iam.Ephemeral[limitEntry], error) {
	if l.Store == nil {
		return nil, errors.New("console: limiter has no store")
	}
	return &iam.Ephemeral[limitEntry]{Store: l.Store, Kind: throttleKind, Buckets: throttleBuckets, MaxPerBucket: throttleBucketSize}, nil
}

// id is a key's entry ID: the settings are part of it, so that limiters
// with different settings do not share counts.
func (l *Limiter) id(key string) string {
	return fmt.Sprintf("%d/%d/%d/%d/%s", l.Free, l.Base, l.Max, l.Forget, key)
}

// forget is when an entry last failing at last may be forgotten.
func (l *Limiter) forget(e limitEntry) time.Time {
	f := l.Forget
	if f <= 0 {
		f = 24 * time.Hour
	}
	return maxTime(e.Until, e.Last.Add(f))
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Wait returns how long the caller must wait before an attempt on any of
// keys is allowed: zero when it is allowed now.
func (l *Limiter) Wait(ctx context.Context, keys ...string) (time.Duration, error) {
	c, err := l.counts()
	if err != nil {
		return 0, err
	}
	now := l.now()
	var wait time.Duration
	for _, k := range keys {
		e, ok, err := c.Get(ctx, l.id(k), now)
		if err != nil {
			return 0, fmt.Errorf("sign-in throttle: %w", err)
		}
		if ok && now.Before(e.Until) {
			wait = max(wait, e.Until.Sub(now))
		}
	}
	return wait, nil
}

// Delay is the delay imposed after failures failures.
func (l *Limiter) Delay(failures int) time.Duration {
	n := failures - l.Free
	if n <= 0 {
		return 0
	}
	d := float64(l.Base) * math.Pow(2, float64(n-1))
	if d >= float64(l.Max) {
		return l.Max
	}
	return time.Duration(d)
}

// Fail records a failed attempt on each key and returns the largest
// resulting failure count and delay.
func (l *Limiter) Fail(ctx context.Context, keys ...string) (failures int, delay time.Duration, err error) {
	c, err := l.counts()
	if err != nil {
		return 0, 0, err
	}
	now := l.now()
	for _, k := range keys {
		e, err := c.Update(ctx, l.id(k), now, func(e limitEntry, _ bool) (limitEntry, time.Time, bool) {
			e.Failures++
			e.Last = now
			e.Until = now.Add(l.Delay(e.Failures))
			return e, l.forget(e), true
		})
		if err != nil {
			return failures, delay, fmt.Errorf("sign-in throttle: %w", err)
		}
		failures = max(failures, e.Failures)
		delay = max(delay, e.Until.Sub(now))
	}
	return failures, delay, nil
}

// Reset forgets a key's failures, after a successful sign-in.
func (l *Limiter) Reset(ctx context.Context, keys ...string) error {
	c, err := l.counts()
	if err != nil {
		return err
	}
	now := l.now()
	for _, k := range keys {
		if _, err := c.Update(ctx, l.id(k), now, func(limitEntry, bool) (limitEntry, time.Time, bool) {
			return limitEntry{}, time.Time{}, false
		}); err != nil {
			return fmt.Errorf("sign-in throttle: %w", err)
		}
	}
	return nil
}

// Failures returns a key's current failure count.
func (l *Limiter) Failures(ctx context.Context, key string) (int, error) {
	c, err := l.counts()
	if err != nil {
		return 0, err
	}
	e, _, err := c.Get(ctx, l.id(key), l.now())
	return e.Failures, err
}
