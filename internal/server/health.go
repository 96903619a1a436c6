package server

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/metrics"
)

// DefaultMaxFollowLag is how far behind the store the view may fall before
// the server stops answering ready. A replica cut off from the database
// keeps answering from a view that no longer changes: after this long it
// leaves the balancer, so that a revoked key or a tightened policy is not
// honoured for longer than that on one replica. It is much longer than
// the follower's normal lag (under a second) and than a typical database
// restart or fail-over, so that a short outage does not take every replica
// out at once, while reads could still be served from their views.
const DefaultMaxFollowLag = 30 * time.Second

// health is the server's readiness: the change follower's progress, and
// whether the server is shutting down.
type health struct {
	maxLag   time.Duration // 0: lag does not matter
	now      func() time.Time
	view     *iam.View
	draining atomic.Bool
	// caughtUp is the start (Unix nanoseconds) of the follower's last
	// complete read of the change log; 0 before the first.
	caughtUp atomic.Int64
	rev      atomic.Int64 // the revision the follower applied through
	lastErr  atomic.Pointer[string]
	inFlight atomic.Int64 // API requests being served
	// trail reports what keeps the audit trail from taking records (see
	// audit.Log.Trouble); nil without a trail.
	trail func() (lasting bool, err error)
}

// followed records a pass of the change follower.
func (h *health) followed(p iam.FollowPass) {
	h.rev.Store(p.Rev)
	if p.Err != nil {
		msg := p.Err.Error()
		h.lastErr.Store(&msg)
		return
	}
	h.lastErr.Store(nil)
	h.caughtUp.Store(p.Start.UnixNano())
}

// ready reports whether the server should receive traffic, and if not, why.
func (h *health) ready() (bool, string) {
	if h.draining.Load() {
		return false, "shutting down"
	}
	if why, _ := h.trailTrouble(); why != "" {
		return false, why
	}
	at := h.caughtUp.Load()
	if at == 0 {
		return false, "loading: the change follower has not caught up with the store yet"
	}
	if h.maxLag <= 0 {
		return true, ""
	}
	if lag := h.now().Sub(time.Unix(0, at)); lag > h.maxLag {
		why := fmt.Sprintf("the view lags the store by %s (more than %s)", lag.Round(time.Millisecond), h.maxLag)
		if e := h.lastErr.Load(); e != nil {
			why += "; the store cannot be read: " + *e
		}
		return false, why
	}
	return true, ""
}

// status is the server's state for the metrics.
func (h *health) status() metrics.Status {
	s := metrics.Status{InFlight: h.inFlight.Load()}
	s.Ready, _ = h.ready()
	if at := h.caughtUp.Load(); at != 0 {
		s.LagSeconds = max(0, h.now().Sub(time.Unix(0, at)).Seconds())
	}
	// The view's revision runs ahead of the follower's by this replica's
	// own commits: the revisions between are other replicas' commits not
	// read yet.
	if rev := h.rev.Load(); rev > 0 {
		s.LagRevisions = float64(max(0, h.view.Rev()-rev))
	}
	return s
}

// trailTrouble says what keeps the audit trail from taking records, and
// whether it lasts until a restart; "" if nothing does.
func (h *health) trailTrouble() (why string, lasting bool) {
	if h.trail == nil {
		return "", false
	}
	lasting, err := h.trail()
	switch {
	case err == nil:
		return "", false
	case lasting:
		return "the audit trail failed and refuses every request until iamd restarts: " + err.Error(), true
	}
	return "the audit trail cannot be written; requests are refused until it can (retrying): " + err.Error(), false
}

// serveHealthz answers liveness: 200 while the process serves HTTP, 503
// once its audit trail has failed for good (an fsync failed), so that a
// supervisor restarts it: the restart verifies the trail and goes on.
func (h *health) serveHealthz(w http.ResponseWriter, _ *http.Request) {
	if why, lasting := h.trailTrouble(); lasting {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not live: " + why + "\n"))
		return
	}
	serveLive(w)
}

// serveLive answers liveness while the server loads: it serves HTTP.
func serveLive(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

// serveReadyz answers readiness: 200 when the server should receive
// traffic, else 503 with the reason.
func (h *health) serveReadyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	ok, why := h.ready()
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: " + why + "\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}
