package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/iamapi"
	"github.com/iamd/iamd/internal/metrics"
	"github.com/iamd/iamd/internal/store"
	"github.com/iamd/iamd/policy"
)

// decider is everything the services ask of the authorizer;
// *authz.Authorizer and audit.Authorizer implement it.
type decider interface {
	Authorize(ctx context.Context, c *authz.Caller, req *authz.Request) error
	AuthorizeTrust(ctx context.Context, c *authz.Caller, tr *authz.TrustRequest) error
	TrustAllows(fr *authz.FederatedTrustRequest) bool
	Explain(c *authz.Caller, req *authz.Request) (*policy.Explanation, error)
}

// countingAuthorizer counts the decisions of next by result.
type countingAuthorizer struct {
	next decider
	m    *metrics.Registry
}

func (a countingAuthorizer) Authorize(ctx context.Context, c *authz.Caller, req *authz.Request) error {
	err := a.next.Authorize(ctx, c, req)
	a.count(err)
	return err
}

func (a countingAuthorizer) AuthorizeTrust(ctx context.Context, c *authz.Caller, tr *authz.TrustRequest) error {
	err := a.next.AuthorizeTrust(ctx, c, tr)
	a.count(err)
	return err
}

func (a countingAuthorizer) TrustAllows(fr *authz.FederatedTrustRequest) bool {
	ok := a.next.TrustAllows(fr)
	a.m.Decision(ok, false)
	return ok
}

func (a countingAuthorizer) Explain(c *authz.Caller, req *authz.Request) (*policy.Explanation, error) {
	ex, err := a.next.Explain(c, req)
	a.m.Decision(err == nil && ex != nil && ex.Decision == policy.Allowed, err != nil)
	return ex, err
}

// count counts a decision from its error: nil is an allow, a refusal
// (authz.Denied, or an API error) a deny, anything else a failure to
// decide.
func (a countingAuthorizer) count(err error) {
	if err == nil {
		a.m.Decision(true, false)
		return
	}
	var denied *authz.Denied
	var ae *awsquery.Error
	a.m.Decision(false, !errors.As(err, &denied) && !errors.As(err, &ae))
}

// timedStore is the writers' store: it times their commits, and makes a
// commit that fails for another reason than a conflict (the database is
// down or unreachable) an error the APIs answer as ServiceFailure, as
// AWS's IAM does, after logging its cause (the APIs log only unexpected
// errors).
type timedStore struct {
	store.Store
	m   *metrics.Registry
	log *slog.Logger
}

func (s timedStore) Commit(ctx context.Context, ops []store.Op) (store.Result, error) {
	start := time.Now()
	res, err := s.Store.Commit(ctx, ops)
	r := metrics.CommitOK
	switch {
	case errors.Is(err, store.ErrConflict):
		r = metrics.CommitConflict
	case err != nil:
		r = metrics.CommitError
		s.log.Error("store commit failed; answering ServiceFailure", "err", err)
		err = &commitFailed{err: err}
	}
	s.m.Commit(time.Since(start), r)
	return res, err
}

// commitFailed is a commit that failed for want of the store. It wraps the
// cause and the ServiceFailure error that the APIs answer (they write the
// first *awsquery.Error in an error's chain).
type commitFailed struct{ err error }

func (e *commitFailed) Error() string { return "commit: " + e.err.Error() }

func (e *commitFailed) Unwrap() []error {
	return []error{e.err, iamapi.ServiceFailureError("The request processing has failed because of an unknown error, exception or failure.")}
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Status() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// statusWriters are reused so that the request path allocates none.
var statusWriters = sync.Pool{New: func() any { return new(statusWriter) }}

func getStatusWriter(w http.ResponseWriter) *statusWriter {
	sw := statusWriters.Get().(*statusWriter)
	sw.ResponseWriter, sw.status = w, 0
	return sw
}

func putStatusWriter(sw *statusWriter) {
	sw.ResponseWriter = nil
	statusWriters.Put(sw)
}

// instrumented counts the requests of a handler that serves a whole API
// under one action label.
func instrumented(h http.Handler, act *metrics.Action, drain *health) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		drain.begin(w)
		defer drain.inFlight.Add(-1)
		sw := getStatusWriter(w)
		h.ServeHTTP(sw, r)
		act.Observe(sw.Status(), time.Since(start))
		putStatusWriter(sw)
	})
}

// begin counts a request in flight until the caller's inFlight.Add(-1),
// and once shutting down asks the client to open a new connection for its
// next request (to another replica, through the balancer).
func (h *health) begin(w http.ResponseWriter) {
	h.inFlight.Add(1)
	if h.draining.Load() {
		w.Header().Set("Connection", "close")
	}
}

// countView reports the entities of the view by kind.
func countView(v *iam.View) func(add func(kind string, n int)) {
	return func(add func(kind string, n int)) {
		accounts := v.Accounts()
		var users, groups, roles, policies, profiles, mfa, oidc, saml int
		for _, id := range accounts {
			v.Read(id, func(a *iam.AccountView) {
				users += a.UserCount()
				groups += a.GroupCount()
				roles += a.RoleCount()
				policies += a.PolicyCount()
				profiles += a.InstanceProfileCount()
				mfa += a.MFADeviceCount()
				oidc += a.OIDCProviderCount()
				saml += a.SAMLProviderCount()
			})
		}
		add("account", len(accounts))
		add("user", users)
		add("group", groups)
		add("role", roles)
		add("policy", policies)
		add("instance_profile", profiles)
		add("mfa_device", mfa)
		add("oidc_provider", oidc)
		add("saml_provider", saml)
	}
}
