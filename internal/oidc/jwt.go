// Package oidc verifies OpenID Connect ID tokens (JWTs signed with RS256,
// RS384, RS512, ES256 or ES384) against a provider's JSON Web Key Set, and
// fetches that key set through the provider's discovery document, with a
// cache. STS's AssumeRoleWithWebIdentity uses it.
//
// It is not a general JOSE library: no encryption, no symmetric (HS*)
// algorithms, no "none", no embedded keys (jwk, x5u headers) — only what an
// identity provider's ID token needs, which keeps the attack surface small.
package oidc

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"strings"
	"time"
)

// MaxTokenLen bounds the tokens Parse accepts (STS's limit for
// WebIdentityToken is 20,000 characters).
const MaxTokenLen = 20000

// Errors; check them with errors.Is.
var (
	// ErrMalformed means the token is not a well-formed signed JWT.
	ErrMalformed = errors.New("oidc: malformed token")
	// ErrUnsupportedAlgorithm means the token's alg is not one this
	// package verifies.
	ErrUnsupportedAlgorithm = errors.New("oidc: unsupported signing algorithm")
	// ErrNoKey means no key of the key set can verify the token (unknown
	// kid, or no key of the algorithm's type).
	ErrNoKey = errors.New("oidc: no matching key")
	// ErrSignature means the signature does not verify.
	ErrSignature = errors.New("oidc: invalid signature")
)

// Header is the JOSE header of a token.
type Header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid,omitempty"`
	Typ string `json:"typ,omitempty"`
}

// Claims are the registered claims of an ID token, and every claim as
// decoded JSON in Raw.
type Claims struct {
	Issuer    string
	Subject   string
	Audience  []string
	Expiry    time.Time // zero if absent
	NotBefore time.Time // zero if absent
	IssuedAt  time.Time // zero if absent
	// AuthorizedParty is azp.
	AuthorizedParty string
	Raw             map[string]any
}

// Token is a parsed, not yet verified JWT.
type Token struct {
	Header    Header
	Claims    Claims
	signed    string // header.payload as sent
	signature []byte
}

var b64 = base64.RawURLEncoding

// Parse decodes a compact JWS without verifying it.
func Parse(token string) (*Token, error) {
	if len(token) > MaxTokenLen {
		return nil, fmt.Errorf("%w: longer than %d characters", ErrMalformed, MaxTokenLen)
	}
	h, rest, ok := strings.Cut(token, ".")
	if !ok {
		return nil, fmt.Errorf("%w: not three parts", ErrMalformed)
	}
	p, s, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(s, ".") {
		return nil, fmt.Errorf("%w: not three parts", ErrMalformed)
	}
	hb, err := b64.DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("%w: header is not base64url", ErrMalformed)
	}
	pb, err := b64.DecodeString(p)
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not base64url", ErrMalformed)
	}
	sig, err := b64.DecodeString(s)
	if err != nil || len(sig) == 0 {
		return nil, fmt.Errorf("%w: signature is not base64url", ErrMalformed)
	}
	t := &Token{signed: token[:len(h)+1+len(p)], signature: sig}
	if err := json.Unmarshal(hb, &t.Header); err != nil {
		return nil, fmt.Errorf("%w: header is not a JSON object", ErrMalformed)
	}
	if t.Header.Alg == "" {
		return nil, fmt.Errorf("%w: header has no alg", ErrMalformed)
	}
	if err := t.Claims.decode(pb); err != nil {
		return nil, err
	}
	return t, nil
}

func (c *Claims) decode(payload []byte) error {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&c.Raw); err != nil || c.Raw == nil {
		return fmt.Errorf("%w: payload is not a JSON object", ErrMalformed)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after payload", ErrMalformed)
	}
	str := func(name string) (string, error) {
		v, present := c.Raw[name]
		if !present {
			return "", nil
		}
		s, isStr := v.(string)
		if !isStr {
			return "", fmt.Errorf("%w: claim %s is not a string", ErrMalformed, name)
		}
		return s, nil
	}
	var err error
	if c.Issuer, err = str("iss"); err != nil {
		return err
	}
	if c.Subject, err = str("sub"); err != nil {
		return err
	}
	if c.AuthorizedParty, err = str("azp"); err != nil {
		return err
	}
	switch aud := c.Raw["aud"].(type) {
	case nil:
	case string:
		c.Audience = []string{aud}
	case []any:
		for _, a := range aud {
			s, isStr := a.(string)
			if !isStr {
				return fmt.Errorf("%w: aud holds a non-string", ErrMalformed)
			}
			c.Audience = append(c.Audience, s)
		}
	default:
		return fmt.Errorf("%w: aud is neither a string nor an array", ErrMalformed)
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"exp", &c.Expiry}, {"nbf", &c.NotBefore}, {"iat", &c.IssuedAt}} {
		v, present := c.Raw[f.name]
		if !present {
			continue
		}
		n, isNum := v.(json.Number)
		if !isNum {
			return fmt.Errorf("%w: %s is not a number", ErrMalformed, f.name)
		}
		secs, err := numericDate(n)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrMalformed, f.name, err)
		}
		*f.dst = time.Unix(secs, 0).UTC()
	}
	return nil
}

// numericDate reads a JWT NumericDate (seconds, possibly fractional).
func numericDate(n json.Number) (int64, error) {
	if i, err := n.Int64(); err == nil {
		if i < 0 || i > 1<<40 {
			return 0, errors.New("out of range")
		}
		return i, nil
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f > 1<<40 {
		return 0, errors.New("out of range")
	}
	return int64(f), nil
}

// StringClaim returns a string claim.
func (c *Claims) StringClaim(name string) (string, bool) {
	s, ok := c.Raw[name].(string)
	return s, ok
}

// StringsClaim returns a claim that is a string or an array of strings.
func (c *Claims) StringsClaim(name string) ([]string, bool) {
	switch v := c.Raw[name].(type) {
	case string:
		return []string{v}, true
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// algorithm describes a supported alg.
type algorithm struct {
	hash    crypto.Hash
	newHash func() hash.Hash
	ec      bool
	size    int // ECDSA coordinate size in bytes
}

var algorithms = map[string]algorithm{
	"RS256": {hash: crypto.SHA256, newHash: sha256.New},
	"RS384": {hash: crypto.SHA384, newHash: sha512.New384},
	"RS512": {hash: crypto.SHA512, newHash: sha512.New},
	"ES256": {hash: crypto.SHA256, newHash: sha256.New, ec: true, size: 32},
	"ES384": {hash: crypto.SHA384, newHash: sha512.New384, ec: true, size: 48},
}

// Verify checks the token's signature with a key of ks: the key with the
// token's kid when it has one, otherwise any key of the right type.
func (t *Token) Verify(ks *KeySet) error {
	alg, ok := algorithms[t.Header.Alg]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, t.Header.Alg)
	}
	h := alg.newHash()
	h.Write([]byte(t.signed))
	digest := h.Sum(nil)
	tried := false
	for _, k := range ks.keys {
		if t.Header.Kid != "" && k.kid != t.Header.Kid {
			continue
		}
		if k.alg != "" && k.alg != t.Header.Alg {
			continue
		}
		switch pub := k.pub.(type) {
		case *rsa.PublicKey:
			if alg.ec {
				continue
			}
			tried = true
			if rsa.VerifyPKCS1v15(pub, alg.hash, digest, t.signature) == nil {
				return nil
			}
		case *ecdsa.PublicKey:
			if !alg.ec || (pub.Curve.Params().BitSize+7)/8 != alg.size {
				continue
			}
			tried = true
			if len(t.signature) != 2*alg.size {
				return fmt.Errorf("%w: ECDSA signature of %d bytes", ErrSignature, len(t.signature))
			}
			r := new(big.Int).SetBytes(t.signature[:alg.size])
			s := new(big.Int).SetBytes(t.signature[alg.size:])
			if ecdsa.Verify(pub, digest, r, s) {
				return nil
			}
		}
	}
	if !tried {
		return fmt.Errorf("%w: kid %q, alg %s", ErrNoKey, t.Header.Kid, t.Header.Alg)
	}
	return ErrSignature
}
