package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iamd/iamd/internal/secrets"
	"github.com/iamd/iamd/internal/server"
	"github.com/iamd/iamd/internal/store/postgres/pgtest"
)

// postgresStore returns the URL of a new schema of the test database,
// dropped when the test ends. Without IAMD_TEST_POSTGRES it skips, unless
// CI is set.
func postgresStore(t *testing.T) string {
	t.Helper()
	return pgtest.Schema(t, "iamd_cli_")
}

// copyMasterKey gives dst the master key of src's data directory.
func copyMasterKey(t *testing.T, src, dst string) {
	t.Helper()
	key, err := os.ReadFile(filepath.Join(src, secrets.MasterKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, secrets.MasterKeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
}

// exportOf runs "iamd account export" on a store.
func exportOf(t *testing.T, dir, storeURL string) string {
	t.Helper()
	code, out, stderr := runCLI(t, nil, "account", "export", "--account", acctA, "--data", dir, "--store", storeURL)
	if code != 0 {
		t.Fatalf("export: %s", stderr)
	}
	return out
}

// rootKeyOpens checks that the restored root access key's secret opens
// with the data directory's master key.
func rootKeyOpens(t *testing.T, dir, storeURL string) {
	t.Helper()
	st, err := server.OpenState(context.Background(), dir, storeURL, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys := st.View.AccessKeys(acctA, "")
	if len(keys) != 1 {
		t.Fatalf("root has %d access keys after restore, want 1", len(keys))
	}
	if _, err := st.Keyring.Open(keys[0].V.Secret, []byte(keys[0].V.ID)); err != nil {
		t.Fatalf("root key secret does not open after restore: %v", err)
	}
}

// TestBackupRestoreAcrossBackends backs up a SQLite store, restores it into
// PostgreSQL, backs that up and restores it into SQLite again.
func TestBackupRestoreAcrossBackends(t *testing.T) {
	pg := postgresStore(t)
	dir := t.TempDir()
	populate(t, dir)
	want := exportOf(t, dir, "")

	file := filepath.Join(t.TempDir(), "one.iamdbak")
	code, out, stderr := runCLI(t, nil, "backup", "--data", dir, "--out", file)
	if code != 0 {
		t.Fatalf("backup: %s", stderr)
	}
	if !strings.Contains(out, "master key is not in this backup") || !strings.Contains(out, "user=2") {
		t.Errorf("backup output: %s", out)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, %v", fi, err)
	}

	// Into PostgreSQL, with the master key carried over separately.
	pgDir := filepath.Join(t.TempDir(), "pg")
	copyMasterKey(t, dir, pgDir)
	code, out, stderr = runCLI(t, nil, "restore", "--data", pgDir, "--store", pg, "--in", file)
	if code != 0 {
		t.Fatalf("restore into PostgreSQL: %s", stderr)
	}
	if !strings.Contains(out, "restored") {
		t.Errorf("restore output: %s", out)
	}
	if got := exportOf(t, pgDir, pg); got != want {
		t.Fatalf("PostgreSQL export after restore differs:\n%s\nwant\n%s", got, want)
	}
	rootKeyOpens(t, pgDir, pg)

	// A second restore is refused, then forced.
	code, _, stderr = runCLI(t, nil, "restore", "--data", pgDir, "--store", pg, "--in", file)
	if code != 1 || !strings.Contains(stderr, "not empty") {
		t.Fatalf("restore into a non-empty store: code %d, %s", code, stderr)
	}
	code, _, stderr = runCLI(t, nil, "restore", "--data", pgDir, "--store", pg, "--in", file, "--force")
	if code != 0 {
		t.Fatalf("forced restore: %s", stderr)
	}

	// And back from PostgreSQL into a new SQLite store.
	file2 := filepath.Join(t.TempDir(), "two.iamdbak")
	if code, _, stderr := runCLI(t, nil, "backup", "--data", pgDir, "--store", pg, "--out", file2); code != 0 {
		t.Fatalf("backup of PostgreSQL: %s", stderr)
	}
	sqDir := filepath.Join(t.TempDir(), "sq")
	copyMasterKey(t, dir, sqDir)
	if code, _, stderr := runCLI(t, nil, "restore", "--data", sqDir, "--in", file2); code != 0 {
		t.Fatalf("restore into SQLite: %s", stderr)
	}
	if got := exportOf(t, sqDir, ""); got != want {
		t.Fatalf("SQLite export after the round trip differs")
	}
	rootKeyOpens(t, sqDir, "")
}

func TestBackupUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"backup without out", []string{"backup"}, 2, "--out FILE"},
		{"restore without in", []string{"restore"}, 2, "--in FILE"},
		{"restore missing file", []string{"restore", "--data", t.TempDir(), "--in", "/nonexistent"}, 1, "no such file"},
		{"restore corrupt file", []string{"restore", "--data", t.TempDir(), "--in", "/etc/hostname"}, 1, "corrupt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, nil, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Fatalf("code %d, stderr %q; want %d and %q", code, stderr, tc.code, tc.want)
			}
		})
	}
}
