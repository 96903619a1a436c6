package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/iamd/iamd/internal/audit"
	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/cloudtrailapi"
	"github.com/iamd/iamd/internal/metrics"
	"github.com/iamd/iamd/internal/sigv4"
	"github.com/iamd/iamd/internal/uuid"
)

// maxBody bounds a Query API request body. The largest legitimate bodies are
// SAML assertions (up to 100,000 characters, base64) and policy documents.
const maxBody = 1 << 20

// QueryAPI serves one AWS Query protocol API (IAM or STS) once the request
// is authenticated.
type QueryAPI interface {
	// ServeOperation decodes, runs and answers one operation. The caller,
	// if the request was signed, is in ctx (authz.CallerFrom). It returns
	// the cause of an internal failure for the log.
	ServeOperation(ctx context.Context, w http.ResponseWriter, form url.Values, requestID string) error
	// WriteError answers with an error in the API's XML namespace.
	WriteError(w http.ResponseWriter, err error, requestID string) error
}

// UnsignedActions lists, per API, the operations that take no signature
// (the STS federation calls carry their own proof).
type UnsignedActions map[string]bool

// queryFront authenticates Query API requests and routes them by the SigV4
// service name (unsigned requests by their Version parameter).
type queryFront struct {
	log      *slog.Logger
	verifier *sigv4.Verifier
	apis     map[string]QueryAPI // "iam", "sts"
	versions map[string]string   // API version → service name
	unsigned map[string]UnsignedActions
	now      func() time.Time
	observe  func(c *authz.Caller, service, region string) // records key usage; may be nil
	// audit records every request; a response is sent only once its event
	// is durable. nil disables auditing.
	audit *audit.Log
	// cloudtrail serves JSON-protocol requests signed for "cloudtrail".
	cloudtrail *cloudtrailapi.Handler
	metrics    *metrics.Registry
	// apiMetrics counts requests by service name ("" for requests that
	// name none the front serves).
	apiMetrics map[string]*metrics.API
	health     *health

	// globalRegion is the region of IAM's global endpoint in the
	// partition: aws:RequestedRegion of IAM requests.
	globalRegion string
}

func (f *queryFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	f.health.begin(w)
	defer f.health.inFlight.Add(-1)
	sw := getStatusWriter(w)
	requestID := uuid.New()
	service, action := f.serveAudited(sw, r, requestID)
	api := f.apiMetrics[service]
	if api == nil {
		api = f.apiMetrics[""]
	}
	took := time.Since(start)
	api.Action(action).Observe(sw.Status(), took)
	if f.log.Enabled(r.Context(), slog.LevelDebug) {
		// The request ID is the x-amzn-RequestId header's and the audit
		// event's.
		f.log.LogAttrs(r.Context(), slog.LevelDebug, "request", slog.String("request_id", requestID),
			slog.String("api", service), slog.String("action", action), slog.Int("status", sw.Status()), slog.Duration("took", took))
	}
	putStatusWriter(sw)
}

// serveAudited serves a request and records its audit event, and returns
// the service and action the request was for, as far as they are known.
func (f *queryFront) serveAudited(w http.ResponseWriter, r *http.Request, requestID string) (service, action string) {
	call := f.audit.Begin(w, r, requestID, f.now())
	if call == nil {
		return f.serveHTTP(w, r, requestID, nil)
	}
	defer call.Close()
	service, action = f.serveHTTP(call, r, requestID, call)
	start := time.Now()
	err := call.Finish(r.Context())
	f.metrics.AuditRecord(time.Since(start))
	if err != nil {
		if errors.Is(err, audit.ErrUnavailable) {
			// A full disk, say: the trail says so once, and the client
			// retries a 503.
			f.apis["iam"].WriteError(w, awsquery.ServiceUnavailable(), requestID)
		} else {
			f.log.Error("audit event not recorded; answering InternalFailure", "request_id", requestID, "err", err)
			f.apis["iam"].WriteError(w, awsquery.InternalFailure(), requestID)
		}
	}
	return service, action
}

// serveHTTP serves a request, writing to w (the audit call's buffer when
// auditing) and telling call what it learns about the request. It returns
// the service and action the request was for, as far as they are known.
func (f *queryFront) serveHTTP(w http.ResponseWriter, r *http.Request, requestID string, call *audit.Call) (service, action string) {
	fallback := f.apis["iam"]
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			f.log.Error("panic serving request", "request_id", requestID, "panic", p)
			fallback.WriteError(w, awsquery.InternalFailure(), requestID)
		}
	}()
	body, err := readBody(w, r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			fallback.WriteError(w, &awsquery.Error{Code: "RequestEntityTooLarge", Message: "Request body must be at most 1 MiB.", HTTPStatus: http.StatusRequestEntityTooLarge, Sender: true}, requestID)
			return
		}
		fallback.WriteError(w, awsquery.MalformedQueryString("could not read the request body"), requestID)
		return
	}
	if f.cloudtrail != nil && cloudtrailapi.IsJSONRequest(r) {
		return "cloudtrail", f.serveJSON(w, r, body, requestID, call)
	}
	form, err := awsquery.ParseForm(r, body)
	if err != nil {
		fallback.WriteError(w, err, requestID)
		return
	}
	call.SetForm(form)
	action = form.Get("Action")

	ctx := r.Context()
	if isSigned(r) {
		res, err := f.verifier.Verify(ctx, sigv4.SharedFromHTTP(r, body))
		if err != nil {
			// Counted under the API its Version names.
			service = f.versions[form.Get("Version")]
			f.writeAuthError(w, err, form, requestID)
			return
		}
		service = res.Service
		call.SetService(service, res.Region)
		api, ok := f.apis[service]
		if !ok {
			f.metrics.SigV4Failure("InvalidClientTokenId")
			fallback.WriteError(w, &awsquery.Error{Code: "InvalidClientTokenId", Message: "Credential should be scoped to correct service: 'iam'.", HTTPStatus: 403, Sender: true}, requestID)
			return
		}
		caller := f.callerOf(r, res)
		if caller == nil {
			api.WriteError(w, awsquery.InternalFailure(), requestID)
			return
		}
		call.SetCaller(caller)
		if caller.CredentialForbids(service + ":" + action) {
			api.WriteError(w, credentialForbidden(service, action), requestID)
			return
		}
		f.serve(authz.WithCaller(ctx, caller), api, w, form, requestID)
		return
	}
	service = f.versions[form.Get("Version")]
	call.SetService(service, "")
	if service == "" || !f.unsigned[service][action] {
		api := fallback
		if a, ok := f.apis[service]; ok {
			api = a
		}
		f.metrics.SigV4Failure(sigv4.CodeMissingAuthenticationToken)
		api.WriteError(w, &awsquery.Error{Code: sigv4.CodeMissingAuthenticationToken, Message: sigv4.ErrMissingAuthenticationToken.Message, HTTPStatus: http.StatusForbidden, Sender: true}, requestID)
		return
	}
	f.serve(ctx, f.apis[service], w, form, requestID)
	return
}

// readBody reads the request body, at most maxBody bytes of it, into a
// buffer of the length the client announced (io.ReadAll would start at
// 512 bytes, several times a typical Query API body).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	rd := http.MaxBytesReader(w, r.Body, maxBody)
	n := r.ContentLength
	if n <= 0 || n > maxBody {
		return io.ReadAll(rd)
	}
	// One byte more than announced, so that the read that meets the end
	// of the body has room and the buffer need not grow.
	b := make([]byte, 0, n+1)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		m, err := rd.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// callerOf builds the request's caller from the authenticated principal,
// or returns nil if there is none.
func (f *queryFront) callerOf(r *http.Request, res *sigv4.Result) *authz.Caller {
	template, _ := res.Principal.(*authz.Caller)
	if template == nil {
		return nil
	}
	caller := *template
	caller.Time = f.now()
	caller.SourceIP = remoteAddr(r)
	caller.SecureTransport = r.TLS != nil
	region := res.Region
	if res.Service == "iam" {
		// IAM is global; its endpoint is in the partition's global region
		// (us-east-1 in aws), whatever region the client signed for.
		region = f.globalRegion
	}
	caller.SetRequest(region, r.UserAgent())
	if f.observe != nil {
		f.observe(&caller, res.Service, res.Region)
	}
	return &caller
}

// serveJSON authenticates and serves a JSON-protocol (CloudTrail) request,
// and returns its operation.
func (f *queryFront) serveJSON(w http.ResponseWriter, r *http.Request, body []byte, requestID string, call *audit.Call) (operation string) {
	target := r.Header.Get("X-Amz-Target")
	operation = target[len(cloudtrailapi.TargetPrefix):]
	call.SetJSON(operation, body)
	call.SetService("cloudtrail", "")
	if !isSigned(r) {
		f.metrics.SigV4Failure(sigv4.CodeMissingAuthenticationToken)
		cloudtrailapi.WriteError(w, &awsquery.Error{Code: sigv4.CodeMissingAuthenticationToken, Message: sigv4.ErrMissingAuthenticationToken.Message, HTTPStatus: http.StatusBadRequest, Sender: true}, requestID)
		return
	}
	res, err := f.verifier.Verify(r.Context(), sigv4.SharedFromHTTP(r, body))
	if err != nil {
		var se *sigv4.Error
		if !errors.As(err, &se) {
			f.metrics.SigV4Failure("InternalFailure")
			f.log.Error("authentication failed", "request_id", requestID, "err", err)
			cloudtrailapi.WriteError(w, err, requestID)
			return
		}
		f.metrics.SigV4Failure(se.Code)
		cloudtrailapi.WriteError(w, &awsquery.Error{Code: se.Code, Message: se.Message, HTTPStatus: se.HTTPStatus, Sender: se.HTTPStatus < 500}, requestID)
		return
	}
	call.SetService(res.Service, res.Region)
	if res.Service != "cloudtrail" {
		f.metrics.SigV4Failure("InvalidSignatureException")
		cloudtrailapi.WriteError(w, &awsquery.Error{Code: "InvalidSignatureException", Message: "Credential should be scoped to correct service: 'cloudtrail'.", HTTPStatus: http.StatusBadRequest, Sender: true}, requestID)
		return
	}
	caller := f.callerOf(r, res)
	if caller == nil {
		cloudtrailapi.WriteError(w, awsquery.InternalFailure(), requestID)
		return
	}
	call.SetCaller(caller)
	if err := f.cloudtrail.Serve(authz.WithCaller(r.Context(), caller), w, target, body, requestID); err != nil {
		var ce *cloudtrailapi.Error
		if _, ok := awsquery.As(err); !errors.As(err, &ce) && !ok {
			f.log.Error("internal failure", "request_id", requestID, "target", target, "err", err)
		}
	}
	return operation
}

func (f *queryFront) serve(ctx context.Context, api QueryAPI, w http.ResponseWriter, form url.Values, requestID string) {
	if err := api.ServeOperation(ctx, w, form, requestID); err != nil {
		if _, ok := awsquery.As(err); !ok {
			f.log.Error("internal failure", "request_id", requestID, "action", form.Get("Action"), "err", err)
		}
	}
}

// writeAuthError answers an authentication failure in the namespace of the
// API the request meant, as far as it can tell.
func (f *queryFront) writeAuthError(w http.ResponseWriter, err error, form url.Values, requestID string) {
	api := f.apis["iam"]
	if a, ok := f.apis[f.versions[form.Get("Version")]]; ok {
		api = a
	}
	var se *sigv4.Error
	if errors.As(err, &se) {
		f.metrics.SigV4Failure(se.Code)
		api.WriteError(w, &awsquery.Error{Code: se.Code, Message: se.Message, HTTPStatus: se.HTTPStatus, Sender: se.HTTPStatus < 500}, requestID)
		return
	}
	f.metrics.SigV4Failure("InternalFailure")
	f.log.Error("authentication failed", "request_id", requestID, "err", err)
	api.WriteError(w, awsquery.InternalFailure(), requestID)
}

// credentialForbidden is AWS's answer to temporary credentials used where
// they never may be (authz.Caller.CredentialForbids): IAM does not accept
// the token at all, STS refuses the call.
func credentialForbidden(service, action string) error {
	if service == "iam" {
		return &awsquery.Error{Code: sigv4.CodeInvalidClientTokenID, Message: sigv4.ErrInvalidClientTokenID.Message, HTTPStatus: http.StatusForbidden, Sender: true}
	}
	return &awsquery.Error{Code: "AccessDenied", Message: "Cannot call " + action + " with session credentials", HTTPStatus: http.StatusForbidden, Sender: true}
}

// isSigned reports whether the request carries a SigV4 signature in either
// form.
func isSigned(r *http.Request) bool {
	return r.Header.Get("Authorization") != "" || r.URL.Query().Has("X-Amz-Signature") ||
		r.URL.Query().Has("X-Amz-Credential")
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
