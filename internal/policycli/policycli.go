// Package policycli implements the "iamd policy" command: offline
// validation and evaluation of IAM policy documents, for people who test
// their policies in CI. It is a thin layer over package policy.
package policycli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/policy"
)

// Exit codes.
const (
	exitOK    = 0 // allowed / valid
	exitDeny  = 1 // denied / invalid
	exitUsage = 2 // usage error
)

const usage = `usage:
  iamd policy validate [--kind KIND] [--max-size N] FILE...
  iamd policy eval --policy FILE [--policy FILE...] [--boundary FILE]
                   [--session-policy FILE...] [--scp FILE...] [--rcp FILE...]
                   [--resource-policy FILE] [--resource-account ID]
                   [--endpoint-policy FILE]
                   --action ACTION --resource ARN
                   [--principal ARN | --principal-service NAME]
                   [--credential session-token|federation-token]
                   [--context KEY=VALUE...] [--context-json JSON...]
                   [--context-file FILE] [--json]
  iamd policy analyze|summarize|generate ... (iamd policy analyze --help)

validate exits 0 when every file is valid, 1 otherwise. KIND is identity
(default), managed, resource, trust, boundary, session or scp.

eval exits 0 when the request is allowed, 1 when it is denied.
Each --scp file is one level of the organization (root, OU, account),
outermost first; so is each --rcp file, the resource control policies of the
account that owns the resource (they cap s3, sts, kms, sqs, secretsmanager and
a few other services, for every caller but service-linked roles).
For sts:AssumeRole* (and sts:TagSession, sts:SetSourceIdentity, sts:SetContext
on a role) --resource-policy is the role's trust policy, which must allow the
caller even in its own account: identity policies alone never suffice.
--principal-service makes the caller an AWS service principal (e.g.
lambda.amazonaws.com), which only resource-based policies can allow, with
aws:PrincipalServiceName set and aws:PrincipalIsAWSService true.
--endpoint-policy is the policy of the VPC endpoint the request comes through,
which must allow it too.
--credential says the caller signs with GetSessionToken or GetFederationToken
credentials, which cannot call some IAM and STS actions whatever the policies
say (aws:MultiFactorAuthPresent=true lifts the IAM limit of session tokens).
Repeating --context with the same key makes a multi-valued key; KEY= is one
empty string. --context-json and --context-file take a JSON object whose
values are strings, numbers, booleans or arrays of them; [] is a key present
with an empty set of values, e.g. --context-json '{"aws:TagKeys":[]}'.
`

// Main runs the policy command with args following the word "policy" and
// returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "validate":
		return validate(args[1:], stdout, stderr)
	case "eval":
		return eval(args[1:], stdout, stderr)
	case "analyze", "summarize", "generate":
		return insightCmd(args[0], args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "iamd policy: unknown command %q\n%s", args[0], usage)
	return exitUsage
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("iamd policy "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	return fs
}

func parseKind(s string) (policy.Kind, bool, error) {
	switch strings.ToLower(s) {
	case "identity", "":
		return policy.Identity, false, nil
	case "managed":
		return policy.Identity, true, nil
	case "resource":
		return policy.Resource, false, nil
	case "trust":
		return policy.Trust, false, nil
	case "boundary":
		return policy.Boundary, true, nil
	case "session":
		return policy.Session, false, nil
	case "scp":
		return policy.SCP, false, nil
	}
	return 0, false, fmt.Errorf("unknown kind %q", s)
}

func defaultLimit(k policy.Kind, managed bool) int {
	switch {
	case managed:
		return policy.ManagedPolicyMaxSize
	case k == policy.Trust:
		return policy.TrustPolicyMaxSize
	case k == policy.Session:
		return policy.SessionPolicyMaxSize
	case k == policy.Identity:
		return policy.RoleInlineMaxSize
	}
	return 0
}

func validate(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", stderr)
	kindName := fs.String("kind", "identity", "policy kind")
	maxSize := fs.Int("max-size", 0, "size limit (0: the kind's default)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	kind, managed, err := parseKind(*kindName)
	if err != nil {
		fmt.Fprintln(stderr, "iamd policy validate:", err)
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	limit := *maxSize
	if limit == 0 {
		limit = defaultLimit(kind, managed)
	}
	code := exitOK
	for _, name := range fs.Args() {
		raw, err := os.ReadFile(name)
		if err != nil {
			fmt.Fprintln(stderr, "iamd policy validate:", err)
			return exitUsage
		}
		if limit > 0 {
			if err := policy.CheckSize(raw, limit); err != nil {
				fmt.Fprintf(stdout, "%s: LimitExceeded: %v\n", name, err)
				code = exitDeny
				continue
			}
		}
		_, err = policy.ParseWithOptions(raw, kind, policy.ParseOptions{RequireVersion2012: managed})
		var ve *policy.ValidationError
		switch {
		case errors.As(err, &ve):
			fmt.Fprintf(stdout, "%s: MalformedPolicyDocument: %s\n", name, ve.Message)
			code = exitDeny
		case err != nil:
			fmt.Fprintf(stdout, "%s: %v\n", name, err)
			code = exitDeny
		default:
			fmt.Fprintf(stdout, "%s: valid %s policy\n", name, kind)
		}
	}
	return code
}

// load parses one file as the given kind, naming it by its path.
func load(name string, kind policy.Kind) (policy.NamedDocument, error) {
	raw, err := os.ReadFile(name)
	if err != nil {
		return policy.NamedDocument{}, err
	}
	d, err := policy.Parse(raw, kind)
	if err != nil {
		return policy.NamedDocument{}, fmt.Errorf("%s: MalformedPolicyDocument: %w", name, err)
	}
	return policy.NamedDocument{Name: name, Doc: d}, nil
}

func eval(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("eval", stderr)
	var policies, sessions, scps, rcps, contexts listFlag
	fs.Var(&policies, "policy", "identity-based policy file (repeatable)")
	fs.Var(&sessions, "session-policy", "session policy file (repeatable)")
	fs.Var(&scps, "scp", "service control policy file, one per level (repeatable)")
	fs.Var(&rcps, "rcp", "resource control policy file of the resource's account, one per level (repeatable)")
	fs.Var(&contexts, "context", "condition key KEY=VALUE (repeatable)")
	var contextJSON listFlag
	fs.Var(&contextJSON, "context-json", `condition keys as a JSON object, e.g. '{"aws:TagKeys":[]}' (repeatable)`)
	contextFile := fs.String("context-file", "", "condition keys from a file holding a JSON object")
	boundary := fs.String("boundary", "", "permissions boundary file")
	resPolicy := fs.String("resource-policy", "", "resource-based policy file")
	resAccount := fs.String("resource-account", "", "account owning the resource")
	endpointPolicy := fs.String("endpoint-policy", "", "policy of the VPC endpoint the request comes through")
	action := fs.String("action", "", "action, e.g. s3:GetObject")
	resource := fs.String("resource", "", "resource ARN")
	principal := fs.String("principal", "", "caller ARN, or \"anonymous\" (default arn:PARTITION:iam::123456789012:user/policy-tester, PARTITION that of --resource, or else $"+iam.EnvPartition+", or else aws)")
	principalService := fs.String("principal-service", "", "caller is this AWS service principal, e.g. lambda.amazonaws.com")
	credential := fs.String("credential", "", "kind of temporary credentials: session-token (GetSessionToken) or federation-token (GetFederationToken)")
	asJSON := fs.Bool("json", false, "print the explanation as JSON")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "iamd policy eval:", err)
		return exitUsage
	}
	if fs.NArg() > 0 {
		return fail(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if *action == "" || *resource == "" {
		return fail(errors.New("--action and --resource are required"))
	}
	var set policy.PolicySet
	for _, name := range policies {
		nd, err := load(name, policy.Identity)
		if err != nil {
			return fail(err)
		}
		set.Identity = append(set.Identity, nd)
	}
	if *boundary != "" {
		nd, err := load(*boundary, policy.Boundary)
		if err != nil {
			return fail(err)
		}
		set.Boundary = &nd
	}
	for _, name := range sessions {
		nd, err := load(name, policy.Session)
		if err != nil {
			return fail(err)
		}
		set.Session = append(set.Session, nd)
	}
	for _, name := range scps {
		nd, err := load(name, policy.SCP)
		if err != nil {
			return fail(err)
		}
		set.SCPs = append(set.SCPs, []policy.NamedDocument{nd})
	}
	for _, name := range rcps {
		// An RCP has the shape of a resource-based policy (Principal "*").
		nd, err := load(name, policy.Resource)
		if err != nil {
			return fail(err)
		}
		set.RCPs = append(set.RCPs, []policy.NamedDocument{nd})
	}
	compiled, err := policy.Compile(set)
	if err != nil {
		return fail(err)
	}

	principalSet := false
	fs.Visit(func(f *flag.Flag) { principalSet = principalSet || f.Name == "principal" })
	if !principalSet {
		part, err := defaultPartition(*resource, os.Getenv(iam.EnvPartition))
		if err != nil {
			return fail(err)
		}
		*principal = part.Prefix("iam") + "123456789012:user/policy-tester"
	}
	req := policy.Request{Action: *action, Resource: *resource, ResourceAccount: *resAccount, Context: &policy.Context{}}
	if svc := *principalService; svc != "" {
		if principalSet {
			return fail(errors.New("--principal and --principal-service are exclusive"))
		}
		req.Principal = policy.Principal{Type: policy.PrincipalService, Service: svc}
		// As AWS sets them for a service principal's requests; a service
		// has no ARN, account or principal type key.
		req.Context.Set("aws:PrincipalServiceName", svc)
		req.Context.Set("aws:PrincipalIsAWSService", "true")
	} else if p := *principal; p == "anonymous" || p == "*" {
		req.Principal = policy.Principal{Type: policy.PrincipalAnonymous}
	} else {
		pr, err := policy.PrincipalFromARN(p)
		if err != nil {
			return fail(err)
		}
		req.Principal = pr
		fillPrincipalContext(req.Context, pr)
	}
	switch *credential {
	case "", "standard":
	case "session-token":
		req.Principal.Credential = policy.CredentialSessionToken
	case "federation-token":
		req.Principal.Credential = policy.CredentialFederationToken
	default:
		return fail(fmt.Errorf("--credential %q: want session-token or federation-token", *credential))
	}
	if *resPolicy != "" {
		// For the role-assumption actions the file is the role's trust
		// policy, which the engine requires to allow (policy.DecidedByTrustPolicy).
		kind := policy.Resource
		if policy.DecidedByTrustPolicy(*action, *resource) {
			kind = policy.Trust
		}
		nd, err := load(*resPolicy, kind)
		if err != nil {
			return fail(err)
		}
		rp, err := policy.CompileResource(nd.Name, nd.Doc)
		if err != nil {
			return fail(err)
		}
		req.ResourcePolicy = rp
		if req.ResourceAccount == "" {
			req.ResourceAccount = arnAccount(*resource)
		}
	}
	if *endpointPolicy != "" {
		nd, err := load(*endpointPolicy, policy.Resource)
		if err != nil {
			return fail(err)
		}
		ep, err := policy.CompileEndpoint(nd.Name, nd.Doc)
		if err != nil {
			return fail(err)
		}
		req.EndpointPolicy = ep
	}
	if *contextFile != "" {
		raw, err := os.ReadFile(*contextFile)
		if err != nil {
			return fail(err)
		}
		contextJSON = append(contextJSON, string(raw))
	}
	if err := applyContext(req.Context, contexts, contextJSON); err != nil {
		return fail(err)
	}

	ex := compiled.Explain(&req)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(toJSON(ex)); err != nil {
			return fail(err)
		}
	} else {
		printText(stdout, ex)
	}
	if ex.Decision == policy.Allowed {
		return exitOK
	}
	return exitDeny
}

// fillPrincipalContext sets the global keys AWS derives from the caller.
func fillPrincipalContext(c *policy.Context, p policy.Principal) {
	c.Set("aws:PrincipalIsAWSService", "false")
	c.PrincipalARN = p.ARN
	c.PrincipalAccount = p.Account
	c.PrincipalType = p.Type.String()
	if p.Type == policy.PrincipalAssumedRole && p.RoleARN != "" {
		c.PrincipalARN = p.RoleARN
	}
	if p.Type == policy.PrincipalUser {
		i := strings.LastIndexByte(p.ARN, '/')
		c.Username = p.ARN[i+1:]
	}
}

// defaultPartition is the partition of the default caller: that of the
// resource when it is an ARN of a partition iamd knows, so that an
// aws-cn resource is not evaluated for an arn:aws caller, or else the
// configured one (IAMD_PARTITION, as for "iamd serve").
func defaultPartition(resource, configured string) (iam.Partition, error) {
	if rest, ok := strings.CutPrefix(resource, "arn:"); ok {
		name, _, _ := strings.Cut(rest, ":")
		if p, err := iam.ParsePartition(name); err == nil && name != "" {
			return p, nil
		}
	}
	p, err := iam.ParsePartition(configured)
	if err != nil {
		return "", fmt.Errorf("%s: %w", iam.EnvPartition, err)
	}
	return p, nil
}

func arnAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) == 6 {
		return parts[4]
	}
	return ""
}

// applyContext sets the keys of --context KEY=VALUE flags (one value each;
// "KEY=" is one empty string) and of JSON objects (a string, a number, a
// boolean or an array of them per key; [] is a key present with no
// values).
func applyContext(c *policy.Context, kvs, objects []string) error {
	// Collect values per key first, so a repeated key is multi-valued.
	var keys []string
	vals := map[string][]string{}
	add := func(k string, vs ...string) {
		lk := strings.ToLower(k)
		if _, seen := vals[lk]; !seen {
			keys = append(keys, k)
			vals[lk] = []string{}
		}
		vals[lk] = append(vals[lk], vs...)
	}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("--context %q: want KEY=VALUE", kv)
		}
		add(k, v)
	}
	for _, obj := range objects {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(obj), &m); err != nil {
			return fmt.Errorf("context JSON: want an object of keys: %v", err)
		}
		names := make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			vs, err := jsonValues(m[k])
			if err != nil {
				return fmt.Errorf("context JSON key %q: %v", k, err)
			}
			add(k, vs...)
		}
	}
	for _, k := range keys {
		c.Set(k, vals[strings.ToLower(k)]...)
	}
	return nil
}

// jsonValues reads a context key's JSON value: a scalar or an array of
// scalars, as text.
func jsonValues(raw json.RawMessage) ([]string, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		list = []json.RawMessage{raw}
	}
	out := []string{}
	for _, item := range list {
		var v any
		if err := json.Unmarshal(item, &v); err != nil {
			return nil, err
		}
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case bool, float64:
			out = append(out, strings.TrimSpace(string(item)))
		default:
			return nil, errors.New("want a string, a number, a boolean or an array of them")
		}
	}
	return out, nil
}

type jsonStatement struct {
	Policy string `json:"policy"`
	Sid    string `json:"sid,omitempty"`
	Index  int    `json:"index"`
	Effect string `json:"effect"`
}

type jsonLayer struct {
	Layer          string          `json:"layer"`
	Level          int             `json:"level,omitempty"`
	Applicable     bool            `json:"applicable"`
	Decision       string          `json:"decision"`
	Decider        *jsonStatement  `json:"decider,omitempty"`
	Matches        []jsonStatement `json:"matches,omitempty"`
	PrincipalMatch string          `json:"principalMatch,omitempty"`
	KeysRead       []string        `json:"contextKeysRead,omitempty"`
	KeysMissing    []string        `json:"missingContextKeys,omitempty"`
}

type jsonExplanation struct {
	Decision  string `json:"decision"`
	Layer     string `json:"decidingLayer"`
	Principal string `json:"principal"`
	Action    string `json:"action"`
	Resource  string `json:"resource"`
	Message   string `json:"message,omitempty"`
	Reason    string `json:"reason,omitempty"` // allowed by a fixed rule, not a policy

	Layers []jsonLayer `json:"layers"`
}

func stmtJSON(s policy.StatementRef) jsonStatement {
	return jsonStatement{Policy: s.Policy, Sid: s.Sid, Index: s.Index, Effect: s.Effect.String()}
}

func toJSON(ex *policy.Explanation) jsonExplanation {
	out := jsonExplanation{Decision: ex.Decision.String(), Layer: ex.Layer.String(), Principal: ex.Principal,
		Action: ex.Action, Resource: ex.Resource, Layers: []jsonLayer{}}
	if ex.Decision != policy.Allowed {
		out.Message = ex.Message()
	} else {
		out.Reason = ex.Reason()
	}
	for _, l := range ex.Layers {
		jl := jsonLayer{Layer: l.Layer.String(), Level: l.Level, Applicable: l.Applicable, Decision: l.Decision.String(),
			PrincipalMatch: l.PrincipalMatch, KeysRead: l.ContextKeysRead, KeysMissing: l.MissingContextKeys}
		if l.Decider != nil {
			d := stmtJSON(*l.Decider)
			jl.Decider = &d
		}
		for _, m := range l.Matches {
			jl.Matches = append(jl.Matches, stmtJSON(m))
		}
		out.Layers = append(out.Layers, jl)
	}
	return out
}

func describe(s *policy.StatementRef) string {
	d := fmt.Sprintf("%s statement %d", s.Policy, s.Index)
	if s.Sid != "" {
		d += fmt.Sprintf(" (Sid %q)", s.Sid)
	}
	return d
}

func printText(w io.Writer, ex *policy.Explanation) {
	fmt.Fprintf(w, "Decision: %s\n", ex.Decision)
	if ex.Decision != policy.Allowed {
		fmt.Fprintf(w, "Message: %s\n", ex.Message())
	} else if d := ex.Decider(); d != nil {
		fmt.Fprintf(w, "Allowed by: %s\n", describe(d))
	} else if r := ex.Reason(); r != "" {
		fmt.Fprintf(w, "Allowed %s\n", r)
	}
	for _, l := range ex.Layers {
		name := l.Layer.String()
		if !l.Applicable {
			fmt.Fprintf(w, "  %s: not applicable\n", name)
			continue
		}
		if l.Layer == policy.LayerSCP || l.Layer == policy.LayerRCP {
			name = fmt.Sprintf("%s level %d", l.Layer, l.Level)
		}
		line := fmt.Sprintf("  %s: %s", name, l.Decision)
		if l.Decider != nil {
			line += " by " + describe(l.Decider)
		}
		if l.PrincipalMatch != "" {
			line += " (principal match: " + l.PrincipalMatch + ")"
		}
		fmt.Fprintln(w, line)
		if len(l.ContextKeysRead) > 0 {
			fmt.Fprintf(w, "    context keys read: %s\n", strings.Join(l.ContextKeysRead, ", "))
		}
		if len(l.MissingContextKeys) > 0 {
			fmt.Fprintf(w, "    context keys missing: %s\n", strings.Join(l.MissingContextKeys, ", "))
		}
	}
}
