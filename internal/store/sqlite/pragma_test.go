package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

// TestDurabilitySettings checks the pragmas durability depends on, on both the
// writer's connection and a reader's.
func TestDurabilitySettings(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "iamd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	tests := []struct {
		name, pragma, want string
	}{
		{"journal mode", "journal_mode", "wal"},
		{"synchronous FULL", "synchronous", "2"},
		{"busy timeout", "busy_timeout", "10000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			if err := s.wc.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("writer: PRAGMA %s = %s, want %s", tc.pragma, got, tc.want)
			}
			if err := s.rdb.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("reader: PRAGMA %s = %s, want %s", tc.pragma, got, tc.want)
			}
		})
	}
}
