package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/password"
)

// Environment variables that give the root user a console password at
// start-up (see BootstrapRoot).
const (
	EnvRootEmail    = "IAMD_ROOT_EMAIL"
	EnvRootPassword = "IAMD_ROOT_PASSWORD"
)

// ErrEmailTaken is returned by SetRootPassword when another account's root
// user already signs in with the email address.
var ErrEmailTaken = errors.New("console: the email address is used by another account's root user")

// SetRootPassword sets the email address and console password the root
// user of account signs in with. The password must satisfy AWS's rules for
// root passwords (8 to 128 characters, at least three of upper case, lower
// case, numbers and symbols, not the email itself). It is an
// administrator's operation: it does not ask for the old password.
func SetRootPassword(ctx context.Context, w *iam.Writer, v *iam.View, hasher *password.Hasher, account, email, pw string) error {
	email = strings.TrimSpace(email)
	if email == "" || !strings.Contains(email, "@") || len(email) > 254 {
		return fmt.Errorf("console: root email %q is not an email address", email)
	}
	if err := password.Check(nil, pw, email); err != nil {
		return fmt.Errorf("console: root password: %w", err)
	}
	for _, id := range v.Accounts() {
		if a, ok := v.Account(id); ok && id != account && strings.EqualFold(a.V.Email, email) {
			return ErrEmailTaken
		}
	}
	hash, err := hasher.Hash(ctx, pw)
	if err != nil {
		return err
	}
	return iam.Retry(ctx, func() error {
		a, ok := v.Account(account)
		if !ok {
			return fmt.Errorf("console: account %s does not exist", account)
		}
		n := *a.V
		n.Email, n.RootPassword = email, hash
		return w.Commit(ctx, iam.Put(iam.KindAccount, "", account, &n, a.Version))
	})
}

// BootstrapRoot gives the root user of account (the first account when
// empty) the email and password from IAMD_ROOT_EMAIL and
// IAMD_ROOT_PASSWORD, if both are set and the root user has no password
// yet; a password set since (in the console) is never overwritten.
func BootstrapRoot(ctx context.Context, w *iam.Writer, v *iam.View, hasher *password.Hasher, account string, getenv func(string) string, log *slog.Logger) error {
	email, pw := getenv(EnvRootEmail), getenv(EnvRootPassword)
	if email == "" && pw == "" {
		return nil
	}
	if email == "" || pw == "" {
		return fmt.Errorf("%s and %s must be set together", EnvRootEmail, EnvRootPassword)
	}
	if account == "" {
		ids := v.Accounts()
		if len(ids) == 0 {
			return nil
		}
		account = ids[0]
	}
	a, ok := v.Account(account)
	if !ok {
		return fmt.Errorf("console: account %s does not exist", account)
	}
	if a.V.RootPassword != "" {
		return nil
	}
	if err := SetRootPassword(ctx, w, v, hasher, account, email, pw); err != nil {
		return err
	}
	log.Info("root user's console password set from the environment", "account", account, "email", email)
	return nil
}

// EnvOrigins lists the console's public origins, comma-separated
// (Config.Origins), e.g. https://iam.example.com.
const EnvOrigins = "IAMD_CONSOLE_ORIGINS"
