// Package authn turns the access key that signed a request into the caller's
// identity. It is the sigv4.CredentialSource of iamd's endpoints: long-term
// keys come from the in-memory view (their secrets sealed at rest),
// temporary keys from their sealed session tokens.
package authn

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/sigv4"
)

// Opener decrypts secrets sealed at rest; *secrets.Keyring implements it.
type Opener interface {
	Open(ciphertext, associatedData []byte) ([]byte, error)
}

// TemporaryCredentials resolves temporary (ASIA...) keys from their session
// tokens. The STS service implements it.
type TemporaryCredentials interface {
	Lookup(ctx context.Context, accessKeyID, sessionToken string) (sigv4.Credential, error)
}

// Source looks up access keys.
type Source struct {
	View      *iam.View
	Keys      Opener
	Temporary TemporaryCredentials // nil: temporary keys are rejected
	// Partition is the partition of the callers' ARNs; zero means aws.
	Partition iam.Partition

	// longTerm remembers, per long-term key, the secret opened and the
	// caller built from the key's record and its owner's, so that a key
	// signing request after request is not unsealed and described anew
	// each time. An entry is used only while the view still holds those
	// very records (the view never modifies a record once published, so
	// the same pointers mean the same values): the key's status and its
	// owner are still checked in the view on every request.
	mu       sync.RWMutex
	longTerm map[string]longTermKey
}

// longTermKey is what Lookup built for a long-term key.
type longTermKey struct {
	key    *iam.AccessKey
	owner  *iam.User // nil for the root user
	secret []byte
	caller *authz.Caller
}

// maxLongTermKeys bounds Source.longTerm; past it, it starts afresh.
const maxLongTermKeys = 10_000

// Lookup implements sigv4.CredentialSource. The returned Credential's
// Principal is an *authz.Caller describing the key's owner, to be copied and
// completed with the request's facts. The Credential may be shared with
// other requests signed with the same key: neither it nor its secret may be
// modified.
func (s *Source) Lookup(ctx context.Context, accessKeyID, sessionToken string) (sigv4.Credential, error) {
	if strings.HasPrefix(accessKeyID, "ASIA") {
		if s.Temporary == nil || sessionToken == "" {
			return sigv4.Credential{}, sigv4.ErrInvalidClientTokenID
		}
		return s.Temporary.Lookup(ctx, accessKeyID, sessionToken)
	}
	if sessionToken != "" {
		// A long-term key never carries a session token.
		return sigv4.Credential{}, sigv4.ErrInvalidClientTokenID
	}
	k, ok := s.View.AccessKey(accessKeyID)
	if !ok || k.V.Status != "Active" {
		return sigv4.Credential{}, sigv4.ErrInvalidClientTokenID
	}
	owner, ok := s.owner(k.V)
	if !ok {
		return sigv4.Credential{}, sigv4.ErrInvalidClientTokenID
	}
	s.mu.RLock()
	e, ok := s.longTerm[accessKeyID]
	s.mu.RUnlock()
	if ok && e.key == k.V && e.owner == owner {
		return sigv4.Credential{SecretAccessKey: e.secret, Principal: e.caller}, nil
	}
	var caller *authz.Caller
	if owner == nil {
		caller = RootCaller(s.Partition, k.V.Account, k.V.ID)
	} else {
		caller = UserCaller(s.Partition, k.V.Account, owner, k.V.ID)
	}
	secret, err := s.Keys.Open(k.V.Secret, []byte(k.V.ID))
	if err != nil {
		return sigv4.Credential{}, fmt.Errorf("open secret of %s: %w", k.V.ID, err)
	}
	s.mu.Lock()
	if s.longTerm == nil || len(s.longTerm) >= maxLongTermKeys {
		s.longTerm = make(map[string]longTermKey)
	}
	s.longTerm[accessKeyID] = longTermKey{key: k.V, owner: owner, secret: secret, caller: caller}
	s.mu.Unlock()
	return sigv4.Credential{SecretAccessKey: secret, Principal: caller}, nil
}

// owner returns the IAM user that owns a long-term key, or nil for the
// root user's key. ok is false if the owner no longer exists.
func (s *Source) owner(k *iam.AccessKey) (u *iam.User, ok bool) {
	if k.UserID == "" {
		_, found := s.View.Account(k.Account)
		return nil, found
	}
	s.View.Read(k.Account, func(a *iam.AccountView) {
		if e, found := a.UserByID(k.UserID); found {
			u = e.V
		}
	})
	return u, u != nil
}

// LongTermCaller describes the owner of a long-term access key: the root
// user or an IAM user. ok is false if the owner no longer exists.
func (s *Source) LongTermCaller(k *iam.AccessKey) (c *authz.Caller, ok bool) {
	if k.UserID == "" {
		if _, found := s.View.Account(k.Account); !found {
			return nil, false
		}
		return RootCaller(s.Partition, k.Account, k.ID), true
	}
	s.View.Read(k.Account, func(a *iam.AccountView) {
		u, found := a.UserByID(k.UserID)
		if !found {
			return
		}
		c = UserCaller(s.Partition, k.Account, u.V, k.ID)
	})
	return c, c != nil
}

// RootCaller describes an account's root user.
func RootCaller(p iam.Partition, account, accessKeyID string) *authz.Caller {
	arn := p.RootARN(account)
	return &authz.Caller{
		Account: account, Type: authz.Root, ARN: arn, PrincipalARN: arn,
		UserID: account, EntityID: account, AccessKeyID: accessKeyID,
	}
}

// UserCaller describes an IAM user.
func UserCaller(p iam.Partition, account string, u *iam.User, accessKeyID string) *authz.Caller {
	arn := p.ARN(account, "user", u.Path, u.Name)
	return &authz.Caller{
		Account: account, Type: authz.User, ARN: arn, PrincipalARN: arn,
		UserID: u.ID, Name: u.Name, EntityID: u.ID, AccessKeyID: accessKeyID,
	}
}
