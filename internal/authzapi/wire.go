package authzapi

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/jsontext"
	"github.com/iamd/iamd/internal/sigv4"
	"github.com/iamd/iamd/policy"
)

// rawRequest is the JSON body of a call; docs/authorization-api.md is its
// specification.
type rawRequest struct {
	Request struct {
		Method      string              `json:"method"`
		Path        string              `json:"path"`
		Query       string              `json:"query"`
		Host        string              `json:"host"`
		Headers     map[string][]string `json:"headers"`
		PayloadHash string              `json:"payloadHash"`
		Body        []byte              `json:"body"` // base64
	} `json:"request"`
	Action          string              `json:"action"`
	Resource        string              `json:"resource"`
	ResourcePolicy  string              `json:"resourcePolicy"`
	ResourceAccount string              `json:"resourceAccount"`
	Context         map[string][]string `json:"context"`
	SourceIP        string              `json:"sourceIp"`
	SecureTransport bool                `json:"secureTransport"`
	Explain         *bool               `json:"explain"`
	// ResourceControlPolicies holds the resource account's RCPs, one JSON
	// document per level (root, OUs, account), outermost first.
	ResourceControlPolicies []string `json:"resourceControlPolicies"`
	// EndpointPolicy is the policy of the VPC endpoint the request came
	// through, JSON text.
	EndpointPolicy string `json:"endpointPolicy"`
	// PrincipalService names the AWS service principal making the request
	// (e.g. "logging.s3.amazonaws.com"), for requests a service makes on
	// its own behalf; there is then no forwarded request.
	PrincipalService string `json:"principalService"`
}

// wireRequest is a decoded and checked call.
type wireRequest struct {
	raw rawRequest

	action, resource, resourcePolicy, resourceAccount string
	sourceIP                                          netip.Addr
	secureTransport, explain, bodySet                 bool
}

func (in *wireRequest) reset() {
	headers, ctx := in.raw.Request.Headers, in.raw.Context
	clear(headers)
	clear(ctx)
	*in = wireRequest{}
	in.raw.Request.Headers, in.raw.Context = headers, ctx
}

func (in *wireRequest) decode(body []byte, slab *[]string) error {
	d := decoder{b: body, slab: (*slab)[:0]}
	err := d.decodeRaw(&in.raw)
	*slab = d.slab
	if err != nil {
		return err
	}
	in.action = in.raw.Action
	in.resource = in.raw.Resource
	in.resourcePolicy = in.raw.ResourcePolicy
	in.resourceAccount = in.raw.ResourceAccount
	in.secureTransport = in.raw.SecureTransport
	in.explain = in.raw.Explain == nil || *in.raw.Explain
	in.bodySet = in.raw.Request.Body != nil
	return nil
}

// reservedKey reports whether a context key describes the principal or the
// request's transport: iamd sets those from the verified signature and the
// dedicated fields, never from the calling service's context.
func reservedKey(k string) bool {
	lk := strings.ToLower(k)
	if !strings.HasPrefix(lk, "aws:") {
		return false
	}
	switch lk {
	case "aws:sourceip", "aws:securetransport", "aws:currenttime", "aws:epochtime",
		"aws:principalarn", "aws:principalaccount", "aws:principaltype", "aws:userid", "aws:username",
		"aws:multifactorauthpresent", "aws:multifactorauthage", "aws:tokenissuetime", "aws:sourceidentity",
		"aws:principalorgid", "aws:principalorgpaths", "aws:principalisawsservice", "aws:principalservicename",
		"aws:principalservicenameslist", "aws:viaawsservice", "aws:federatedprovider", "aws:useragent":
		return true
	}
	return strings.HasPrefix(lk, "aws:principaltag/")
}

func (in *wireRequest) validate() *apiError {
	switch {
	case in.action == "":
		return invalid("action is required, e.g. \"s3:GetObject\".")
	case strings.IndexByte(in.action, ':') <= 0 || strings.ContainsAny(in.action, "*? "):
		return invalid("action must be service:Operation without wildcards, e.g. \"s3:GetObject\".")
	case in.resource == "":
		return invalid("resource is required: the ARN of the resource the request acts on, or \"*\".")
	case in.resource != "*" && !strings.HasPrefix(in.resource, "arn:"):
		return invalid("resource must be an ARN or \"*\".")
	}
	if in.raw.PrincipalService != "" {
		if aerr := in.validateService(); aerr != nil {
			return aerr
		}
	} else if in.raw.Request.Method == "" {
		return invalid("request.method is required.")
	}
	if in.resourceAccount == "" {
		// The account that owns the resource decides whether the request
		// is cross-account; guessing would let a principal's own policies
		// grant access to another account's resource.
		// "*" (actions without a resource) belongs to the principal's own
		// account.
		if acct := arnAccount(in.resource); acct != "" {
			in.resourceAccount = acct
		} else if in.resource != "*" {
			return invalid("resourceAccount is required: the resource ARN " + in.resource + " has no account ID, and whether the request is cross-account depends on the resource's owner.")
		}
	}
	if in.resourceAccount != "" && !policy.ValidAccountID(in.resourceAccount) {
		return invalid("resourceAccount must be a 12-digit account ID.")
	}
	if s := in.raw.SourceIP; s != "" {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return invalid("sourceIp is not an IP address: " + s)
		}
		in.sourceIP = a.Unmap()
	}
	for k := range in.raw.Context {
		if reservedKey(k) {
			return invalid("context key " + k + " is set by iamd from the verified request; use sourceIp and secureTransport for the client's address and transport.")
		}
	}
	if in.raw.Request.Body != nil && in.raw.Request.PayloadHash != "" {
		return invalid("request.body and request.payloadHash are exclusive.")
	}
	if n := len(in.raw.ResourceControlPolicies); n > authz.MaxRCPLevels {
		return invalid("resourceControlPolicies has " + strconv.Itoa(n) + " levels; at most " + strconv.Itoa(authz.MaxRCPLevels) +
			" (the root, five levels of OUs, the account): merge the statements of a level's policies into one document.")
	}
	for i, rcp := range in.raw.ResourceControlPolicies {
		if strings.TrimSpace(rcp) == "" {
			return invalid("resourceControlPolicies[" + strconv.Itoa(i) + "] is empty: give one policy document per level, e.g. RCPFullAWSAccess.")
		}
	}
	if in.raw.EndpointPolicy != "" && strings.TrimSpace(in.raw.EndpointPolicy) == "" {
		return invalid("endpointPolicy is blank: give the endpoint's policy document, or leave it out for a request that did not come through a VPC endpoint.")
	}
	return nil
}

// validateService checks a call about a service principal's request. A
// service principal signs nothing iamd can verify: the calling service
// vouches for it, so the call carries no forwarded request. Its answer
// depends only on the policies the call itself supplies (a service
// principal has no identity-based policies in iamd), so a caller learns
// nothing it did not send.
func (in *wireRequest) validateService() *apiError {
	rq := &in.raw.Request
	if rq.Method != "" || rq.Path != "" || rq.Query != "" || rq.Host != "" || len(rq.Headers) > 0 || rq.PayloadHash != "" || rq.Body != nil {
		return invalid("request and principalService are exclusive: a service principal's request carries no signature iamd can verify.")
	}
	if !isServiceName(in.raw.PrincipalService) {
		return invalid("principalService must be a service principal's name, e.g. \"logging.s3.amazonaws.com\".")
	}
	return nil
}

// isServiceName reports whether s looks like a service principal's name:
// a DNS name (lower-case letters, digits, dots and hyphens) of at least
// two labels.
func isServiceName(s string) bool {
	if len(s) > 253 || strings.IndexByte(s, '.') <= 0 || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// sigv4Request builds the forwarded request for the verifier, with h (empty)
// as its header.
func (in *wireRequest) sigv4Request(h http.Header) (*sigv4.Request, *apiError) {
	rq := &in.raw.Request
	for k, v := range rq.Headers {
		h[k] = v
	}
	host := rq.Host
	if host == "" {
		host = headerGet(h, "Host")
	}
	if host == "" {
		return nil, invalid("request.host (or a Host header) is required: SigV4 signs it.")
	}
	path := rq.Path
	if path == "" {
		path = "/"
	}
	r := &sigv4.Request{Method: rq.Method, RawPath: path, RawQuery: strings.TrimPrefix(rq.Query, "?"), Host: host, Header: h}
	switch {
	case rq.Body != nil:
		r.PayloadHash = sigv4.PayloadHash(rq.Body)
	case rq.PayloadHash != "":
		r.PayloadHash = rq.PayloadHash
	default:
		r.PayloadHash = sigv4.EmptyPayloadHash
	}
	return r, nil
}

// contextKVs returns the service's context keys, in st's reusable slice.
func (in *wireRequest) contextKVs(st *callState) []authz.KV {
	for k, v := range in.raw.Context {
		st.kvs = append(st.kvs, authz.KV{Key: k, Values: v})
	}
	return st.kvs
}

// arnAccount returns the account field of an ARN, "" if it has none.
func arnAccount(arn string) string {
	// arn:partition:service:region:account:resource
	rest := arn
	for range 4 {
		i := strings.IndexByte(rest, ':')
		if i < 0 {
			return ""
		}
		rest = rest[i+1:]
	}
	i := strings.IndexByte(rest, ':')
	if i < 0 {
		return ""
	}
	return rest[:i]
}

// The response is written by hand: it is on every call's path and its
// shape is fixed, so reflection buys nothing.

// appendResult appends the JSON answer of a decided call.
func appendResult(b []byte, requestID string, r *result) []byte {
	b = append(b, `{"requestId":`...)
	b = appendString(b, requestID)
	b = append(b, `,"decision":`...)
	b = appendString(b, r.decision.String())
	c := r.caller
	if c.Type == authz.ServicePrincipal {
		b = append(b, `,"principal":{"type":`...)
		b = appendString(b, c.Type.String())
		b = append(b, `,"service":`...)
		b = appendString(b, c.Name)
		b = append(b, '}')
		return appendDecision(b, r)
	}
	b = append(b, `,"principal":{"arn":`...)
	b = appendString(b, c.ARN)
	b = append(b, `,"account":`...)
	b = appendString(b, c.Account)
	b = append(b, `,"userId":`...)
	b = appendString(b, c.UserID)
	b = append(b, `,"type":`...)
	b = appendString(b, c.Type.String())
	b = append(b, `,"accessKeyId":`...)
	b = appendString(b, c.AccessKeyID)
	if c.PrincipalARN != "" && c.PrincipalARN != c.ARN {
		b = append(b, `,"principalArn":`...)
		b = appendString(b, c.PrincipalARN)
	}
	if s := c.Session; s != nil {
		b = append(b, `,"session":{"issued":`...)
		b = appendTime(b, s.IssuedAt)
		b = append(b, `,"expiration":`...)
		b = appendTime(b, s.Expires)
		b = append(b, `,"mfa":`...)
		b = strconv.AppendBool(b, s.MFA)
		if s.SourceIdentity != "" {
			b = append(b, `,"sourceIdentity":`...)
			b = appendString(b, s.SourceIdentity)
		}
		b = append(b, '}')
	}
	b = append(b, `},"signature":{"service":`...)
	b = appendString(b, r.sig.Service)
	b = append(b, `,"region":`...)
	b = appendString(b, r.sig.Region)
	b = append(b, `,"signingTime":`...)
	b = appendTime(b, r.sig.SigningTime)
	b = append(b, `,"presigned":`...)
	b = strconv.AppendBool(b, r.sig.Presigned)
	b = append(b, '}')
	return appendDecision(b, r)
}

// appendDecision appends the explanation and message, and closes the
// answer.
func appendDecision(b []byte, r *result) []byte {
	if ex := r.ex; ex != nil {
		b = appendExplanation(b, ex)
		if ex.Decision != policy.Allowed {
			b = append(b, `,"message":`...)
			b = appendString(b, ex.Message())
		}
	}
	return append(b, "}\n"...)
}

func appendExplanation(b []byte, ex *policy.Explanation) []byte {
	b = append(b, `,"explanation":{"decidingLayer":`...)
	b = appendString(b, ex.Layer.String())
	if d := ex.Decider(); d != nil {
		b = append(b, `,"decidingStatement":`...)
		b = appendStatement(b, d)
	}
	if r := ex.Reason(); r != "" {
		b = append(b, `,"reason":`...)
		b = appendString(b, r)
	}
	b = append(b, `,"layers":[`...)
	for i := range ex.Layers {
		lr := &ex.Layers[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"layer":`...)
		b = appendString(b, lr.Layer.String())
		if lr.Layer == policy.LayerSCP || lr.Layer == policy.LayerRCP {
			b = append(b, `,"level":`...)
			b = strconv.AppendInt(b, int64(lr.Level), 10)
		}
		b = append(b, `,"applicable":`...)
		b = strconv.AppendBool(b, lr.Applicable)
		b = append(b, `,"decision":`...)
		b = appendString(b, lr.Decision.String())
		if lr.Decider != nil {
			b = append(b, `,"decidingStatement":`...)
			b = appendStatement(b, lr.Decider)
		}
		b = append(b, `,"matches":[`...)
		for j := range lr.Matches {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendStatement(b, &lr.Matches[j])
		}
		b = append(b, ']')
		if lr.PrincipalMatch != "" {
			b = append(b, `,"principalMatch":`...)
			b = appendString(b, lr.PrincipalMatch)
		}
		b = append(b, `,"contextKeysRead":`...)
		b = appendStrings(b, lr.ContextKeysRead)
		b = append(b, `,"missingContextKeys":`...)
		b = appendStrings(b, lr.MissingContextKeys)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

func appendStatement(b []byte, s *policy.StatementRef) []byte {
	b = append(b, `{"policy":`...)
	b = appendString(b, s.Policy)
	if s.Sid != "" {
		b = append(b, `,"sid":`...)
		b = appendString(b, s.Sid)
	}
	b = append(b, `,"index":`...)
	b = strconv.AppendInt(b, int64(s.Index), 10)
	b = append(b, `,"effect":`...)
	b = appendString(b, s.Effect.String())
	return append(b, '}')
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339)
	return append(b, '"')
}

// appendError appends the JSON answer of a refused call.
func appendError(b []byte, requestID string, e *apiError) []byte {
	b = append(b, `{"requestId":`...)
	b = appendString(b, requestID)
	b = append(b, `,"error":{"code":`...)
	b = appendString(b, e.code)
	b = append(b, `,"message":`...)
	b = appendString(b, e.message)
	b = append(b, `,"origin":`...)
	b = appendString(b, e.origin)
	b = append(b, `,"httpStatus":`...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	return append(b, "}}\n"...)
}

// appendString appends s as a JSON string that is safe to embed ('<', '>'
// and '&' escaped, as encoding/json does).
func appendString(b []byte, s string) []byte { return jsontext.AppendHTMLSafeString(b, s) }
