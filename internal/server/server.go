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
	"sync"
	"time"

	"github.com/iamd/iamd/internal/authn"
	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/iamapi"
	"github.com/iamd/iamd/internal/managedpolicies"
	"github.com/iamd/iamd/internal/sigv4"
	"github.com/iamd/iamd/internal/stsapi"
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
}

// Server is a running iamd.
type Server struct {
	cfg     Config
	log     *slog.Logger
	state   *State
	usage   *iam.UsageTracker
	handler http.Handler
	loadRev int64
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
	authorizer := authz.New(st.View, managed)
	s.usage = iam.NewUsageTracker(st.Writer)
	iamSvc := iamapi.New(iamapi.Config{
		View: st.View, Writer: st.Writer, Secrets: st.Keyring, Authorizer: authorizer,
		Managed: managed, Quotas: s.cfg.Quotas, Now: s.cfg.Now, Log: s.log, Usage: s.usage,
	})
	iamDispatch, err := iamapi.NewDispatcher(iamSvc)
	if err != nil {
		return nil, err
	}
	stsDispatch, err := stsapi.NewDispatcher(stsapi.New())
	if err != nil {
		return nil, err
	}
	source := &authn.Source{View: st.View, Keys: st.Keyring}
	verifier := sigv4.NewVerifier(sigv4.Config{Credentials: source, Now: s.cfg.Now, Services: []string{"iam", "sts"}})
	front := &queryFront{
		log:      s.log,
		verifier: verifier,
		apis:     map[string]QueryAPI{"iam": iamDispatch, "sts": stsDispatch},
		versions: map[string]string{iamapi.Version: "iam", stsapi.Version: "sts"},
		unsigned: map[string]UnsignedActions{"sts": {"AssumeRoleWithWebIdentity": true, "AssumeRoleWithSAML": true}},
		now:      s.cfg.Now,
		observe: func(c *authz.Caller, service, region string) {
			if c.Session == nil {
				s.usage.Used(c.AccessKeyID, service, region, c.Time)
			}
		},
	}
	mux := http.NewServeMux()
	mux.Handle("/", front)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux, nil
}

// Handler returns the HTTP handler serving every endpoint.
func (s *Server) Handler() http.Handler { return s.handler }

// State returns the server's state (for tests and admin tools).
func (s *Server) State() *State { return s.state }

// Close flushes pending usage records and closes the store.
func (s *Server) Close() error {
	_ = s.usage.Flush(context.Background())
	return s.state.Close()
}

// Serve runs background work (following other replicas, flushing usage)
// and serves HTTP on ln until ctx is done.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.state.View.Follow(ctx, s.state.Store, s.loadRev, s.cfg.FollowInterval, s.log)
	}()
	go func() { defer wg.Done(); s.usage.Run(ctx, time.Second) }()
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
