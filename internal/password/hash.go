package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Errors returned by Hasher; check them with errors.Is.
var (
	// ErrMismatch means the password does not match the hash.
	ErrMismatch = errors.New("password: mismatch")
	// ErrMalformedHash means a stored hash is not an argon2id PHC string this
	// package accepts (including parameters outside the accepted bounds).
	ErrMalformedHash = errors.New("password: malformed hash")
	// ErrInvalidParams means NewHasher was given unusable parameters.
	ErrInvalidParams = errors.New("password: invalid argon2id parameters")
)

// Params are argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams returns the parameters for new hashes: m=19 MiB, t=2, p=1,
// a 16-byte salt and a 32-byte hash, OWASP's first recommended argon2id
// configuration. On the reference 2-core machine one hash takes about 40 ms
// (m=64 MiB, t=2 takes about 145 ms), so a 2-core server can verify a few
// dozen logins a second with bounded memory (19 MiB per hash in flight).
func DefaultParams() Params {
	return Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Bounds on parameters accepted from stored hashes, so a corrupted or
// planted hash cannot make Verify allocate gigabytes or spin for minutes.
const (
	maxMemory  = 1 << 20 // 1 GiB in KiB
	maxTime    = 16
	minSaltLen = 8
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 64
)

func (p Params) validate() error {
	switch {
	case p.Threads < 1:
		return fmt.Errorf("threads %d < 1: %w", p.Threads, ErrInvalidParams)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("memory %d KiB out of range: %w", p.Memory, ErrInvalidParams)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("time %d out of range: %w", p.Time, ErrInvalidParams)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("salt length %d out of range: %w", p.SaltLen, ErrInvalidParams)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("key length %d out of range: %w", p.KeyLen, ErrInvalidParams)
	}
	return nil
}

// Hasher hashes and verifies passwords. It bounds how many argon2id
// computations run at once, so a burst of logins queues instead of
// exhausting memory. A Hasher is safe for concurrent use.
type Hasher struct {
	params Params
	sem    chan struct{}
}

// NewHasher returns a Hasher that hashes with p and runs at most
// maxConcurrent hashes at once (at least 1).
func NewHasher(p Params, maxConcurrent int) (*Hasher, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	return &Hasher{params: p, sem: make(chan struct{}, max(1, maxConcurrent))}, nil
}

// Params returns the parameters the Hasher uses for new hashes.
func (h *Hasher) Params() Params { return h.params }

func (h *Hasher) derive(ctx context.Context, password string, salt []byte, p Params) ([]byte, error) {
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-h.sem }()
	return argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen), nil
}

// Hash returns the PHC string for password with a fresh random salt.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	rand.Read(salt)
	key, err := h.derive(ctx, password, salt, h.params)
	if err != nil {
		return "", err
	}
	return encode(h.params, salt, key), nil
}

// Verify checks password against a PHC string made by Hash, using the
// parameters recorded in it. It returns nil on a match, an error wrapping
// ErrMismatch if the password is wrong, and one wrapping ErrMalformedHash if
// the hash cannot be used. The comparison is constant-time.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) error {
	p, salt, want, err := decode(encoded)
	if err != nil {
		return err
	}
	got, err := h.derive(ctx, password, salt, p)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}

// NeedsRehash reports whether encoded was made with parameters other than
// the Hasher's (or cannot be parsed), so the caller should re-hash the
// password after a successful Verify.
func (h *Hasher) NeedsRehash(encoded string) bool {
	p, salt, key, err := decode(encoded)
	if err != nil {
		return true
	}
	return p.Memory != h.params.Memory || p.Time != h.params.Time || p.Threads != h.params.Threads ||
		uint32(len(salt)) != h.params.SaltLen || uint32(len(key)) != h.params.KeyLen
}

var b64 = base64.RawStdEncoding

func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decode parses "$argon2id$v=19$m=M,t=T,p=P$salt$hash" strictly: fields in
// that order, unpadded standard base64, parameters within bounds.
func decode(s string) (p Params, salt, key []byte, err error) {
	bad := func(what string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("%s: %w", what, ErrMalformedHash)
	}
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" {
		return bad("not a PHC string")
	}
	if f[1] != "argon2id" {
		return bad("algorithm is not argon2id")
	}
	if f[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unsupported argon2 version")
	}
	ps := strings.Split(f[3], ",")
	if len(ps) != 3 {
		return bad("parameters")
	}
	m, ok1 := param(ps[0], "m=", maxMemory)
	t, ok2 := param(ps[1], "t=", maxTime)
	par, ok3 := param(ps[2], "p=", 255)
	if !ok1 || !ok2 || !ok3 {
		return bad("parameters")
	}
	// The base64 decoder skips '\r' and '\n'; a stored hash never has them.
	if strings.ContainsAny(f[4]+f[5], "\r\n") {
		return bad("line break in salt or hash")
	}
	if salt, err = b64.Strict().DecodeString(f[4]); err != nil {
		return bad("salt")
	}
	if key, err = b64.Strict().DecodeString(f[5]); err != nil {
		return bad("hash")
	}
	p = Params{Memory: m, Time: t, Threads: uint8(par), SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	if p.validate() != nil {
		return bad("parameters out of range")
	}
	return p, salt, key, nil
}

func param(s, prefix string, limit uint64) (uint32, bool) {
	v, ok := strings.CutPrefix(s, prefix)
	if !ok || v == "" || (len(v) > 1 && v[0] == '0') {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n > limit {
		return 0, false
	}
	return uint32(n), true
}
