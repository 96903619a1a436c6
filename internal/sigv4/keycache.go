package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"sync"
)

// signingKey is a derived SigV4 signing key, kept as the two padded HMAC
// key blocks (RFC 2104) so that signing a string needs no allocation.
type signingKey struct {
	ipad, opad [sha256.BlockSize]byte
}

func newSigningKey(key []byte) *signingKey {
	// A derived key is an HMAC-SHA256 output: 32 bytes, shorter than the
	// block, so RFC 2104's "hash long keys first" never applies.
	k := new(signingKey)
	copy(k.ipad[:], key)
	copy(k.opad[:], key)
	for i := range k.ipad {
		k.ipad[i] ^= 0x36
		k.opad[i] ^= 0x5c
	}
	return k
}

// sign returns HMAC-SHA256(key, msg). buf is scratch space; the grown
// buffer is returned for reuse.
func (k *signingKey) sign(buf []byte, msg []byte) (sum [sha256.Size]byte, scratch []byte) {
	buf = append(buf[:0], k.ipad[:]...)
	buf = append(buf, msg...)
	inner := sha256.Sum256(buf)
	var outer [sha256.BlockSize + sha256.Size]byte
	copy(outer[:], k.opad[:])
	copy(outer[sha256.BlockSize:], inner[:])
	return sha256.Sum256(outer[:]), buf
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// deriveKey computes the SigV4 signing key for a secret and a credential
// scope: HMAC chained over "AWS4"+secret, date, region, service and
// "aws4_request".
func deriveKey(secret []byte, date, region, service string) []byte {
	k := make([]byte, 0, 4+len(secret))
	k = append(k, "AWS4"...)
	k = append(k, secret...)
	kDate := hmacSHA256(k, date)
	clear(k)
	kRegion := hmacSHA256(kDate, region)
	kService := hmacSHA256(kRegion, service)
	return hmacSHA256(kService, "aws4_request")
}

// keyCacheKey holds everything that changes a derived key. The secret is
// part of it, hashed, so that a rotated secret never reuses the old key and
// the cache does not keep secrets in its keys.
type keyCacheKey struct {
	secret  [sha256.Size]byte
	date    string
	region  string
	service string
}

// keyCache caches derived signing keys. It is bounded: when full, an
// arbitrary entry is evicted. Keys change daily, so old ones age out by
// eviction. It is safe for concurrent use.
type keyCache struct {
	max int
	mu  sync.RWMutex
	m   map[keyCacheKey]*signingKey
}

func newKeyCache(max int) *keyCache {
	return &keyCache{max: max, m: make(map[keyCacheKey]*signingKey)}
}

func (c *keyCache) get(secret []byte, date, region, service string) *signingKey {
	k := keyCacheKey{secret: sha256.Sum256(secret), date: date, region: region, service: service}
	c.mu.RLock()
	sk := c.m[k]
	c.mu.RUnlock()
	if sk != nil {
		return sk
	}
	sk = newSigningKey(deriveKey(secret, date, region, service))
	if c.max <= 0 {
		return sk
	}
	// The strings may be slices of a large request header; do not keep it
	// alive.
	k.date, k.region, k.service = strings.Clone(date), strings.Clone(region), strings.Clone(service)
	c.mu.Lock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for old := range c.m { // map iteration order is randomised
			delete(c.m, old)
			break
		}
	}
	c.m[k] = sk
	c.mu.Unlock()
	return sk
}

func (c *keyCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
