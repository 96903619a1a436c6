package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/audit"
	"github.com/iamd/iamd/internal/audit/delivery"
	"github.com/iamd/iamd/internal/secrets"
)

// runAudit implements "iamd audit verify": it checks the audit trail's
// hash chains, signed heads and digests, and exits 1 if any chain shows
// evidence of tampering.
func runAudit(_ context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, "usage: iamd audit verify [--data DIR] [--from DIR|s3://BUCKET/PREFIX [--endpoint URL]]")
		return 2
	}
	fs := flag.NewFlagSet("iamd audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", envOr(getenv, "IAMD_DATA", "iamd-data"), "data directory (env IAMD_DATA)")
	from := fs.String("from", "", "validate delivered CloudTrail log and digest files instead: a directory or s3://BUCKET/PREFIX (the data directory's master key checks the signatures)")
	endpoint := fs.String("endpoint", "", "with --from s3://..., the URL of an S3-compatible server (path-style)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *from != "" {
		return verifyDelivered(*dataDir, *from, *endpoint, stdout, stderr, getenv)
	}
	dir := filepath.Join(*dataDir, "audit")
	if _, err := os.Stat(dir); err != nil {
		fmt.Fprintf(stderr, "iamd audit verify: %v\n", err)
		return 1
	}
	kr, ok := verifyKeyring(*dataDir, stderr, getenv)
	if !ok {
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

// verifyKeyring loads the master keyring that signed what verify checks;
// it never creates one.
func verifyKeyring(dataDir string, stderr io.Writer, getenv func(string) string) (*secrets.Keyring, bool) {
	if _, err := os.Stat(filepath.Join(dataDir, secrets.MasterKeyFile)); errors.Is(err, os.ErrNotExist) && getenv(secrets.EnvMasterKey) == "" {
		fmt.Fprintf(stderr, "iamd audit verify: no master key in %s and %s is not set: the signatures cannot be checked\n", dataDir, secrets.EnvMasterKey)
		return nil, false
	}
	kr, err := secrets.LoadOrCreate(dataDir, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "iamd audit verify: master key: %v\n", err)
		return nil, false
	}
	return kr, true
}

// verifyDelivered implements "iamd audit verify --from": it validates
// delivered log files against the digest files and the digest chains, as
// `aws cloudtrail validate-logs` does, and exits 1 naming each file
// missing, modified or not listed.
func verifyDelivered(dataDir, from, endpoint string, stdout, stderr io.Writer, getenv func(string) string) int {
	kr, ok := verifyKeyring(dataDir, stderr, getenv)
	if !ok {
		return 1
	}
	ctx := context.Background()
	var src delivery.Source
	prefix := ""
	if strings.HasPrefix(from, "s3://") {
		s, err := delivery.NewS3(ctx, from, endpoint)
		if err != nil {
			fmt.Fprintf(stderr, "iamd audit verify: %v\n", err)
			return 1
		}
		src = s
		_, prefix = s.Location()
	} else {
		if _, err := os.Stat(from); err != nil {
			fmt.Fprintf(stderr, "iamd audit verify: %v\n", err)
			return 1
		}
		d, err := delivery.NewDir(from)
		if err != nil {
			fmt.Fprintf(stderr, "iamd audit verify: %v\n", err)
			return 1
		}
		src = d
	}
	rep, err := delivery.Verify(ctx, src, prefix, delivery.Keys(kr.DeriveKeys(delivery.KeyPurpose)))
	if err != nil {
		fmt.Fprintf(stderr, "iamd audit verify: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%d digest files valid\n%d log files valid\n", rep.Digests, rep.LogFiles)
	for _, r := range rep.Removed {
		fmt.Fprintf(stdout, "removed by retention: %s\n", r)
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(stdout, "problem: %s\n", p)
	}
	if !rep.OK() {
		fmt.Fprintf(stderr, "iamd audit verify: %d problems in the delivered files\n", len(rep.Problems))
		return 1
	}
	return 0
}
