package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckIntegrity(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pkg.tgz")
	if err := os.WriteFile(file, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// printf 'hello\n' | openssl dgst -sha512 -binary | base64 -w0
	const good = "sha512-58IrmUxZ2c8rSOVJseJGZmNgRZMNPafBrLKZ0cO3+TH5Sq5B7dosKyB6NuEPi8uNRSI+VIePWzFufOO2vAGWKQ=="
	tests := []struct {
		name, file, integrity string
		wantErr               string
	}{
		{"match", file, good, ""},
		{"other digest", file, "sha512-" + strings.Repeat("A", 86) + "==", "integrity check failed"},
		{"not sha512", file, "sha1-abc", "want sha512-BASE64"},
		{"not base64", file, "sha512-***", "not base64"},
		{"no file", filepath.Join(t.TempDir(), "missing.tgz"), good, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkIntegrity(tc.file, tc.integrity)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one about %q", err, tc.wantErr)
			}
		})
	}
}

func TestRunNoReference(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.json.gz")
	tests := []struct {
		name    string
		require bool
		want    int
	}{
		{"optional", false, 0},
		{"required", true, exitNoReference},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(dir, out, "", tc.require); got != tc.want {
				t.Fatalf("exit %d, want %d", got, tc.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatal("wrote a bundle from nothing")
			}
		})
	}
}
