package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/iamd/iamd/internal/audit"
	"github.com/iamd/iamd/internal/secrets"
)

// runAudit implements "iamd audit verify": it checks the audit trail's
// hash chains, signed heads and digests, and exits 1 if any chain shows
// evidence of tampering.
func runAudit(_ context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, "usage: iamd audit verify [--data DIR]")
		return 2
	}
	fs := flag.NewFlagSet("iamd audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", envOr(getenv, "IAMD_DATA", "iamd-data"), "data directory (env IAMD_DATA)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	dir := filepath.Join(*dataDir, "audit")
	if _, err := os.Stat(dir); err != nil {
		fmt.Fprintf(stderr, "iamd audit verify: %v\n", err)
		return 1
	}
	if _, err := os.Stat(filepath.Join(*dataDir, secrets.MasterKeyFile)); errors.Is(err, os.ErrNotExist) && getenv(secrets.EnvMasterKey) == "" {
		fmt.Fprintf(stderr, "iamd audit verify: no master key in %s and %s is not set: the signatures cannot be checked\n", *dataDir, secrets.EnvMasterKey)
		return 1
	}
	kr, err := secrets.LoadOrCreate(*dataDir, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "iamd audit verify: master key: %v\n", err)
		return 1
	}
	// A long trail takes minutes: say how far it got, every million
	// records.
	start := time.Now()
	rep, err := audit.VerifyProgress(dir, kr.DeriveKeys(audit.KeyPurpose), func(chain string, n uint64) {
		fmt.Fprintf(stderr, "iamd audit verify: chain %s: %d records checked (%s)\n", chain, n, time.Since(start).Round(time.Second))
	})
	if err != nil {
		fmt.Fprintf(stderr, "iamd audit verify: %v\n", err)
		return 1
	}
	for _, c := range rep.Chains {
		status := "OK"
		if len(c.Problems) > 0 {
			status = "TAMPERED"
		}
		fmt.Fprintf(stdout, "chain %s: %s: %d records, %d signed by the head, %d digests, head %s\n",
			c.Chain, status, c.Records, c.Signed, c.Digests, c.Head)
		if r := c.Removed; r != nil {
			fmt.Fprintf(stdout, "  removed by retention: records %d to %d (events until %s), as digest %d signs\n",
				r.First, r.Last, r.Until.Format(time.RFC3339), r.Digest)
		}
		for _, p := range c.Problems {
			fmt.Fprintf(stdout, "  problem: %s\n", p)
		}
		for _, w := range c.Warnings {
			fmt.Fprintf(stdout, "  warning: %s\n", w)
		}
	}
	if !rep.OK() {
		fmt.Fprintln(stderr, "iamd audit verify: the audit trail was tampered with")
		return 1
	}
	return 0
}
