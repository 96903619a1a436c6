package stsapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/secrets"
	"github.com/iamd/iamd/internal/sigv4"
	"github.com/iamd/iamd/internal/ststoken"
)

// SessionCredentials authenticates temporary (ASIA…) access keys by opening their
// session tokens. It implements authn.TemporaryCredentials. Opened tokens
// are cached by a hash of the key ID and token, so a client that signs many
// requests with the same credentials pays for opening the token once.
type SessionCredentials struct {
	sealer *ststoken.Sealer
	now    func() time.Time

	mu    sync.RWMutex
	cache map[[sha256.Size]byte]cachedCredential
	max   int
}

type cachedCredential struct {
	cred    sigv4.Credential
	expires time.Time
}

// maxCachedCredentials bounds the cache; past it expired entries are
// dropped, and if that is not enough, all of them.
const maxCachedCredentials = 100_000

func newCredentials(sealer *ststoken.Sealer, now func() time.Time) *SessionCredentials {
	return &SessionCredentials{sealer: sealer, now: now, cache: make(map[[sha256.Size]byte]cachedCredential), max: maxCachedCredentials}
}

func cacheKey(accessKeyID, token string) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(accessKeyID))
	h.Write([]byte{0})
	h.Write([]byte(token))
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// Lookup implements authn.TemporaryCredentials: it returns the secret of a
// temporary key and an *authz.Caller describing its session, or
// sigv4.ErrInvalidClientTokenID for a token that is not authentic (or not
// issued with this key ID) and sigv4.ErrExpiredToken for an expired one.
func (c *SessionCredentials) Lookup(_ context.Context, accessKeyID, sessionToken string) (sigv4.Credential, error) {
	now := c.now()
	k := cacheKey(accessKeyID, sessionToken)
	c.mu.RLock()
	e, ok := c.cache[k]
	c.mu.RUnlock()
	if ok {
		if !now.Before(e.expires) {
			return sigv4.Credential{}, sigv4.ErrExpiredToken
		}
		return e.cred, nil
	}
	sess, err := c.sealer.Open(accessKeyID, sessionToken, now)
	switch {
	case errors.Is(err, ststoken.ErrExpired):
		return sigv4.Credential{}, sigv4.ErrExpiredToken
	case err != nil:
		return sigv4.Credential{}, sigv4.ErrInvalidClientTokenID
	}
	cred := sigv4.Credential{SecretAccessKey: []byte(sess.SecretAccessKey), Principal: callerOf(&sess)}
	c.mu.Lock()
	if len(c.cache) >= c.max {
		for key, v := range c.cache {
			if !now.Before(v.expires) {
				delete(c.cache, key)
			}
		}
		if len(c.cache) >= c.max {
			clear(c.cache)
		}
	}
	c.cache[k] = cachedCredential{cred: cred, expires: sess.Expiration}
	c.mu.Unlock()
	return cred, nil
}

// Session opens a session token without the cache, for callers that need
// the session itself (tests, administration).
func (c *SessionCredentials) Session(accessKeyID, sessionToken string) (ststoken.Session, error) {
	return c.sealer.Open(accessKeyID, sessionToken, c.now())
}

// callerOf describes the principal of a session.
func callerOf(s *ststoken.Session) *authz.Caller {
	c := &authz.Caller{
		Account: s.Account, ARN: s.ARN, UserID: s.PrincipalID, AccessKeyID: s.AccessKeyID,
		Session: &authz.Session{
			Name: s.SessionName, IssuedAt: s.IssuedAt, Expires: s.Expiration,
			MFA: s.MFAAuthenticated, MFAAuthTime: s.MFAAuthTime, SourceIdentity: s.SourceIdentity,
			TransitiveKeys: s.TransitiveTagKeys, Policy: s.Policy, PolicyARNs: s.PolicyARNs,
			Chained: s.RoleChained,
		},
	}
	if len(s.Tags) > 0 {
		c.Session.Tags = make(map[string]string, len(s.Tags))
		for _, t := range s.Tags {
			c.Session.Tags[t.Key] = t.Value
		}
	}
	switch s.Kind {
	case ststoken.KindAssumedRole:
		c.Type = authz.AssumedRole
		c.PrincipalARN = s.SourceARN
		c.Name = iam.EntityName(s.SourceARN)
		c.EntityID = s.SourceID
	case ststoken.KindFederatedUser:
		c.Type = authz.FederatedUser
		c.PrincipalARN = s.ARN
		c.Name = s.SessionName
		c.EntityID = s.SourceID
	case ststoken.KindUser:
		c.Type = authz.User
		c.PrincipalARN = s.ARN
		c.Name = iam.EntityName(s.ARN)
		c.EntityID = s.SourceID
	case ststoken.KindRoot:
		c.Type = authz.Root
		c.PrincipalARN = s.ARN
		c.EntityID = s.Account
	}
	return c
}

// issue mints temporary credentials for a session: a key ID that encodes
// the account (as AWS's do, so GetAccessKeyInfo answers for any key), a
// secret, and the sealed token.
func (s *Service) issue(sess *ststoken.Session) (*Credentials, error) {
	sess.AccessKeyID = newTemporaryKeyID(sess.Account)
	sess.SecretAccessKey = secrets.NewSecretAccessKey()
	token, err := s.sealer.Seal(*sess)
	if err != nil {
		if errors.Is(err, ststoken.ErrInvalidSession) {
			return nil, PackedPolicyTooLargeError("Session is too large to be packed into a session token.")
		}
		return nil, fmt.Errorf("seal session: %w", err)
	}
	return &Credentials{
		AccessKeyId: sess.AccessKeyID, SecretAccessKey: sess.SecretAccessKey,
		SessionToken: token, Expiration: sess.Expiration,
	}, nil
}

var keyIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newTemporaryKeyID returns an ASIA… key ID whose 80 bits after the prefix
// carry the account ID the way AWS's key IDs do: the first 48 bits hold
// random bit 47, the account in bits 7-46 and random bits 0-6.
func newTemporaryKeyID(account string) string {
	return newKeyID(secrets.PrefixTemporaryAccessKey, account)
}

func newKeyID(prefix, account string) string {
	var b [10]byte
	rand.Read(b[:])
	acct, err := strconv.ParseUint(account, 10, 64)
	if err == nil && acct < 1<<40 {
		var head [8]byte
		v := uint64(b[0]&0x80)<<40 | acct<<7 | uint64(b[5]&0x7f)
		binary.BigEndian.PutUint64(head[:], v)
		copy(b[:6], head[2:])
	}
	return prefix + keyIDEncoding.EncodeToString(b[:])
}

// accountOfKeyID decodes the account ID carried by an AWS-style access key
// ID; ok is false if the ID is not base32 after its 4-letter prefix.
func accountOfKeyID(id string) (string, bool) {
	if len(id) != secrets.AccessKeyIDLen {
		return "", false
	}
	b, err := keyIDEncoding.DecodeString(id[4:])
	if err != nil || len(b) < 6 {
		return "", false
	}
	var head [8]byte
	copy(head[2:], b[:6])
	v := binary.BigEndian.Uint64(head[:])
	acct := (v & 0x7fffffffff80) >> 7
	return fmt.Sprintf("%012d", acct), true
}
