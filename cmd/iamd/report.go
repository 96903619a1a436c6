package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/iamapi"
	"github.com/iamd/iamd/internal/managedpolicies"
	"github.com/iamd/iamd/internal/server"
)

const reportUsage = `usage: iamd report unused --days N [--account ID] [--data DIR] [--store URL] [--json]

Lists unused access from the stored records: users without activity for N
days, active access keys and console passwords not used for N days, roles
not used for N days, and per user or role the services its policies grant
that it has not used for N days. Activity is what iamd records as it
authorizes requests (flushed every second by a running server).
`

// finding is one unused-access finding.
type finding struct {
	Type     string    `json:"type"` // UnusedUser, UnusedAccessKey, UnusedPassword, UnusedRole, UnusedPermission
	Account  string    `json:"account"`
	Resource string    `json:"resource"`          // ARN, or access key ID
	Service  string    `json:"service,omitempty"` // UnusedPermission: the service namespace
	LastUsed time.Time `json:"lastUsed,omitzero"` // zero: never
}

// reportCmd runs "iamd report".
func reportCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 || args[0] != "unused" {
		fmt.Fprint(stderr, reportUsage)
		return 2
	}
	fs := flag.NewFlagSet("iamd report unused", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, reportUsage); fs.PrintDefaults() }
	dataDir := fs.String("data", envOr(getenv, "IAMD_DATA", "iamd-data"), "data directory (env IAMD_DATA)")
	storeURL := fs.String("store", getenv(server.EnvStore), "store URL: sqlite:PATH or postgres://... (env IAMD_STORE)")
	days := fs.Int("days", 0, "report access unused for this many days")
	account := fs.String("account", "", "only this account (default: every account)")
	asJSON := fs.Bool("json", false, "write the findings as JSON")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *days <= 0 || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	st, err := server.OpenState(ctx, *dataDir, *storeURL, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "iamd report: %v\n", err)
		return 1
	}
	defer st.Close()
	part, err := iam.ParsePartition(getenv(iam.EnvPartition))
	if err != nil {
		fmt.Fprintf(stderr, "iamd report: %v\n", err)
		return 2
	}
	catalog, err := managedpolicies.LoadPartition(part.String())
	if err != nil {
		fmt.Fprintf(stderr, "iamd report: %v\n", err)
		return 1
	}
	accounts := st.View.Accounts()
	if *account != "" {
		if _, ok := st.View.Account(*account); !ok {
			fmt.Fprintf(stderr, "iamd report: no account %s\n", *account)
			return 1
		}
		accounts = []string{*account}
	}
	var all []finding
	for _, a := range accounts {
		all = append(all, unusedAccess(st.View, catalog, part, a, time.Duration(*days)*24*time.Hour, time.Now())...)
	}
	if *asJSON {
		if all == nil {
			all = []finding{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(all); err != nil {
			return 1
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tRESOURCE\tSERVICE\tLAST USED")
	for _, f := range all {
		last := "never"
		if !f.LastUsed.IsZero() {
			last = f.LastUsed.UTC().Format(time.RFC3339)
		}
		svc := f.Service
		if svc == "" {
			svc = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Type, f.Resource, svc, last)
	}
	if err := tw.Flush(); err != nil {
		return 1
	}
	return 0
}

// reportEntity is a user or role with what it may use and has used.
type reportEntity struct {
	arn, id  string
	created  time.Time
	docs     []string
	lastUsed time.Time // password, role assumption
	isUser   bool
}

// unusedAccess returns the findings of one account: access not used within
// window before now.
func unusedAccess(v *iam.View, catalog *managedpolicies.Catalog, part iam.Partition, account string, window time.Duration, now time.Time) []finding {
	cutoff := now.Add(-window)
	var (
		entities []*reportEntity
		records  = map[string]*iam.AccessRecord{}
		// passwords maps the ARN of each user with a console password to
		// when the password was created.
		passwords = map[string]time.Time{}
		seen      = map[string]bool{}
	)
	v.Read(account, func(a *iam.AccountView) {
		managed := func(arns []string) []string {
			var out []string
			for _, arn := range arns {
				p, ok := iam.ParsePolicyARN(arn)
				if !ok {
					continue
				}
				if p.Account == iam.AWSManagedAccount {
					if m, ok := catalog.Get(arn); ok {
						out = append(out, m.Document)
					}
				} else if e, ok := a.Policy(p.Name); ok && e.V.Path == p.Path {
					out = append(out, e.V.DefaultDocument())
				}
			}
			return out
		}
		inline := func(in []iam.InlinePolicy) []string {
			var out []string
			for _, p := range in {
				out = append(out, p.Document)
			}
			return out
		}
		for marker := ""; ; {
			page, next := a.Users(marker, 1000, nil)
			for _, e := range page {
				u := e.V
				re := &reportEntity{arn: part.ARN(account, "user", u.Path, u.Name), id: u.ID, created: u.Created, isUser: true, lastUsed: u.PasswordLastUsed}
				re.docs = append(inline(u.Inline), managed(u.Attached)...)
				for _, gid := range u.Groups {
					if g, ok := a.GroupByID(gid); ok {
						re.docs = append(re.docs, inline(g.V.Inline)...)
						re.docs = append(re.docs, managed(g.V.Attached)...)
					}
				}
				entities = append(entities, re)
				if u.Login != nil {
					passwords[re.arn] = u.Login.Created
				}
			}
			if next == "" {
				break
			}
			marker = next
		}
		for marker := ""; ; {
			page, next := a.Roles(marker, 1000, nil)
			for _, e := range page {
				r := e.V
				re := &reportEntity{arn: part.ARN(account, "role", r.Path, r.Name), id: r.ID, created: r.Created}
				if ru, ok := a.RoleUsage(r.ID); ok {
					re.lastUsed = ru.LastUsed
				}
				re.docs = append(inline(r.Inline), managed(r.Attached)...)
				entities = append(entities, re)
			}
			if next == "" {
				break
			}
			marker = next
		}
		for _, id := range a.AccessEntities() {
			if r, ok := a.Access(id); ok {
				records[id] = r
				for ns := range r.Services {
					seen[ns] = true
				}
			}
		}
	})
	known := make([]string, 0, len(seen))
	for ns := range seen {
		known = append(known, ns)
	}
	for _, ns := range []string{"iam", "sts", "s3", "ec2"} {
		if !seen[ns] {
			known = append(known, ns)
		}
	}
	unused := func(last, created time.Time) bool {
		if last.IsZero() {
			return created.Before(cutoff)
		}
		return last.Before(cutoff)
	}
	var out []finding
	for _, re := range entities {
		last := re.lastUsed
		rec := records[re.id]
		if rec != nil {
			for _, s := range rec.Services {
				if s.Last.After(last) {
					last = s.Last
				}
			}
		}
		if re.isUser {
			for _, k := range v.AccessKeys(account, re.id) {
				var used time.Time
				if u, ok := v.KeyUsage(k.V.ID); ok {
					used = u.LastUsed
				}
				if used.After(last) {
					last = used
				}
				if k.V.Status == "Active" && unused(used, k.V.Created) {
					out = append(out, finding{Type: "UnusedAccessKey", Account: account, Resource: k.V.ID, LastUsed: used})
				}
			}
			if created, ok := passwords[re.arn]; ok && unused(re.lastUsed, created) {
				out = append(out, finding{Type: "UnusedPassword", Account: account, Resource: re.arn, LastUsed: re.lastUsed})
			}
			if unused(last, re.created) {
				out = append(out, finding{Type: "UnusedUser", Account: account, Resource: re.arn, LastUsed: last})
			}
		} else if unused(last, re.created) {
			out = append(out, finding{Type: "UnusedRole", Account: account, Resource: re.arn, LastUsed: last})
		}
		services, _ := iamapi.AllowedServices(re.docs, known)
		names := make([]string, 0, len(services))
		for ns := range services {
			names = append(names, ns)
		}
		sort.Strings(names)
		for _, ns := range names {
			var used time.Time
			if rec != nil {
				used = rec.Services[ns].Last
			}
			if unused(used, re.created) {
				out = append(out, finding{Type: "UnusedPermission", Account: account, Resource: re.arn, Service: ns, LastUsed: used})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return reportOrder(out[i].Type) < reportOrder(out[j].Type)
		}
		return strings.Compare(out[i].Resource, out[j].Resource) < 0
	})
	return out
}

func reportOrder(t string) int {
	switch t {
	case "UnusedUser":
		return 0
	case "UnusedPassword":
		return 1
	case "UnusedAccessKey":
		return 2
	case "UnusedRole":
		return 3
	}
	return 4
}
