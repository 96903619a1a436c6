// Package server assembles iamd: storage, the in-memory view, the IAM and
// STS APIs behind SigV4 authentication and policy enforcement, and the HTTP
// listener.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/iamd/iamd/internal/audit"
	"github.com/iamd/iamd/internal/authn"
	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/authzapi"
	"github.com/iamd/iamd/internal/cloudtrailapi"
	"github.com/iamd/iamd/internal/console"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/iamapi"
	"github.com/iamd/iamd/internal/managedpolicies"
	"github.com/iamd/iamd/internal/password"
	"github.com/iamd/iamd/internal/sigv4"
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
}

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
	st, err := OpenState(ctx, cfg.DataDir, cfg.StoreURL, cfg.Getenv)
	if err != nil {
		return nil, err
	}
	for _, w := range st.Warnings {
		cfg.Logger.Warn(w)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, state: st, loadRev: st.View.Rev()}
	if err := st.Bootstrap(ctx, cfg.DataDir, cfg.Getenv, cfg.Logger, cfg.Now()); err != nil {
		st.Close()
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	if s.handler, err = s.build(); err != nil {
		st.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) build() (http.Handler, error) {
	st := s.state
	managed := sync.OnceValue(func() *managedpolicies.Catalog {
		c, err := managedpolicies.Load()
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
	auditLog, err := s.openAudit()
	if err != nil {
		return nil, err
	}
	s.audit = auditLog
	// Every authorization decision is recorded in its request's event.
	authorizer := audit.Authorizer{Authorizer: authz.New(st.View, managed)}
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
	iamSvc := iamapi.New(iamapi.Config{
		View: st.View, Writer: st.Writer, Secrets: st.Keyring, Authorizer: tracking,
		Managed: managed, Quotas: s.cfg.Quotas, Now: s.cfg.Now, Log: s.log, Usage: s.usage,
		Passwords: passwords, Access: s.access,
	})
	iamDispatch, err := iamapi.NewDispatcher(iamSvc)
	if err != nil {
		return nil, err
	}
	stsSvc, err := stsapi.New(stsapi.Config{
		View: st.View, Writer: st.Writer, Keyring: st.Keyring, Authorizer: tracking,
		Managed: managed, Now: s.cfg.Now, Log: s.log, HTTPClient: s.cfg.HTTPClient,
	})
	if err != nil {
		return nil, err
	}
	stsDispatch, err := stsapi.NewDispatcher(stsSvc)
	if err != nil {
		return nil, err
	}
	source := &authn.Source{View: st.View, Keys: st.Keyring, Temporary: stsSvc.Credentials()}
	verifier := sigv4.NewVerifier(sigv4.Config{Credentials: source, Now: s.cfg.Now, Services: []string{"iam", "sts", "cloudtrail"}})
	front := &queryFront{
		log:      s.log,
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
	}
	if auditLog != nil {
		front.cloudtrail = &cloudtrailapi.Handler{Events: auditLog, Authorizer: authorizer}
	}
	if err := console.BootstrapRoot(context.Background(), st.Writer, st.View, passwords, s.cfg.Getenv(EnvAccountID), s.cfg.Getenv, s.log); err != nil {
		return nil, fmt.Errorf("root console password: %w", err)
	}
	web, err := console.New(console.Config{
		IAM: iamSvc, Validator: iamDispatch, View: st.View, Writer: st.Writer, Secrets: st.Keyring,
		Authorizer: authorizer, Passwords: passwords, Now: s.cfg.Now, Log: s.log,
		Origins: strings.FieldsFunc(s.cfg.Getenv(console.EnvOrigins), func(r rune) bool { return r == ',' }),
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", front)
	mux.Handle(console.Prefix+"/", web)
	mux.Handle(console.Prefix, web)
	mux.Handle(workload.Pattern, workload.NewHandler(workload.Config{
		View: st.View, Issuer: stsSvc, Trust: authorizer, Now: s.cfg.Now, Log: s.log,
	}))
	// The authorization API verifies requests signed for any service (s3,
	// an internal API), so its verifier has no service restriction.
	mux.Handle(authzapi.Pattern, authzapi.NewHandler(authzapi.Config{
		Verifier: sigv4.NewVerifier(sigv4.Config{Credentials: source, Now: s.cfg.Now}),
		Decider:  tracking.Decider(authorizer.Authorizer), Now: s.cfg.Now, Log: s.log,
		Audit: auditLog,
		Observe: func(c *authz.Caller, service, region string) {
			tracking.Observe(c, region)
			if c.Session == nil {
				s.usage.Used(c.AccessKeyID, service, region, c.Time)
			}
		},
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux, nil
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
	l, err := audit.Open(audit.Options{
		Dir: filepath.Join(s.cfg.DataDir, "audit"), Keys: st.Keyring.DeriveKeys(audit.KeyPurpose), Now: s.cfg.Now, Log: s.log,
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

// Handler returns the HTTP handler serving every endpoint.
func (s *Server) Handler() http.Handler { return s.handler }

// State returns the server's state (for tests and admin tools).
func (s *Server) State() *State { return s.state }

// Close flushes pending usage records and closes the store.
func (s *Server) Close() error {
	_ = s.usage.Flush(context.Background())
	_ = s.access.Flush(context.Background())
	if s.audit != nil {
		if err := s.audit.Close(); err != nil {
			s.log.Error("audit log close", "err", err)
		}
	}
	return s.state.Close()
}

// Serve runs background work (following other replicas, flushing usage)
// and serves HTTP on ln until ctx is done.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		s.state.View.Follow(ctx, s.state.Store, s.loadRev, s.cfg.FollowInterval, s.log)
	}()
	go func() { defer wg.Done(); s.usage.Run(ctx, time.Second) }()
	go func() { defer wg.Done(); s.access.Run(ctx, time.Second) }()
	defer wg.Wait()

	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() {
		if s.cfg.TLSCert != "" {
			errc <- hs.ServeTLS(ln, s.cfg.TLSCert, s.cfg.TLSKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		cancel()
		return err
	case <-ctx.Done():
		shutdown, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		err := hs.Shutdown(shutdown)
		<-errc
		return err
	}
}

// Run opens the server, listens on cfg.Addr and serves until ctx is done.
func Run(ctx context.Context, cfg Config) error {
	start := time.Now()
	s, err := New(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	s.log.Info("iamd listening", "endpoint", scheme+"://"+ln.Addr().String(), "data", cfg.DataDir,
		"accounts", len(s.state.View.Accounts()), "startup", time.Since(start).Round(time.Millisecond))
	err = s.Serve(ctx, ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
