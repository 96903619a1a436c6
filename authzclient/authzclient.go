// Package authzclient is the Go client of iamd's authorization API, for
// services that accept AWS SigV4-signed requests (an S3-compatible store, an
// internal API) and let iamd authenticate and authorize them.
//
// The service forwards the signature pieces of each request it receives
// (method, raw path and query, headers, payload hash) with the action,
// resource and resource policy the request touches; iamd verifies the
// signature (the service never holds anyone's secret key), identifies the
// principal, evaluates its policies with the resource policy, and answers
// with the decision and its explanation:
//
//	c := authzclient.New("https://iamd.internal:8080", authzclient.StaticCredentials{
//		AccessKeyID: id, SecretAccessKey: secret, // a principal allowed iamd:Authorize
//	})
//	d, err := c.Authorize(ctx, r, &authzclient.Input{
//		Action: "s3:GetObject", Resource: "arn:aws:s3:::photos/2024/cat.jpg",
//		ResourceAccount: "111122223333", ResourcePolicy: bucketPolicy,
//	})
//	var ae *authzclient.Error
//	switch {
//	case errors.As(err, &ae) && ae.FromRequest():
//		// The client's signature is wrong: answer ae.HTTPStatus, ae.Code.
//	case err != nil:
//		// iamd refused the service's own call, or could not be reached.
//	case !d.Allowed():
//		// 403 AccessDenied; d.Message and d.Explanation say why.
//	}
//
// Calls to iamd are signed with SigV4 for the service "iamd" with the
// client's credentials; their principal needs iamd:Authorize on the
// resources it asks about. docs/authorization-api.md describes the protocol.
package authzclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/sigv4"
)

// Path is the authorization API's path on an iamd endpoint.
const Path = "/_iamd/authorize"

// Credentials are the calling service's own AWS credentials.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken is set for temporary credentials (workload
	// credentials, an assumed role).
	SessionToken string
}

// CredentialsProvider returns the credentials to sign calls with; it is
// called for every call, so a provider of temporary credentials caches
// them.
type CredentialsProvider interface {
	Credentials(ctx context.Context) (Credentials, error)
}

// StaticCredentials is a CredentialsProvider of fixed credentials.
type StaticCredentials Credentials

// Credentials returns c.
func (c StaticCredentials) Credentials(context.Context) (Credentials, error) {
	return Credentials(c), nil
}

// CredentialsFunc adapts a function, for example one wrapping an
// aws-sdk-go-v2 aws.CredentialsCache:
//
//	authzclient.CredentialsFunc(func(ctx context.Context) (authzclient.Credentials, error) {
//		v, err := cfg.Credentials.Retrieve(ctx)
//		return authzclient.Credentials{AccessKeyID: v.AccessKeyID,
//			SecretAccessKey: v.SecretAccessKey, SessionToken: v.SessionToken}, err
//	})
type CredentialsFunc func(ctx context.Context) (Credentials, error)

// Credentials calls f.
func (f CredentialsFunc) Credentials(ctx context.Context) (Credentials, error) { return f(ctx) }

// Client calls an iamd authorization API. It is safe for concurrent use.
type Client struct {
	url    string
	creds  CredentialsProvider
	http   *http.Client
	region string
	now    func() time.Time
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (TLS roots, timeouts, connection
// pool). The default has a 5-second timeout.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithRegion sets the region of the calls' signatures (default us-east-1;
// iamd accepts any).
func WithRegion(region string) Option { return func(c *Client) { c.region = region } }

// WithClock sets the clock calls are signed with (tests).
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// New returns a client of the iamd at endpoint (e.g.
// "https://iamd.internal:8080") signing its calls with creds.
func New(endpoint string, creds CredentialsProvider, opts ...Option) *Client {
	c := &Client{
		url: strings.TrimSuffix(endpoint, "/") + Path, creds: creds,
		http: &http.Client{Timeout: 5 * time.Second}, region: "us-east-1", now: time.Now,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Request is a signed request as the service received it.
type Request struct {
	Method string `json:"method"`
	// Path is the path exactly as on the request line, still escaped.
	Path string `json:"path"`
	// Query is the raw query string, without '?'.
	Query string `json:"query,omitempty"`
	// Host is the Host header.
	Host string `json:"host"`
	// Header holds the request's headers (Authorization, X-Amz-Date,
	// X-Amz-Security-Token, X-Amz-Content-Sha256, and every other signed
	// header).
	Header http.Header `json:"headers"`
	// PayloadHash is the hex SHA-256 of the body, or Body the body itself
	// (at most about 1 MB); neither is needed for s3 requests, whose
	// X-Amz-Content-Sha256 header carries the hash (the service then
	// checks the body against it as it reads it). Leave both empty for an
	// empty body.
	PayloadHash string `json:"payloadHash,omitempty"`
	Body        []byte `json:"body,omitempty"`
}

// RequestFromHTTP describes a request received by a net/http server. It
// restores the Content-Length header (net/http moves it to
// r.ContentLength, yet clients sign it) and takes the path from the request
// line. It does not read the body.
func RequestFromHTTP(r *http.Request) *Request {
	s := sigv4.FromHTTP(r, nil)
	return &Request{Method: s.Method, Path: s.RawPath, Query: s.RawQuery, Host: s.Host, Header: s.Header}
}

// Input is what the request asks to do.
type Input struct {
	// Action is service:Operation, e.g. "s3:GetObject". Required.
	Action string
	// Resource is the ARN acted on, or "*". Required.
	Resource string
	// ResourcePolicy is the resource's resource-based policy (a bucket
	// policy) as JSON text, if it has one.
	ResourcePolicy string
	// ResourceAccount is the 12-digit account that owns the resource.
	// Required unless Resource carries an account ID or is "*": it decides
	// whether the request is cross-account.
	ResourceAccount string
	// Context holds service-specific condition keys (s3:prefix,
	// s3:x-amz-acl, aws:RequestTag/...). Keys describing the principal or
	// the transport are refused: iamd sets them.
	Context map[string][]string
	// SourceIP is the client's address (aws:SourceIp) and SecureTransport
	// whether it used TLS (aws:SecureTransport). Authorize fills them from
	// the *http.Request when SourceIP is empty.
	SourceIP        string
	SecureTransport bool
	// NoExplanation skips the explanation of allowed requests (denied ones
	// are always explained), the fastest form.
	NoExplanation bool
	// ResourceControlPolicies are the resource control policies that apply
	// to the resource's account, one JSON document per level (organization
	// root, organizational units, account), outermost first; each level
	// must allow the request.
	ResourceControlPolicies []string
	// EndpointPolicy is the policy of the VPC endpoint the request came
	// through, if any; it must allow the request too.
	EndpointPolicy string
	// PrincipalService names an AWS service principal (e.g.
	// "logging.s3.amazonaws.com") acting on the resource: the decision is
	// for that service, vouched for by the caller, and no signed request is
	// forwarded (use AuthorizeService).
	PrincipalService string
}

// wireCall is the JSON body of a call.
type wireCall struct {
	Request         *Request            `json:"request,omitempty"`
	Action          string              `json:"action"`
	Resource        string              `json:"resource"`
	ResourcePolicy  string              `json:"resourcePolicy,omitempty"`
	ResourceAccount string              `json:"resourceAccount,omitempty"`
	Context         map[string][]string `json:"context,omitempty"`
	SourceIP        string              `json:"sourceIp,omitempty"`
	SecureTransport bool                `json:"secureTransport,omitempty"`
	Explain         *bool               `json:"explain,omitempty"`

	ResourceControlPolicies []string `json:"resourceControlPolicies,omitempty"`
	EndpointPolicy          string   `json:"endpointPolicy,omitempty"`
	PrincipalService        string   `json:"principalService,omitempty"`
}

// Authorize asks iamd about a request received by a net/http server. The
// body is not read: set in's request body or hash with AuthorizeRequest
// for services other than s3 whose requests have a body.
func (c *Client) Authorize(ctx context.Context, r *http.Request, in *Input) (*Decision, error) {
	req := RequestFromHTTP(r)
	if in.SourceIP == "" {
		cp := *in
		cp.SourceIP = remoteIP(r.RemoteAddr)
		cp.SecureTransport = r.TLS != nil
		in = &cp
	}
	return c.AuthorizeRequest(ctx, req, in)
}

// AuthorizeService asks iamd whether the AWS service principal named by
// in.PrincipalService may perform in.Action on in.Resource (a service
// acting on a resource whose resource-based policy names it).
func (c *Client) AuthorizeService(ctx context.Context, in *Input) (*Decision, error) {
	if in.PrincipalService == "" {
		return nil, errors.New("authzclient: AuthorizeService needs Input.PrincipalService")
	}
	return c.AuthorizeRequest(ctx, nil, in)
}

// AuthorizeRequest asks iamd about a request described by req (nil for a
// service principal's request, see AuthorizeService).
func (c *Client) AuthorizeRequest(ctx context.Context, req *Request, in *Input) (*Decision, error) {
	call := wireCall{
		Request: req, Action: in.Action, Resource: in.Resource, ResourcePolicy: in.ResourcePolicy,
		ResourceAccount: in.ResourceAccount, Context: in.Context, SourceIP: in.SourceIP,
		SecureTransport:         in.SecureTransport,
		ResourceControlPolicies: in.ResourceControlPolicies, EndpointPolicy: in.EndpointPolicy,
		PrincipalService: in.PrincipalService,
	}
	if in.NoExplanation {
		f := false
		call.Explain = &f
	}
	body, err := json.Marshal(&call)
	if err != nil {
		return nil, fmt.Errorf("authzclient: encode: %w", err)
	}
	creds, err := c.creds.Credentials(ctx)
	if err != nil {
		return nil, fmt.Errorf("authzclient: credentials: %w", err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("authzclient: %w", err)
	}
	hr.Header.Set("Content-Type", "application/json")
	signer := sigv4.Signer{
		Credentials: sigv4.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken},
		Region:      c.region, Service: "iamd", Now: c.now,
	}
	if err := signer.Sign(hr, body); err != nil {
		return nil, fmt.Errorf("authzclient: sign: %w", err)
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("authzclient: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("authzclient: read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			RequestID string `json:"requestId"`
			Error     *Error `json:"error"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error == nil {
			return nil, &Error{Code: "InternalFailure", Message: fmt.Sprintf("iamd answered HTTP %d: %.200s", resp.StatusCode, data), HTTPStatus: resp.StatusCode, Origin: OriginCaller}
		}
		e.Error.RequestID = e.RequestID
		if e.Error.HTTPStatus == 0 {
			e.Error.HTTPStatus = resp.StatusCode
		}
		return nil, e.Error
	}
	var d Decision
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("authzclient: decode decision: %w", err)
	}
	return &d, nil
}

// Error origins.
const (
	// OriginCaller: iamd refused the service's own call (its credentials,
	// its iamd:Authorize permission, a malformed call).
	OriginCaller = "caller"
	// OriginRequest: the forwarded request is not authentic (bad or
	// expired signature, unknown key); answer the client with the error.
	OriginRequest = "request"
)

// Error is an error answered by iamd.
type Error struct {
	// Code and Message are AWS's (SignatureDoesNotMatch,
	// InvalidClientTokenId, ExpiredToken, AccessDenied, ...).
	Code    string `json:"code"`
	Message string `json:"message"`
	// Origin says whose mistake it is: OriginRequest or OriginCaller.
	Origin     string `json:"origin"`
	HTTPStatus int    `json:"httpStatus"`
	RequestID  string `json:"-"`
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("iamd authorization API: %s: %s (%s, HTTP %d)", e.Code, e.Message, e.Origin, e.HTTPStatus)
}

// FromRequest reports whether the forwarded request failed authentication,
// as opposed to the service's own call.
func (e *Error) FromRequest() bool { return e.Origin == OriginRequest }

// IsRequestError reports whether err is an *Error about the forwarded
// request, and returns it.
func IsRequestError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) && e.FromRequest() {
		return e, true
	}
	return nil, false
}

// Decision is iamd's answer.
type Decision struct {
	RequestID string `json:"requestId"`
	// Decision is "Allow", "ExplicitDeny" or "ImplicitDeny".
	Decision  string    `json:"decision"`
	Principal Principal `json:"principal"`
	Signature Signature `json:"signature"`
	// Explanation is nil for an allowed request asked with NoExplanation.
	Explanation *Explanation `json:"explanation,omitempty"`
	// Message is AWS's AccessDenied message for a denied request: "User:
	// ARN is not authorized to perform: ACTION on resource: RESOURCE
	// because ...".
	Message string `json:"message,omitempty"`
}

// Allowed reports whether the request is allowed.
func (d *Decision) Allowed() bool { return d.Decision == "Allow" }

// Principal is who signed the request.
type Principal struct {
	ARN     string `json:"arn"`
	Account string `json:"account"`
	// UserID is aws:userid (AIDA…, AROA…:session, the account ID for root).
	UserID string `json:"userId"`
	// Type is "User", "AssumedRole", "FederatedUser", "Account" (root) or
	// "Service" (a service principal, named by Service).
	Type        string `json:"type"`
	Service     string `json:"service,omitempty"`
	AccessKeyID string `json:"accessKeyId"`
	// PrincipalARN is aws:PrincipalArn when it differs from ARN: the role
	// of a role session.
	PrincipalARN string   `json:"principalArn,omitempty"`
	Session      *Session `json:"session,omitempty"`
}

// Session describes temporary credentials.
type Session struct {
	Issued         time.Time `json:"issued"`
	Expiration     time.Time `json:"expiration"`
	MFA            bool      `json:"mfa"`
	SourceIdentity string    `json:"sourceIdentity,omitempty"`
}

// Signature describes the verified signature.
type Signature struct {
	Service     string    `json:"service"`
	Region      string    `json:"region"`
	SigningTime time.Time `json:"signingTime"`
	Presigned   bool      `json:"presigned"`
}

// Explanation explains a decision layer by layer.
type Explanation struct {
	// DecidingLayer is "identity", "boundary", "session", "scp", "rcp"
	// (a resource control policy), "resource", "endpoint" (the VPC
	// endpoint policy), "credential" (a limit of GetSessionToken or
	// GetFederationToken credentials) or "always-allowed"
	// (sts:GetCallerIdentity).
	DecidingLayer     string     `json:"decidingLayer"`
	DecidingStatement *Statement `json:"decidingStatement,omitempty"`
	// Reason is AWS's phrase: "because no identity-based policy allows the
	// s3:GetObject action", "with an explicit deny in a resource-based
	// policy".
	Reason string  `json:"reason,omitempty"`
	Layers []Layer `json:"layers"`
}

// Layer explains one kind of policy's part in the decision.
type Layer struct {
	Layer             string      `json:"layer"`
	Level             int         `json:"level,omitempty"`
	Applicable        bool        `json:"applicable"`
	Decision          string      `json:"decision"`
	DecidingStatement *Statement  `json:"decidingStatement,omitempty"`
	Matches           []Statement `json:"matches"`
	// PrincipalMatch (resource layer) is how the principal matched:
	// "direct", "role", "account" or "none".
	PrincipalMatch     string   `json:"principalMatch,omitempty"`
	ContextKeysRead    []string `json:"contextKeysRead"`
	MissingContextKeys []string `json:"missingContextKeys"`
}

// Statement identifies a policy statement.
type Statement struct {
	Policy string `json:"policy"`
	Sid    string `json:"sid,omitempty"`
	Index  int    `json:"index"`
	Effect string `json:"effect"`
}

func remoteIP(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}
