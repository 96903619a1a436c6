package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/sigv4"
	"github.com/iamd/iamd/internal/store"
)

// TestReadiness: /readyz answers 503 until the follower has caught up
// once, while the view lags more than the bound (saying why, and that the
// store cannot be read when it cannot), while the audit trail cannot take
// records, and once shutting down. /healthz answers 503 only once the
// trail has failed for good, which a restart mends.
func TestReadiness(t *testing.T) {
	now := time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC)
	lost := errors.New("dial tcp: connection refused")
	caughtUp := []iam.FollowPass{{Start: now.Add(-time.Second), Rev: 7}}
	full := errors.New("audit: write: no space left on device")
	tests := []struct {
		name     string
		maxLag   time.Duration
		passes   []iam.FollowPass
		draining bool
		trail    error
		lasting  bool // the trail's trouble
		ready    bool
		why      string
		dead     bool // /healthz answers 503
	}{
		{name: "loading", maxLag: time.Minute, why: "loading"},
		{name: "first pass failed", maxLag: time.Minute, passes: []iam.FollowPass{{Start: now, Err: lost}}, why: "loading"},
		{name: "caught up", maxLag: time.Minute, passes: []iam.FollowPass{{Start: now.Add(-time.Second), Rev: 7}}, ready: true},
		{name: "store lost within the bound", maxLag: time.Minute,
			passes: []iam.FollowPass{{Start: now.Add(-50 * time.Second), Rev: 7}, {Start: now.Add(-time.Second), Rev: 7, Err: lost}}, ready: true},
		{name: "store lost past the bound", maxLag: time.Minute,
			passes: []iam.FollowPass{{Start: now.Add(-2 * time.Minute), Rev: 7}, {Start: now.Add(-time.Second), Rev: 7, Err: lost}},
			why:    "lags the store by 2m0s (more than 1m0s); the store cannot be read: dial tcp: connection refused"},
		{name: "lagging past the bound", maxLag: time.Minute,
			passes: []iam.FollowPass{{Start: now.Add(-90 * time.Second), Rev: 7}}, why: "lags the store by 1m30s"},
		{name: "no bound", passes: []iam.FollowPass{{Start: now.Add(-time.Hour), Rev: 7}, {Start: now, Err: lost}}, ready: true},
		{name: "shutting down", maxLag: time.Minute, passes: []iam.FollowPass{{Start: now, Rev: 7}}, draining: true, why: "shutting down"},
		{name: "trail cannot write", maxLag: time.Minute, passes: caughtUp, trail: full,
			why: "the audit trail cannot be written; requests are refused until it can (retrying): audit: write: no space left on device"},
		{name: "trail failed for good", maxLag: time.Minute, passes: caughtUp, trail: errors.New("audit: sync: input/output error"), lasting: true,
			why: "the audit trail failed and refuses every request until iamd restarts", dead: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &health{maxLag: tc.maxLag, now: func() time.Time { return now }, view: iam.NewView(),
				trail: func() (bool, error) { return tc.lasting, tc.trail }}
			for _, p := range tc.passes {
				h.followed(p)
			}
			h.draining.Store(tc.draining)
			w := httptest.NewRecorder()
			h.serveReadyz(w, httptest.NewRequest("GET", "/readyz", nil))
			if got := w.Code == http.StatusOK; got != tc.ready {
				t.Fatalf("ready = %v (%d %q), want %v", got, w.Code, w.Body, tc.ready)
			}
			if !tc.ready && (w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), tc.why)) {
				t.Errorf("got %d %q, want 503 saying %q", w.Code, w.Body, tc.why)
			}
			if st := h.status(); st.Ready != tc.ready {
				t.Errorf("status().Ready = %v, want %v", st.Ready, tc.ready)
			}
			w = httptest.NewRecorder()
			h.serveHealthz(w, httptest.NewRequest("GET", "/healthz", nil))
			if dead := w.Code != http.StatusOK; dead != tc.dead || dead && !strings.Contains(w.Body.String(), tc.why) {
				t.Errorf("/healthz: %d %q, want 503: %v", w.Code, w.Body, tc.dead)
			}
		})
	}
}

// startServer serves a new server on a loopback port until the test ends.
// The returned function waits for Serve to return, and returns its error.
func startServer(t *testing.T, cfg Config) (*Server, string, context.CancelFunc, func() error) {
	t.Helper()
	vars := map[string]string{EnvAccountID: benchAccount, EnvRootAccessKey: benchKeyID, EnvRootSecretKey: benchSecret}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.Getenv = envMap(vars)
	if cfg.FollowInterval == 0 {
		cfg.FollowInterval = 10 * time.Millisecond
	}
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	wait := sync.OnceValue(func() error { return <-done })
	t.Cleanup(func() {
		cancel()
		_ = wait()
		s.Close()
	})
	return s, "http://" + ln.Addr().String(), cancel, wait
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeHealthAndGracefulShutdown: /healthz answers at once, /readyz
// once the follower has caught up; at shutdown a request in flight (its
// body still arriving) is finished and answered, and Serve returns nil.
func TestServeHealthAndGracefulShutdown(t *testing.T) {
	s, url, cancel, done := startServer(t, Config{})
	if code, _ := get(t, url+"/healthz"); code != 200 {
		t.Fatalf("/healthz: %d", code)
	}
	waitFor(t, "/readyz to answer 200", func() bool { code, _ := get(t, url+"/readyz"); return code == 200 })

	// A request whose body is still arriving when the shutdown starts.
	body := "Action=GetCallerIdentity&Version=2011-06-15"
	pr, pw := io.Pipe()
	req, err := http.NewRequest("POST", url+"/", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	type result struct {
		status int
		body   []byte
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		res <- result{resp.StatusCode, b, err}
	}()
	if _, err := pw.Write([]byte(body[:10])); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the request to reach the handler", func() bool { return s.health.inFlight.Load() == 1 })
	cancel()
	waitFor(t, "the shutdown to start", s.health.draining.Load)
	if _, err := pw.Write([]byte(body[10:])); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	r := <-res
	if r.err != nil {
		t.Fatalf("request in flight failed: %v", r.err)
	}
	// Unsigned GetCallerIdentity is refused, but answered.
	if r.status != http.StatusForbidden || !strings.Contains(string(r.body), "MissingAuthenticationToken") {
		t.Errorf("in-flight request: %d %s", r.status, r.body)
	}
	if err := done(); err != nil {
		t.Errorf("Serve: %v", err)
	}
	if resp, err := http.Get(url + "/healthz"); err == nil {
		resp.Body.Close()
		t.Error("still accepting connections after shutdown")
	}
}

// TestDrainingAsksClientsToClose: once shutting down, responses ask the
// client to close the connection, and /readyz answers 503.
func TestDrainingAsksClientsToClose(t *testing.T) {
	s, url, _, _ := startServer(t, Config{})
	s.health.draining.Store(true)
	resp, err := http.Post(url+"/", "application/x-www-form-urlencoded", strings.NewReader("Action=GetCallerIdentity&Version=2011-06-15"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !resp.Close {
		t.Error("response while draining does not close the connection")
	}
	if code, body := get(t, url+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "shutting down") {
		t.Errorf("/readyz while draining: %d %q", code, body)
	}
}

// TestShutdownTimeout: a request that does not finish within the shutdown
// timeout has its connection closed, and Serve returns.
func TestShutdownTimeout(t *testing.T) {
	s, url, cancel, done := startServer(t, Config{ShutdownTimeout: 50 * time.Millisecond})
	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := http.NewRequest("POST", url+"/", pr)
	req.ContentLength = 100
	res := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		res <- err
	}()
	if _, err := pw.Write([]byte("Action=")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the request to reach the handler", func() bool { return s.health.inFlight.Load() == 1 })
	cancel()
	if err := done(); err != nil {
		t.Errorf("Serve: %v", err)
	}
	// The client learns the connection is gone once it stops sending.
	pw.Close()
	if err := <-res; err == nil {
		t.Error("a request stuck past the shutdown timeout was answered")
	}
}

// downStore is a store whose commits fail as when the database is down.
type downStore struct{ store.Store }

func (downStore) Commit(context.Context, []store.Op) (store.Result, error) {
	return store.Result{}, errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
}

// TestStoreDown: while the store cannot commit, reads are answered from
// the view and writes fail with ServiceFailure, which SDKs retry.
func TestStoreDown(t *testing.T) {
	vars := map[string]string{EnvAccountID: benchAccount, EnvRootAccessKey: benchKeyID, EnvRootSecretKey: benchSecret}
	s, err := New(context.Background(), Config{DataDir: t.TempDir(), Getenv: envMap(vars)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	root := sigv4.Credentials{AccessKeyID: benchKeyID, SecretAccessKey: benchSecret}
	if w := signedCall(t, s.Handler(), root, "Action", "CreateUser", "UserName", "before"); w.Code != 200 {
		t.Fatalf("CreateUser: %d %s", w.Code, w.Body)
	}
	s.State().Writer.Store = timedStore{Store: downStore{s.State().Store}, m: s.metrics, log: s.log}
	if w := signedCall(t, s.Handler(), root, "Action", "GetUser", "UserName", "before"); w.Code != 200 {
		t.Errorf("GetUser with the store down: %d %s", w.Code, w.Body)
	}
	w := signedCall(t, s.Handler(), root, "Action", "CreateUser", "UserName", "during")
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "<Code>ServiceFailure</Code>") {
		t.Errorf("CreateUser with the store down: %d %s", w.Code, w.Body)
	}
	if got := metricValue(t, s, "iamd_store_commit_duration_seconds", map[string]string{"result": "error"}); got != 1 {
		t.Errorf("failed commits counted: %v", got)
	}
}

// signedCall serves an IAM request signed with c.
func signedCall(t *testing.T, h http.Handler, c sigv4.Credentials, kv ...string) *httptest.ResponseRecorder {
	t.Helper()
	form := url.Values{"Version": {"2010-05-08"}}
	for i := 0; i < len(kv); i += 2 {
		form.Set(kv[i], kv[i+1])
	}
	body := form.Encode()
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	signer := &sigv4.Signer{Credentials: c, Region: "us-east-1", Service: "iam"}
	if err := signer.Sign(r, []byte(body)); err != nil {
		t.Fatal(err)
	}
	r.Body = nopBody{strings.NewReader(body)}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestLoadingHandler: while the server loads, /healthz answers 200 and
// /readyz 503, and API requests wait to be served by the loaded server.
func TestLoadingHandler(t *testing.T) {
	l := &loadingHandler{loaded: make(chan struct{})}
	serve := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		l.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w
	}
	if w := serve("/healthz"); w.Code != 200 {
		t.Errorf("/healthz while loading: %d", w.Code)
	}
	if w := serve("/readyz"); w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "loading") {
		t.Errorf("/readyz while loading: %d %q", w.Code, w.Body)
	}
	waiting := make(chan *httptest.ResponseRecorder)
	go func() { waiting <- serve("/") }()
	l.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	close(l.loaded)
	if w := <-waiting; w.Code != http.StatusTeapot {
		t.Errorf("API request during the load: %d, want the loaded server's answer", w.Code)
	}
	if w := serve("/readyz"); w.Code != http.StatusTeapot {
		t.Errorf("/readyz once loaded: %d, want the loaded server's answer", w.Code)
	}
}
