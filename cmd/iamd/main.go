// Command iamd is a self-hosted identity and access management service that
// speaks AWS's IAM and STS APIs.
//
// Usage:
//
//	iamd serve [--addr HOST:PORT] [--data DIR] [--store URL]
//	iamd account create [--data DIR] [--id ACCOUNT] [--email EMAIL]
//	iamd account export --account ID [--data DIR] [--store URL] > FILE.json
//	iamd account import --account ID [--data DIR] [--store URL] FILE.json
//	iamd backup [--data DIR] [--store URL] --out FILE
//	iamd restore [--data DIR] [--store URL] [--force] --in FILE
//	iamd policy validate FILE...
//	iamd report unused --days N [--account ID] [--json]
//	iamd policy eval --policy FILE --action A --resource ARN [...]
//	iamd version
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/iamd/iamd/internal/policycli"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

const usage = `iamd: AWS IAM and STS, self-hosted

Usage:
  iamd serve [--addr HOST:PORT] [--data DIR] [--store URL]   run the server
  iamd account create [--data DIR] [--id ID] [--email E]     create an account
  iamd account export --account ID > FILE.json               export an account
  iamd account import --account ID FILE.json                 import into an account
  iamd backup [--data DIR] [--store URL] --out FILE          back up every record
  iamd restore [--data DIR] [--store URL] [--force] --in FILE restore a backup
  iamd policy validate FILE...                               validate policies
  iamd report unused --days N [--account ID]                 unused users, keys, roles, permissions
  iamd policy eval --policy FILE --action A --resource ARN   evaluate offline
  iamd policy analyze|summarize|generate ...                 findings, summaries, policies from the audit trail
  iamd version                                               print the version

Run "iamd COMMAND --help" for a command's flags.
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func run(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr, getenv)
	case "account":
		return account(ctx, args[1:], stdout, stderr, getenv)
	case "backup":
		return backupCmd(ctx, args[1:], stdout, stderr, getenv)
	case "restore":
		return restoreCmd(ctx, args[1:], stdout, stderr, getenv)
	case "audit":
		return runAudit(ctx, args[1:], stdout, stderr, getenv)
	case "policy":
		return policycli.Main(args[1:], stdin, stdout, stderr)
	case "workload":
		return workloadCmd(ctx, args[1:], stdout, stderr, getenv)
	case "report":
		return reportCmd(ctx, args[1:], stdout, stderr, getenv)
	case "version", "--version":
		fmt.Fprintln(stdout, "iamd", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "iamd: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}
