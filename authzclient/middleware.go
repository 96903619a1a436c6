package authzclient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
)

// Resolver says what a request asks to do: its action, resource, resource
// policy and context keys. An error is answered 400 InvalidRequest with its
// text.
type Resolver func(r *http.Request) (*Input, error)

// MiddlewareOption configures Middleware.
type MiddlewareOption func(*middleware)

// WithMaxBody sets how much of a body the middleware reads to hash it when
// the request has no X-Amz-Content-Sha256 header (default 1 MiB; larger
// bodies are refused with 413).
func WithMaxBody(n int64) MiddlewareOption { return func(m *middleware) { m.maxBody = n } }

// WithErrorWriter replaces the default S3-style XML error responses.
func WithErrorWriter(f func(w http.ResponseWriter, r *http.Request, status int, code, message string)) MiddlewareOption {
	return func(m *middleware) { m.writeError = f }
}

type middleware struct {
	c          *Client
	resolve    Resolver
	next       http.Handler
	maxBody    int64
	writeError func(w http.ResponseWriter, r *http.Request, status int, code, message string)
}

// Middleware authorizes every request with iamd before next sees it.
// Denied requests are answered 403 AccessDenied, requests whose signature
// iamd rejects with its error code and status, failures to reach iamd 503;
// next finds the decision (the principal) with FromContext.
//
// A request without an X-Amz-Content-Sha256 header has its body read (and
// put back) to hash it, since its signature covers it.
func (c *Client) Middleware(resolve Resolver, next http.Handler, opts ...MiddlewareOption) http.Handler {
	m := &middleware{c: c, resolve: resolve, next: next, maxBody: 1 << 20, writeError: writeS3Error}
	for _, o := range opts {
		o(m)
	}
	return m
}

type decisionKey struct{}

// FromContext returns the decision that let the request through, or nil.
func FromContext(ctx context.Context) *Decision {
	d, _ := ctx.Value(decisionKey{}).(*Decision)
	return d
}

func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	in, err := m.resolve(r)
	if err != nil {
		m.writeError(w, r, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	req := RequestFromHTTP(r)
	if r.Header.Get("X-Amz-Content-Sha256") == "" && r.Body != nil && r.Body != http.NoBody {
		body, err := io.ReadAll(io.LimitReader(r.Body, m.maxBody+1))
		if err != nil {
			m.writeError(w, r, http.StatusBadRequest, "IncompleteBody", "The request body could not be read.")
			return
		}
		if int64(len(body)) > m.maxBody {
			m.writeError(w, r, http.StatusRequestEntityTooLarge, "EntityTooLarge", "The request body is too large to verify its signature.")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		sum := sha256.Sum256(body)
		req.PayloadHash = hex.EncodeToString(sum[:])
	}
	if in.SourceIP == "" {
		cp := *in
		cp.SourceIP = remoteIP(r.RemoteAddr)
		cp.SecureTransport = r.TLS != nil
		in = &cp
	}
	d, err := m.c.AuthorizeRequest(r.Context(), req, in)
	if err != nil {
		var ae *Error
		if errors.As(err, &ae) && ae.FromRequest() {
			m.writeError(w, r, ae.HTTPStatus, ae.Code, ae.Message)
			return
		}
		// The service's own call failed: its client is not at fault, and
		// nothing may be allowed without a decision.
		m.writeError(w, r, http.StatusServiceUnavailable, "ServiceUnavailable", "Authorization is unavailable; retry the request.")
		return
	}
	if !d.Allowed() {
		m.writeError(w, r, http.StatusForbidden, "AccessDenied", "Access Denied")
		return
	}
	m.next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), decisionKey{}, d)))
}

// writeS3Error answers with S3's error document.
func writeS3Error(w http.ResponseWriter, _ *http.Request, status int, code, message string) {
	var body struct {
		XMLName xml.Name `xml:"Error"`
		Code    string   `xml:"Code"`
		Message string   `xml:"Message"`
	}
	body.Code, body.Message = code, message
	out, _ := xml.Marshal(&body)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
}
