package sigv4

import (
	"net/url"
	"strings"
	"time"
)

// Algorithm is the only signing algorithm this package supports.
const Algorithm = "AWS4-HMAC-SHA256"

// amzDateLayout is ISO 8601 "basic format", as in X-Amz-Date.
const amzDateLayout = "20060102T150405Z"

// authorization holds the signature parameters of a request, from the
// Authorization header or from presigned query parameters. Strings are
// slices of the request's own values.
type authorization struct {
	algorithm     string
	credential    string // "AKID/20261123/us-east-1/iam/aws4_request"
	signedHeaders string // "content-type;host;x-amz-date"
	signature     string
}

// parseAuthorization parses an Authorization header value:
//
//	AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, SignedHeaders=a;b, Signature=hex
//
// Missing parameters are not an error here: the caller reports them
// together with a missing date, as AWS does. An algorithm other than
// AWS4-HMAC-SHA256 leaves every parameter empty.
func parseAuthorization(value string) (authorization, *Error) {
	var a authorization
	alg, params, _ := strings.Cut(strings.TrimLeft(value, " "), " ")
	a.algorithm = alg
	if alg != Algorithm {
		return a, nil
	}
	for part := range strings.SplitSeq(params, ",") {
		part = strings.Trim(part, " ")
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return a, incomplete("'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'.", part, value)
		}
		switch k {
		case "Credential":
			a.credential = v
		case "SignedHeaders":
			a.signedHeaders = v
		case "Signature":
			a.signature = v
		}
	}
	return a, nil
}

// scope is a parsed credential: access key ID and credential scope.
type scope struct {
	accessKeyID string
	date        string // YYYYMMDD
	region      string
	service     string
	terminator  string
	// str is "date/region/service/terminator", as in the string to sign.
	str string
}

func parseCredential(cred string) (scope, *Error) {
	var s scope
	parts := [5]*string{&s.accessKeyID, &s.date, &s.region, &s.service, &s.terminator}
	rest := cred
	for i, p := range parts {
		if i == len(parts)-1 {
			if strings.IndexByte(rest, '/') >= 0 {
				return s, badCredential(cred)
			}
			*p = rest
			break
		}
		var ok bool
		*p, rest, ok = strings.Cut(rest, "/")
		if !ok {
			return s, badCredential(cred)
		}
	}
	s.str = cred[len(s.accessKeyID)+1:]
	return s, nil
}

func badCredential(cred string) *Error {
	return incomplete("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", cred)
}

// parseAmzDate parses an ISO 8601 basic-format UTC time, strictly.
func parseAmzDate(s string) (time.Time, bool) {
	if len(s) != len(amzDateLayout) || s[8] != 'T' || s[15] != 'Z' {
		return time.Time{}, false
	}
	var n [6]int
	fields := [6][2]int{{0, 4}, {4, 6}, {6, 8}, {9, 11}, {11, 13}, {13, 15}}
	for i, f := range fields {
		for j := f[0]; j < f[1]; j++ {
			c := s[j]
			if c < '0' || c > '9' {
				return time.Time{}, false
			}
			n[i] = n[i]*10 + int(c-'0')
		}
	}
	if n[1] < 1 || n[1] > 12 || n[2] < 1 || n[2] > 31 || n[3] > 23 || n[4] > 59 || n[5] > 60 {
		return time.Time{}, false
	}
	t := time.Date(n[0], time.Month(n[1]), n[2], n[3], n[4], n[5], 0, time.UTC)
	if t.Day() != n[2] { // 20260231 is not a date
		return time.Time{}, false
	}
	return t, true
}

// Presigned query parameter names.
const (
	qAlgorithm     = "X-Amz-Algorithm"
	qCredential    = "X-Amz-Credential"
	qDate          = "X-Amz-Date"
	qExpires       = "X-Amz-Expires"
	qSignedHeaders = "X-Amz-SignedHeaders"
	qSignature     = "X-Amz-Signature"
	qSecurityToken = "X-Amz-Security-Token"
	qContentSHA256 = "X-Amz-Content-Sha256"
)

// presignParams are the SigV4 parameters of a presigned query string,
// decoded. The has* fields tell a missing parameter from an empty one.
type presignParams struct {
	authorization
	date, expires, securityToken, contentSHA256                                      string
	hasAlgorithm, hasCredential, hasDate, hasExpires, hasSignedHeaders, hasSignature bool
	hasSecurityToken, hasContentSHA256                                               bool
}

// any reports whether the query carries query-string authentication at all.
func (p *presignParams) any() bool {
	return p.hasAlgorithm || p.hasCredential || p.hasSignature
}

// parsePresignParams extracts the X-Amz-* parameters from a raw query.
// When a parameter repeats, the first occurrence wins.
func parsePresignParams(rawQuery string) presignParams {
	var p presignParams
	if !strings.Contains(rawQuery, "X-Amz-") {
		return p
	}
	for param := range strings.SplitSeq(rawQuery, "&") {
		k, v, _ := strings.Cut(param, "=")
		if !strings.HasPrefix(k, "X-Amz-") {
			continue
		}
		var dst *string
		var has *bool
		switch k {
		case qAlgorithm:
			dst, has = &p.algorithm, &p.hasAlgorithm
		case qCredential:
			dst, has = &p.credential, &p.hasCredential
		case qDate:
			dst, has = &p.date, &p.hasDate
		case qExpires:
			dst, has = &p.expires, &p.hasExpires
		case qSignedHeaders:
			dst, has = &p.signedHeaders, &p.hasSignedHeaders
		case qSignature:
			dst, has = &p.signature, &p.hasSignature
		case qSecurityToken:
			dst, has = &p.securityToken, &p.hasSecurityToken
		case qContentSHA256:
			dst, has = &p.contentSHA256, &p.hasContentSHA256
		default:
			continue
		}
		if *has {
			continue
		}
		*has = true
		if strings.ContainsAny(v, "%+") {
			if d, err := url.QueryUnescape(v); err == nil {
				v = d
			}
		}
		*dst = v
	}
	return p
}
