package iam

import (
	"cmp"
	"slices"
	"time"

	"github.com/iamd/iamd/internal/store"
)

// Credentials that belong to one user (or to the root user) and are
// addressed by their own ID: SSH public keys, signing certificates and
// service-specific credentials. Each is its own record, keyed by ID within
// the account, so that creating one does not rewrite the user; writers touch
// the owner's record in the same batch, so that DeleteUser and the per-user
// quotas see every credential created concurrently.

// SSHPublicKey is an SSH public key of an IAM user (for CodeCommit).
type SSHPublicKey struct {
	ID     string `json:"id"` // APKA…
	UserID string `json:"userId"`
	// Body is the key as uploaded (OpenSSH or PEM), trimmed.
	Body string `json:"body"`
	// Blob is the key in SSH wire format: what duplicates are compared on
	// and the fingerprint is computed from.
	Blob        []byte    `json:"blob"`
	Fingerprint string    `json:"fingerprint"`
	Status      string    `json:"status"` // Active or Inactive
	Uploaded    time.Time `json:"uploaded"`
}

// SigningCertificate is an X.509 signing certificate of an IAM user or of
// the root user.
type SigningCertificate struct {
	ID       string    `json:"id"`
	UserID   string    `json:"userId"` // empty for the root user
	Body     string    `json:"body"`   // PEM, as uploaded
	Status   string    `json:"status"` // Active or Inactive
	Uploaded time.Time `json:"uploaded"`
}

// ServiceCredential is a service-specific credential: a user name and
// password for one service (CodeCommit's Git credentials, Amazon
// Keyspaces), or a long-term API key (Amazon Bedrock, CloudWatch Logs).
type ServiceCredential struct {
	ID      string `json:"id"` // ACCA…
	UserID  string `json:"userId"`
	Service string `json:"service"` // e.g. codecommit.amazonaws.com
	// ServiceUserName is the user name of a password credential; Alias
	// the public part of an API key. One of them is set.
	ServiceUserName string    `json:"serviceUserName,omitempty"`
	Alias           string    `json:"alias,omitempty"`
	Status          string    `json:"status"` // Active or Inactive
	Created         time.Time `json:"created"`
	Expires         time.Time `json:"expires,omitzero"` // API keys created with an age
	// Secret is the password or API key sealed with the server's keyring,
	// bound to the credential ID.
	Secret []byte `json:"secret"`
}

func (k *SSHPublicKey) owner() string       { return k.UserID }
func (c *SigningCertificate) owner() string { return c.UserID }
func (c *ServiceCredential) owner() string  { return c.UserID }

// created orders one owner's credentials as IAM lists them: oldest first.
func (k *SSHPublicKey) created() time.Time       { return k.Uploaded }
func (c *SigningCertificate) created() time.Time { return c.Uploaded }
func (c *ServiceCredential) created() time.Time  { return c.Created }

// ownedCredential is what ownedTable needs of a credential.
type ownedCredential[T any] interface {
	*T
	owner() string
	created() time.Time
}

// ownedTable holds one kind of credential of an account by ID, indexed by
// owner (user ID, "" for the root user).
type ownedTable[T any, P ownedCredential[T]] struct {
	byID    map[string]*Entry[T]
	byOwner map[string][]string
}

func newOwnedTable[T any, P ownedCredential[T]]() ownedTable[T, P] {
	return ownedTable[T, P]{byID: make(map[string]*Entry[T]), byOwner: make(map[string][]string)}
}

func (t *ownedTable[T, P]) apply(r store.Record, value any) {
	old := t.byID[r.Key]
	if old != nil && old.Rev >= r.Rev {
		return
	}
	if old != nil {
		o := P(old.V).owner()
		if ids := remove(t.byOwner[o], r.Key); len(ids) > 0 {
			t.byOwner[o] = ids
		} else {
			delete(t.byOwner, o)
		}
		delete(t.byID, r.Key)
	}
	if r.Deleted {
		return
	}
	e := &Entry[T]{V: value.(*T), Version: r.Version, Rev: r.Rev}
	t.byID[r.Key] = e
	o := P(e.V).owner()
	t.byOwner[o] = append(t.byOwner[o], r.Key)
}

func (t *ownedTable[T, P]) rev(key string) (int64, bool) {
	if e, ok := t.byID[key]; ok {
		return e.Rev, true
	}
	return 0, false
}

// of returns an owner's credentials, oldest first (by ID within a second).
func (t *ownedTable[T, P]) of(owner string) []*Entry[T] {
	ids := slices.Clone(t.byOwner[owner])
	slices.SortFunc(ids, func(x, y string) int {
		if c := P(t.byID[x].V).created().Compare(P(t.byID[y].V).created()); c != 0 {
			return c
		}
		return cmp.Compare(x, y)
	})
	out := make([]*Entry[T], len(ids))
	for i, id := range ids {
		out[i] = t.byID[id]
	}
	return out
}

func (t *ownedTable[T, P]) count(owner string) int { return len(t.byOwner[owner]) }

// SSHPublicKey returns an SSH public key by ID.
func (a *AccountView) SSHPublicKey(id string) (*Entry[SSHPublicKey], bool) {
	e, ok := a.sshKeys.byID[id]
	return e, ok
}

// SSHPublicKeys returns a user's SSH public keys, oldest first.
func (a *AccountView) SSHPublicKeys(userID string) []*Entry[SSHPublicKey] {
	return a.sshKeys.of(userID)
}

// SSHPublicKeyCount returns how many SSH public keys a user has.
func (a *AccountView) SSHPublicKeyCount(userID string) int { return a.sshKeys.count(userID) }

// SigningCertificate returns a signing certificate by ID.
func (a *AccountView) SigningCertificate(id string) (*Entry[SigningCertificate], bool) {
	e, ok := a.certs.byID[id]
	return e, ok
}

// SigningCertificates returns the signing certificates of a user (userID
// "" for the root user), oldest first.
func (a *AccountView) SigningCertificates(userID string) []*Entry[SigningCertificate] {
	return a.certs.of(userID)
}

// SigningCertificateCount returns how many signing certificates a user has.
func (a *AccountView) SigningCertificateCount(userID string) int { return a.certs.count(userID) }

// ServiceCredential returns a service-specific credential by ID.
func (a *AccountView) ServiceCredential(id string) (*Entry[ServiceCredential], bool) {
	e, ok := a.svcCreds.byID[id]
	return e, ok
}

// ServiceCredentials returns a user's service-specific credentials, oldest
// first.
func (a *AccountView) ServiceCredentials(userID string) []*Entry[ServiceCredential] {
	return a.svcCreds.of(userID)
}

// ServiceCredentialCount returns how many service-specific credentials a
// user has.
func (a *AccountView) ServiceCredentialCount(userID string) int { return a.svcCreds.count(userID) }
