package sigv4

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"
)

// staticSource is a CredentialSource over a fixed map, for tests.
type staticSource struct {
	mu   sync.Mutex
	keys map[string]testKey
	err  error // returned for every lookup when set
}

type testKey struct {
	secret  string
	token   string // required session token, if any
	expired bool
}

func (s *staticSource) Lookup(_ context.Context, akid, token string) (Credential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return Credential{}, s.err
	}
	k, ok := s.keys[akid]
	if !ok || k.token != token {
		return Credential{}, ErrInvalidClientTokenID
	}
	if k.expired {
		return Credential{}, ErrExpiredToken
	}
	return Credential{SecretAccessKey: []byte(k.secret), Principal: "principal:" + akid}, nil
}

func (s *staticSource) set(akid string, k testKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[akid] = k
}

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func mustTime(s string) time.Time {
	t, ok := parseAmzDate(s)
	if !ok {
		panic("bad time " + s)
	}
	return t
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

func hexString(b []byte) string { return hex.EncodeToString(b) }
