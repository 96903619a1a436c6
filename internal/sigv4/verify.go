package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Credential is what a CredentialSource knows about an access key.
type Credential struct {
	// SecretAccessKey is the secret the request must have been signed with.
	SecretAccessKey []byte
	// Principal is opaque to this package and handed back in Result, for
	// the caller to authorize the request with.
	Principal any
}

// CredentialSource looks up the secret for an access key.
//
// sessionToken is the X-Amz-Security-Token the request carried, or "". The
// source decides whether the key needs one (temporary ASIA… keys do) and
// whether it is valid. It rejects a request by returning (possibly wrapped)
// ErrInvalidClientTokenID for an unknown key or a missing or bad token, or
// ErrExpiredToken for an expired token; any other error is treated as an
// internal failure.
type CredentialSource interface {
	Lookup(ctx context.Context, accessKeyID, sessionToken string) (Credential, error)
}

// Config configures a Verifier.
type Config struct {
	// Credentials looks up secrets. Required.
	Credentials CredentialSource
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// MaxClockSkew is how far the signing time may be from now; zero means
	// 15 minutes, AWS's window.
	MaxClockSkew time.Duration
	// Services, if not empty, lists the services a credential scope may
	// name (e.g. "iam", "sts"). The first is named in the error.
	Services []string
	// Regions, if not empty, lists the regions a credential scope may name.
	Regions []string
	// RegionOK, if set, says whether a credential scope may name a region
	// (those of the server's partition).
	RegionOK func(region string) bool
	// KeyCacheSize bounds the derived signing-key cache; zero means 1024,
	// negative disables the cache.
	KeyCacheSize int
}

// Verifier authenticates SigV4-signed requests. It is safe for concurrent
// use.
type Verifier struct {
	creds    CredentialSource
	now      func() time.Time
	skew     time.Duration
	services []string
	regions  []string
	regionOK func(string) bool
	keys     *keyCache
	bufs     sync.Pool // *[]byte scratch for canonical request and string to sign
}

// NewVerifier returns a Verifier for cfg. It panics if cfg.Credentials is
// nil, which is a programming error.
func NewVerifier(cfg Config) *Verifier {
	if cfg.Credentials == nil {
		panic("sigv4: NewVerifier: Config.Credentials is nil")
	}
	v := &Verifier{
		creds:    cfg.Credentials,
		now:      cfg.Now,
		skew:     cfg.MaxClockSkew,
		services: slices.Clone(cfg.Services),
		regions:  slices.Clone(cfg.Regions),
		regionOK: cfg.RegionOK,
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.skew <= 0 {
		v.skew = 15 * time.Minute
	}
	size := cfg.KeyCacheSize
	if size == 0 {
		size = 1024
	}
	v.keys = newKeyCache(size)
	v.bufs.New = func() any {
		b := make([]byte, 0, 1024)
		return &b
	}
	return v
}

// Result describes an authenticated request.
type Result struct {
	// AccessKeyID is the key that signed the request.
	AccessKeyID string
	// Principal is Credential.Principal from the CredentialSource. The
	// secret is deliberately not part of Result.
	Principal any
	// Region and Service are from the credential scope; a server routes by
	// Service ("iam" or "sts").
	Region  string
	Service string
	// SigningTime is X-Amz-Date (or Date).
	SigningTime time.Time
	// Presigned is true for query-string authentication.
	Presigned bool
	// Expires is when a presigned request stops being valid; zero for
	// header authentication.
	Expires time.Time
	// SessionToken is X-Amz-Security-Token, or "".
	SessionToken string
	// SignedHeaders is the semicolon-separated list of signed headers.
	SignedHeaders string
	// PayloadHash is the payload hash that was signed. For s3 it may be
	// UNSIGNED-PAYLOAD or STREAMING-…; for a hex hash the caller must still
	// check the body against it.
	PayloadHash string
}

const (
	unsignedPayload = "UNSIGNED-PAYLOAD"
	maxPresignSecs  = 604800 // a week
	maxPooledBuf    = 64 << 10
)

// Verify authenticates r. It returns *Error (check with errors.As) when the
// request is not authentic, or another error when iamd could not decide,
// for example because the credential store failed.
func (v *Verifier) Verify(ctx context.Context, r *Request) (*Result, error) {
	rawQuery := r.RawQuery
	if rawQuery == "" && r.Query != nil {
		rawQuery = r.Query.Encode()
	}
	authz := headerValue(r.Header, "authorization")
	q := parsePresignParams(rawQuery)
	switch {
	case authz != "" && q.any():
		return nil, incomplete("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
	case authz != "":
		return v.verifyHeader(ctx, r, rawQuery, authz)
	case q.any():
		return v.verifyPresigned(ctx, r, rawQuery, &q)
	}
	return nil, ErrMissingAuthenticationToken
}

func (v *Verifier) verifyHeader(ctx context.Context, r *Request, rawQuery, authz string) (*Result, error) {
	a, perr := parseAuthorization(authz)
	if perr != nil {
		return nil, perr
	}
	if a.algorithm != Algorithm && strings.HasPrefix(a.algorithm, "AWS4-") {
		return nil, incomplete("Unsupported AWS 'algorithm': '%s'", a.algorithm)
	}
	dateHeader, dateName := headerValue(r.Header, "x-amz-date"), "x-amz-date"
	if dateHeader == "" {
		dateHeader, dateName = headerValue(r.Header, "date"), "date"
	}
	if a.credential == "" || a.signature == "" || a.signedHeaders == "" || dateHeader == "" {
		var msg strings.Builder
		for _, m := range []struct {
			missing bool
			text    string
		}{
			{a.credential == "", "Authorization header requires 'Credential' parameter. "},
			{a.signature == "", "Authorization header requires 'Signature' parameter. "},
			{a.signedHeaders == "", "Authorization header requires 'SignedHeaders' parameter. "},
			{dateHeader == "", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "},
		} {
			if m.missing {
				msg.WriteString(m.text)
			}
		}
		msg.WriteString("Authorization=")
		msg.WriteString(authz)
		return nil, &Error{CodeIncompleteSignature, msg.String(), http.StatusBadRequest}
	}
	sc, perr := parseCredential(a.credential)
	if perr != nil {
		return nil, perr
	}
	s3 := sc.service == "s3"
	t, ok := parseAmzDate(dateHeader)
	if !ok && s3 && dateName == "date" {
		// S3 accepts an HTTP date in Date and signs it verbatim.
		t, ok = parseHTTPDate(dateHeader)
	}
	if !ok {
		return nil, incomplete("Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", dateHeader)
	}
	if err := v.checkScope(&sc, t, dateHeader); err != nil {
		return nil, err
	}
	if err := requireSigned(a.signedHeaders, dateName); err != nil {
		return nil, err
	}
	payloadHash := r.PayloadHash
	if payloadHash == "" {
		payloadHash = EmptyPayloadHash
	}
	if s3 {
		payloadHash = headerValue(r.Header, "x-amz-content-sha256")
		if payloadHash == "" {
			return nil, ErrInvalidRequest
		}
	}
	now := v.now()
	if err := v.checkSkew(t, now); err != nil {
		return nil, err
	}
	res := &Result{
		AccessKeyID:   sc.accessKeyID,
		Region:        sc.region,
		Service:       sc.service,
		SigningTime:   t,
		SessionToken:  headerValue(r.Header, "x-amz-security-token"),
		SignedHeaders: a.signedHeaders,
		PayloadHash:   payloadHash,
	}
	in := canonicalInput{
		method: r.Method, rawPath: r.RawPath, rawQuery: rawQuery, host: r.Host, header: r.Header, contentLength: r.contentLength,
		signedHeaders: a.signedHeaders, payloadHash: payloadHash, s3: s3,
	}
	return v.finish(ctx, res, &sc, &in, dateHeader, a.signature)
}

func (v *Verifier) verifyPresigned(ctx context.Context, r *Request, rawQuery string, q *presignParams) (*Result, error) {
	if q.hasAlgorithm && q.algorithm != Algorithm {
		return nil, incomplete("Unsupported AWS 'algorithm': '%s'", q.algorithm)
	}
	missing := false
	var msg strings.Builder
	for _, m := range []struct {
		has  bool
		name string
	}{
		{q.hasAlgorithm, qAlgorithm},
		{q.hasCredential, qCredential},
		{q.hasSignature, qSignature},
		{q.hasDate, qDate},
		{q.hasSignedHeaders, qSignedHeaders},
	} {
		if !m.has {
			missing = true
			fmt.Fprintf(&msg, "AWS query-string parameters must include '%s'. ", m.name)
		}
	}
	if missing {
		msg.WriteString("Re-examine the query-string parameters.")
		return nil, &Error{CodeIncompleteSignature, msg.String(), http.StatusBadRequest}
	}
	sc, perr := parseCredential(q.credential)
	if perr != nil {
		return nil, perr
	}
	s3 := sc.service == "s3"
	if s3 && !q.hasExpires {
		return nil, incomplete("AWS query-string parameters must include '%s'. Re-examine the query-string parameters.", qExpires)
	}
	t, ok := parseAmzDate(q.date)
	if !ok {
		return nil, incomplete("Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", q.date)
	}
	if err := v.checkScope(&sc, t, q.date); err != nil {
		return nil, err
	}
	if err := requireSigned(q.signedHeaders, ""); err != nil {
		return nil, err
	}
	res := &Result{
		AccessKeyID:   sc.accessKeyID,
		Region:        sc.region,
		Service:       sc.service,
		SigningTime:   t,
		Presigned:     true,
		SessionToken:  q.securityToken,
		SignedHeaders: q.signedHeaders,
	}
	now := v.now()
	if q.hasExpires {
		secs, err := parseExpires(q.expires)
		if err != nil {
			return nil, err
		}
		res.Expires = t.Add(time.Duration(secs) * time.Second)
		if now.After(res.Expires) {
			if sc.service == "s3" {
				return nil, ErrAccessDenied
			}
			return nil, ErrRequestExpired
		}
		if t.After(now.Add(v.skew)) {
			return nil, v.notYetCurrent(t, now)
		}
	} else if err := v.checkSkew(t, now); err != nil {
		// Without X-Amz-Expires a presigned request is as good as a signed
		// one for the clock-skew window, the way STS treats it.
		return nil, err
	}
	payloadHash := r.PayloadHash
	if payloadHash == "" {
		payloadHash = EmptyPayloadHash
	}
	if s3 {
		payloadHash = unsignedPayload
		if q.hasContentSHA256 {
			payloadHash = q.contentSHA256
		} else if h := headerValue(r.Header, "x-amz-content-sha256"); h != "" {
			payloadHash = h
		}
	}
	res.PayloadHash = payloadHash
	in := canonicalInput{
		method: r.Method, rawPath: r.RawPath, rawQuery: rawQuery, host: r.Host, header: r.Header, contentLength: r.contentLength,
		signedHeaders: q.signedHeaders, payloadHash: payloadHash, s3: s3, presigned: true,
	}
	return v.finish(ctx, res, &sc, &in, q.date, q.signature)
}

// checkScope validates the credential scope against the request date and
// the configured services and regions.
func (v *Verifier) checkScope(sc *scope, t time.Time, dateValue string) *Error {
	var buf [8]byte
	ymd := t.AppendFormat(buf[:0], "20060102")
	if sc.date != string(ymd) {
		return mismatch("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", sc.date, t.Format("20060102"), dateValue)
	}
	if len(v.regions) > 0 && !slices.Contains(v.regions, sc.region) || v.regionOK != nil && !v.regionOK(sc.region) {
		return mismatch("Credential should be scoped to a valid region, not '%s'.", sc.region)
	}
	if len(v.services) > 0 && !slices.Contains(v.services, sc.service) {
		return mismatch("Credential should be scoped to correct service: '%s'.", v.services[0])
	}
	if sc.terminator != "aws4_request" {
		return mismatch("Credential should be scoped with a valid terminator: 'aws4_request', not '%s'.", sc.terminator)
	}
	return nil
}

// requireSigned checks that host, and the date header if one was used, are
// among the signed headers.
func requireSigned(signedHeaders, dateHeader string) *Error {
	var host, date bool
	for h := range strings.SplitSeq(signedHeaders, ";") {
		host = host || h == "host" || h == ":authority"
		date = date || h == dateHeader
	}
	if !host {
		return incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if dateHeader != "" && !date {
		name := "X-Amz-Date"
		if dateHeader == "date" {
			name = "Date"
		}
		return incomplete("'%s' must be a 'SignedHeader' in the AWS Authorization.", name)
	}
	return nil
}

func (v *Verifier) checkSkew(t, now time.Time) *Error {
	if t.Before(now.Add(-v.skew)) {
		return mismatch("Signature expired: %s is now earlier than %s (%s - %s.)",
			t.UTC().Format(amzDateLayout), now.Add(-v.skew).UTC().Format(amzDateLayout), now.UTC().Format(amzDateLayout), skewText(v.skew))
	}
	if t.After(now.Add(v.skew)) {
		return v.notYetCurrent(t, now)
	}
	return nil
}

func (v *Verifier) notYetCurrent(t, now time.Time) *Error {
	return mismatch("Signature not yet current: %s is still later than %s (%s + %s.)",
		t.UTC().Format(amzDateLayout), now.Add(v.skew).UTC().Format(amzDateLayout), now.UTC().Format(amzDateLayout), skewText(v.skew))
}

func skewText(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10) + " min"
	}
	return d.String()
}

// finish looks up the credential and compares signatures.
func (v *Verifier) finish(ctx context.Context, res *Result, sc *scope, in *canonicalInput, dateValue, signature string) (*Result, error) {
	var given [sha256.Size]byte
	if len(signature) != hex.EncodedLen(len(given)) {
		return nil, ErrSignatureDoesNotMatch
	}
	if _, err := hex.Decode(given[:], []byte(signature)); err != nil {
		return nil, ErrSignatureDoesNotMatch
	}
	cred, err := v.creds.Lookup(ctx, sc.accessKeyID, res.SessionToken)
	if err != nil {
		if _, ok := errors.AsType[*Error](err); ok {
			return nil, err
		}
		return nil, fmt.Errorf("sigv4: look up access key %q: %w", sc.accessKeyID, err)
	}
	key := v.keys.get(cred.SecretAccessKey, sc.date, sc.region, sc.service)

	bp := v.bufs.Get().(*[]byte)
	buf := appendCanonicalRequest((*bp)[:0], in)
	crHash := sha256.Sum256(buf)
	buf = appendStringToSign(buf[:0], dateValue, sc.str, crHash)
	// The HMAC's inner hash input (key block, then string to sign) is
	// assembled in the unused tail of the same buffer. sign only
	// reallocates when the tail is too short; keep the bigger array then.
	sum, scratch := key.sign(buf[len(buf):], buf)
	if cap(scratch) > cap(buf) {
		buf = scratch
	}
	if cap(buf) <= maxPooledBuf {
		*bp = buf[:0]
		v.bufs.Put(bp)
	}

	if !hmac.Equal(sum[:], given[:]) {
		return nil, ErrSignatureDoesNotMatch
	}
	res.Principal = cred.Principal
	return res, nil
}

// appendStringToSign appends the SigV4 string to sign.
func appendStringToSign(dst []byte, date, scope string, canonicalHash [sha256.Size]byte) []byte {
	dst = append(dst, Algorithm...)
	dst = append(dst, '\n')
	dst = append(dst, date...)
	dst = append(dst, '\n')
	dst = append(dst, scope...)
	dst = append(dst, '\n')
	return hex.AppendEncode(dst, canonicalHash[:])
}

// parseExpires parses X-Amz-Expires: whole seconds, 1 to a week.
func parseExpires(s string) (int, *Error) {
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, incomplete("X-Amz-Expires should be a number")
	}
	if len(digits) != len(s) && strings.Trim(digits, "0") != "" {
		return 0, incomplete("X-Amz-Expires must be non-negative")
	}
	secs, err := strconv.Atoi(digits)
	switch {
	case err != nil || secs > maxPresignSecs:
		return 0, incomplete("X-Amz-Expires must be less than a week (in seconds) that is 604800")
	case secs == 0:
		return 0, incomplete("X-Amz-Expires must be greater than 0")
	}
	return secs, nil
}

func parseHTTPDate(s string) (time.Time, bool) {
	t, err := http.ParseTime(s)
	return t.UTC(), err == nil
}
