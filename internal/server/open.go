package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/secrets"
	"github.com/iamd/iamd/internal/store"
	"github.com/iamd/iamd/internal/store/postgres"
	"github.com/iamd/iamd/internal/store/sqlite"
)

// Environment variables read at start-up.
const (
	EnvStore           = "IAMD_STORE"
	EnvAccountID       = "IAMD_ACCOUNT_ID"
	EnvRootAccessKey   = "IAMD_ROOT_ACCESS_KEY_ID"
	EnvRootSecretKey   = "IAMD_ROOT_SECRET_ACCESS_KEY"
	RootCredentialFile = "root-credentials"
)

// OpenStore opens the store named by url: "" or "sqlite:PATH" for SQLite
// (default DATA/iamd.db), "postgres://..." or "postgresql://..." for
// PostgreSQL.
func OpenStore(ctx context.Context, url, dataDir string) (store.Store, error) {
	switch {
	case url == "":
		return sqlite.Open(filepath.Join(dataDir, "iamd.db"))
	case strings.HasPrefix(url, "sqlite:"):
		return sqlite.Open(strings.TrimPrefix(url, "sqlite:"))
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return postgres.Open(ctx, url)
	}
	return nil, fmt.Errorf("unknown store %q: use sqlite:PATH or postgres://...", url)
}

// State is the storage, keys and in-memory view a server or an admin command
// works on.
type State struct {
	Store   store.Store
	View    *iam.View
	Writer  *iam.Writer
	Keyring *secrets.Keyring
}

// OpenState opens the data directory and store and loads the view.
func OpenState(ctx context.Context, dataDir, storeURL string, getenv func(string) string) (*State, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	kr, err := secrets.LoadOrCreate(dataDir, getenv)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if storeURL == "" {
		storeURL = getenv(EnvStore)
	}
	st, err := OpenStore(ctx, storeURL, dataDir)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	view := iam.NewView()
	if _, err := view.LoadFrom(ctx, st); err != nil {
		st.Close()
		return nil, fmt.Errorf("load state: %w", err)
	}
	return &State{Store: st, View: view, Writer: &iam.Writer{Store: st, View: view}, Keyring: kr}, nil
}

// Close closes the store.
func (s *State) Close() error { return s.Store.Close() }

// Bootstrap makes sure the server has an account. On the first start it
// creates one (with the ID and root access key from the environment when
// set) and writes the root credentials, once, to a 0600 file in the data
// directory. When the environment presets a root key that an existing
// account lacks, the key is added, so that automation can rely on it.
func (s *State) Bootstrap(ctx context.Context, dataDir string, getenv func(string) string, log *slog.Logger, now time.Time) error {
	id, keyID, secret := getenv(EnvAccountID), getenv(EnvRootAccessKey), getenv(EnvRootSecretKey)
	if (keyID == "") != (secret == "") {
		return fmt.Errorf("%s and %s must be set together", EnvRootAccessKey, EnvRootSecretKey)
	}
	if id != "" && !iam.ValidAccountID(id) {
		return fmt.Errorf("%s=%q: an account ID is 12 digits", EnvAccountID, id)
	}
	accounts := s.View.Accounts()
	if id == "" && len(accounts) > 0 {
		return nil
	}
	if id != "" {
		if _, ok := s.View.Account(id); ok {
			return s.ensureRootKey(ctx, id, keyID, secret, now)
		}
	}
	res, err := s.Writer.CreateAccount(ctx, s.Keyring, iam.NewAccount{
		ID: id, RootAccessKeyID: keyID, RootSecretAccessKey: secret,
	}, now)
	if err != nil {
		if errors.Is(err, iam.ErrAccountExists) {
			return nil // another replica created it first
		}
		return err
	}
	if keyID != "" {
		log.Info("created account from the environment", "account", res.Account.ID, "access_key_id", keyID)
		return nil
	}
	path := filepath.Join(dataDir, RootCredentialFile)
	if err := WriteRootCredentials(path, res); err != nil {
		return err
	}
	log.Info("created account; its root user's access key was written once to "+path+
		" (use it to create IAM users, then delete it: root access keys are discouraged)",
		"account", res.Account.ID, "access_key_id", res.RootAccessKeyID)
	return nil
}

func (s *State) ensureRootKey(ctx context.Context, account, keyID, secret string, now time.Time) error {
	if keyID == "" {
		return nil
	}
	if k, ok := s.View.AccessKey(keyID); ok {
		if k.V.Account != account || k.V.UserID != "" {
			return fmt.Errorf("%s %s belongs to another principal", EnvRootAccessKey, keyID)
		}
		plain, err := s.Keyring.Open(k.V.Secret, []byte(keyID))
		if err != nil || !secrets.Equal(string(plain), secret) {
			return fmt.Errorf("%s %s exists with a different secret", EnvRootAccessKey, keyID)
		}
		return nil
	}
	sealed, err := s.Keyring.Seal([]byte(secret), []byte(keyID))
	if err != nil {
		return err
	}
	key := &iam.AccessKey{ID: keyID, Account: account, Status: "Active", Created: now.UTC().Truncate(time.Second), Secret: sealed}
	return s.Writer.Commit(ctx, iam.Put(iam.KindAccessKey, "", keyID, key, store.Absent))
}

// WriteRootCredentials writes an account's root key as an AWS shared
// credentials file (profile "iamd-root") readable only by its owner.
func WriteRootCredentials(path string, res *iam.NewAccountResult) error {
	content := fmt.Sprintf(`# Root user of iamd account %s. Shown once: keep it safe.
# Root access keys are discouraged: use this one to create IAM users and
# roles, then delete it (aws iam delete-access-key --access-key-id %s).
# Use: AWS_SHARED_CREDENTIALS_FILE=%s AWS_PROFILE=iamd-root aws ...
[iamd-root]
aws_access_key_id = %s
aws_secret_access_key = %s
`, res.Account.ID, res.RootAccessKeyID, path, res.RootAccessKeyID, res.RootSecretAccessKey)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write root credentials: %w", err)
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return fmt.Errorf("write root credentials: %w", err)
	}
	return f.Close()
}

// CreateAccount creates a further account with a root access key.
func CreateAccount(ctx context.Context, st *State, id, email string, now time.Time) (*iam.NewAccountResult, error) {
	return st.Writer.CreateAccount(ctx, st.Keyring, iam.NewAccount{ID: id, Email: email}, now)
}
