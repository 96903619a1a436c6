package insight

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/audit"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/sar"
	"github.com/iamd/iamd/policy"
)

// DefaultMaxResources is how many distinct resources of one action a
// generated policy lists before it collapses them into patterns.
const DefaultMaxResources = 5

// GenerateOptions says whose activity to turn into a policy.
type GenerateOptions struct {
	Account string
	// Exactly one of User and Role names the principal: an IAM user, or a
	// role whose sessions' calls count.
	User, Role string
	// Start and End bound the period (inclusive); zero means unbounded.
	Start, End time.Time
	// Partition is the partition of the principal's ARN. When zero it is
	// the partition of the principal's events (their ARNs), or aws when
	// there are none.
	Partition iam.Partition
	// MaxResources is how many resources of one action are listed before
	// they are collapsed into wildcard patterns (DefaultMaxResources when
	// zero).
	MaxResources int
	// Catalog is the service authorization reference; it may be empty.
	Catalog *sar.Catalog
}

// Generated is a generated policy with what it was made from.
type Generated struct {
	Principal string    `json:"principal"`
	Start     time.Time `json:"start,omitzero"`
	End       time.Time `json:"end,omitzero"`
	// Policy is the identity-based policy document, indented; empty when
	// the principal used nothing (IAM has no valid empty policy).
	Policy string `json:"policy"`
	// Actions lists each action with the resources it was used on.
	Actions []UsedAction `json:"actions"`
	// Events counts the principal's events in the period; Calls those that
	// succeeded and were used; Failed those that failed (not used);
	// Unchecked successful calls that needed no permission (not used).
	Events             int      `json:"events"`
	Calls              int      `json:"calls"`
	Failed             int      `json:"failed"`
	Unchecked          int      `json:"unchecked"`
	ReferenceAvailable bool     `json:"referenceAvailable"`
	Notes              []string `json:"notes"`
}

// UsedAction is an action the principal was allowed and used.
type UsedAction struct {
	Action    string    `json:"action"`
	Resources []string  `json:"resources"`
	Calls     int       `json:"calls"`
	LastUsed  time.Time `json:"lastUsed"`
	// Known is false when the reference is present and does not list the
	// action.
	Known bool `json:"known"`
}

// Generator accumulates audit events into a least-privilege policy: the
// actions a user or role was allowed and used, with the resources the
// authorization decisions name. Add events in any order, then call Result.
type Generator struct {
	opts    GenerateOptions
	used    map[string]*UsedAction
	actions []string // in order of first use
	res     map[string][]string
	gen     Generated
}

// NewGenerator checks the options and returns an empty generator.
func NewGenerator(opts GenerateOptions) (*Generator, error) {
	if opts.Account == "" {
		return nil, errors.New("generate: an account is required")
	}
	if (opts.User == "") == (opts.Role == "") {
		return nil, errors.New("generate: name exactly one user or one role")
	}
	if opts.MaxResources <= 0 {
		opts.MaxResources = DefaultMaxResources
	}
	g := &Generator{opts: opts, used: map[string]*UsedAction{}, res: map[string][]string{}}
	g.gen.Principal = g.principalARN(opts.Partition)
	g.gen.Start, g.gen.End = opts.Start, opts.End
	return g, nil
}

// trailEvent is the part of a CloudTrail record generation reads.
type trailEvent struct {
	EventTime    string `json:"eventTime"`
	EventSource  string `json:"eventSource"`
	EventName    string `json:"eventName"`
	ErrorCode    string `json:"errorCode"`
	UserIdentity struct {
		Type           string `json:"type"`
		ARN            string `json:"arn"`
		AccountID      string `json:"accountId"`
		UserName       string `json:"userName"`
		SessionContext *struct {
			SessionIssuer *struct {
				Type     string `json:"type"`
				ARN      string `json:"arn"`
				UserName string `json:"userName"`
			} `json:"sessionIssuer"`
		} `json:"sessionContext"`
	} `json:"userIdentity"`
	RecipientAccountID  string          `json:"recipientAccountId"`
	AdditionalEventData json.RawMessage `json:"additionalEventData"`
}

type decisions struct {
	AuthorizationDecisions []struct {
		Action   string `json:"action"`
		Resource string `json:"resource"`
		Decision string `json:"decision"`
	} `json:"authorizationDecisions"`
}

// principalARN is the ARN of the user or role in partition p: the
// principal's path is not in its events, so the ARN has none.
func (g *Generator) principalARN(p iam.Partition) string {
	if g.opts.User != "" {
		return p.ARN(g.opts.Account, "user", "/", g.opts.User)
	}
	return p.ARN(g.opts.Account, "role", "/", g.opts.Role)
}

// Add considers one CloudTrail record; records of other principals or
// outside the period are ignored.
func (g *Generator) Add(record []byte) error {
	var ev trailEvent
	if err := json.Unmarshal(record, &ev); err != nil {
		return fmt.Errorf("generate: audit record: %w", err)
	}
	if !g.matches(&ev) {
		return nil
	}
	if g.opts.Partition == "" {
		// The events name the partition iamd answered as.
		if part, ok := arnPartition(ev.UserIdentity.ARN); ok {
			g.opts.Partition = iam.Partition(part)
			g.gen.Principal = g.principalARN(g.opts.Partition)
		}
	}
	t, err := time.Parse(audit.TimeFormat, ev.EventTime)
	if err != nil {
		return fmt.Errorf("generate: audit record time %q: %w", ev.EventTime, err)
	}
	if (!g.opts.Start.IsZero() && t.Before(g.opts.Start)) || (!g.opts.End.IsZero() && t.After(g.opts.End)) {
		return nil
	}
	g.gen.Events++
	if ev.ErrorCode != "" {
		g.gen.Failed++
		return nil
	}
	var d decisions
	if len(ev.AdditionalEventData) > 0 {
		_ = json.Unmarshal(ev.AdditionalEventData, &d)
	}
	allowed := 0
	for _, dec := range d.AuthorizationDecisions {
		if dec.Decision != "Allow" || dec.Action == "" {
			continue
		}
		allowed++
		g.note(dec.Action, dec.Resource, t)
	}
	if allowed == 0 {
		g.gen.Unchecked++
		return nil
	}
	g.gen.Calls++
	return nil
}

// arnPartition returns the partition of arn:PARTITION:....
func arnPartition(arn string) (string, bool) {
	rest, ok := strings.CutPrefix(arn, "arn:")
	if !ok {
		return "", false
	}
	part, _, ok := strings.Cut(rest, ":")
	return part, ok && part != ""
}

func (g *Generator) matches(ev *trailEvent) bool {
	id := &ev.UserIdentity
	if id.AccountID != g.opts.Account && ev.RecipientAccountID != g.opts.Account {
		return false
	}
	if g.opts.User != "" {
		return id.Type == "IAMUser" && strings.EqualFold(id.UserName, g.opts.User)
	}
	if id.Type != "AssumedRole" || id.SessionContext == nil || id.SessionContext.SessionIssuer == nil {
		return false
	}
	is := id.SessionContext.SessionIssuer
	name := is.UserName
	if name == "" {
		name = is.ARN[strings.LastIndexByte(is.ARN, '/')+1:]
	}
	return strings.EqualFold(name, g.opts.Role)
}

func (g *Generator) note(action, resource string, t time.Time) {
	k := strings.ToLower(action)
	u, ok := g.used[k]
	if !ok {
		u = &UsedAction{Action: action, Known: true}
		g.used[k] = u
		g.actions = append(g.actions, k)
	}
	u.Calls++
	if t.After(u.LastUsed) {
		u.LastUsed = t
	}
	if resource == "" {
		resource = "*"
	}
	if !slices.Contains(g.res[k], resource) {
		g.res[k] = append(g.res[k], resource)
	}
}

// genStatement keeps AWS's element order in the generated JSON.
type genStatement struct {
	Effect   string `json:"Effect"`
	Action   any    `json:"Action"`
	Resource any    `json:"Resource"`
}

type genDocument struct {
	Version   string         `json:"Version"`
	Statement []genStatement `json:"Statement"`
}

func oneOrMany(list []string) any {
	if len(list) == 1 {
		return list[0]
	}
	return list
}

// Result builds the policy from the events added so far.
func (g *Generator) Result() (*Generated, error) {
	out := g.gen
	out.Actions = []UsedAction{}
	out.Notes = []string{}
	cat := g.opts.Catalog
	out.ReferenceAvailable = cat.Available()
	if !out.ReferenceAvailable {
		out.Notes = append(out.Notes, "Action names were not checked and resource patterns follow the ARNs' shape: "+sar.NotAvailable+".")
	}
	type group struct {
		service   string
		resources []string
		actions   []string
	}
	var groups []*group
	keys := slices.Clone(g.actions)
	slices.SortFunc(keys, func(a, b string) int { return strings.Compare(a, b) })
	for _, k := range keys {
		u := *g.used[k]
		res, note := g.resourcesOf(k, &u)
		if note != "" {
			out.Notes = append(out.Notes, note)
		}
		u.Resources = res
		out.Actions = append(out.Actions, u)
		service, _, _ := strings.Cut(k, ":")
		var into *group
		for _, gr := range groups {
			if gr.service == service && slices.Equal(gr.resources, res) {
				into = gr
			}
		}
		if into == nil {
			into = &group{service: service, resources: res}
			groups = append(groups, into)
		}
		into.actions = append(into.actions, u.Action)
	}
	doc := genDocument{Version: policy.Version2012, Statement: []genStatement{}}
	for _, gr := range groups {
		doc.Statement = append(doc.Statement, genStatement{Effect: "Allow", Action: oneOrMany(gr.actions), Resource: oneOrMany(gr.resources)})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	out.Policy = buf.String()
	if len(doc.Statement) == 0 {
		out.Policy = ""
		out.Notes = append(out.Notes, "No allowed calls of this principal in the period: there is nothing to allow, so no policy was generated.")
	} else if err := policy.CheckSize(buf.Bytes(), policy.ManagedPolicyMaxSize); err != nil {
		out.Notes = append(out.Notes, fmt.Sprintf("The policy is larger than a managed policy may be (%d characters without whitespace): split it or lower --max-resources.", policy.ManagedPolicyMaxSize))
	}
	if out.Unchecked > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("%d successful call(s) needed no permission (such as sts:GetCallerIdentity) and add nothing to the policy.", out.Unchecked))
	}
	if out.Failed > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("%d failed call(s) were left out: only allowed and successful calls count.", out.Failed))
	}
	return &out, nil
}

// resourcesOf returns the resources to grant an action: those used, or
// patterns when there are more than MaxResources, or "*".
func (g *Generator) resourcesOf(k string, u *UsedAction) (res []string, note string) {
	cat := g.opts.Catalog
	res = slices.Clone(g.res[k])
	var act *sar.Action
	if cat.Available() {
		a, ok := cat.Action(u.Action)
		if !ok {
			u.Known = false
			note = fmt.Sprintf("%s is not in the service authorization reference.", u.Action)
		}
		act = a
	}
	if slices.Contains(res, "*") || (act != nil && len(act.Resources) == 0) {
		return []string{"*"}, note
	}
	slices.Sort(res)
	if len(res) <= g.opts.MaxResources {
		return res, note
	}
	var pats []string
	for _, r := range res {
		p := g.pattern(r, act)
		if !slices.Contains(pats, p) {
			pats = append(pats, p)
		}
	}
	slices.Sort(pats)
	if len(pats) > g.opts.MaxResources {
		return []string{"*"}, note
	}
	return pats, note
}

// pattern generalizes one ARN to all resources of its type: from the
// reference's ARN format when it knows the type, else from the ARN's
// shape (the first segment of its resource part).
func (g *Generator) pattern(arn string, act *sar.Action) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 {
		return "*"
	}
	if act != nil {
		if rt, format, ok := act.Service.ResourceTypeOf(arn); ok && rt != nil {
			fp := strings.SplitN(format, ":", 6)
			if len(fp) == 6 {
				out := make([]string, 6)
				for i := range 5 {
					out[i] = parts[i]
					if !strings.Contains(fp[i], "${") {
						out[i] = fp[i]
					}
				}
				out[5] = sar.TemplateGlob(fp[5])
				return strings.Join(out, ":")
			}
		}
	}
	rp := parts[5]
	if i := strings.IndexAny(rp, "/:"); i >= 0 {
		rp = rp[:i+1] + "*"
	} else {
		rp = "*"
	}
	return strings.Join(append(parts[:5:5], rp), ":")
}

// GenerateFromDir generates a policy from the audit directory of a data
// directory (DATA/audit), reading it without locking so that a running
// server is not disturbed.
func GenerateFromDir(auditDir string, opts GenerateOptions) (*Generated, error) {
	g, err := NewGenerator(opts)
	if err != nil {
		return nil, err
	}
	err = audit.Scan(auditDir, audit.ScanFilter{Account: opts.Account, Start: opts.Start, End: opts.End}, g.Add)
	if err != nil {
		return nil, err
	}
	return g.Result()
}

// Events answers event queries: a server's open *audit.Log, or the trail
// the replicas share on PostgreSQL (pgtrail).
type Events interface {
	Lookup(q audit.Query) (*audit.Page, error)
}

// GenerateFromLog generates a policy from the events of l, through its
// index.
func GenerateFromLog(l Events, opts GenerateOptions) (*Generated, error) {
	g, err := NewGenerator(opts)
	if err != nil {
		return nil, err
	}
	q := audit.Query{Account: opts.Account, Start: opts.Start, End: opts.End, Max: 1000}
	if opts.User != "" {
		q.Attribute, q.Value = audit.AttrUsername, opts.User
	}
	for {
		page, err := l.Lookup(q)
		if err != nil {
			return nil, err
		}
		for _, f := range page.Events {
			if err := g.Add(f.JSON); err != nil {
				return nil, err
			}
		}
		if page.NextToken == "" {
			break
		}
		q.Token = page.NextToken
	}
	return g.Result()
}
