package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
)

func TestDeliveryFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		err     bool
		enabled bool
	}{
		{"off", nil, false, false},
		{"directory", []string{"--audit-deliver-dir", "DIR"}, false, true},
		{"bucket", []string{"--audit-deliver-s3", "s3://trail/iamd", "--audit-deliver-s3-endpoint", "http://127.0.0.1:1"}, false, true},
		{"not an S3 URL", []string{"--audit-deliver-s3", "https://trail/iamd"}, true, false},
		{"digests too often", []string{"--audit-deliver-dir", "DIR", "--audit-deliver-digest-interval", "10ms"}, true, false},
		{"bad interval", []string{"--audit-deliver-dir", "DIR", "--audit-deliver-digest-interval", "soon"}, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "trail")
			for i, a := range tc.args {
				if a == "DIR" {
					tc.args[i] = dir
				}
			}
			t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			c := deliveryFlags(fs, func(string) string { return "" })
			if err := fs.Parse(tc.args); err != nil {
				if !tc.err {
					t.Fatal(err)
				}
				return
			}
			bg, err := c.start(context.Background(), slog.New(slog.DiscardHandler))
			if (err != nil) != tc.err || (bg != nil) != tc.enabled {
				t.Fatalf("start: %v, enabled %v", err, bg != nil)
			}
		})
	}
}
