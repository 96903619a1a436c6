package sqlite

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/iamd/iamd/internal/store"
)

// TestFilesPrivate checks that the database and the WAL and shared-memory
// files SQLite creates beside it can be read only by their owner. Under the
// usual umask 022, SQLite alone would create all three 0644.
func TestFilesPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iamd.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Commit(context.Background(), []store.Op{{Type: store.Put, Kind: "user", Account: "123456789012", Key: "a", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", filepath.Base(p), got)
		}
	}
}

// TestExistingFileModeKept: Open does not change an existing file's mode;
// refusing a file others can read is the server's decision.
func TestExistingFileModeKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iamd.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != fs.FileMode(0o640) {
		t.Errorf("mode %04o, want 0640", got)
	}
}
