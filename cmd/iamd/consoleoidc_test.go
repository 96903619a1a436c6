package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConsoleOIDCFlags(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantSecret string
		wantErr    string // "" for none; "-" when no configuration is expected
	}{
		{name: "off", wantErr: "-"},
		{name: "public client", args: []string{"--console-oidc-issuer", "https://id.example.com", "--console-oidc-client-id", "c"}},
		{name: "from the environment", env: map[string]string{envConsoleOIDCIssuer: "https://id.example.com", envConsoleOIDCClientID: "c", envConsoleOIDCSecret: "from-env"}, wantSecret: "from-env"},
		{name: "secret file", args: []string{"--console-oidc-issuer", "https://id.example.com", "--console-oidc-client-id", "c", "--console-oidc-client-secret-file", secretFile}, wantSecret: "from-file"},
		{name: "both secrets", args: []string{"--console-oidc-issuer", "https://id.example.com", "--console-oidc-client-id", "c", "--console-oidc-client-secret-file", secretFile},
			env: map[string]string{envConsoleOIDCSecret: "from-env"}, wantErr: "not both"},
		{name: "missing secret file", args: []string{"--console-oidc-issuer", "https://id.example.com", "--console-oidc-client-id", "c", "--console-oidc-client-secret-file", filepath.Join(dir, "none")}, wantErr: "--console-oidc-client-secret-file"},
		{name: "no client ID", args: []string{"--console-oidc-issuer", "https://id.example.com"}, wantErr: "--console-oidc-client-id is required"},
		{name: "no issuer", args: []string{"--console-oidc-client-id", "c"}, wantErr: "--console-oidc-issuer is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			f := consoleOIDCFlagSet(fs, func(k string) string { return tc.env[k] })
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			cfg, err := f.config()
			switch {
			case tc.wantErr == "-":
				if cfg != nil || err != nil {
					t.Errorf("config() = %+v, %v; want none", cfg, err)
				}
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "from-") {
					t.Errorf("config() error %v, want %q (and no secret)", err, tc.wantErr)
				}
			case err != nil || cfg == nil || cfg.ClientSecret != tc.wantSecret || cfg.ClientID != "c":
				t.Errorf("config() = %+v, %v; want secret %q", cfg, err, tc.wantSecret)
			}
		})
	}
}
