// Package authn turns the access key that signed a request into the caller's
// identity. It is the sigv4.CredentialSource of iamd's endpoints: long-term
// keys come from the in-memory view (their secrets sealed at rest),
// temporary keys from their sealed session tokens.
package authn

import (
	"context"
	"fmt"
	"strings"

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
}

// Lookup implements sigv4.CredentialSource. The returned Credential's
// Principal is an *authz.Caller describing the key's owner, to be copied and
// completed with the request's facts.
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
	caller, ok := s.LongTermCaller(k.V)
	if !ok {
		return sigv4.Credential{}, sigv4.ErrInvalidClientTokenID
	}
	secret, err := s.Keys.Open(k.V.Secret, []byte(k.V.ID))
	if err != nil {
		return sigv4.Credential{}, fmt.Errorf("open secret of %s: %w", k.V.ID, err)
	}
	return sigv4.Credential{SecretAccessKey: secret, Principal: caller}, nil
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
