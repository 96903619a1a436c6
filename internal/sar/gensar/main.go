// Command gensar builds the embedded service authorization reference
// (internal/sar/data/service-reference.json.gz) from reference files in
// the shared data set. Run it through scripts/gen-sar.sh.
//
// When the source holds no reference it writes nothing and says so: iamd
// then reports "reference data not available" wherever policy insight
// needs the reference.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/iamd/iamd/internal/sar"
)

func main() {
	src := flag.String("src", "../shared/data", "file or directory holding the reference")
	out := flag.String("out", "internal/sar/"+sar.EmbeddedFile, "bundle to write")
	flag.Parse()
	os.Exit(run(*src, *out))
}

func run(src, out string) int {
	raw, notes, err := sar.BuildBundle(src)
	for _, n := range notes {
		fmt.Fprintln(os.Stderr, "gen-sar:", n)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen-sar:", err)
		return 1
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
	fmt.Printf("wrote %s: %d services, %d actions, global condition keys: %v (from %s)\n", out, len(c.Services()), actions, c.HasGlobalKeys(), src)
	return 0
}
