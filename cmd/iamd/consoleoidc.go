package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/iamd/iamd/internal/console"
)

// Environment variables of the console's OpenID Connect sign-in. The
// client secret has no command-line flag: a process's arguments are
// visible to every local user (ps), so it comes from the environment or a
// file.
const (
	envConsoleOIDCIssuer       = "IAMD_CONSOLE_OIDC_ISSUER"
	envConsoleOIDCClientID     = "IAMD_CONSOLE_OIDC_CLIENT_ID"
	envConsoleOIDCSecret       = "IAMD_CONSOLE_OIDC_CLIENT_SECRET"
	envConsoleOIDCSecretFile   = "IAMD_CONSOLE_OIDC_CLIENT_SECRET_FILE"
	envConsoleOIDCRedirectURL  = "IAMD_CONSOLE_OIDC_REDIRECT_URL"
	consoleOIDCCallbackExample = "https://iam.example.com/console/oidc/callback"
)

// consoleOIDCFlags are the flags of the console's sign-in through an
// OpenID Connect provider.
type consoleOIDCFlags struct {
	issuer, clientID, secretFile, redirectURL *string
	getenv                                    func(string) string
}

func consoleOIDCFlagSet(fs *flag.FlagSet, getenv func(string) string) *consoleOIDCFlags {
	return &consoleOIDCFlags{
		getenv: getenv,
		issuer: fs.String("console-oidc-issuer", getenv(envConsoleOIDCIssuer),
			"offer the console's sign-in through this OpenID Connect provider (its https issuer URL); the role's account registers it with create-open-id-connect-provider (env "+envConsoleOIDCIssuer+")"),
		clientID: fs.String("console-oidc-client-id", getenv(envConsoleOIDCClientID),
			"the console's client ID at the OpenID Connect provider, the ID tokens' audience (env "+envConsoleOIDCClientID+")"),
		secretFile: fs.String("console-oidc-client-secret-file", getenv(envConsoleOIDCSecretFile),
			"file holding the console's client secret at the provider (or env "+envConsoleOIDCSecret+"; none: a public client, PKCE alone; env "+envConsoleOIDCSecretFile+")"),
		redirectURL: fs.String("console-oidc-redirect-url", getenv(envConsoleOIDCRedirectURL),
			"the callback registered at the provider, e.g. "+consoleOIDCCallbackExample+" (default: the origin of the sign-in request; env "+envConsoleOIDCRedirectURL+")"),
	}
}

// config returns the sign-in's configuration, nil when no issuer is set.
func (f *consoleOIDCFlags) config() (*console.OIDC, error) {
	if *f.issuer == "" {
		if *f.clientID != "" || *f.secretFile != "" || f.getenv(envConsoleOIDCSecret) != "" || *f.redirectURL != "" {
			return nil, errors.New("--console-oidc-issuer is required with the other --console-oidc-* settings")
		}
		return nil, nil
	}
	if *f.clientID == "" {
		return nil, errors.New("--console-oidc-client-id is required with --console-oidc-issuer")
	}
	secret := f.getenv(envConsoleOIDCSecret)
	if *f.secretFile != "" {
		if secret != "" {
			return nil, fmt.Errorf("set the client secret in %s or --console-oidc-client-secret-file, not both", envConsoleOIDCSecret)
		}
		b, err := os.ReadFile(*f.secretFile)
		if err != nil {
			// The error names the file, never its contents.
			return nil, fmt.Errorf("--console-oidc-client-secret-file: %w", err)
		}
		if secret = strings.TrimSpace(string(b)); secret == "" {
			return nil, fmt.Errorf("--console-oidc-client-secret-file: %s is empty", *f.secretFile)
		}
	}
	return &console.OIDC{Issuer: *f.issuer, ClientID: *f.clientID, ClientSecret: secret, RedirectURL: *f.redirectURL}, nil
}
