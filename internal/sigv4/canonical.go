package sigv4

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
)

// This file builds the canonical request. Everything appends to a caller's
// buffer so that verifying a typical request allocates almost nothing.

const upperHex = "0123456789ABCDEF"

// unreserved reports whether c is in RFC 3986's unreserved set, the only
// bytes SigV4 leaves unencoded.
func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func appendEscapedByte(dst []byte, c byte) []byte {
	if unreserved(c) {
		return append(dst, c)
	}
	return append(dst, '%', upperHex[c>>4], upperHex[c&15])
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// percentByte decodes the escape "%XX" at s[i:], if there is a valid one.
func percentByte(s string, i int) (byte, bool) {
	if s[i] != '%' || i+2 >= len(s) {
		return 0, false
	}
	hi, ok1 := unhex(s[i+1])
	lo, ok2 := unhex(s[i+2])
	return hi<<4 | lo, ok1 && ok2
}

// appendCanonicalURI appends the canonical URI for a path as received.
//
// For every service but s3, AWS removes dot segments and empty segments and
// then URI-encodes the received (already encoded) path again, so each
// segment ends up encoded twice. For s3 the path is neither normalised nor
// double-encoded: it is decoded and re-encoded once, keeping an encoded
// slash ("%2F") as it is.
func appendCanonicalURI(dst []byte, rawPath string, s3 bool) []byte {
	if rawPath == "" {
		rawPath = "/"
	}
	if s3 {
		for i := 0; i < len(rawPath); i++ {
			c := rawPath[i]
			if b, ok := percentByte(rawPath, i); ok {
				i += 2
				if unreserved(b) {
					dst = append(dst, b)
				} else {
					dst = append(dst, '%', upperHex[b>>4], upperHex[b&15])
				}
				continue
			}
			if c == '/' {
				dst = append(dst, c)
			} else {
				dst = appendEscapedByte(dst, c)
			}
		}
		return dst
	}
	if needsNormalizing(rawPath) {
		rawPath = normalizePath(rawPath)
	}
	for i := 0; i < len(rawPath); i++ {
		if c := rawPath[i]; c == '/' {
			dst = append(dst, c)
		} else {
			dst = appendEscapedByte(dst, c)
		}
	}
	return dst
}

// needsNormalizing reports whether p has an empty, "." or ".." segment or
// lacks the leading slash.
func needsNormalizing(p string) bool {
	if p[0] != '/' {
		return true
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	// An empty segment anywhere but last ("/a/" is fine) is a double slash.
	return strings.Contains(p, "//")
}

// normalizePath removes empty, "." and ".." segments; ".." above the root
// is dropped. A trailing slash is kept when the path ended in one and
// anything remains ("/a/b/.." is "/a", as botocore signs it).
func normalizePath(p string) string {
	var out []string
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	if len(out) == 0 {
		return "/"
	}
	s := "/" + strings.Join(out, "/")
	if strings.HasSuffix(p, "/") {
		s += "/"
	}
	return s
}

// appendQueryComponent appends the canonical encoding of one raw query name
// or value: it is decoded as a form value ('+' is a space, "%XX" a byte)
// and encoded again with every byte outside the unreserved set escaped.
// A '%' that does not start a valid escape is taken literally.
func appendQueryComponent(dst []byte, raw string) []byte {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '+' {
			dst = append(dst, "%20"...)
			continue
		}
		if b, ok := percentByte(raw, i); ok {
			i += 2
			c = b
		}
		dst = appendEscapedByte(dst, c)
	}
	return dst
}

// queryPair locates one encoded name and value in a scratch buffer.
type queryPair struct{ k0, k1, v0, v1 int }

// appendCanonicalQuery appends the canonical query string: every parameter
// encoded, sorted by encoded name and then encoded value, joined with '&'.
// When presigned, X-Amz-Signature is left out.
func appendCanonicalQuery(dst []byte, rawQuery string, presigned bool) []byte {
	if rawQuery == "" {
		return dst
	}
	var pairsArr [16]queryPair
	pairs := pairsArr[:0]
	var scratchArr [512]byte
	scratch := scratchArr[:0]
	for param := range strings.SplitSeq(rawQuery, "&") {
		if param == "" {
			continue
		}
		k, v, _ := strings.Cut(param, "=")
		var p queryPair
		p.k0 = len(scratch)
		scratch = appendQueryComponent(scratch, k)
		p.k1 = len(scratch)
		if presigned && string(scratch[p.k0:p.k1]) == "X-Amz-Signature" {
			scratch = scratch[:p.k0]
			continue
		}
		p.v0 = p.k1
		scratch = appendQueryComponent(scratch, v)
		p.v1 = len(scratch)
		pairs = append(pairs, p)
	}
	slices.SortFunc(pairs, func(a, b queryPair) int {
		if c := bytes.Compare(scratch[a.k0:a.k1], scratch[b.k0:b.k1]); c != 0 {
			return c
		}
		return bytes.Compare(scratch[a.v0:a.v1], scratch[b.v0:b.v1])
	})
	for i, p := range pairs {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = append(dst, scratch[p.k0:p.k1]...)
		dst = append(dst, '=')
		dst = append(dst, scratch[p.v0:p.v1]...)
	}
	return dst
}

// appendTrimmedValue appends a header value without leading or trailing
// spaces and with runs of spaces collapsed to one.
func appendTrimmedValue(dst []byte, v string) []byte {
	v = strings.Trim(v, " ")
	if !strings.Contains(v, "  ") {
		return append(dst, v...)
	}
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		dst = append(dst, c)
	}
	return dst
}

// canonicalValues returns the values stored under name's canonical MIME
// key ("x-amz-date" → "X-Amz-Date"), without allocating.
func canonicalValues(h http.Header, name string) ([]string, bool) {
	var buf [64]byte
	if len(name) > len(buf) {
		return nil, false
	}
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
		upper = c == '-'
	}
	vs, ok := h[string(buf[:len(name)])]
	return vs, ok
}

// headerValues returns the values of the header named name (lowercase),
// matching keys case-insensitively. A forwarded request may carry keys in
// any case, maybe several spellings of one name: those are merged in
// sorted key order.
func headerValues(h http.Header, name string) []string {
	if vs, ok := canonicalValues(h, name); ok {
		return vs
	}
	var found string
	n := 0
	for k := range h {
		if strings.EqualFold(k, name) {
			found = k
			n++
		}
	}
	switch n {
	case 0:
		return nil
	case 1:
		return h[found]
	}
	return lowercaseIndex(h)[name]
}

// lowercaseIndex maps lowercase header names to their merged values.
func lowercaseIndex(h http.Header) map[string][]string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	idx := make(map[string][]string, len(keys))
	for _, k := range keys {
		lk := strings.ToLower(k)
		if vs, ok := idx[lk]; ok {
			idx[lk] = append(slices.Clip(vs), h[k]...)
		} else {
			idx[lk] = h[k]
		}
	}
	return idx
}

// headerValue returns the first value of the named header, or "".
func headerValue(h http.Header, name string) string {
	if vs := headerValues(h, name); len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// appendCanonicalHeaders appends "name:value\n" for each name in the
// semicolon-separated signedHeaders list, in list order. The host header
// comes from host, and Content-Length from contentLength when that is set
// (Go's server moved it out of h).
//
// Names not found under their canonical key are looked up in a lowercase
// index built once, so a long list of absent names costs linear time.
func appendCanonicalHeaders(dst []byte, signedHeaders, host, contentLength string, h http.Header) []byte {
	var lower map[string][]string
	for name := range strings.SplitSeq(signedHeaders, ";") {
		dst = append(dst, name...)
		dst = append(dst, ':')
		if name == "host" {
			dst = appendTrimmedValue(dst, host)
		} else if name == "content-length" && contentLength != "" {
			dst = append(dst, contentLength...)
		} else {
			vs, ok := canonicalValues(h, name)
			if !ok {
				if lower == nil {
					lower = lowercaseIndex(h)
				}
				vs = lower[name]
			}
			for i, v := range vs {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = appendTrimmedValue(dst, v)
			}
		}
		dst = append(dst, '\n')
	}
	return dst
}

// canonicalInput is everything the canonical request is built from.
type canonicalInput struct {
	method        string
	rawPath       string
	rawQuery      string
	host          string
	header        http.Header
	contentLength string // Request.contentLength
	signedHeaders string
	payloadHash   string
	s3            bool
	presigned     bool
}

// appendCanonicalRequest appends the canonical request described in
// "Create a canonical request" of the SigV4 documentation.
func appendCanonicalRequest(dst []byte, in *canonicalInput) []byte {
	dst = append(dst, in.method...)
	dst = append(dst, '\n')
	dst = appendCanonicalURI(dst, in.rawPath, in.s3)
	dst = append(dst, '\n')
	dst = appendCanonicalQuery(dst, in.rawQuery, in.presigned)
	dst = append(dst, '\n')
	dst = appendCanonicalHeaders(dst, in.signedHeaders, in.host, in.contentLength, in.header)
	dst = append(dst, '\n')
	dst = append(dst, in.signedHeaders...)
	dst = append(dst, '\n')
	dst = append(dst, in.payloadHash...)
	return dst
}
