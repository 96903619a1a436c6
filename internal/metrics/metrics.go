// Package metrics holds iamd's Prometheus metrics: one Registry per server,
// with the families an operator runs replicas by (requests, authorization
// decisions, SigV4 failures, store commits, the change follower, the audit
// trail and the size of the in-memory view).
//
// It is not a general instrumentation layer: it knows iamd's families and
// nothing else, registers nothing globally and has no init side effects.
// The request path is designed to cost a few atomic adds: label children
// are resolved once per API, action and status and kept.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every family.
const Namespace = "iamd"

// UnknownAction labels requests whose action is not one the API serves, so
// that callers cannot grow the label set.
const UnknownAction = "unknown"

// Registry is the metrics of one server.
type Registry struct {
	reg *prometheus.Registry

	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	decisions *prometheus.CounterVec
	sigv4     *prometheus.CounterVec
	commits   *prometheus.HistogramVec
	auditRec  prometheus.Histogram

	allow, deny, decideErr              prometheus.Counter
	commitOK, commitConflict, commitErr prometheus.Observer

	mu       sync.RWMutex
	failures map[string]prometheus.Counter // SigV4 failures by code
}

// New returns a Registry with every family registered, and Go's runtime and
// process collectors.
func New() *Registry {
	r := &Registry{reg: prometheus.NewRegistry(), failures: make(map[string]prometheus.Counter)}
	r.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "requests_total",
		Help: "HTTP API requests served, by API (iam, sts, cloudtrail, authz, workload, console), action and HTTP status.",
	}, []string{"api", "action", "code"})
	r.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "request_duration_seconds",
		Help:    "Time to serve an HTTP API request, from its headers to its last byte handed to the connection, by API and action.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"api", "action"})
	r.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "authorization_decisions_total",
		Help: "Policy decisions made, by result: allow, deny, or error (the decision could not be made).",
	}, []string{"result"})
	r.sigv4 = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "sigv4_failures_total",
		Help: "Requests whose SigV4 authentication failed, by the error code answered (InternalFailure when the credentials could not be looked up).",
	}, []string{"reason"})
	r.commits = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "store_commit_duration_seconds",
		Help:    "Time to commit a batch to the store, by result: ok, conflict (a compare-and-swap lost) or error.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"result"})
	r.auditRec = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "audit_record_duration_seconds",
		Help:    "Time to make a request's audit event durable before its response is sent (the audit trail has no queue: this is its delivery lag).",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
	})
	r.reg.MustRegister(r.requests, r.duration, r.decisions, r.sigv4, r.commits, r.auditRec,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.allow = r.decisions.WithLabelValues("allow")
	r.deny = r.decisions.WithLabelValues("deny")
	r.decideErr = r.decisions.WithLabelValues("error")
	r.commitOK = r.commits.WithLabelValues("ok")
	r.commitConflict = r.commits.WithLabelValues("conflict")
	r.commitErr = r.commits.WithLabelValues("error")
	return r
}

// Handler serves the registry in Prometheus's exposition formats.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{Registry: r.reg})
}

// Gatherer returns the registry, for tests.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Decision counts an authorization decision: allowed, denied, or failed
// (err true: the decision could not be made).
func (r *Registry) Decision(allowed, failed bool) {
	switch {
	case failed:
		r.decideErr.Inc()
	case allowed:
		r.allow.Inc()
	default:
		r.deny.Inc()
	}
}

// SigV4Failure counts a failed authentication by the error code answered.
// Codes come from the server's own verifier, never from the request.
func (r *Registry) SigV4Failure(code string) {
	r.mu.RLock()
	c := r.failures[code]
	r.mu.RUnlock()
	if c == nil {
		r.mu.Lock()
		if c = r.failures[code]; c == nil {
			c = r.sigv4.WithLabelValues(code)
			r.failures[code] = c
		}
		r.mu.Unlock()
	}
	c.Inc()
}

// CommitResult says how a store commit ended.
type CommitResult int

// Commit results.
const (
	CommitOK CommitResult = iota
	CommitConflict
	CommitError
)

// Commit records a store commit's duration.
func (r *Registry) Commit(d time.Duration, res CommitResult) {
	o := r.commitOK
	switch res {
	case CommitConflict:
		o = r.commitConflict
	case CommitError:
		o = r.commitErr
	}
	o.Observe(d.Seconds())
}

// AuditRecord records the time taken to make an audit event durable.
func (r *Registry) AuditRecord(d time.Duration) { r.auditRec.Observe(d.Seconds()) }

// AuditRecords exposes the count of audit records written, read at scrape
// time from count.
func (r *Registry) AuditRecords(count func() uint64) {
	r.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: Namespace, Name: "audit_records_total",
		Help: "Audit events this replica has written to its chain.",
	}, func() float64 { return float64(count()) }))
}

// AuditDelivery is what audit trail delivery did, for AuditDeliveryStats.
type AuditDelivery struct {
	Files, Digests, Failures, Delivered uint64
	Failing                             bool
}

// AuditDeliveryStats exposes audit trail delivery (log and digest files
// delivered, failed attempts, the last record delivered, whether the
// destination is failing now), read at scrape time from stats.
func (r *Registry) AuditDeliveryStats(stats func() AuditDelivery) {
	counter := func(name, help string, v func(AuditDelivery) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help},
			func() float64 { return float64(v(stats())) })
	}
	r.reg.MustRegister(
		counter("audit_delivery_files_total", "CloudTrail log files delivered to the audit trail's destination.", func(s AuditDelivery) uint64 { return s.Files }),
		counter("audit_delivery_digests_total", "CloudTrail digest files delivered to the audit trail's destination.", func(s AuditDelivery) uint64 { return s.Digests }),
		counter("audit_delivery_failures_total", "Failed attempts to deliver the audit trail (each retried with backoff).", func(s AuditDelivery) uint64 { return s.Failures }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "audit_delivery_record",
			Help: "The last record of this replica's audit chain delivered (compare with iamd_audit_records_total)."},
			func() float64 { return float64(stats().Delivered) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "audit_delivery_failing",
			Help: "1 while the last attempt to deliver the audit trail failed."},
			func() float64 {
				if stats().Failing {
					return 1
				}
				return 0
			}),
	)
}

// Status is the server's state, read at scrape time: what the change
// follower last reported, readiness and the requests in flight.
type Status struct {
	// LagSeconds is how old the newest commit the view is known to hold
	// everything before is: the time since the follower's last complete
	// read of the change log began.
	LagSeconds float64
	// LagRevisions is the count of revisions known to be committed that
	// the follower has not read yet.
	LagRevisions float64
	// Ready reports whether the server answers /readyz with 200.
	Ready bool
	// InFlight is the count of API requests being served.
	InFlight int64
}

// Status exposes the change follower's lag, the server's readiness and
// the requests in flight, read from status at scrape time.
func (r *Registry) Status(status func() Status) {
	r.reg.MustRegister(&statusCollector{status: status})
}

var (
	lagSecondsDesc = prometheus.NewDesc(Namespace+"_follower_lag_seconds",
		"Time since the change follower last read the store's change log to its end: the view holds every commit made before then.", nil, nil)
	lagRevisionsDesc = prometheus.NewDesc(Namespace+"_follower_lag_revisions",
		"Store revisions known to be committed (by this replica's own writes) that the change follower has not read yet: a lower bound of the lag.", nil, nil)
	readyDesc = prometheus.NewDesc(Namespace+"_ready",
		"1 while the server answers /readyz with 200, else 0.", nil, nil)
	inFlightDesc = prometheus.NewDesc(Namespace+"_requests_in_flight",
		"API requests being served (from their headers to their response).", nil, nil)
	viewDesc = prometheus.NewDesc(Namespace+"_view_entities",
		"Entities in the in-memory view, by kind, over every account.", []string{"kind"}, nil)
)

type statusCollector struct{ status func() Status }

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- lagSecondsDesc
	ch <- lagRevisionsDesc
	ch <- readyDesc
	ch <- inFlightDesc
}

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.status()
	ready := 0.0
	if s.Ready {
		ready = 1
	}
	ch <- prometheus.MustNewConstMetric(lagSecondsDesc, prometheus.GaugeValue, s.LagSeconds)
	ch <- prometheus.MustNewConstMetric(lagRevisionsDesc, prometheus.GaugeValue, s.LagRevisions)
	ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, ready)
	ch <- prometheus.MustNewConstMetric(inFlightDesc, prometheus.GaugeValue, float64(s.InFlight))
}

// View exposes the size of the in-memory view, counted at scrape time by
// count, which calls add once per kind.
func (r *Registry) View(count func(add func(kind string, n int))) {
	r.reg.MustRegister(&viewCollector{count: count})
}

type viewCollector struct {
	count func(add func(kind string, n int))
}

func (c *viewCollector) Describe(ch chan<- *prometheus.Desc) { ch <- viewDesc }

func (c *viewCollector) Collect(ch chan<- prometheus.Metric) {
	c.count(func(kind string, n int) {
		ch <- prometheus.MustNewConstMetric(viewDesc, prometheus.GaugeValue, float64(n), kind)
	})
}

// API is the request metrics of one API, with a child per action resolved
// when first used.
type API struct {
	r       *Registry
	name    string
	actions map[string]*Action // fixed after NewAPI: read without locks
	unknown *Action
}

// NewAPI returns the request metrics of the API name, whose known actions
// are actions; any other action is counted as UnknownAction.
func (r *Registry) NewAPI(name string, actions []string) *API {
	a := &API{r: r, name: name, actions: make(map[string]*Action, len(actions))}
	for _, act := range actions {
		a.actions[act] = &Action{api: a, name: act}
	}
	a.unknown = &Action{api: a, name: UnknownAction}
	return a
}

// Action returns the metrics of an action (UnknownAction's if the API does
// not serve it).
func (a *API) Action(name string) *Action {
	if act, ok := a.actions[name]; ok {
		return act
	}
	return a.unknown
}

// Action is the request metrics of one action of an API.
type Action struct {
	api      *API
	name     string
	duration atomic.Pointer[prometheus.Observer]
	codes    [len(statusCodes) + 1]atomic.Pointer[prometheus.Counter]
}

// statusCodes are the statuses iamd answers with, each with its own
// cached child; others share the last slot's lookup.
var statusCodes = [...]int{200, 204, 302, 303, 400, 401, 403, 404, 405, 409, 413, 429, 500, 501, 503}

func statusSlot(code int) int {
	for i, c := range statusCodes {
		if c == code {
			return i
		}
	}
	return len(statusCodes)
}

// Observe records one request of the action answered with status after d.
func (act *Action) Observe(status int, d time.Duration) {
	act.counter(status).Inc()
	o := act.duration.Load()
	if o == nil {
		h := act.api.r.duration.WithLabelValues(act.api.name, act.name)
		o = &h
		act.duration.Store(o)
	}
	(*o).Observe(d.Seconds())
}

func (act *Action) counter(status int) prometheus.Counter {
	slot := statusSlot(status)
	if slot < len(statusCodes) {
		if c := act.codes[slot].Load(); c != nil {
			return *c
		}
	}
	text := "other"
	if status >= 100 && status < 600 {
		text = strconv.Itoa(status)
	}
	c := act.api.r.requests.WithLabelValues(act.api.name, act.name, text)
	if slot < len(statusCodes) {
		act.codes[slot].Store(&c)
	}
	return c
}
