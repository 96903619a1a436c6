package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Credentials are the keys a Signer signs with.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken is set for temporary credentials.
	SessionToken string
}

// Signer signs requests with SigV4, for tests and load tools. It signs the
// way aws-sdk-go-v2 does: every header present except a few that proxies
// change, plus host and a positive Content-Length.
type Signer struct {
	Credentials Credentials
	Region      string
	Service     string
	// Now returns the signing time; nil means time.Now.
	Now func() time.Time

	// key caches the derived signing key of the current date, so that a
	// load tool signing many requests does not derive it every time.
	key atomic.Pointer[dayKey]
}

type dayKey struct {
	date, secret, region, service string
	sk                            *signingKey
}

// unsignedHeader reports whether a signer leaves the (lowercase) header
// out: proxies and transports add or rewrite these.
func unsignedHeader(name string) bool {
	switch name {
	case "authorization", "user-agent", "x-amzn-trace-id", "expect", "transfer-encoding":
		return true
	}
	return false
}

func (s *Signer) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Sign adds X-Amz-Date, X-Amz-Security-Token (for temporary credentials)
// and Authorization headers to r. body is the request body, which Sign does
// not read from r; for s3 its hash is sent as X-Amz-Content-Sha256.
func (s *Signer) Sign(r *http.Request, body []byte) error {
	if r.URL == nil {
		return errors.New("sigv4: sign: request has no URL")
	}
	if r.Header == nil {
		r.Header = make(http.Header)
	}
	t := s.now()
	amzDate := t.Format(amzDateLayout)
	r.Header.Del("Authorization")
	r.Header.Set("X-Amz-Date", amzDate)
	if s.Credentials.SessionToken != "" {
		r.Header.Set("X-Amz-Security-Token", s.Credentials.SessionToken)
	}
	payloadHash := PayloadHash(body)
	if s.Service == "s3" {
		r.Header.Set("X-Amz-Content-Sha256", payloadHash)
	}
	host := requestHost(r)
	header := r.Header
	names := []string{"host"}
	if r.ContentLength > 0 {
		names = append(names, "content-length")
		if header.Get("Content-Length") == "" {
			header = header.Clone()
			header.Set("Content-Length", strconv.FormatInt(r.ContentLength, 10))
		}
	}
	for k := range header {
		lk := strings.ToLower(k)
		if !unsignedHeader(lk) && !slices.Contains(names, lk) {
			names = append(names, lk)
		}
	}
	slices.Sort(names)
	signed := strings.Join(names, ";")
	sig := s.signature(t, &canonicalInput{
		method: r.Method, rawPath: r.URL.EscapedPath(), rawQuery: r.URL.RawQuery, host: host,
		header: header, signedHeaders: signed, payloadHash: payloadHash, s3: s.Service == "s3",
	})
	r.Header.Set("Authorization", Algorithm+" Credential="+s.Credentials.AccessKeyID+"/"+s.scope(t)+
		", SignedHeaders="+signed+", Signature="+sig)
	return nil
}

// Presign returns r's URL with query-string authentication valid for
// expires (1 second to 7 days). Only the host header is signed.
func (s *Signer) Presign(r *http.Request, expires time.Duration) (string, error) {
	if r.URL == nil {
		return "", errors.New("sigv4: presign: request has no URL")
	}
	secs := int64(expires / time.Second)
	if secs < 1 || secs > maxPresignSecs {
		return "", errors.New("sigv4: presign: expiry must be between 1 second and 7 days")
	}
	t := s.now()
	q := url.Values{}
	q.Set(qAlgorithm, Algorithm)
	q.Set(qCredential, s.Credentials.AccessKeyID+"/"+s.scope(t))
	q.Set(qDate, t.Format(amzDateLayout))
	q.Set(qExpires, strconv.FormatInt(secs, 10))
	q.Set(qSignedHeaders, "host")
	if s.Credentials.SessionToken != "" {
		q.Set(qSecurityToken, s.Credentials.SessionToken)
	}
	rawQuery := r.URL.RawQuery
	if rawQuery != "" {
		rawQuery += "&"
	}
	rawQuery += strings.ReplaceAll(q.Encode(), "+", "%20")
	payloadHash := EmptyPayloadHash
	if s.Service == "s3" {
		payloadHash = unsignedPayload
	}
	sig := s.signature(t, &canonicalInput{
		method: r.Method, rawPath: r.URL.EscapedPath(), rawQuery: rawQuery, host: requestHost(r),
		signedHeaders: "host", payloadHash: payloadHash, s3: s.Service == "s3", presigned: true,
	})
	u := *r.URL
	u.RawQuery = rawQuery + "&" + qSignature + "=" + sig
	return u.String(), nil
}

func (s *Signer) scope(t time.Time) string {
	return t.Format("20060102") + "/" + s.Region + "/" + s.Service + "/aws4_request"
}

func (s *Signer) signature(t time.Time, in *canonicalInput) string {
	cr := appendCanonicalRequest(nil, in)
	sts := appendStringToSign(nil, t.Format(amzDateLayout), s.scope(t), sha256.Sum256(cr))
	date := t.Format("20060102")
	dk := s.key.Load()
	if dk == nil || dk.date != date || dk.secret != s.Credentials.SecretAccessKey || dk.region != s.Region || dk.service != s.Service {
		key := deriveKey([]byte(s.Credentials.SecretAccessKey), date, s.Region, s.Service)
		dk = &dayKey{date: date, secret: s.Credentials.SecretAccessKey, region: s.Region, service: s.Service, sk: newSigningKey(key)}
		s.key.Store(dk)
	}
	sum, _ := dk.sk.sign(nil, sts)
	return hex.EncodeToString(sum[:])
}

func requestHost(r *http.Request) string {
	if r.Host != "" {
		return r.Host
	}
	return r.URL.Host
}
