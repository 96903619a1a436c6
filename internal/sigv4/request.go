package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
)

// Request is the part of an HTTP request that SigV4 signs, as the server
// received it. It is independent of net/http so that a request received by
// another service can be forwarded to iamd and verified there.
type Request struct {
	// Method is the HTTP method, e.g. "POST".
	Method string
	// RawPath is the path exactly as it appeared on the request line,
	// still escaped ("/a%20b"), without the query. Empty means "/".
	RawPath string
	// RawQuery is the query string as received, without the leading '?'.
	RawQuery string
	// Query is used instead of RawQuery when RawQuery is empty and Query is
	// not nil, for callers that only have the parsed form.
	Query url.Values
	// Host is the Host header value (Go keeps it in http.Request.Host, not
	// in Header).
	Host string
	// Header holds the remaining request headers. Keys are matched
	// case-insensitively.
	Header http.Header
	// PayloadHash is the lowercase hex SHA-256 of the body. Empty means the
	// body was empty. For the s3 service the x-amz-content-sha256 header
	// (or, presigned, UNSIGNED-PAYLOAD) is used instead, as S3 does; the
	// caller must then check the body against Result.PayloadHash.
	PayloadHash string

	// contentLength is the Content-Length Go's server moved out of Header
	// (FromHTTP), which signers sign; "" if Header has it or it is unknown.
	contentLength string
}

// EmptyPayloadHash is the hex SHA-256 of an empty body.
const EmptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// PayloadHash returns the lowercase hex SHA-256 of body.
func PayloadHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// FromHTTP builds a Request from a request received by a net/http server and
// its body, which the caller has already read (the body is needed for the
// payload hash; r.Body is not touched).
//
// r.Header is shared, not copied, unless Content-Length has to be restored:
// Go moves it to r.ContentLength for some requests, yet signers sign it.
// A request verified in this process needs no copy: see SharedFromHTTP.
func FromHTTP(r *http.Request, body []byte) *Request {
	req := SharedFromHTTP(r, body)
	if req.contentLength != "" {
		h := r.Header.Clone()
		h.Set("Content-Length", req.contentLength)
		req.Header = h
	}
	return req
}

// SharedFromHTTP is FromHTTP for a request verified at once: r.Header is
// always shared, and a Content-Length Go moved out of it is kept aside for
// the signature instead of copying the header (a map and its values for
// every request), so the Request's Header may lack it.
func SharedFromHTTP(r *http.Request, body []byte) *Request {
	req := &Request{
		Method:      r.Method,
		RawPath:     r.URL.EscapedPath(),
		RawQuery:    r.URL.RawQuery,
		Host:        r.Host,
		Header:      r.Header,
		PayloadHash: PayloadHash(body),
	}
	if r.RequestURI != "" {
		// The request line is what the client signed; EscapedPath may
		// re-escape it differently.
		if p, _, ok := cutQuery(r.RequestURI); ok {
			req.RawPath = p
		}
	}
	if req.Host == "" {
		req.Host = r.URL.Host
	}
	if r.ContentLength > 0 && r.Header.Get("Content-Length") == "" {
		req.contentLength = strconv.FormatInt(r.ContentLength, 10)
	}
	return req
}

// cutQuery splits a request-URI into path and query. It reports false for
// forms that are not origin-form ("*", absolute URLs).
func cutQuery(requestURI string) (path, query string, ok bool) {
	if requestURI == "" || requestURI[0] != '/' {
		return "", "", false
	}
	for i := 0; i < len(requestURI); i++ {
		if requestURI[i] == '?' {
			return requestURI[:i], requestURI[i+1:], true
		}
	}
	return requestURI, "", true
}
