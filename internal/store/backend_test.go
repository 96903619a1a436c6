package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestApplyMigrations(t *testing.T) {
	t.Parallel()
	migrations := [][]string{{"a1", "a2"}, {"b1"}, {"c1"}}
	tests := []struct {
		name    string
		current int
		failOn  string
		want    []string
		wantErr string
	}{
		{"from empty", 0, "", []string{"a1", "a2", "v1", "b1", "v2", "c1", "v3"}, ""},
		{"from the middle", 2, "", []string{"c1", "v3"}, ""},
		{"up to date", 3, "", nil, ""},
		{"newer schema", 4, "", nil, "schema version 4 is newer than this iamd understands (3)"},
		{"a statement fails", 1, "b1", []string{"b1"}, "migrate to version 2: b1 failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ran []string
			err := ApplyMigrations(tc.current, migrations, "v", func(q string, args ...any) error {
				if q == "v" {
					q = fmt.Sprintf("v%d", args[0])
				}
				ran = append(ran, q)
				if q == tc.failOn {
					return errors.New(q + " failed")
				}
				return nil
			})
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if !slices.Equal(ran, tc.want) {
				t.Errorf("ran %v, want %v", ran, tc.want)
			}
		})
	}
}
