// Package authzapi is iamd's authorization API for other services: an
// S3-compatible store or an internal API that accepts AWS SigV4-signed
// requests forwards the signature pieces of a request it received, with the
// action, resource and resource policy the request touches, to
//
//	POST /_iamd/authorize
//
// and gets back who signed it and whether iamd's policies allow it, with the
// explanation. iamd verifies the signature itself, so the service never
// sees a secret key (long-term or temporary), and decides with the same
// engine, identity policies, boundaries, session policies, resource policy
// and cross-account rules as its own APIs, plus the resource control
// policies and VPC endpoint policy the service passes. For a request an AWS
// service principal makes on its own behalf there is no signature to
// forward: the service names the principal and vouches for it.
//
// The API is an oracle about every principal's permissions, so its callers
// authenticate too: the call itself is SigV4-signed for the service "iamd"
// by a principal whose policies allow iamd:Authorize on the resource asked
// about (with the condition key iamd:Action holding the action); an
// account's root user may.
//
// The package serves the endpoint; the client is package authzclient.
// docs/authorization-api.md describes the JSON schema.
package authzapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iamd/iamd/internal/audit"
	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/sigv4"
	"github.com/iamd/iamd/internal/uuid"
	"github.com/iamd/iamd/policy"
)

// Path is the endpoint's path and Pattern its http.ServeMux pattern.
const (
	Path    = "/_iamd/authorize"
	Pattern = "POST " + Path
)

// Service is the SigV4 service name callers sign their calls with, and
// Action the permission they need.
const (
	Service = "iamd"
	Action  = "iamd:Authorize"
	// ActionKey is the condition key holding the action asked about, for
	// policies that limit which actions a service may ask about.
	ActionKey = "iamd:Action"
	// PrincipalServiceKey holds the service principal a call asks about
	// (principalService), absent otherwise: the caller vouches for the
	// service, so policies may limit who can ask about which services.
	PrincipalServiceKey = "iamd:PrincipalService"
)

// maxBody bounds a call's body: the forwarded request's headers, a resource
// policy (S3 allows 20 KB) and, when the service sends it instead of its
// hash, the forwarded request's body.
const maxBody = 1 << 20

// Decider decides requests; *authz.Authorizer implements it.
type Decider interface {
	Authorize(ctx context.Context, c *authz.Caller, req *authz.Request) error
	Explain(c *authz.Caller, req *authz.Request) (*policy.Explanation, error)
}

// Config configures a Handler.
type Config struct {
	// Verifier authenticates both the call and the forwarded request. It
	// must not restrict services: forwarded requests are signed for s3 or
	// any other service name.
	Verifier *sigv4.Verifier
	// Decider decides both the iamd:Authorize permission of the caller and
	// the forwarded request.
	Decider Decider
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
	// Observe, if set, is told of every authenticated forwarded request
	// (access key last-used tracking).
	Observe func(c *authz.Caller, service, region string)
	// Audit, if set, records every call (see audit.Authorization) before
	// it is answered; a call whose event cannot be recorded fails.
	Audit *audit.Log
}

// Handler serves POST /_iamd/authorize.
type Handler struct {
	cfg  Config
	bufs sync.Pool // *[]byte: request bodies and responses
	reqs sync.Pool // *callState
}

// callState is the per-call scratch space, pooled.
type callState struct {
	in     wireRequest
	header http.Header
	kvs    []authz.KV
	slab   []string
}

// NewHandler returns the authorization API handler.
func NewHandler(cfg Config) *Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{cfg: cfg}
	h.bufs.New = func() any { b := make([]byte, 0, 4096); return &b }
	h.reqs.New = func() any { return &callState{header: make(http.Header, 16)} }
	return h
}

// Error origins: who got the call wrong.
const (
	// OriginCaller: the calling service's own call was refused (bad
	// signature, no iamd:Authorize permission, malformed JSON).
	OriginCaller = "caller"
	// OriginRequest: the forwarded request is not authentic; the service
	// relays the error to its client.
	OriginRequest = "request"
)

// apiError is an error answered as {"error":{...}}.
type apiError struct {
	code, message, origin string
	status                int
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func invalid(msg string) *apiError {
	return &apiError{code: "InvalidParameterValue", message: msg, origin: OriginCaller, status: http.StatusBadRequest}
}

// ServeHTTP authenticates and authorizes the call, authenticates the
// forwarded request and answers with the decision.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := uuid.New()
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			h.cfg.Log.Error("panic serving authorization request", "request_id", requestID, "panic", p)
			h.writeError(w, requestID, internalFailure())
		}
	}()
	var rec *audit.Authorization
	if h.cfg.Audit != nil {
		rec = &audit.Authorization{Time: h.cfg.Now(), RequestID: requestID, CallerUserAgent: r.UserAgent()}
		if a := remoteAddr(r); a.IsValid() {
			rec.CallerIP = a.String()
		}
		_, _, rec.CallerKeyID = audit.CredentialScope(r.Header.Get("Authorization"))
	}
	bp := h.bufs.Get().(*[]byte)
	defer h.putBuf(bp)
	body, err := readBody((*bp)[:0], http.MaxBytesReader(w, r.Body, maxBody))
	*bp = body
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.answerError(w, r, requestID, rec, &apiError{code: "RequestEntityTooLarge", message: "Request body must be at most 1 MiB.", origin: OriginCaller, status: http.StatusRequestEntityTooLarge})
			return
		}
		h.answerError(w, r, requestID, rec, invalid("could not read the request body"))
		return
	}
	st := h.reqs.Get().(*callState)
	defer h.putState(st)
	res, aerr := h.serve(r, body, st, rec)
	if aerr != nil {
		h.answerError(w, r, requestID, rec, aerr)
		return
	}
	if rec != nil {
		rec.Decision = res.decision.String()
		if res.decision != policy.Allowed {
			rec.ErrorCode = "AccessDenied"
			if res.ex != nil {
				rec.ErrorMessage = res.ex.Message()
			}
		}
		if e := h.record(r, requestID, rec); e != nil {
			h.writeError(w, requestID, e)
			return
		}
	}
	out := h.bufs.Get().(*[]byte)
	defer h.putBuf(out)
	*out = appendResult((*out)[:0], requestID, res)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(*out)
}

// answerError records the failed call (when auditing) and answers it.
func (h *Handler) answerError(w http.ResponseWriter, r *http.Request, requestID string, rec *audit.Authorization, e *apiError) {
	if rec != nil {
		rec.ErrorCode, rec.ErrorMessage = e.code, e.message
		if re := h.record(r, requestID, rec); re != nil {
			e = re
		}
	}
	h.writeError(w, requestID, e)
}

// record records the call's event; an error means it could not be, and
// the call fails with it: 503 ServiceUnavailable while the trail cannot be
// written (a full disk: the trail says so once), InternalFailure otherwise.
func (h *Handler) record(r *http.Request, requestID string, rec *audit.Authorization) *apiError {
	err := h.cfg.Audit.Record(r.Context(), rec.Event())
	switch {
	case err == nil:
		return nil
	case errors.Is(err, audit.ErrUnavailable):
		return &apiError{code: "ServiceUnavailable", message: awsquery.MessageServiceUnavailable, origin: OriginCaller, status: http.StatusServiceUnavailable}
	}
	h.cfg.Log.Error("audit event not recorded; answering InternalFailure", "request_id", requestID, "err", err)
	return internalFailure()
}

func internalFailure() *apiError {
	return &apiError{code: "InternalFailure", message: "The request processing has failed because of an unknown error, exception or failure.", origin: OriginCaller, status: 500}
}

func (h *Handler) putBuf(bp *[]byte) {
	if cap(*bp) <= 64<<10 {
		*bp = (*bp)[:0]
		h.bufs.Put(bp)
	}
}

func (h *Handler) putState(st *callState) {
	st.in.reset()
	clear(st.header)
	st.kvs = st.kvs[:0]
	if cap(st.slab) > 1024 {
		st.slab = nil
	}
	clear(st.slab[:cap(st.slab)]) // drop references to the call's strings
	st.slab = st.slab[:0]
	h.reqs.Put(st)
}

// result is what a successful call answers.
type result struct {
	decision policy.Decision
	caller   *authz.Caller
	sig      *sigv4.Result
	ex       *policy.Explanation
}

// serve answers the call; rec, when not nil, learns what it established.
func (h *Handler) serve(r *http.Request, body []byte, st *callState, rec *audit.Authorization) (*result, *apiError) {
	ctx := r.Context()
	now := h.cfg.Now()
	// 1. The calling service.
	if r.Header.Get("Authorization") == "" && !r.URL.Query().Has("X-Amz-Credential") {
		return nil, fromSigV4(sigv4.ErrMissingAuthenticationToken, OriginCaller)
	}
	if r.ContentLength > 0 && len(r.Header["Content-Length"]) == 0 {
		// net/http moved the signed Content-Length out of the header; put
		// it back in place, which spares FromHTTP a copy of the header.
		r.Header["Content-Length"] = []string{strconv.FormatInt(r.ContentLength, 10)}
	}
	res, err := h.cfg.Verifier.Verify(ctx, sigv4.FromHTTP(r, body))
	if err != nil {
		return nil, h.authError(err, OriginCaller)
	}
	if res.Service != Service {
		return nil, &apiError{code: sigv4.CodeInvalidClientTokenID, message: "Credential should be scoped to correct service: '" + Service + "'.", origin: OriginCaller, status: http.StatusForbidden}
	}
	caller := callerOf(res, now)
	if caller == nil {
		return nil, &apiError{code: "InternalFailure", message: "The request processing has failed because of an unknown error, exception or failure.", origin: OriginCaller, status: 500}
	}
	caller.SourceIP = remoteAddr(r)
	caller.SecureTransport = r.TLS != nil
	caller.SetRequest(res.Region, r.UserAgent())
	if rec != nil {
		rec.Caller = caller
	}

	// 2. What it asks.
	in := &st.in
	if err := in.decode(body, &st.slab); err != nil {
		return nil, invalid("The request body is not a valid authorization request: " + err.Error())
	}
	if rec != nil {
		rec.Action, rec.Resource = in.action, in.resource
	}
	if aerr := in.validate(); aerr != nil {
		return nil, aerr
	}
	askCtx := []authz.KV{{Key: ActionKey, Values: []string{in.action}}}
	if svc := in.raw.PrincipalService; svc != "" {
		askCtx = append(askCtx, authz.KV{Key: PrincipalServiceKey, Values: []string{svc}})
	}
	if err := h.cfg.Decider.Authorize(ctx, caller, &authz.Request{
		Action: Action, Resource: in.resource, Context: askCtx,
	}); err != nil {
		if ae, ok := awsquery.As(err); ok {
			return nil, &apiError{code: ae.Code, message: ae.Message, origin: OriginCaller, status: ae.HTTPStatus}
		}
		h.cfg.Log.Error("authorize caller", "err", err)
		return nil, &apiError{code: "InternalFailure", message: "The request processing has failed because of an unknown error, exception or failure.", origin: OriginCaller, status: 500}
	}

	// 3. Who makes the request: the signer of the forwarded request, or
	// the service principal the caller vouches for.
	var (
		principal *authz.Caller
		fres      *sigv4.Result
		aerr      *apiError
	)
	if svc := in.raw.PrincipalService; svc != "" {
		principal = authz.ServiceCaller(svc, now)
		principal.SourceIP = in.sourceIP
		principal.SecureTransport = in.secureTransport
		if rec != nil {
			rec.ForwardedReached = true
			rec.Principal, rec.Account = principal, in.resourceAccount
			if in.sourceIP.IsValid() {
				rec.SourceIP = in.sourceIP.String()
			}
		}
	} else if principal, fres, aerr = h.forwarded(ctx, in, st, rec, now); aerr != nil {
		return nil, aerr
	}

	// 4. The decision.
	account := in.resourceAccount
	if account == "" {
		account = principal.Account
	}
	req := &authz.Request{
		Action: in.action, Resource: in.resource, Context: in.contextKVs(st),
		ResourcePolicy: in.resourcePolicy, ResourceAccount: account,
		ResourceControlPolicies: in.raw.ResourceControlPolicies, EndpointPolicy: in.raw.EndpointPolicy,
	}
	out := &result{caller: principal, sig: fres}
	if !in.explain {
		err := h.cfg.Decider.Authorize(ctx, principal, req)
		if err == nil {
			out.decision = policy.Allowed
			return out, nil
		}
		if _, ok := awsquery.As(err); !ok {
			return nil, h.decideError(err)
		}
	}
	ex, err := h.cfg.Decider.Explain(principal, req)
	if err != nil {
		return nil, h.decideError(err)
	}
	out.decision, out.ex = ex.Decision, ex
	return out, nil
}

// forwarded authenticates the forwarded request and returns its signer.
func (h *Handler) forwarded(ctx context.Context, in *wireRequest, st *callState, rec *audit.Authorization, now time.Time) (*authz.Caller, *sigv4.Result, *apiError) {
	fwd, aerr := in.sigv4Request(st.header)
	if aerr != nil {
		return nil, nil, aerr
	}
	if rec != nil {
		rec.ForwardedReached = true
		rec.Account = in.resourceAccount
		rec.UserAgent = headerGet(fwd.Header, "User-Agent")
		if in.sourceIP.IsValid() {
			rec.SourceIP = in.sourceIP.String()
		}
		rec.Service, rec.Region, rec.PrincipalKeyID = audit.CredentialScope(headerGet(fwd.Header, "Authorization"))
	}
	fres, err := h.cfg.Verifier.Verify(ctx, fwd)
	if err != nil {
		return nil, nil, h.authError(err, OriginRequest)
	}
	if in.bodySet && fres.Service == "s3" && isHexHash(fres.PayloadHash) && fres.PayloadHash != fwd.PayloadHash {
		return nil, nil, &apiError{code: "XAmzContentSHA256Mismatch", message: "The provided 'x-amz-content-sha256' header does not match what was computed.", origin: OriginRequest, status: http.StatusBadRequest}
	}
	principal := callerOf(fres, now)
	if principal == nil {
		return nil, nil, internalFailure()
	}
	principal.SourceIP = in.sourceIP
	principal.SecureTransport = in.secureTransport
	region := fres.Region
	if fres.Service == "iam" {
		region = "us-east-1" // IAM is global; its endpoint is there
	}
	principal.SetRequest(region, headerGet(fwd.Header, "User-Agent"))
	if rec != nil {
		rec.Principal, rec.Service, rec.Region = principal, fres.Service, fres.Region
		if rec.Account == "" {
			rec.Account = principal.Account
		}
	}
	if h.cfg.Observe != nil {
		h.cfg.Observe(principal, fres.Service, fres.Region)
	}
	return principal, fres, nil
}

// decideError maps a failure to decide: a policy of the call's that does
// not parse is the caller's mistake.
func (h *Handler) decideError(err error) *apiError {
	var pe *authz.PolicyError
	if errors.As(err, &pe) {
		msg := pe.Err.Error()
		var ve *policy.ValidationError
		if errors.As(pe.Err, &ve) {
			msg = ve.Message
		}
		return &apiError{code: "MalformedPolicyDocument", message: memberOf(pe) + ": " + msg, origin: OriginCaller, status: http.StatusBadRequest}
	}
	h.cfg.Log.Error("authorization decision failed", "err", err)
	return &apiError{code: "InternalFailure", message: "The request processing has failed because of an unknown error, exception or failure.", origin: OriginCaller, status: 500}
}

// memberOf names the call's member holding the policy pe is about.
func memberOf(pe *authz.PolicyError) string {
	switch pe.Field {
	case "ResourceControlPolicies":
		return "resourceControlPolicies[" + strconv.Itoa(pe.Level) + "]"
	case "EndpointPolicy":
		return "endpointPolicy"
	}
	return "resourcePolicy"
}

// authError maps a SigV4 failure; anything else is iamd's own failure.
func (h *Handler) authError(err error, origin string) *apiError {
	var se *sigv4.Error
	if errors.As(err, &se) {
		return fromSigV4(se, origin)
	}
	h.cfg.Log.Error("authentication failed", "origin", origin, "err", err)
	return &apiError{code: "InternalFailure", message: "The request processing has failed because of an unknown error, exception or failure.", origin: OriginCaller, status: 500}
}

func fromSigV4(se *sigv4.Error, origin string) *apiError {
	return &apiError{code: se.Code, message: se.Message, origin: origin, status: se.HTTPStatus}
}

// callerOf copies the authenticated principal's template.
func callerOf(res *sigv4.Result, now time.Time) *authz.Caller {
	template, _ := res.Principal.(*authz.Caller)
	if template == nil {
		return nil
	}
	c := *template
	c.Time = now
	return &c
}

func (h *Handler) writeError(w http.ResponseWriter, requestID string, e *apiError) {
	bp := h.bufs.Get().(*[]byte)
	defer h.putBuf(bp)
	*bp = appendError((*bp)[:0], requestID, e)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	_, _ = w.Write(*bp)
}

// readBody appends everything r yields to buf.
func readBody(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func isHexHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func headerGet(h http.Header, name string) string {
	if v, ok := h[name]; ok && len(v) > 0 {
		return v[0]
	}
	for k, v := range h {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}
