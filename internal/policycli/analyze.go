package policycli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/audit/pgtrail"
	"github.com/iamd/iamd/internal/insight"
	"github.com/iamd/iamd/internal/sar"
)

const insightUsage = `usage:
  iamd policy analyze [--kind KIND] [--reference PATH] [--json] FILE...
  iamd policy summarize [--kind KIND] [--reference PATH] [--json] FILE
  iamd policy generate [--data DIR | --store URL] --account ID (--user NAME | --role NAME)
                       --since DURATION|DATE [--until DURATION|DATE]
                       [--max-resources N] [--reference PATH] [--json] [--out FILE]

analyze reports validation findings in the manner of IAM Access Analyzer
(ERROR, SECURITY_WARNING, WARNING, SUGGESTION) and exits 1 when there is an
ERROR or a SECURITY_WARNING. summarize shows what a policy allows and denies
per service, access level, resource and condition. generate writes a
least-privilege identity policy from the audit trail: the actions the user
or role was allowed and used in the period, on the resources used. DURATION
is like 90d, 12h or 30m (before now); DATE is 2006-01-02 or RFC 3339.
With a PostgreSQL --store (env IAMD_STORE), generate reads the trail every
replica ships there; otherwise the audit directory of --data.

The checks, access levels and resource patterns that need AWS's service
authorization reference use the one built into iamd (scripts/gen-sar.sh), or
the files at --reference PATH; without it the output says "reference data
not available" where it matters.
`

// insightCmd runs analyze, summarize and generate.
func insightCmd(name string, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet(name, stderr)
	fs.Usage = func() { fmt.Fprint(stderr, insightUsage) }
	kindName := fs.String("kind", "identity", "policy kind")
	refPath := fs.String("reference", "", "service authorization reference file or directory (default: the embedded one)")
	asJSON := fs.Bool("json", false, "print JSON")
	dataDir := fs.String("data", envOr("IAMD_DATA", "iamd-data"), "data directory (env IAMD_DATA)")
	storeURL := fs.String("store", os.Getenv("IAMD_STORE"), "store URL; with postgres://..., generate reads every replica's events from it (env IAMD_STORE)")
	account := fs.String("account", "", "account ID")
	user := fs.String("user", "", "IAM user name")
	role := fs.String("role", "", "IAM role name")
	since := fs.String("since", "", "start of the period")
	until := fs.String("until", "", "end of the period (default now)")
	maxRes := fs.Int("max-resources", insight.DefaultMaxResources, "resources per action before collapsing into patterns")
	outFile := fs.String("out", "", "write the policy to FILE instead of standard output")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "iamd policy %s: %v\n", name, err)
		return exitUsage
	}
	cat, err := loadCatalog(*refPath, stderr)
	if err != nil {
		return fail(err)
	}
	kind, _, err := parseKind(*kindName)
	if err != nil {
		return fail(err)
	}
	switch name {
	case "analyze":
		if fs.NArg() == 0 {
			fmt.Fprint(stderr, insightUsage)
			return exitUsage
		}
		code := exitOK
		var reports []fileReport
		for _, f := range fs.Args() {
			raw, err := os.ReadFile(f)
			if err != nil {
				return fail(err)
			}
			rep := insight.Analyze(raw, kind, cat)
			if rep.Blocking() {
				code = exitDeny
			}
			reports = append(reports, fileReport{File: f, Report: rep})
		}
		if *asJSON {
			if err := writeJSON(stdout, reports); err != nil {
				return fail(err)
			}
		} else {
			for _, r := range reports {
				printFindings(stdout, r.File, r.Report)
			}
		}
		return code
	case "summarize":
		if fs.NArg() != 1 {
			fmt.Fprint(stderr, insightUsage)
			return exitUsage
		}
		raw, err := os.ReadFile(fs.Arg(0))
		if err != nil {
			return fail(err)
		}
		sum, err := insight.Summarize(raw, kind, cat)
		if err != nil {
			fmt.Fprintf(stdout, "%s: MalformedPolicyDocument: %v (run iamd policy analyze for details)\n", fs.Arg(0), err)
			return exitDeny
		}
		if *asJSON {
			if err := writeJSON(stdout, sum); err != nil {
				return fail(err)
			}
			return exitOK
		}
		printSummary(stdout, sum)
		return exitOK
	}
	// generate
	if fs.NArg() > 0 {
		return fail(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	now := time.Now().UTC()
	if *since == "" {
		return fail(errors.New("--since is required (for example --since 90d)"))
	}
	start, err := parseWhen(*since, now)
	if err != nil {
		return fail(fmt.Errorf("--since: %w", err))
	}
	end := now
	if *until != "" {
		if end, err = parseWhen(*until, now); err != nil {
			return fail(fmt.Errorf("--until: %w", err))
		}
	}
	opts := insight.GenerateOptions{Account: *account, User: *user, Role: *role, Start: start, End: end, MaxResources: *maxRes, Catalog: cat}
	gen, err := generate(*dataDir, *storeURL, opts)
	if err != nil {
		return fail(err)
	}
	if gen.Policy == "" && !*asJSON {
		fmt.Fprintf(stderr, "iamd policy generate: %s used nothing from %s to %s (%d events): no policy written\n",
			gen.Principal, fmtTime(start), fmtTime(end), gen.Events)
		return exitDeny
	}
	w := stdout
	if *outFile != "" {
		f, err := os.Create(*outFile)
		if err != nil {
			return fail(err)
		}
		defer f.Close()
		w = f
	}
	if *asJSON {
		if err := writeJSON(w, gen); err != nil {
			return fail(err)
		}
	} else if _, err := io.WriteString(w, gen.Policy); err != nil {
		return fail(err)
	}
	// The policy goes to standard output alone, ready for
	// put-user-policy; what it was made from goes to standard error.
	fmt.Fprintf(stderr, "%s, %s to %s: %d events, %d allowed calls used, %d failed, %d needing no permission; %d actions\n",
		gen.Principal, fmtTime(start), fmtTime(end), gen.Events, gen.Calls, gen.Failed, gen.Unchecked, len(gen.Actions))
	for _, n := range gen.Notes {
		fmt.Fprintln(stderr, "note:", n)
	}
	return exitOK
}

type fileReport struct {
	File string `json:"file"`
	*insight.Report
}

// generate reads the shared trail of a PostgreSQL store, or the audit
// directory of dataDir.
func generate(dataDir, storeURL string, opts insight.GenerateOptions) (*insight.Generated, error) {
	if strings.HasPrefix(storeURL, "postgres://") || strings.HasPrefix(storeURL, "postgresql://") {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		trail, err := pgtrail.Open(ctx, pgtrail.Options{DSN: storeURL})
		if err != nil {
			return nil, err
		}
		defer func() { _ = trail.Close() }() // never fails
		return insight.GenerateFromLog(trail, opts)
	}
	dir := filepath.Join(dataDir, "audit")
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("no audit trail: %w", err)
	}
	return insight.GenerateFromDir(dir, opts)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// loadCatalog returns the reference at path, or the embedded one.
func loadCatalog(path string, stderr io.Writer) (*sar.Catalog, error) {
	if path == "" {
		return sar.Load()
	}
	cat, _, err := sar.LoadSources(path)
	if err != nil {
		return nil, fmt.Errorf("--reference: %w", err)
	}
	if !cat.Available() {
		fmt.Fprintf(stderr, "warning: no service authorization reference in %s: %s\n", path, sar.NotAvailable)
	}
	return cat, nil
}

// parseWhen reads a time as a duration before now (90d, 12h, 30m) or a date.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days >= 0 {
			return now.AddDate(0, 0, -days), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither a duration (90d, 12h) nor a date (2006-01-02, RFC 3339)", s)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func printFindings(w io.Writer, file string, r *insight.Report) {
	if len(r.Findings) == 0 {
		fmt.Fprintf(w, "%s: no findings\n", file)
		return
	}
	for _, f := range r.Findings {
		where := ""
		if len(f.Locations) > 0 {
			l := f.Locations[0]
			parts := []string{}
			if l.Span != nil {
				parts = append(parts, fmt.Sprintf("%d:%d", l.Span.Start.Line, l.Span.Start.Column+1))
			}
			if p := l.PathString(); p != "" {
				parts = append(parts, p)
			}
			if len(parts) > 0 {
				where = strings.Join(parts, " ") + ": "
			}
		}
		fmt.Fprintf(w, "%s: %s %s: %s%s\n", file, f.FindingType, f.IssueCode, where, f.FindingDetails)
	}
}

func printSummary(w io.Writer, s *insight.Summary) {
	if s.Note != "" {
		fmt.Fprintf(w, "Note: %s\n", s.Note)
	}
	section := func(title string, rows []insight.ServiceSummary) {
		if len(rows) == 0 {
			return
		}
		fmt.Fprintf(w, "%s\n", title)
		for _, r := range rows {
			name := r.Service
			if r.Name != "" {
				name += " (" + r.Name + ")"
			}
			fmt.Fprintf(w, "  %s\n", name)
			fmt.Fprintf(w, "    Access level: %s\n", r.Access)
			for _, l := range r.AccessLevels {
				q := "Limited"
				if l.Full {
					q = "Full"
				}
				fmt.Fprintf(w, "      %s (%s, %d of %d): %s\n", l.Level, q, l.Granted, l.Total, strings.Join(l.Actions, ", "))
			}
			if len(r.AccessLevels) == 0 && len(r.Actions) > 0 {
				fmt.Fprintf(w, "    Actions: %s\n", strings.Join(r.Actions, ", "))
			}
			if len(r.ExceptActions) > 0 {
				fmt.Fprintf(w, "    Except: %s\n", strings.Join(r.ExceptActions, ", "))
			}
			if len(r.Unrecognized) > 0 {
				fmt.Fprintf(w, "    Unrecognized actions: %s\n", strings.Join(r.Unrecognized, ", "))
			}
			fmt.Fprintf(w, "    Resource: %s\n", r.ResourceSummary)
			fmt.Fprintf(w, "    Request condition: %s\n", r.ConditionSummary)
			if r.ResourceSummary == "Multiple" || r.ConditionSummary == "Multiple" {
				for _, d := range r.Details {
					fmt.Fprintf(w, "      %s (%s): %s; condition: %s\n", d.Action, d.AccessLevel,
						strings.Join(d.Resources, ", "), strings.Join(d.Conditions, " or "))
				}
			}
		}
	}
	section("Allow", s.Allow)
	section("Explicit deny", s.Deny)
}
