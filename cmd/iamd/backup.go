package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/backup"
	"github.com/iamd/iamd/internal/server"
)

const backupUsage = `usage: iamd backup [--data DIR] [--store URL] --out FILE

Writes a consistent snapshot of every record of the store (SQLite by
default, or --store / IAMD_STORE) to FILE: compressed, checksummed, with
record versions. The master key is NOT in the backup: keep DIR/master.key
(or IAMD_MASTER_KEY) separately, or restored access keys cannot be used.
`

const restoreUsage = `usage: iamd restore [--data DIR] [--store URL] [--force] --in FILE

Restores a backup into the store. The store must be empty unless --force,
which replaces everything in it with the backup's records. Restore with
the master key the backup was taken with (DIR/master.key or
IAMD_MASTER_KEY). Backups restore across backends (SQLite to PostgreSQL and
back).
`

// backupCmd runs "iamd backup".
func backupCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("iamd backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, backupUsage); fs.PrintDefaults() }
	dataDir := fs.String("data", envOr(getenv, "IAMD_DATA", "iamd-data"), "data directory (env IAMD_DATA)")
	storeURL := fs.String("store", getenv(server.EnvStore), "store URL: sqlite:PATH or postgres://... (env IAMD_STORE)")
	out := fs.String("out", "", "backup file to write (- for standard output)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "iamd backup: %v\n", err)
		return 1
	}
	st, err := server.OpenStore(ctx, *storeURL, *dataDir)
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	if *out == "-" {
		if _, err := backup.Write(ctx, st, stdout, time.Now()); err != nil {
			return fail(err)
		}
		return 0
	}
	// Write beside the target and rename, so that FILE is never a partial
	// backup.
	tmp, err := os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".*")
	if err != nil {
		return fail(err)
	}
	defer os.Remove(tmp.Name())
	sum, err := backup.Write(ctx, st, tmp, time.Now())
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o600)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), *out)
	}
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "backed up %d records (%s) at revision %d to %s\n%s\n", sum.Records, kinds(sum.Kinds), sum.Rev, *out, backup.MasterKeyNote)
	return 0
}

// restoreCmd runs "iamd restore".
func restoreCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("iamd restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, restoreUsage); fs.PrintDefaults() }
	dataDir := fs.String("data", envOr(getenv, "IAMD_DATA", "iamd-data"), "data directory (env IAMD_DATA)")
	storeURL := fs.String("store", getenv(server.EnvStore), "store URL: sqlite:PATH or postgres://... (env IAMD_STORE)")
	in := fs.String("in", "", "backup file to restore")
	force := fs.Bool("force", false, "restore into a store that holds records, replacing all of them")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *in == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "iamd restore: %v\n", err)
		return 1
	}
	f, err := os.Open(*in)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return fail(err)
	}
	st, err := server.OpenStore(ctx, *storeURL, *dataDir)
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	sum, err := backup.Restore(ctx, st, f, backup.RestoreOptions{Force: *force})
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "restored %d records (%s) from %s (taken %s at revision %d)", sum.Records, kinds(sum.Kinds), *in, sum.Created.Format(time.RFC3339), sum.Rev)
	if sum.Removed > 0 {
		fmt.Fprintf(stdout, "; removed %d records the backup did not have", sum.Removed)
	}
	fmt.Fprintln(stdout, "\nstart iamd with the master key the backup was taken with (DIR/master.key or IAMD_MASTER_KEY): it is not in the backup")
	return 0
}

// kinds formats per-kind counts as "user=3, group=1".
func kinds(m map[string]int) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
