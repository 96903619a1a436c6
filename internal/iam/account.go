package iam

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/iamd/iamd/internal/secrets"
	"github.com/iamd/iamd/internal/store"
	"github.com/iamd/iamd/policy"
)

// Sealer encrypts secrets at rest; *secrets.Keyring implements it.
type Sealer interface {
	Seal(plaintext, associatedData []byte) ([]byte, error)
	Open(ciphertext, associatedData []byte) ([]byte, error)
}

// NewAccount describes an account to create.
type NewAccount struct {
	ID    string // 12 digits; random when empty
	Email string
	Name  string
	// RootAccessKeyID and RootSecretAccessKey preset the root user's access
	// key (for automation); when both are empty a random key is created, and
	// when NoRootKey is set none is.
	RootAccessKeyID     string
	RootSecretAccessKey string
	NoRootKey           bool
}

// NewAccountResult is what CreateAccount made. The secret is returned only
// here.
type NewAccountResult struct {
	Account             *Account
	RootAccessKeyID     string
	RootSecretAccessKey string
}

// ErrAccountExists is returned by CreateAccount for a taken account ID.
var ErrAccountExists = errors.New("account already exists")

// RandomAccountID returns a random 12-digit account ID.
func RandomAccountID() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000_000_000))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return fmt.Sprintf("%012d", n.Int64())
}

// CreateAccount creates an account with its root user and, unless told not
// to, a root access key.
func (w *Writer) CreateAccount(ctx context.Context, sealer Sealer, na NewAccount, now time.Time) (*NewAccountResult, error) {
	if na.ID == "" {
		na.ID = RandomAccountID()
	}
	if !policy.ValidAccountID(na.ID) {
		return nil, fmt.Errorf("account ID %q must be 12 digits", na.ID)
	}
	acct := &Account{
		ID:      na.ID,
		Email:   na.Email,
		Name:    na.Name,
		Created: now.UTC().Truncate(time.Second),
		RootID:  na.ID,
	}
	muts := []Mutation{Put(KindAccount, "", na.ID, acct, store.Absent)}
	res := &NewAccountResult{Account: acct}
	if !na.NoRootKey {
		id, secret := na.RootAccessKeyID, na.RootSecretAccessKey
		if (id == "") != (secret == "") {
			return nil, errors.New("root access key ID and secret must be given together")
		}
		if id == "" {
			id, secret = secrets.NewAccessKeyID("AKIA"), secrets.NewSecretAccessKey()
		}
		if len(id) < 16 || len(id) > 128 || len(secret) < 16 {
			return nil, errors.New("root access key ID must be 16-128 characters and the secret at least 16")
		}
		if _, taken := w.View.AccessKey(id); taken {
			return nil, fmt.Errorf("access key ID %s is already in use", id)
		}
		sealed, err := sealer.Seal([]byte(secret), []byte(id))
		if err != nil {
			return nil, err
		}
		key := &AccessKey{ID: id, Account: na.ID, Status: "Active", Created: acct.Created, Secret: sealed}
		muts = append(muts, Put(KindAccessKey, "", id, key, store.Absent))
		res.RootAccessKeyID, res.RootSecretAccessKey = id, secret
	}
	if err := w.Commit(ctx, muts...); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("create account %s: %w", na.ID, ErrAccountExists)
		}
		return nil, fmt.Errorf("create account %s: %w", na.ID, err)
	}
	return res, nil
}
