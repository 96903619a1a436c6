// Package server assembles iamd: storage, the in-memory view, the IAM and
// STS APIs behind SigV4 authentication and policy enforcement, and the HTTP
// listener.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/iamd/iamd/internal/audit"
	"github.com/iamd/iamd/internal/audit/pgtrail"
	"github.com/iamd/iamd/internal/authn"
	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/authzapi"
	"github.com/iamd/iamd/internal/cloudtrailapi"
	"github.com/iamd/iamd/internal/console"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/iamapi"
	"github.com/iamd/iamd/internal/jwtissuer"
	"github.com/iamd/iamd/internal/managedpolicies"
	"github.com/iamd/iamd/internal/metrics"
	"github.com/iamd/iamd/internal/password"
	"github.com/iamd/iamd/internal/sar"
	"github.com/iamd/iamd/internal/sigv4"
	"github.com/iamd/iamd/internal/store"
	"github.com/iamd/iamd/internal/stsapi"
	"github.com/iamd/iamd/internal/workload"
)

// Config configures a server.
type Config struct {
	Addr     string
	DataDir  string
	StoreURL string
	TLSCert  string
	TLSKey   string
	Getenv   func(string) string
	Logger   *slog.Logger
	Now      func() time.Time
	Quotas   iamapi.Quotas
	// FollowInterval is how often the view polls the store for other
	// processes' commits when the store cannot notify; default 500ms.
	FollowInterval time.Duration
	// HTTPClient fetches OpenID Connect providers' keys for STS; nil means
	// a default client. Tests give it their local issuer's CA.
	HTTPClient *http.Client
	// MaxFollowLag is how far the view may lag the store (or how long the
	// store may be unreadable) before /readyz answers 503; 0 means
	// DefaultMaxFollowLag, a negative value no bound.
	MaxFollowLag time.Duration
	// ShutdownTimeout bounds how long requests in flight may take to
	// finish once shutting down; 0 means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// ShutdownDelay is how long the server keeps serving, answering
	// /readyz with 503, before it stops accepting connections: time for a
	// load balancer's health checks to take it out. 0 means none.
	ShutdownDelay time.Duration
	// MetricsAddr, if set, is where Run serves Prometheus metrics.
	MetricsAddr string
	// PublicURL is the URL clients reach iamd at (https://iam.example.com):
	// the base of outbound web identity federation's issuer URLs, which
	// external services fetch keys from. Empty means http(s)://Addr.
	PublicURL string
	// TrustedProxies are the load balancers whose X-Forwarded-For header
	// gives the client's address (aws:SourceIp, the audit trail, the
	// console's throttles); from any other peer the header is ignored.
	TrustedProxies []netip.Prefix
	// Partition is the AWS partition iamd answers as (ARNs, AWS-managed
	// policies, the regions requests may be signed for); zero means aws.
	Partition iam.Partition
	// ConsoleOIDC, if set, offers the console's sign-in through an OpenID
	// Connect provider; without its own HTTPClient it reaches the
	// provider with HTTPClient, as STS does.
	ConsoleOIDC *console.OIDC
	// Background, if set, starts work beside the server once it is built
	// (audit trail delivery); Run calls the function it returns when
	// serving ends, before closing the audit log.
	Background func(ctx context.Context, s *Server) (wait func())
}

// DefaultShutdownTimeout is how long requests in flight may take to finish
// at shutdown: within Kubernetes' default grace period of 30 s before it
// kills (systemd's TimeoutStopSec is 90 s).
const DefaultShutdownTimeout = 25 * time.Second

// Server is a running iamd.
type Server struct {
	cfg     Config
	log     *slog.Logger
	state   *State
	usage   *iam.UsageTracker
	access  *iam.AccessTracker
	handler http.Handler
	loadRev int64
	audit   *audit.Log
	shared  *pgtrail.Trail // every replica's trail, on PostgreSQL; nil otherwise
	sts     *stsapi.Service
	metrics *metrics.Registry
	health  *health
}

// New opens the state, bootstraps the first account and builds the handler.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Getenv == nil {
		cfg.Getenv = func(string) string { return "" }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.FollowInterval == 0 {
		cfg.FollowInterval = 500 * time.Millisecond
	}
	if cfg.MaxFollowLag == 0 {
		cfg.MaxFollowLag = DefaultMaxFollowLag
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	st, err := OpenState(ctx, cfg.DataDir, cfg.StoreURL, cfg.Getenv)
	if err != nil {
		return nil, err
	}
	for _, w := range st.Warnings {
		cfg.Logger.Warn(w)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, state: st, loadRev: st.View.Rev(), metrics: metrics.New()}
	s.health = &health{maxLag: max(cfg.MaxFollowLag, 0), now: cfg.Now, view: st.View}
	// The writer's commits are timed, and fail as ServiceFailure when the
	// store does; the follower reads the store itself.
	st.Writer.Store = timedStore{Store: st.Store, m: s.metrics, log: cfg.Logger}
	if err := st.Bootstrap(ctx, cfg.DataDir, cfg.Getenv, cfg.Logger, cfg.Now()); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	if s.handler, err = s.build(); err != nil {
		_ = st.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) build() (http.Handler, error) {
	st := s.state
	managed := sync.OnceValue(func() *managedpolicies.Catalog {
		c, err := managedpolicies.LoadPartition(s.cfg.Partition.String())
		if err != nil {
			// The catalogue is embedded and tested; failing to decode it
			// is a build defect.
			panic(fmt.Sprintf("managed policy catalogue: %v", err))
		}
		return c
	})
	// Warm the catalogue in the background so the first request that needs
	// it does not wait and start-up does not either.
	go managed()
	// The service authorization reference: the console's policy summaries,
	// and the services CreateServiceLinkedRole knows; loaded on first use.
	services := sar.Lazy(s.log)
	auditLog, err := s.openAudit()
	if err != nil {
		return nil, err
	}
	s.audit = auditLog
	if auditLog != nil {
		s.health.trail = auditLog.Trouble
	}
	if s.shared, err = s.openSharedTrail(auditLog); err != nil {
		return nil, err
	}
	// Every authorization decision is recorded in its request's event, and
	// counted.
	engine := authz.New(st.View, managed)
	authorizer := countingAuthorizer{next: audit.Authorizer{Authorizer: engine}, m: s.metrics}
	s.usage = iam.NewUsageTracker(st.Writer)
	// Allowed IAM, STS and authorization API requests feed the
	// last-accessed reports.
	s.access = iam.NewAccessTracker(st.Writer)
	tracking := &iamapi.TrackingAuthorizer{Next: authorizer, Access: s.access}
	// One hasher bounds the argon2id work of the API and the console sign-in.
	passwords, err := password.NewHasher(password.DefaultParams(), 2)
	if err != nil {
		return nil, err
	}
	publicURL := s.publicURL()
	issuer := &jwtissuer.Issuer{Store: st.Store, Keyring: st.Keyring}
	iamSvc := iamapi.New(iamapi.Config{
		View: st.View, Writer: st.Writer, Secrets: st.Keyring, Authorizer: tracking,
		Managed: managed, Quotas: s.cfg.Quotas, Now: s.cfg.Now, Log: s.log, Usage: s.usage,
		Passwords: passwords, Access: s.access, PublicURL: publicURL, Partition: s.cfg.Partition,
		Services: services,
	})
	iamDispatch, err := iamapi.NewDispatcher(iamSvc)
	if err != nil {
		return nil, err
	}
	if _, shared := st.Store.(store.Notifier); shared {
		// Several replicas: a request that does not find what another
		// replica just wrote waits for this replica's view to catch up and
		// runs again, so that a client sent to any replica reads its
		// writes (Terraform creates a role, then attaches a policy to it
		// through another replica).
		iamDispatch.RetryWhen(func(ctx context.Context, err error) bool {
			return catchUpOnMissing(ctx, st.View, err)
		})
	}
	stsSvc, err := stsapi.New(stsapi.Config{
		View: st.View, Writer: st.Writer, Keyring: st.Keyring, Authorizer: tracking,
		Managed: managed, Now: s.cfg.Now, Log: s.log, HTTPClient: s.cfg.HTTPClient,
		Issuer: issuer, PublicURL: publicURL, Partition: s.cfg.Partition,
	})
	if err != nil {
		return nil, err
	}
	s.sts = stsSvc
	stsDispatch, err := stsapi.NewDispatcher(stsSvc)
	if err != nil {
		return nil, err
	}
	source := &authn.Source{View: st.View, Keys: st.Keyring, Temporary: stsSvc.Credentials(), Partition: s.cfg.Partition}
	verifier := sigv4.NewVerifier(sigv4.Config{Credentials: source, Now: s.cfg.Now, Services: []string{"iam", "sts", "cloudtrail"}, RegionOK: s.cfg.Partition.HasRegion})
	front := &queryFront{
		log:     s.log,
		metrics: s.metrics,
		health:  s.health,
		apiMetrics: map[string]*metrics.API{
			"iam":        s.metrics.NewAPI("iam", slices.Collect(maps.Keys(iamDispatch.Model().Operations))),
			"sts":        s.metrics.NewAPI("sts", slices.Collect(maps.Keys(stsDispatch.Model().Operations))),
			"cloudtrail": s.metrics.NewAPI("cloudtrail", []string{"LookupEvents"}),
			"":           s.metrics.NewAPI("unknown", nil),
		},
		verifier: verifier,
		apis:     map[string]QueryAPI{"iam": iamDispatch, "sts": stsDispatch},
		versions: map[string]string{iamapi.Version: "iam", stsapi.Version: "sts"},
		unsigned: map[string]UnsignedActions{"sts": {"AssumeRoleWithWebIdentity": true, "AssumeRoleWithSAML": true}},
		now:      s.cfg.Now,
		audit:    auditLog,
		observe: func(c *authz.Caller, service, region string) {
			tracking.Observe(c, region)
			if c.Session == nil {
				s.usage.Used(c.AccessKeyID, service, region, c.Time)
			}
		},
		globalRegion: s.cfg.Partition.GlobalRegion(),
	}
	var events console.EventLookup // the console's event history
	if auditLog != nil {
		front.cloudtrail = &cloudtrailapi.Handler{Events: s.events(), Authorizer: authorizer}
		events = front.cloudtrail
	}
	if err := console.BootstrapRoot(context.Background(), st.Writer, st.View, passwords, s.cfg.Getenv(EnvAccountID), s.cfg.Getenv, s.log); err != nil {
		return nil, fmt.Errorf("root console password: %w", err)
	}
	var consoleOIDC *console.OIDC
	if s.cfg.ConsoleOIDC != nil {
		o := *s.cfg.ConsoleOIDC
		if o.HTTPClient == nil {
			o.HTTPClient = s.cfg.HTTPClient
		}
		consoleOIDC = &o
	}
	web, err := console.New(console.Config{
		IAM: iamSvc, Validator: iamDispatch, View: st.View, Writer: st.Writer, Secrets: st.Keyring,
		Authorizer: authorizer, Passwords: passwords, Now: s.cfg.Now, Log: s.log, Partition: s.cfg.Partition,
		Origins: strings.FieldsFunc(s.cfg.Getenv(console.EnvOrigins), func(r rune) bool { return r == ',' }),
		Events:  events, Trail: auditLog,
		STS: stsSvc, STSValidator: stsDispatch, Sessions: stsSvc.Credentials(), SAML: stsSvc,
		WebIdentity: stsSvc, OIDC: consoleOIDC, Catalog: services,
	})
	if err != nil {
		return nil, err
	}
	// Handlers other than the Query APIs' are counted under one action.
	whole := func(api string, h http.Handler) http.Handler {
		return instrumented(h, s.metrics.NewAPI(api, []string{"all"}).Action("all"), s.health)
	}
	consoleHandler := whole("console", web)
	mux := http.NewServeMux()
	mux.Handle("/", front)
	mux.Handle(console.Prefix+"/", consoleHandler)
	mux.Handle(console.Prefix, consoleHandler)
	mux.Handle("POST /saml", consoleHandler) // AWS's https://signin.aws.amazon.com/saml
	mux.Handle(workload.Pattern, whole("workload", workload.NewHandler(workload.Config{
		View: st.View, Issuer: stsSvc, Trust: authorizer, Now: s.cfg.Now, Log: s.log, Partition: s.cfg.Partition,
		Trail: recorderOf(auditLog),
	})))
	// The authorization API verifies requests signed for any service (s3,
	// an internal API), so its verifier has no service restriction. Its
	// decisions are not recorded in the audit trail's events (the API
	// records its own), but they are counted.
	mux.Handle(authzapi.Pattern, whole("authz", authzapi.NewHandler(authzapi.Config{
		Verifier: sigv4.NewVerifier(sigv4.Config{Credentials: source, Now: s.cfg.Now}),
		Decider:  tracking.Decider(countingAuthorizer{next: engine, m: s.metrics}), Now: s.cfg.Now, Log: s.log,
		Audit: auditLog,
		Observe: func(c *authz.Caller, service, region string) {
			tracking.Observe(c, region)
			if c.Session == nil {
				s.usage.Used(c.AccessKeyID, service, region, c.Time)
			}
		},
	})))
	mux.Handle("GET "+oidcIssuerPattern, &issuerHandler{view: st.View, issuer: issuer, publicURL: publicURL, log: s.log})
	mux.HandleFunc("GET /healthz", s.health.serveHealthz)
	mux.HandleFunc("GET /readyz", s.health.serveReadyz)
	s.metrics.Status(s.health.status)
	s.metrics.View(countView(st.View))
	if auditLog != nil {
		s.metrics.AuditRecords(auditLog.Records)
	}
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		if _, p := mux.Handler(&http.Request{Method: m, URL: &url.URL{Path: "/"}}); p != "/" {
			return nil, fmt.Errorf("%s / is routed to %q, not to the Query APIs", m, p)
		}
	}
	return clientAddress(s.cfg.TrustedProxies, queryFirst{front: front, mux: mux}), nil
}

// queryFirst hands requests for "/", the Query APIs' path where every
// SDK request goes, straight to their front; the mux, which has no other
// pattern for "/", would route them there after matching the path against
// its patterns. Other paths go through the mux.
type queryFirst struct {
	front http.Handler
	mux   *http.ServeMux
}

func (q queryFirst) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/" && r.Method != http.MethodConnect {
		q.front.ServeHTTP(w, r)
		return
	}
	q.mux.ServeHTTP(w, r)
}

// EnvAudit chooses how the audit trail is written. By default every event
// is written to the operating system before its response is sent (so no
// answered request's event is lost if the process is killed) and fsynced
// within 100 ms; "fsync" also fsyncs before answering (surviving a power
// loss, at a throughput cost); "off" disables the trail (benchmarks only).
const EnvAudit = "IAMD_AUDIT"

// openAudit opens the audit log in DATA/audit, or returns nil when
// IAMD_AUDIT=off.
func (s *Server) openAudit() (*audit.Log, error) {
	mode := s.cfg.Getenv(EnvAudit)
	if mode == "off" {
		return nil, nil
	}
	st := s.state
	retention, err := audit.ParseRetention(s.cfg.Getenv(audit.EnvRetention))
	if err != nil {
		return nil, err
	}
	l, err := audit.Open(audit.Options{
		Dir: filepath.Join(s.cfg.DataDir, "audit"), Keys: st.Keyring.DeriveKeys(audit.KeyPurpose), Now: s.cfg.Now, Log: s.log,
		Retention:    retention,
		NoSync:       mode != "fsync",
		SyncInterval: 100 * time.Millisecond,
		AccountOfKey: func(id string) (string, bool) {
			k, ok := st.View.AccessKey(id)
			if !ok {
				return "", false
			}
			return k.V.Account, true
		},
	})
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return l, nil
}

// Audit returns the audit log (nil when disabled), for the console's
// sign-in events and for tests.
func (s *Server) Audit() *audit.Log { return s.audit }

// recorderOf is l as a workload.Recorder: nil, not a nil *audit.Log, when
// there is no trail.
func recorderOf(l *audit.Log) workload.Recorder {
	if l == nil {
		return nil
	}
	return l
}

// Handler returns the HTTP handler serving every endpoint.
func (s *Server) Handler() http.Handler { return s.handler }

// State returns the server's state (for tests and admin tools).
func (s *Server) State() *State { return s.state }

// Metrics returns the server's metrics, served by Run on Config.MetricsAddr.
func (s *Server) Metrics() *metrics.Registry { return s.metrics }

// Close flushes pending usage records (access keys', roles' last use, the
// last-accessed data) and the audit trail, and closes the store.
func (s *Server) Close() error {
	ctx := context.Background()
	if err := s.usage.Flush(ctx); err != nil {
		s.log.Error("access key usage not written", "err", err)
	}
	if err := s.sts.Flush(ctx); err != nil {
		s.log.Error("role usage not written", "err", err)
	}
	if err := s.access.Flush(ctx); err != nil {
		s.log.Error("last-accessed data not written", "err", err)
	}
	if s.audit != nil {
		if err := s.audit.Close(); err != nil {
			s.log.Error("audit log close", "err", err)
		}
	}
	if s.shared != nil {
		_ = s.shared.Close() // it logs what it could not ship
	}
	return s.state.Close()
}

// Serve runs background work (following other replicas, flushing usage)
// and serves HTTP on ln until ctx is done, then shuts down gracefully (see
// Run).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := newHTTPServer(s.handler, s.log)
	errc := make(chan error, 1)
	go func() { errc <- s.listen(hs, ln) }()
	return s.run(ctx, hs, errc)
}

// newHTTPServer returns the HTTP server for h.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

func (s *Server) listen(hs *http.Server, ln net.Listener) error {
	if s.cfg.TLSCert != "" {
		return hs.ServeTLS(ln, s.cfg.TLSCert, s.cfg.TLSKey)
	}
	return hs.Serve(ln)
}

// run does the background work while hs serves (its result arrives on
// errc), until ctx is done; then it shuts hs down gracefully. The
// background work outlives the requests in flight, which may rely on it.
func (s *Server) run(ctx context.Context, hs *http.Server, errc <-chan error) error {
	bg, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		s.state.View.Follow(bg, s.state.Store, s.loadRev, s.cfg.FollowInterval, s.log, s.health.followed)
	}()
	go func() { defer wg.Done(); s.usage.Run(bg, time.Second) }()
	go func() { defer wg.Done(); s.access.Run(bg, time.Second) }()
	defer wg.Wait()
	defer stop()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	return s.shutdown(hs, errc)
}

// shutdown stops serving: /readyz answers 503 at once, responses ask
// clients to close their connections, and after ShutdownDelay the listener
// closes and the requests in flight get ShutdownTimeout to finish.
func (s *Server) shutdown(hs *http.Server, errc <-chan error) error {
	s.health.draining.Store(true)
	s.log.Info("shutting down: not ready; finishing the requests in flight",
		"delay", s.cfg.ShutdownDelay, "timeout", s.cfg.ShutdownTimeout)
	if d := s.cfg.ShutdownDelay; d > 0 {
		// The balancer's health checks need this long to see /readyz
		// fail; meanwhile requests are served as usual.
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case err := <-errc:
			t.Stop()
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("requests still in flight after the shutdown timeout; closing their connections", "timeout", s.cfg.ShutdownTimeout)
		err = hs.Close()
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// loadingHandler serves while the server loads: /healthz answers 200 and
// /readyz 503 at once; other requests wait for the server (or their own
// end) and are then served by it.
type loadingHandler struct {
	loaded chan struct{} // closed once h is set
	h      http.Handler
}

func (l *loadingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case <-l.loaded:
		l.h.ServeHTTP(w, r)
		return
	default:
	}
	switch r.URL.Path {
	case "/healthz":
		serveLive(w)
		return
	case "/readyz":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: loading the view\n"))
		return
	}
	select {
	case <-l.loaded:
		l.h.ServeHTTP(w, r)
	case <-r.Context().Done():
	}
}

// Run listens on cfg.Addr at once (answering /healthz, and /readyz with 503,
// while the view loads; other requests wait for it), opens the server, serves it (and its metrics on
// cfg.MetricsAddr, if set) until ctx is done, and then shuts down
// gracefully: /readyz answers 503, the listener closes after
// cfg.ShutdownDelay, the requests in flight finish (within
// cfg.ShutdownTimeout), usage records and the audit trail are flushed and
// the store is closed. It returns nil after such a shutdown.
func Run(ctx context.Context, cfg Config) error {
	start := time.Now()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Getenv == nil || cfg.Getenv("GOMAXPROCS") == "" {
		ensureProcs(minProcs)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	var mln net.Listener
	if cfg.MetricsAddr != "" {
		if mln, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			_ = ln.Close()
			return fmt.Errorf("metrics: %w", err)
		}
	}
	front := &loadingHandler{loaded: make(chan struct{})}
	hs := newHTTPServer(front, log)
	errc := make(chan error, 1)
	loading := &Server{cfg: cfg}
	go func() { errc <- loading.listen(hs, ln) }()

	s, err := New(ctx, cfg)
	if err != nil {
		_ = hs.Close()
		if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
			log.Warn("listener", "err", serr)
		}
		if mln != nil {
			_ = mln.Close()
		}
		return err
	}
	defer func() {
		if err := s.Close(); err != nil {
			log.Error("close the store", "err", err)
		}
	}()
	front.h = s.handler
	close(front.loaded)
	if cfg.Background != nil {
		defer cfg.Background(ctx, s)()
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	if mln != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", s.metrics.Handler())
		ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		go func() { _ = ms.Serve(mln) }()
		defer func() { _ = ms.Close() }()
		log.Info("serving metrics", "endpoint", "http://"+mln.Addr().String()+"/metrics")
	}
	s.log.Info("iamd listening", "endpoint", scheme+"://"+ln.Addr().String(), "data", cfg.DataDir,
		"accounts", len(s.state.View.Accounts()), "startup", time.Since(start).Round(time.Millisecond))
	if err := s.run(ctx, hs, errc); err != nil {
		return err
	}
	s.log.Info("stopped serving; flushing usage records and the audit trail")
	return nil
}
