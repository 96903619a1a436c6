package oidc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"
)

// KeySet is a parsed JSON Web Key Set: the public signing keys of a
// provider. Keys of unsupported types are skipped.
type KeySet struct {
	keys []key
}

type key struct {
	kid string
	alg string
	pub any // *rsa.PublicKey or *ecdsa.PublicKey
}

// Len returns the number of usable keys.
func (ks *KeySet) Len() int { return len(ks.keys) }

// HasKey reports whether the set has a key with the given ID.
func (ks *KeySet) HasKey(kid string) bool {
	for _, k := range ks.keys {
		if k.kid == kid {
			return true
		}
	}
	return false
}

type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// maxKeySetSize bounds a key set document.
const maxKeySetSize = 1 << 20

// ParseKeySet parses a JWKS document ({"keys":[...]}). It fails if the
// document is not a key set; keys it cannot use (encryption keys, unknown
// types or curves, weak RSA keys) are skipped.
func ParseKeySet(data []byte) (*KeySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if len(data) > maxKeySetSize {
		return nil, errors.New("oidc: key set too large")
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("oidc: key set: %w", err)
	}
	if doc.Keys == nil {
		return nil, errors.New("oidc: key set has no keys member")
	}
	ks := &KeySet{}
	for _, raw := range doc.Keys {
		var k jwk
		if json.Unmarshal(raw, &k) != nil {
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		pub, ok := k.publicKey()
		if !ok {
			continue
		}
		ks.keys = append(ks.keys, key{kid: k.Kid, alg: k.Alg, pub: pub})
	}
	return ks, nil
}

func (k *jwk) publicKey() (any, bool) {
	switch k.Kty {
	case "RSA":
		n, err1 := b64.DecodeString(k.N)
		e, err2 := b64.DecodeString(k.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			return nil, false
		}
		exp := 0
		for _, b := range e {
			exp = exp<<8 | int(b)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}
		if pub.N.BitLen() < 2048 || pub.E < 3 || pub.E%2 == 0 {
			return nil, false
		}
		return pub, true
	case "EC":
		var curve elliptic.Curve
		switch k.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		default:
			return nil, false
		}
		x, err1 := b64.DecodeString(k.X)
		y, err2 := b64.DecodeString(k.Y)
		size := (curve.Params().BitSize + 7) / 8
		if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
			return nil, false
		}
		// Check the point through the uncompressed encoding, which
		// rejects points not on the curve.
		enc := append([]byte{4}, append(x, y...)...)
		var (
			pub *ecdsa.PublicKey
			err error
		)
		switch k.Crv {
		case "P-256":
			pub, err = ecdsa.ParseUncompressedPublicKey(elliptic.P256(), enc)
		default:
			pub, err = ecdsa.ParseUncompressedPublicKey(elliptic.P384(), enc)
		}
		if err != nil {
			return nil, false
		}
		return pub, true
	}
	return nil, false
}

// ErrFetch means the provider's discovery document or key set could not be
// fetched (network failure, timeout, server error). STS answers
// IDPCommunicationError.
var ErrFetch = errors.New("oidc: cannot reach the identity provider")

// ErrDiscovery means the provider answered, but with no usable discovery
// document or key set. STS answers InvalidIdentityToken.
var ErrDiscovery = errors.New("oidc: no usable keys from the identity provider")

// Fetcher fetches providers' key sets through their discovery documents
// (ISSUER/.well-known/openid-configuration → jwks_uri) and caches them.
// A key set is refetched when it is older than TTL, or when a token names a
// kid it lacks (at most once per MinRefresh, so unknown kids cannot make
// iamd hammer a provider). It is safe for concurrent use.
type Fetcher struct {
	// Client makes the requests; tests give it the test server's CA.
	Client *http.Client
	// Now is the clock; nil means time.Now.
	Now        func() time.Time
	TTL        time.Duration // default 1 hour
	MinRefresh time.Duration // default 30 seconds

	mu      sync.Mutex
	entries map[string]*fetchEntry
}

type fetchEntry struct {
	mu      sync.Mutex // serialises fetches of one issuer
	ks      *KeySet
	fetched time.Time
}

func (f *Fetcher) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// KeySet returns the key set of issuer (an https URL), from the cache when
// it is fresh and has kid (when kid is not empty).
func (f *Fetcher) KeySet(ctx context.Context, issuer, kid string) (*KeySet, error) {
	f.mu.Lock()
	if f.entries == nil {
		f.entries = make(map[string]*fetchEntry)
	}
	e, ok := f.entries[issuer]
	if !ok {
		e = &fetchEntry{}
		f.entries[issuer] = e
	}
	f.mu.Unlock()

	ttl, minRefresh := f.TTL, f.MinRefresh
	if ttl == 0 {
		ttl = time.Hour
	}
	if minRefresh == 0 {
		minRefresh = 30 * time.Second
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := f.now()
	if e.ks != nil {
		age := now.Sub(e.fetched)
		fresh := age < ttl
		if fresh && (kid == "" || e.ks.HasKey(kid) || age < minRefresh) {
			return e.ks, nil
		}
	}
	ks, err := f.fetch(ctx, issuer)
	if err != nil {
		if e.ks != nil && errors.Is(err, ErrFetch) {
			// Keep serving the keys we have while the provider is down.
			return e.ks, nil
		}
		return nil, err
	}
	e.ks, e.fetched = ks, now
	return ks, nil
}

func (f *Fetcher) fetch(ctx context.Context, issuer string) (*KeySet, error) {
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	body, err := f.get(ctx, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration")
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, &disc); err != nil || disc.JWKSURI == "" {
		return nil, fmt.Errorf("%w: discovery document of %s has no jwks_uri", ErrDiscovery, issuer)
	}
	if !strings.HasPrefix(disc.JWKSURI, "https://") {
		return nil, fmt.Errorf("%w: jwks_uri %s is not https", ErrDiscovery, disc.JWKSURI)
	}
	body, err = f.get(ctx, disc.JWKSURI)
	if err != nil {
		return nil, err
	}
	ks, err := ParseKeySet(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDiscovery, err)
	}
	return ks, nil
}

func (f *Fetcher) get(ctx context.Context, url string) ([]byte, error) {
	client := f.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDiscovery, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFetch, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySetSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFetch, err)
	}
	switch {
	case resp.StatusCode >= 500:
		return nil, fmt.Errorf("%w: %s answered %s", ErrFetch, url, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: %s answered %s", ErrDiscovery, url, resp.Status)
	case len(body) > maxKeySetSize:
		return nil, fmt.Errorf("%w: %s: document too large", ErrDiscovery, url)
	}
	return body, nil
}
