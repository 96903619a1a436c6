package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/server"
	"github.com/iamd/iamd/internal/workload"
)

const workloadUsage = `usage:
  iamd workload create --name NAME --role ROLE [--account ID] [--endpoint URL]
  iamd workload list [--account ID]
  iamd workload delete --name NAME [--account ID]
  iamd workload rotate-token --name NAME [--account ID]
common flags: [--data DIR] [--store URL]

A workload gets the role's temporary credentials from iamd's container
credentials endpoint, as the AWS SDKs' default credential chain reads it,
with no keys on disk. The role's trust policy must allow the service
principal ` + workload.ServicePrincipal + ` to perform sts:AssumeRole.
`

// workloadCmd administers workloads directly in the store; a running server
// sees the change through its change follower.
func workloadCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, workloadUsage)
		return 2
	}
	sub := args[0]
	fs := flag.NewFlagSet("iamd workload "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", envOr(getenv, "IAMD_DATA", "iamd-data"), "data directory (env IAMD_DATA)")
	storeURL := fs.String("store", getenv(server.EnvStore), "store URL (env IAMD_STORE)")
	account := fs.String("account", getenv(server.EnvAccountID), "account ID (default: the only account; env IAMD_ACCOUNT_ID)")
	name := fs.String("name", "", "workload name (2-64 characters from letters, digits and +=,.@_-); it is the role session name")
	role := fs.String("role", "", "create: name of the role whose credentials the workload gets")
	endpoint := fs.String("endpoint", "http://"+envOr(getenv, "IAMD_ADDR", "127.0.0.1:8080"), "create, rotate-token: iamd's URL as the workload reaches it")
	switch sub {
	case "create", "list", "delete", "rotate-token":
	case "help", "-h", "--help":
		fmt.Fprint(stdout, workloadUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "iamd workload: unknown subcommand %q\n\n%s", sub, workloadUsage)
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "iamd workload %s: %v\n", sub, err)
		return 1
	}
	if sub != "list" && *name == "" {
		return fail(errors.New("--name is required"))
	}
	if sub == "create" && *role == "" {
		return fail(errors.New("--role is required"))
	}
	// The partition of the server the workload calls: its trust check
	// below reads aws:SourceArn as that server computes it.
	partition, err := iam.ParsePartition(getenv(iam.EnvPartition))
	if err != nil {
		return fail(err)
	}
	st, err := server.OpenState(ctx, *dataDir, *storeURL, getenv)
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	if *account == "" {
		ids := st.View.Accounts()
		if len(ids) != 1 {
			return fail(fmt.Errorf("--account is required: the store holds %d accounts", len(ids)))
		}
		*account = ids[0]
	}

	switch sub {
	case "create":
		wl, token, err := workload.Create(ctx, st.Writer, *account, *name, *role, time.Now())
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "workload %s created in account %s for role %s\n", wl.Name, *account, wl.RoleName)
		if !trusts(st.View, partition, *account, wl) {
			fmt.Fprintf(stdout, "warning: the trust policy of role %s does not allow the service principal %s to perform sts:AssumeRole; the workload will be refused until it does\n",
				wl.RoleName, workload.ServicePrincipal)
		}
		printEnv(stdout, *endpoint, *account, wl.Name, token)
	case "rotate-token":
		token, err := workload.RotateToken(ctx, st.Writer, *account, *name)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "workload %s: new token; the previous one no longer works\n", *name)
		printEnv(stdout, *endpoint, *account, *name, token)
	case "delete":
		if err := workload.Delete(ctx, st.Writer, *account, *name); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "workload %s deleted from account %s; credentials it already obtained last until they expire (at most one hour)\n", *name, *account)
	case "list":
		list, err := workload.List(st.View, *account)
		if err != nil {
			return fail(err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tCREATED")
		for _, wl := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", wl.Name, wl.RoleName, wl.Created.UTC().Format(time.RFC3339))
		}
		_ = tw.Flush()
	}
	return 0
}

func printEnv(w io.Writer, endpoint, account, name, token string) {
	fmt.Fprintf(w, "Set in the workload's environment (the token is shown once):\n"+
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=%s\nAWS_CONTAINER_AUTHORIZATION_TOKEN=%s\n",
		workload.URL(endpoint, account, name), token)
}

// trusts reports whether the workload's role trusts the workload service
// principal, ignoring conditions on the request's network origin.
func trusts(v *iam.View, p iam.Partition, account string, wl *iam.Workload) bool {
	var role *iam.Role
	v.Read(account, func(a *iam.AccountView) {
		if r, ok := a.Role(wl.RoleName); ok {
			role = r.V
		}
	})
	if role == nil {
		return false
	}
	return authz.New(v, nil).TrustAllows(workload.TrustRequest(p, account, wl.Name, role, time.Now()))
}
