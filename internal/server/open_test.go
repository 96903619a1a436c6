package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/secrets"
	"github.com/iamd/iamd/internal/store"
)

func envMap(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// newKey returns a master key in IAMD_MASTER_KEY's format.
func newKey() string {
	k := make([]byte, secrets.KeySize)
	rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// TestOpenStateCreatesPrivateFiles: a fresh data directory, its master key
// and its database (with the -wal and -shm files) are the owner's only.
func TestOpenStateCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	st, err := OpenState(context.Background(), dir, "", envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if len(st.Warnings) > 0 {
		t.Errorf("warnings: %q", st.Warnings)
	}
	want := map[string]os.FileMode{
		dir: 0o700, filepath.Join(dir, "master.key"): 0o600,
		filepath.Join(dir, "iamd.db"): 0o600, filepath.Join(dir, "iamd.db-wal"): 0o600, filepath.Join(dir, "iamd.db-shm"): 0o600,
	}
	for path, m := range want {
		if got := mode(t, path); got != m {
			t.Errorf("%s: mode %04o, want %04o", path, got, m)
		}
	}
}

func TestOpenStateRefusesInsecurePermissions(t *testing.T) {
	tests := []struct {
		name    string
		path    string // relative to the data directory
		mode    os.FileMode
		wantFix string
	}{
		{"data directory world readable", ".", 0o755, "chmod 700 "},
		{"data directory group writable", ".", 0o770, "chmod 700 "},
		{"master key group readable", "master.key", 0o640, "chmod 600 "},
		{"database world readable", "iamd.db", 0o644, "chmod 600 "},
		{"wal world readable", "iamd.db-wal", 0o644, "chmod 600 "},
		{"shm other writable", "iamd.db-shm", 0o602, "chmod 600 "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			st, err := OpenState(context.Background(), dir, "", envMap(nil))
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
			path := filepath.Join(dir, tc.path)
			if err := os.Chmod(path, tc.mode); err != nil {
				if errors.Is(err, os.ErrNotExist) {
					// SQLite removes -wal and -shm on a clean close.
					if err := os.WriteFile(path, nil, tc.mode); err != nil {
						t.Fatal(err)
					}
					err = os.Chmod(path, tc.mode)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			_, err = OpenState(context.Background(), dir, "", envMap(nil))
			if !errors.Is(err, ErrInsecurePermissions) {
				t.Fatalf("err = %v, want ErrInsecurePermissions", err)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.wantFix+filepath.Clean(path)) || !strings.Contains(msg, "--allow-insecure-permissions") {
				t.Errorf("error %q does not say to run %s%s or how to override", msg, tc.wantFix, path)
			}

			st, err = OpenState(context.Background(), dir, "", envMap(map[string]string{EnvAllowInsecurePermissions: "true"}))
			if err != nil {
				t.Fatalf("allowed: %v", err)
			}
			defer st.Close()
			if len(st.Warnings) != 1 || !strings.Contains(st.Warnings[0], filepath.Clean(path)) {
				t.Errorf("warnings = %q, want one naming %s", st.Warnings, path)
			}
			// SQLite may replace -wal and -shm files; others keep their mode.
			if !strings.HasSuffix(path, "-wal") && !strings.HasSuffix(path, "-shm") && mode(t, path) != tc.mode {
				t.Errorf("mode of %s changed", path)
			}
		})
	}
}

// TestOpenStateMasterKeyFromEnv: with IAMD_MASTER_KEY set, master.key is not
// read, so its mode does not matter.
func TestOpenStateMasterKeyFromEnv(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "master.key"), []byte("unused\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "master.key"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := OpenState(context.Background(), dir, "", envMap(map[string]string{secrets.EnvMasterKey: newKey()}))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
}

// TestOpenStateTightensEmptyDirectory: an empty data directory made by
// someone else (mkdir, t.TempDir, a volume) is iamd's to set up, so it is
// made 0700 rather than refused.
func TestOpenStateTightensEmptyDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := OpenState(context.Background(), dir, "", envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if got := mode(t, dir); got != 0o700 {
		t.Errorf("mode %04o, want 0700", got)
	}
}

func TestOpenStateBadAllowValue(t *testing.T) {
	_, err := OpenState(context.Background(), t.TempDir(), "", envMap(map[string]string{EnvAllowInsecurePermissions: "maybe"}))
	if err == nil || !strings.Contains(err.Error(), EnvAllowInsecurePermissions) {
		t.Fatalf("err = %v", err)
	}
}

// openWith opens the state of storeURL (SQLite in dir when "") with the
// given IAMD_MASTER_KEY and bootstraps the test account.
func openWith(t *testing.T, dir, storeURL, keys string) (*State, error) {
	t.Helper()
	env := envMap(map[string]string{
		secrets.EnvMasterKey: keys,
		EnvAccountID:         "123456789012",
		EnvRootAccessKey:     "AKIAIOSFODNN7EXAMPLE",
		EnvRootSecretKey:     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	})
	st, err := OpenState(context.Background(), dir, storeURL, env)
	if err != nil {
		return nil, err
	}
	if err := st.Bootstrap(context.Background(), dir, env, slog.New(slog.DiscardHandler), time.Now()); err != nil {
		st.Close()
		t.Fatalf("bootstrap: %v", err)
	}
	return st, nil
}

func keyCheckOf(t *testing.T, st store.Store) []byte {
	t.Helper()
	rec, ok, err := st.Get(context.Background(), kindKeyCheck, "", keyKeyCheck)
	if err != nil || !ok {
		t.Fatalf("key check: ok=%v err=%v", ok, err)
	}
	return rec.Data
}

// TestMasterKeyCheck runs on SQLite; e2e covers PostgreSQL through the
// server (TestReplicaWithAnotherMasterKey).
func TestMasterKeyCheck(t *testing.T) {
	oldKey, newK, other := newKey(), newKey(), newKey()
	dir := t.TempDir()
	open := func(keys string) error {
		st, err := openWith(t, dir, "", keys)
		if err == nil {
			st.Close()
		}
		return err
	}
	if err := open(oldKey); err != nil {
		t.Fatal(err)
	}
	err := open(other)
	if !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("another key: err = %v, want ErrWrongMasterKey", err)
	}
	if want := "this database was sealed with another master key: set IAMD_MASTER_KEY to the key the other replicas use"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	// Rotation: the new key in front opens the check and re-seals it with
	// the new key, after which a replica still on the old key alone (which
	// could not open what the new key seals) is refused.
	if err := open(newK + "," + oldKey); err != nil {
		t.Fatalf("rotation: %v", err)
	}
	if err := open(oldKey); !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("old key after re-seal: err = %v, want ErrWrongMasterKey", err)
	}
	// The old key second does not re-seal back.
	st, err := openWith(t, dir, "", newK+","+oldKey)
	if err != nil {
		t.Fatal(err)
	}
	before := keyCheckOf(t, st.Store)
	st.Close()
	st, err = openWith(t, dir, "", newK+","+oldKey)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if after := keyCheckOf(t, st.Store); string(after) != string(before) {
		t.Error("a check sealed with the newest key was re-sealed")
	}
}

// TestMasterKeyCheckAddedToExistingDatabase: a database from before key
// checks gets one on its first start with the right key, and a wrong key is
// recognised by the secrets already stored rather than vouched for.
func TestMasterKeyCheckAddedToExistingDatabase(t *testing.T) {
	key := newKey()
	dir := t.TempDir()
	st, err := openWith(t, dir, "", key)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := st.Store.Commit(ctx, []store.Op{{Type: store.Delete, Kind: kindKeyCheck, Key: keyKeyCheck, Expect: store.Any}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	if _, err := openWith(t, dir, "", newKey()); !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("wrong key on a database without a check: err = %v, want ErrWrongMasterKey", err)
	}
	st, err = openWith(t, dir, "", key)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keyCheckOf(t, st.Store)
}
