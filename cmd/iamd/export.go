package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/iamd/iamd/internal/authn"
	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/backup/authdetails"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/iamapi"
	"github.com/iamd/iamd/internal/managedpolicies"
	"github.com/iamd/iamd/internal/server"
	"github.com/iamd/iamd/policy"
)

// accountService opens the state and an in-process IAM API on it. Calls go
// through the API's own checks and authorization, with the account's root
// user as the caller.
func accountService(ctx context.Context, dataDir, storeURL string, quotas iamapi.Quotas, getenv func(string) string) (*server.State, *iamapi.Service, error) {
	partition, err := iam.ParsePartition(getenv(iam.EnvPartition))
	if err != nil {
		return nil, nil, err
	}
	st, err := server.OpenState(ctx, dataDir, storeURL, getenv)
	if err != nil {
		return nil, nil, err
	}
	managed := sync.OnceValue(func() *managedpolicies.Catalog {
		c, err := managedpolicies.LoadPartition(partition.String())
		if err != nil {
			panic(fmt.Sprintf("managed policy catalogue: %v", err)) // embedded and tested
		}
		return c
	})
	svc := iamapi.New(iamapi.Config{
		View: st.View, Writer: st.Writer, Secrets: st.Keyring,
		Authorizer: authz.New(st.View, managed), Managed: managed, Quotas: quotas, Now: time.Now,
		Partition: partition,
	})
	return st, svc, nil
}

// rootContext makes the account's root user the caller of in-process calls.
func rootContext(ctx context.Context, svc *iamapi.Service, account string) context.Context {
	return authz.WithCaller(ctx, authn.RootCaller(svc.Partition(), account, ""))
}

const exportUsage = `usage: iamd account export --account ID [--data DIR] [--store URL] [--out FILE]

Writes the account's users, groups, roles and managed policies (all
versions), with attachments, inline policies, permissions boundaries and
tags, as GetAccountAuthorizationDetails returns them (the JSON of
"aws iam get-account-authorization-details"). Access keys, passwords and
MFA devices are not exported.
`

const importUsage = `usage: iamd account import --account ID [--data DIR] [--store URL] [--quotas Q] FILE.json

Recreates the users, groups, roles, instance profiles and customer-managed
policies of an export (from iamd or from AWS's CLI) in the account, which
is created if it does not exist. Entities get new IDs; managed policy
versions are renumbered from v1, keeping the default. Access keys and
passwords are not in an export: create them afterwards.
`

// accountExport runs "iamd account export".
func accountExport(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("iamd account export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, exportUsage); fs.PrintDefaults() }
	dataDir := fs.String("data", envOr(getenv, "IAMD_DATA", "iamd-data"), "data directory (env IAMD_DATA)")
	storeURL := fs.String("store", getenv(server.EnvStore), "store URL (env IAMD_STORE)")
	account := fs.String("account", "", "12-digit ID of the account to export")
	out := fs.String("out", "-", "file to write (- for standard output)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *account == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "iamd account export: %v\n", err)
		return 1
	}
	st, svc, err := accountService(ctx, *dataDir, *storeURL, iamapi.DefaultQuotas, getenv)
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	if _, ok := st.View.Account(*account); !ok {
		return fail(fmt.Errorf("no account %s", *account))
	}
	d, err := authdetails.Export(rootContext(ctx, svc, *account), svc)
	if err != nil {
		return fail(err)
	}
	w := stdout
	var f *os.File
	if *out != "-" {
		if f, err = os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return fail(err)
		}
		w = f
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "    ")
	enc.SetEscapeHTML(false)
	err = enc.Encode(d)
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fail(err)
	}
	if f != nil {
		fmt.Fprintf(stderr, "exported %d users, %d groups, %d roles, %d policies of account %s to %s\n",
			len(d.UserDetailList), len(d.GroupDetailList), len(d.RoleDetailList), len(d.Policies), *account, *out)
	}
	return 0
}

// accountImport runs "iamd account import".
func accountImport(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("iamd account import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, importUsage); fs.PrintDefaults() }
	dataDir := fs.String("data", envOr(getenv, "IAMD_DATA", "iamd-data"), "data directory (env IAMD_DATA)")
	storeURL := fs.String("store", getenv(server.EnvStore), "store URL (env IAMD_STORE)")
	account := fs.String("account", "", "12-digit ID of the account to import into (created if it does not exist)")
	quotaFlag := fs.String("quotas", getenv("IAMD_QUOTAS"), "raise per-account quotas for the import, as for iamd serve")
	// Flags may follow the file name.
	var file string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		if file != "" {
			fs.Usage()
			return 2
		}
		file, rest = fs.Arg(0), fs.Args()[1:]
	}
	if *account == "" || file == "" {
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "iamd account import: %v\n", err)
		return 1
	}
	if !policy.ValidAccountID(*account) {
		return fail(fmt.Errorf("--account %q: an account ID is 12 digits", *account))
	}
	quotas, err := parseQuotas(*quotaFlag)
	if err != nil {
		return fail(fmt.Errorf("--quotas: %w", err))
	}
	var d authdetails.Details
	raw, err := os.ReadFile(file)
	if err == nil {
		err = json.Unmarshal(raw, &d)
	}
	if err != nil {
		return fail(fmt.Errorf("read %s: %w", file, err))
	}
	st, svc, err := accountService(ctx, *dataDir, *storeURL, quotas, getenv)
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	if _, ok := st.View.Account(*account); !ok {
		res, err := server.CreateAccount(ctx, st, *account, "", time.Now())
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "account %s created\nroot access key ID:     %s\nroot secret access key: %s\n(shown once)\n",
			res.Account.ID, res.RootAccessKeyID, res.RootSecretAccessKey)
	}
	dispatch, err := iamapi.NewDispatcher(svc)
	if err != nil {
		return fail(err)
	}
	stats, err := authdetails.Import(rootContext(ctx, svc, *account), svc, *account, &d, authdetails.Options{Validator: dispatch})
	fmt.Fprintf(stdout, "imported into account %s: %d policies (%d versions), %d groups, %d users, %d roles, %d instance profiles\n",
		*account, stats.Policies, stats.PolicyVersions, stats.Groups, stats.Users, stats.Roles, stats.InstanceProfiles)
	if err != nil {
		return fail(err)
	}
	return 0
}
