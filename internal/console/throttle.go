package console

import (
	"math"
	"sync"
	"time"
)

// Limiter slows down password and MFA guessing. It counts failed attempts
// per key (an account and user name, or a source address) and, past a few
// free failures, refuses further attempts on that key for a delay that
// doubles with each failure, up to a maximum. Failures are forgotten after
// Forget without any.
//
// The limiter decides; it never sleeps, so a flood of attempts costs the
// server nothing but a map lookup, and tests observe its decisions through
// the clock they inject.
//
// State is per process: with several replicas behind a load balancer an
// attacker gets each replica's allowance (still exponentially slowed on each).
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

	mu      sync.Mutex
	entries map[string]*limitEntry
}

type limitEntry struct {
	failures int
	last     time.Time // last failure
	until    time.Time // attempts refused before this
}

// maxLimiterEntries bounds the limiter's memory under a spray of distinct
// keys; past it, forgotten entries are pruned, and if none can be, the
// oldest half is dropped.
const maxLimiterEntries = 100_000

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

// Wait returns how long the caller must wait before an attempt on any of
// keys is allowed: zero when it is allowed now.
func (l *Limiter) Wait(keys ...string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var wait time.Duration
	for _, k := range keys {
		if e, ok := l.entries[k]; ok && now.Before(e.until) {
			wait = max(wait, e.until.Sub(now))
		}
	}
	return wait
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
func (l *Limiter) Fail(keys ...string) (failures int, delay time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.entries == nil {
		l.entries = make(map[string]*limitEntry)
	}
	if len(l.entries) >= maxLimiterEntries {
		l.prune(now)
	}
	for _, k := range keys {
		e, ok := l.entries[k]
		if !ok || (l.Forget > 0 && now.Sub(e.last) > l.Forget) {
			e = &limitEntry{}
			l.entries[k] = e
		}
		e.failures++
		e.last = now
		d := l.Delay(e.failures)
		e.until = now.Add(d)
		if e.failures > failures {
			failures = e.failures
		}
		delay = max(delay, d)
	}
	return failures, delay
}

// Reset forgets a key's failures, after a successful sign-in.
func (l *Limiter) Reset(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		delete(l.entries, k)
	}
}

// Failures returns a key's current failure count.
func (l *Limiter) Failures(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[key]; ok {
		return e.failures
	}
	return 0
}

func (l *Limiter) prune(now time.Time) {
	for k, e := range l.entries {
		if now.After(e.until) && (l.Forget <= 0 || now.Sub(e.last) > l.Forget) {
			delete(l.entries, k)
		}
	}
	if len(l.entries) < maxLimiterEntries {
		return
	}
	// Still full of live entries: drop those with the oldest failures.
	cut := now.Add(-l.Forget / 2)
	for k, e := range l.entries {
		if e.last.Before(cut) || len(l.entries) > maxLimiterEntries/2 {
			delete(l.entries, k)
		}
	}
}
