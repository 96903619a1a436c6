package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/secrets"
	"github.com/iamd/iamd/internal/store"
	"github.com/iamd/iamd/internal/store/postgres"
	"github.com/iamd/iamd/internal/store/sqlite"
	"github.com/iamd/iamd/policy"
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
	if path, ok := sqlitePath(url, dataDir); ok {
		return sqlite.Open(path)
	}
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		return postgres.Open(ctx, url)
	}
	return nil, fmt.Errorf("unknown store %q: use sqlite:PATH or postgres://HOST/DB", url)
}

// sqlitePath returns the database file of a SQLite store URL.
func sqlitePath(url, dataDir string) (string, bool) {
	switch {
	case url == "":
		return filepath.Join(dataDir, "iamd.db"), true
	case strings.HasPrefix(url, "sqlite:"):
		return strings.TrimPrefix(url, "sqlite:"), true
	}
	return "", false
}

// State is the storage, keys and in-memory view a server or an admin command
// works on.
type State struct {
	Store   store.Store
	View    *iam.View
	Writer  *iam.Writer
	Keyring *secrets.Keyring
	// Warnings are problems found while opening that did not stop it, for
	// the caller to log: files others can access, allowed by
	// EnvAllowInsecurePermissions.
	Warnings []string
}

// OpenState opens the data directory and store and loads the view. It
// refuses a data directory, master key file or SQLite database that group
// or others can access (unless getenv(EnvAllowInsecurePermissions) is true,
// which makes that a warning), and a master key that is not the one the
// store's secrets were sealed with (ErrWrongMasterKey).
func OpenState(ctx context.Context, dataDir, storeURL string, getenv func(string) string) (*State, error) {
	if err := makeDataDir(dataDir); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if storeURL == "" {
		storeURL = getenv(EnvStore)
	}
	allowInsecure, err := allowInsecurePermissions(getenv)
	if err != nil {
		return nil, err
	}
	var warnings []string
	if err := checkPermissions(dataDir, storeURL, getenv(secrets.EnvMasterKey) == ""); err != nil {
		if !allowInsecure {
			return nil, err
		}
		warnings = append(warnings, err.Error())
	}
	kr, err := secrets.Load(dataDir, getenv, secrets.LoadOptions{AllowInsecureKeyFile: allowInsecure})
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	st, err := OpenStore(ctx, storeURL, dataDir)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	view := iam.NewView()
	if _, err := view.LoadFrom(ctx, st); err != nil {
		return nil, errors.Join(fmt.Errorf("load state: %w", err), st.Close())
	}
	if err := checkMasterKey(ctx, st, view, kr); err != nil {
		return nil, errors.Join(err, st.Close())
	}
	w := &iam.Writer{Store: st, View: view}
	// MFA devices stored by name alone before they were keyed by path and
	// name, as AWS keys them, are moved to their key.
	if _, err := iam.RekeyMFADevices(ctx, w); err != nil {
		return nil, errors.Join(fmt.Errorf("load state: %w", err), st.Close())
	}
	return &State{Store: st, View: view, Writer: w, Keyring: kr, Warnings: warnings}, nil
}

// EnvAllowInsecurePermissions, when true, makes data files that group or
// others can access a warning instead of a reason not to start.
const EnvAllowInsecurePermissions = "IAMD_ALLOW_INSECURE_PERMISSIONS"

// ErrInsecurePermissions means the data directory, the master key file or
// the SQLite database can be accessed by group or others.
var ErrInsecurePermissions = errors.New("group or others can access iamd's data")

// makeDataDir creates the data directory 0700. An existing empty one that
// group or others can access (made by mkdir, a container volume, a test's
// temporary directory) is made 0700 too: iamd is about to set it up. One
// that holds anything is left alone, for checkPermissions to refuse.
func makeDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if st.Mode().Perm()&0o077 == 0 {
		return nil
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(1)
	f.Close()
	if len(names) > 0 || (err != nil && !errors.Is(err, io.EOF)) {
		return nil
	}
	return os.Chmod(dir, 0o700)
}

func allowInsecurePermissions(getenv func(string) string) (bool, error) {
	v := getenv(EnvAllowInsecurePermissions)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: want true or false", EnvAllowInsecurePermissions, v)
	}
	return b, nil
}

// checkPermissions returns an error wrapping ErrInsecurePermissions, with
// the chmod command that fixes it, if the data directory, the master key
// file (when keyFile) or the SQLite database and its -wal and -shm files
// have any permission bit for group or others. Files not yet created are
// fine: they are created private.
func checkPermissions(dataDir, storeURL string, keyFile bool) error {
	var dirs, files, found []string
	check := func(path string, dir bool) error {
		st, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o077 == 0 {
			return nil
		}
		found = append(found, fmt.Sprintf("%s (mode %04o)", path, st.Mode().Perm()))
		if dir {
			dirs = append(dirs, path)
		} else {
			files = append(files, path)
		}
		return nil
	}
	paths := []string{dataDir}
	if keyFile {
		paths = append(paths, filepath.Join(dataDir, secrets.MasterKeyFile))
	}
	if db, ok := sqlitePath(storeURL, dataDir); ok {
		paths = append(paths, db, db+"-wal", db+"-shm")
	}
	for i, p := range paths {
		if err := check(p, i == 0); err != nil {
			return fmt.Errorf("check permissions: %w", err)
		}
	}
	if len(found) == 0 {
		return nil
	}
	var fix []string
	if len(dirs) > 0 {
		fix = append(fix, "chmod 700 "+shellQuote(dirs...))
	}
	if len(files) > 0 {
		fix = append(fix, "chmod 600 "+shellQuote(files...))
	}
	return fmt.Errorf("%w: %s; run: %s (or start with --allow-insecure-permissions or %s=true to only warn)",
		ErrInsecurePermissions, strings.Join(found, ", "), strings.Join(fix, " && "), EnvAllowInsecurePermissions)
}

// shellQuote joins paths for a command line, quoting those that need it.
func shellQuote(paths ...string) string {
	out := make([]string, len(paths))
	for i, p := range paths {
		if p != "" && strings.Trim(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:,@%") == "" {
			out[i] = p
		} else {
			out[i] = "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}

// The key check value is a global record of a kind internal/iam does not
// know, which the view therefore skips; backups carry it like any record.
const (
	kindKeyCheck = "keycheck"
	keyKeyCheck  = "master"
)

type keyCheckRecord struct {
	Sealed []byte `json:"sealed"`
}

// ErrWrongMasterKey means the server's master keys cannot open what the
// store's secrets were sealed with.
var ErrWrongMasterKey = errors.New("this database was sealed with another master key: set " + secrets.EnvMasterKey + " to the key the other replicas use")

// checkMasterKey verifies the store's key check value with kr, and stores
// one, sealed with the newest key, if there is none or the one there was
// sealed with an older key of the ring. A store without one (new, or from a
// version without key checks) gets one only if kr opens the first access
// key secret found, so that a wrong key is not vouched for.
func checkMasterKey(ctx context.Context, st store.Store, view *iam.View, kr *secrets.Keyring) error {
	// A conflict means another replica wrote the value meanwhile: verify
	// theirs. Two rounds settle it unless replicas keep rotating keys.
	for range 5 {
		rec, ok, err := st.Get(ctx, kindKeyCheck, "", keyKeyCheck)
		if err != nil {
			return fmt.Errorf("read key check: %w", err)
		}
		expect := store.Absent
		if ok {
			var kc keyCheckRecord
			if err := json.Unmarshal(rec.Data, &kc); err != nil {
				return fmt.Errorf("read key check: %w", err)
			}
			reseal, err := kr.VerifyCheck(kc.Sealed)
			if err != nil {
				return fmt.Errorf("%w (%v)", ErrWrongMasterKey, err)
			}
			if !reseal {
				return nil
			}
			expect = rec.Version
		} else if err := opensStoredSecret(view, kr); err != nil {
			return err
		}
		data, err := json.Marshal(keyCheckRecord{Sealed: kr.SealCheck()})
		if err != nil {
			return err
		}
		_, err = st.Commit(ctx, []store.Op{{Type: store.Put, Kind: kindKeyCheck, Key: keyKeyCheck, Expect: expect, Data: data}})
		if !errors.Is(err, store.ErrConflict) {
			if err != nil {
				return fmt.Errorf("write key check: %w", err)
			}
			return nil
		}
	}
	return errors.New("write key check: it keeps changing; are replicas running with different master keys?")
}

// opensStoredSecret returns ErrWrongMasterKey if the view holds an access key
// and kr cannot open the first one found: root users' keys first, then IAM
// users'.
func opensStoredSecret(view *iam.View, kr *secrets.Keyring) error {
	key := firstAccessKey(view)
	if key == nil {
		return nil
	}
	if _, err := kr.Open(key.V.Secret, []byte(key.V.ID)); err != nil {
		return fmt.Errorf("%w (access key %s does not open: %v)", ErrWrongMasterKey, key.V.ID, err)
	}
	return nil
}

func firstAccessKey(view *iam.View) *iam.Entry[iam.AccessKey] {
	for _, account := range view.Accounts() {
		if keys := view.AccessKeys(account, ""); len(keys) > 0 {
			return keys[0]
		}
		var users []string
		view.Read(account, func(a *iam.AccountView) {
			for marker := ""; ; {
				page, next := a.Users(marker, 1000, nil)
				for _, u := range page {
					users = append(users, u.V.ID)
				}
				if next == "" {
					return
				}
				marker = next
			}
		})
		for _, id := range users {
			if keys := view.AccessKeys(account, id); len(keys) > 0 {
				return keys[0]
			}
		}
	}
	return nil
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
	if id != "" && !policy.ValidAccountID(id) {
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
