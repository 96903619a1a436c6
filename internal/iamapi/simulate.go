package iamapi

import (
	"context"
	"encoding/base64"
	"errors"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/policy"
)

// The policy simulator: SimulatePrincipalPolicy, SimulateCustomPolicy and
// GetContextKeysFor{Principal,Custom}Policy. A simulation evaluates the
// given documents with the same engine that authorizes iamd's requests,
// explains each decision, and changes nothing.

// Policy source types as IAM reports them in MatchedStatements (the API
// reference's examples; the model's PolicySourceType enum is not what the
// service sends), and the keys of EvalDecisionDetails.
const (
	sourceIAMPolicy      = "IAM Policy"
	sourceResourcePolicy = "Resource Policy"
	detailBoundary       = "Permissions Boundary Policy"
)

// Simulation decisions.
const (
	evalAllowed      = "allowed"
	evalExplicitDeny = "explicitDeny"
	evalImplicitDeny = "implicitDeny"
)

func evalDecision(d policy.Decision) string {
	switch d {
	case policy.Allowed:
		return evalAllowed
	case policy.ExplicitDeny:
		return evalExplicitDeny
	}
	return evalImplicitDeny
}

func policyEvaluation(format string, args ...any) error {
	return PolicyEvaluationError(message(format, args...))
}

// simDoc is one document taking part in a simulation.
type simDoc struct {
	id    string // SourcePolicyId
	typ   string // SourcePolicyType
	text  string
	doc   *policy.Document
	spans []policy.StatementSpan // nil when the text could not be mapped
}

// simulation is everything needed to evaluate the requested actions.
type simulation struct {
	docs     []simDoc // identity, then boundary, then resource policy
	compiled *policy.Compiled
	resource *policy.ResourcePolicy
	// trusts holds the trust policies of the roles among the resources,
	// the resource-based policies of role-assumption actions when no
	// ResourcePolicy is given.
	trusts      map[string]*policy.ResourcePolicy
	hasBoundary bool
	principal   policy.Principal
	owner       string // ResourceOwner's account, "" when not given
	ctx         *policy.Context
	resources   []string // nil: "*"
	partition   string   // documents given in the request name only this partition's ARNs
}

// addDoc parses text as kind and records it; its label in the engine is its
// index in s.docs.
func (s *simulation) addDoc(id, typ, text string, kind policy.Kind) (policy.NamedDocument, error) {
	return s.addDocWith(id, typ, text, kind, policy.ParseOptions{Partition: s.partition})
}

// addStored adds a document iamd stored, which is evaluated as it was when
// written (bytes after it were accepted then).
func (s *simulation) addStored(id, typ, text string, kind policy.Kind) (policy.NamedDocument, error) {
	return s.addDocWith(id, typ, text, kind, policy.ParseOptions{AllowTrailingData: true})
}

func (s *simulation) addDocWith(id, typ, text string, kind policy.Kind, opts policy.ParseOptions) (policy.NamedDocument, error) {
	doc, err := policy.ParseWithOptions([]byte(text), kind, opts)
	if err != nil {
		var ve *policy.ValidationError
		if errors.As(err, &ve) {
			return policy.NamedDocument{}, invalidInput("%s", ve.Message)
		}
		return policy.NamedDocument{}, invalidInput("Syntax errors in policy.")
	}
	return s.addParsed(id, typ, text, doc), nil
}

func (s *simulation) addParsed(id, typ, text string, doc *policy.Document) policy.NamedDocument {
	spans, err := policy.StatementSpans([]byte(text))
	if err != nil || len(spans) != len(doc.Statements) {
		spans = nil
	}
	s.docs = append(s.docs, simDoc{id: id, typ: typ, text: text, doc: doc, spans: spans})
	return policy.NamedDocument{Name: strconv.Itoa(len(s.docs) - 1), Doc: doc}
}

// simInput is what the two Simulate operations share.
type simInput struct {
	inputs, boundaries    []string
	actions, resources    []string
	resourcePolicy, owner string
	callerARN             string
	entries               []ContextEntry
	handling              string
	maxItems              *int32
	marker                string
}

// prepare validates the common parameters and adds the input policies,
// boundary and resource policy to sim. set holds the principal's own
// policies (SimulatePrincipalPolicy) on entry.
func (s *Service) prepare(sim *simulation, set *policy.PolicySet, in *simInput) error {
	for _, a := range in.actions {
		svc, name, ok := strings.Cut(a, ":")
		if !ok || svc == "" || name == "" || strings.Contains(name, ":") {
			return invalidInput("Invalid action name %s. Action names must be in the form service:action.", a)
		}
	}
	for _, r := range in.resources {
		if r != "*" && !strings.HasPrefix(r, "arn:") {
			return invalidInput("Resource %s must be in ARN format or \"*\".", r)
		}
	}
	if err := checkResourceHandling(in.handling, in.resources); err != nil {
		return err
	}
	if len(in.resources) > 0 {
		sim.resources = in.resources
	}
	if in.owner != "" {
		acct, ok := s.accountOfOwner(in.owner)
		if !ok {
			return invalidInput("Invalid ResourceOwner %s: specify an account ID or an ARN of the form %s123456789012:root.", in.owner, s.partition.Prefix("iam"))
		}
		sim.owner = acct
	}
	for i, text := range in.inputs {
		nd, err := sim.addDoc("PolicyInputList."+strconv.Itoa(i+1), sourceIAMPolicy, text, policy.Identity)
		if err != nil {
			return err
		}
		set.Identity = append(set.Identity, nd)
	}
	switch len(in.boundaries) {
	case 0:
	case 1:
		nd, err := sim.addDoc("PermissionsBoundaryPolicyInputList.1", sourceIAMPolicy, in.boundaries[0], policy.Boundary)
		if err != nil {
			return err
		}
		set.Boundary = &nd
	default:
		return invalidInput("Only one permissions boundary policy may be simulated; %d were given in PermissionsBoundaryPolicyInputList.", len(in.boundaries))
	}
	sim.hasBoundary = set.Boundary != nil
	if in.resourcePolicy != "" {
		nd, err := sim.addDoc("ResourcePolicy", sourceResourcePolicy, in.resourcePolicy, policy.Resource)
		if err != nil {
			return err
		}
		rp, err := policy.CompileResource(nd.Name, nd.Doc)
		if err != nil {
			return policyEvaluation("The resource policy could not be evaluated: %v", err)
		}
		sim.resource = rp
	}
	if in.resourcePolicy == "" {
		if err := s.addTrustPolicies(sim, in); err != nil {
			return err
		}
	}
	compiled, err := policy.Compile(*set)
	if err != nil {
		return policyEvaluation("The policies could not be evaluated: %v", err)
	}
	sim.compiled = compiled
	ctx, err := simContext(in.entries)
	if err != nil {
		return err
	}
	sim.ctx = ctx
	return nil
}

// accountOfOwner accepts an account ID or arn:PARTITION:iam::ACCOUNT:root.
func (s *Service) accountOfOwner(owner string) (string, bool) {
	if policy.ValidAccountID(owner) {
		return owner, true
	}
	rest, ok := s.partition.CutIAM(owner)
	if !ok {
		return "", false
	}
	acct, res, ok := strings.Cut(rest, ":")
	if !ok || !policy.ValidAccountID(acct) || res != "root" {
		return "", false
	}
	return acct, true
}

// resourceHandling lists the resources each EC2 scenario needs.
var resourceHandling = map[string][]string{
	"EC2-VPC-InstanceStore":        {"instance", "image", "security-group", "network-interface"},
	"EC2-VPC-InstanceStore-Subnet": {"instance", "image", "security-group", "network-interface", "subnet"},
	"EC2-VPC-EBS":                  {"instance", "image", "security-group", "network-interface", "volume"},
	"EC2-VPC-EBS-Subnet":           {"instance", "image", "security-group", "network-interface", "subnet", "volume"},
}

// checkResourceHandling checks a ResourceHandlingOption and that the
// resources its scenario requires are among the resource ARNs.
func checkResourceHandling(option string, resources []string) error {
	if option == "" {
		return nil
	}
	need, ok := resourceHandling[option]
	if !ok {
		names := make([]string, 0, len(resourceHandling))
		for n := range resourceHandling {
			names = append(names, n)
		}
		sort.Strings(names)
		return invalidInput("Invalid ResourceHandlingOption %s. Valid values are %s.", option, strings.Join(names, ", "))
	}
	for _, typ := range need {
		found := false
		for _, r := range resources {
			parts := strings.SplitN(r, ":", 6)
			if len(parts) == 6 && parts[2] == "ec2" && strings.HasPrefix(parts[5], typ+"/") {
				found = true
				break
			}
		}
		if !found {
			return invalidInput("The %s scenario requires a %s resource in ResourceArns.", option, typ)
		}
	}
	return nil
}

// simContext builds the request context from ContextEntries, checking each
// value against its ContextKeyType.
func simContext(entries []ContextEntry) (*policy.Context, error) {
	ctx := &policy.Context{}
	for _, e := range entries {
		if e.ContextKeyName == "" {
			return nil, invalidInput("ContextKeyName is required in ContextEntries.")
		}
		typ := e.ContextKeyType
		if typ == "" {
			typ = "string"
		}
		base, list := strings.CutSuffix(typ, "List")
		if !list && len(e.ContextKeyValues) > 1 {
			return nil, invalidInput("Context key %s of type %s accepts a single value; use %sList for several.", e.ContextKeyName, typ, typ)
		}
		for _, v := range e.ContextKeyValues {
			if !validContextValue(base, v) {
				return nil, invalidInput("Invalid value %s for context key %s of type %s.", v, e.ContextKeyName, typ)
			}
		}
		if len(e.ContextKeyValues) == 0 {
			continue
		}
		if list && len(e.ContextKeyValues) == 1 {
			// A one-element list stays a list: Set would type a
			// well-known key, which is right for the single types only.
			ctx.Add(e.ContextKeyName, e.ContextKeyValues...)
			continue
		}
		ctx.Set(e.ContextKeyName, e.ContextKeyValues...)
	}
	return ctx, nil
}

func validContextValue(typ, v string) bool {
	switch typ {
	case "string":
		return true
	case "numeric":
		_, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return err == nil
	case "boolean":
		return strings.EqualFold(v, "true") || strings.EqualFold(v, "false")
	case "ip":
		if _, err := netip.ParseAddr(v); err == nil {
			return true
		}
		_, err := netip.ParsePrefix(v)
		return err == nil
	case "binary":
		_, err := base64.StdEncoding.DecodeString(v)
		return err == nil
	case "date":
		return validDate(v)
	}
	return false
}

func validDate(v string) bool {
	if v == "" {
		return false
	}
	if _, err := strconv.ParseInt(v, 10, 64); err == nil {
		return true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05", "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if _, err := time.Parse(layout, v); err == nil {
			return true
		}
	}
	return false
}

// callerPrincipal returns the simulated caller for an IAM ARN: a user, or
// a role (as a session of it), or a group (which no resource policy can
// name).
func (s *Service) callerPrincipal(arn string, kinds ...string) (policy.Principal, error) {
	acct, kind, ok := s.iamEntityARN(arn)
	if !ok || !contains(kinds, kind) {
		return policy.Principal{}, invalidInput("Invalid CallerArn %s: specify the ARN of an IAM %s.", arn, strings.Join(kinds, ", "))
	}
	p := policy.Principal{Type: policy.PrincipalUser, ARN: arn, Account: acct}
	if kind == "role" {
		p.Type, p.RoleARN = policy.PrincipalAssumedRole, arn
	}
	return p, nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// iamEntityARN splits arn:PARTITION:iam::ACCOUNT:{user,group,role}/PATH/NAME.
func (s *Service) iamEntityARN(arn string) (account, kind string, ok bool) {
	rest, found := s.partition.CutIAM(arn)
	if !found {
		return "", "", false
	}
	account, res, found := strings.Cut(rest, ":")
	if !found || !policy.ValidAccountID(account) {
		return "", "", false
	}
	kind, path, found := strings.Cut(res, "/")
	if !found || iam.EntityName(arn) == "" || strings.Contains(path, "//") {
		return "", "", false
	}
	switch kind {
	case "user", "group", "role":
		return account, kind, true
	}
	return "", "", false
}

// run evaluates every action on every resource and returns the page asked
// for.
func (sim *simulation) run(in *simInput) (*SimulatePolicyResponse, error) {
	resources := sim.resources
	if resources == nil {
		resources = []string{"*"}
	}
	results := make([]EvaluationResult, 0, len(in.actions)*len(resources))
	for _, action := range in.actions {
		for _, res := range resources {
			results = append(results, sim.evaluate(action, res))
		}
	}
	page, next, err := pageOf(results, in.marker, maxItems(in.maxItems))
	if err != nil {
		// The simulation operations document InvalidInput as their
		// error for bad input, the list operations ValidationError.
		return nil, invalidInput("Invalid Marker.")
	}
	out := &SimulatePolicyResponse{EvaluationResults: page, IsTruncated: next != "", Marker: next}
	if out.EvaluationResults == nil {
		out.EvaluationResults = []EvaluationResult{}
	}
	return out, nil
}

// evaluate simulates one action on one resource.
func (sim *simulation) evaluate(action, resource string) EvaluationResult {
	req := policy.Request{
		Action:          action,
		Resource:        resource,
		Principal:       sim.principal,
		ResourceAccount: sim.resourceAccount(resource),
		ResourcePolicy:  sim.resource,
		Context:         sim.ctx,
	}
	if req.ResourcePolicy == nil && isRoleAssumption(action) {
		req.ResourcePolicy = sim.trusts[resource]
	}
	ex := sim.compiled.Explain(&req)
	decision := evalDecision(ex.Decision)
	missing := []string{}
	for _, lr := range ex.Layers {
		for _, k := range lr.MissingContextKeys {
			if !containsFold(missing, k) {
				missing = append(missing, k)
			}
		}
	}
	cross := req.ResourceAccount != "" && req.ResourceAccount != sim.principal.Account
	out := EvaluationResult{
		EvalActionName:       action,
		EvalResourceName:     resource,
		EvalDecision:         decision,
		MatchedStatements:    sim.matched(ex, false),
		MissingContextValues: missing,
	}
	if sim.hasBoundary {
		allowed := false
		if lr := ex.LayerResult(policy.LayerBoundary); lr != nil {
			allowed = lr.Decision == policy.Allowed
		}
		out.PermissionsBoundaryDecisionDetail = &PermissionsBoundaryDecisionDetail{AllowedByPermissionsBoundary: &allowed}
	}
	if sim.resources == nil {
		return out
	}
	// With resources given, the details are per resource: the top level
	// keeps the decision, and missing context values move down.
	details := map[string]string{}
	if cross {
		details[sourceIAMPolicy] = layerDecision(ex, policy.LayerIdentity)
		details[sourceResourcePolicy] = layerDecision(ex, policy.LayerResource)
		if sim.hasBoundary {
			details[detailBoundary] = layerDecision(ex, policy.LayerBoundary)
		}
	}
	out.EvalDecisionDetails = details
	out.MissingContextValues = []string{}
	out.ResourceSpecificResults = []ResourceSpecificResult{{
		EvalResourceName:                  resource,
		EvalResourceDecision:              decision,
		MatchedStatements:                 sim.matched(ex, true),
		MissingContextValues:              missing,
		EvalDecisionDetails:               details,
		PermissionsBoundaryDecisionDetail: out.PermissionsBoundaryDecisionDetail,
	}}
	return out
}

// isRoleAssumption reports whether action is decided against a role's
// trust policy.
func isRoleAssumption(action string) bool {
	for _, a := range [...]string{"sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity", "sts:TagSession", "sts:SetSourceIdentity"} {
		if strings.EqualFold(action, a) {
			return true
		}
	}
	return false
}

// addTrustPolicies gives the simulation the trust policy of every role
// among the resources, when a role-assumption action is simulated: as on
// AWS, the trust policy must allow the principal, whatever its
// identity-based policies say.
func (s *Service) addTrustPolicies(sim *simulation, in *simInput) error {
	assume := false
	for _, a := range in.actions {
		assume = assume || isRoleAssumption(a)
	}
	if !assume {
		return nil
	}
	for _, r := range in.resources {
		acct, name, ok := roleOfARN(r)
		if !ok || sim.trusts[r] != nil {
			continue
		}
		var trust string
		s.view.Read(acct, func(a *iam.AccountView) {
			if e, found := a.Role(name); found && s.partition.ARN(acct, "role", e.V.Path, e.V.Name) == r {
				trust = e.V.TrustPolicy
			}
		})
		if trust == "" {
			continue
		}
		nd, err := sim.addStored("TrustPolicy."+name, sourceResourcePolicy, trust, policy.Trust)
		if err != nil {
			return err
		}
		rp, err := policy.CompileResource(nd.Name, nd.Doc)
		if err != nil {
			return policyEvaluation("The trust policy of role %s could not be evaluated: %v", name, err)
		}
		if sim.trusts == nil {
			sim.trusts = map[string]*policy.ResourcePolicy{}
		}
		sim.trusts[r] = rp
	}
	return nil
}

// roleOfARN splits arn:PARTITION:iam::ACCOUNT:role/PATH/NAME.
func roleOfARN(arn string) (account, name string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[2] != "iam" || !policy.ValidAccountID(parts[4]) || !strings.HasPrefix(parts[5], "role/") {
		return "", "", false
	}
	return parts[4], parts[5][strings.LastIndexByte(parts[5], '/')+1:], true
}

func containsFold(list []string, s string) bool {
	for _, e := range list {
		if strings.EqualFold(e, s) {
			return true
		}
	}
	return false
}

func layerDecision(ex *policy.Explanation, l policy.Layer) string {
	if lr := ex.LayerResult(l); lr != nil {
		return evalDecision(lr.Decision)
	}
	return evalImplicitDeny
}

// resourceAccount is the account owning a resource: the ARN's account
// field, else ResourceOwner, else the caller's account.
func (sim *simulation) resourceAccount(resource string) string {
	parts := strings.SplitN(resource, ":", 6)
	if len(parts) == 6 && policy.ValidAccountID(parts[4]) {
		return parts[4]
	}
	if sim.owner != "" {
		return sim.owner
	}
	return sim.principal.Account
}

// matched lists the statements that decided, as IAM reports them: the
// matching Deny statements for an explicit deny, the matching Allow
// statements of the identity and resource-based policies for an allow.
// For an implicit deny the top level lists nothing and a resource's
// result (partial) lists the Allow statements that matched.
func (sim *simulation) matched(ex *policy.Explanation, partial bool) []Statement {
	var refs []policy.StatementRef
	for _, lr := range ex.Layers {
		for _, m := range lr.Matches {
			switch {
			case ex.Decision == policy.ExplicitDeny:
				if m.Effect == policy.Deny {
					refs = append(refs, m)
				}
			case ex.Decision == policy.Allowed:
				if m.Effect == policy.Allow && (lr.Layer == policy.LayerIdentity || lr.Layer == policy.LayerResource) {
					refs = append(refs, m)
				}
			case partial:
				if m.Effect == policy.Allow {
					refs = append(refs, m)
				}
			}
		}
	}
	out := []Statement{}
	seen := map[[2]int]bool{}
	type ref struct{ doc, stmt int }
	var list []ref
	for _, r := range refs {
		d, err := strconv.Atoi(r.Policy)
		if err != nil || d < 0 || d >= len(sim.docs) {
			continue
		}
		k := [2]int{d, r.Index}
		if seen[k] {
			continue
		}
		seen[k] = true
		list = append(list, ref{d, r.Index})
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].doc != list[j].doc {
			return list[i].doc < list[j].doc
		}
		return list[i].stmt < list[j].stmt
	})
	for _, r := range list {
		d := &sim.docs[r.doc]
		st := Statement{SourcePolicyId: d.id, SourcePolicyType: d.typ}
		if r.stmt < len(d.spans) {
			sp := d.spans[r.stmt]
			st.StartPosition = position(sp.Start)
			st.EndPosition = position(sp.End)
		}
		out = append(out, st)
	}
	return out
}

func position(p policy.Position) *Position {
	line, col := int32(p.Line), int32(p.Column)
	return &Position{Line: &line, Column: &col}
}

// SimulateCustomPolicy simulates the given identity policies (and
// optionally a boundary and a resource-based policy) for a list of actions
// and resources.
func (s *Service) SimulateCustomPolicy(ctx context.Context, in *SimulateCustomPolicyRequest) (*SimulatePolicyResponse, error) {
	c, err := s.authorize(ctx, "iam:SimulateCustomPolicy", "*")
	if err != nil {
		return nil, err
	}
	sim := &simulation{principal: policy.Principal{Type: policy.PrincipalUser, Account: c.Account}, partition: s.partition.String()}
	if in.CallerArn != "" {
		if sim.principal, err = s.callerPrincipal(in.CallerArn, "user"); err != nil {
			return nil, err
		}
	} else if in.ResourcePolicy != "" {
		return nil, invalidInput("CallerArn is required when a ResourcePolicy is included in the simulation, to evaluate its Principal element.")
	}
	si := &simInput{
		inputs: in.PolicyInputList, boundaries: in.PermissionsBoundaryPolicyInputList,
		actions: in.ActionNames, resources: in.ResourceArns, resourcePolicy: in.ResourcePolicy,
		owner: in.ResourceOwner, callerARN: in.CallerArn, entries: in.ContextEntries,
		handling: in.ResourceHandlingOption, maxItems: in.MaxItems, marker: in.Marker,
	}
	var set policy.PolicySet
	if err := s.prepare(sim, &set, si); err != nil {
		return nil, err
	}
	return sim.run(si)
}

// principalDocs are the policies of a simulated principal.
type principalDocs struct {
	kind     string // "user", "group" or "role"
	identity []namedText
	boundary *namedText
}

type namedText struct{ id, text string }

// principalPolicies resolves PolicySourceArn to the entity's policies:
// inline and attached, a user's groups' too, and its permissions boundary.
func (s *Service) principalPolicies(account, arn string) (*principalDocs, error) {
	acct, kind, ok := s.iamEntityARN(arn)
	if !ok {
		return nil, invalidInput("Invalid PolicySourceArn %s: specify the ARN of an IAM user, group or role.", arn)
	}
	name := iam.EntityName(arn)
	notFound := noSuchEntity("The %s with name %s cannot be found.", kind, name)
	if acct != account {
		return nil, notFound
	}
	pd := &principalDocs{kind: kind}
	var missing error
	if err := s.read(account, func(a *iam.AccountView) {
		add := func(owner, ownerName string, inline []iam.InlinePolicy, attached []string) {
			for _, p := range inline {
				pd.identity = append(pd.identity, namedText{owner + "_" + ownerName + "_" + p.Name, p.Document})
			}
			for _, parn := range attached {
				if mp, ok := s.resolvePolicy(a, account, parn); ok {
					pd.identity = append(pd.identity, namedText{mp.Name, mp.Document})
				}
			}
		}
		boundary := ""
		switch kind {
		case "user":
			e, ok := a.User(name)
			if !ok {
				missing = notFound
				return
			}
			add("user", e.V.Name, e.V.Inline, e.V.Attached)
			for _, gid := range e.V.Groups {
				if g, ok := a.GroupByID(gid); ok {
					add("group", g.V.Name, g.V.Inline, g.V.Attached)
				}
			}
			boundary = e.V.Boundary
		case "group":
			e, ok := a.Group(name)
			if !ok {
				missing = notFound
				return
			}
			add("group", e.V.Name, e.V.Inline, e.V.Attached)
		case "role":
			e, ok := a.Role(name)
			if !ok {
				missing = notFound
				return
			}
			add("role", e.V.Name, e.V.Inline, e.V.Attached)
			boundary = e.V.Boundary
		}
		if boundary != "" {
			if mp, ok := s.resolvePolicy(a, account, boundary); ok {
				pd.boundary = &namedText{mp.Name, mp.Document}
			} else {
				// A boundary whose policy is gone allows nothing.
				pd.boundary = &namedText{iam.EntityName(boundary), `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":"*","Resource":"*"}]}`}
			}
		}
	}); err != nil {
		return nil, err
	}
	if missing != nil {
		return nil, missing
	}
	return pd, nil
}

// SimulatePrincipalPolicy simulates the policies of a user (with its
// groups'), group or role, plus any given policies, for a list of actions
// and resources.
func (s *Service) SimulatePrincipalPolicy(ctx context.Context, in *SimulatePrincipalPolicyRequest) (*SimulatePolicyResponse, error) {
	c, err := s.authorize(ctx, "iam:SimulatePrincipalPolicy", in.PolicySourceArn)
	if err != nil {
		return nil, err
	}
	pd, err := s.principalPolicies(c.Account, in.PolicySourceArn)
	if err != nil {
		return nil, err
	}
	sim := &simulation{partition: s.partition.String()}
	caller := in.CallerArn
	if caller == "" {
		caller = in.PolicySourceArn
	}
	if sim.principal, err = s.callerPrincipal(caller, "user", "group", "role"); err != nil {
		return nil, err
	}
	var set policy.PolicySet
	for _, nt := range pd.identity {
		nd, err := sim.addStored(nt.id, sourceIAMPolicy, nt.text, policy.Identity)
		if err != nil {
			return nil, policyEvaluation("The policy %s could not be evaluated.", nt.id)
		}
		set.Identity = append(set.Identity, nd)
	}
	si := &simInput{
		inputs: in.PolicyInputList, boundaries: in.PermissionsBoundaryPolicyInputList,
		actions: in.ActionNames, resources: in.ResourceArns, resourcePolicy: in.ResourcePolicy,
		owner: in.ResourceOwner, callerARN: in.CallerArn, entries: in.ContextEntries,
		handling: in.ResourceHandlingOption, maxItems: in.MaxItems, marker: in.Marker,
	}
	// A boundary given in the request replaces the entity's own.
	if pd.boundary != nil && len(in.PermissionsBoundaryPolicyInputList) == 0 {
		nd, err := sim.addStored(pd.boundary.id, sourceIAMPolicy, pd.boundary.text, policy.Identity)
		if err != nil {
			return nil, policyEvaluation("The policy %s could not be evaluated.", pd.boundary.id)
		}
		set.Boundary = &nd
	}
	if err := s.prepare(sim, &set, si); err != nil {
		return nil, err
	}
	return sim.run(si)
}

// GetContextKeysForCustomPolicy lists the context keys the given policies
// refer to.
func (s *Service) GetContextKeysForCustomPolicy(ctx context.Context, in *GetContextKeysForCustomPolicyRequest) (*GetContextKeysForPolicyResponse, error) {
	if _, err := s.authorize(ctx, "iam:GetContextKeysForCustomPolicy", "*"); err != nil {
		return nil, err
	}
	docs, err := parseForKeys(nil, in.PolicyInputList)
	if err != nil {
		return nil, err
	}
	return contextKeysOut(docs), nil
}

// GetContextKeysForPrincipalPolicy lists the context keys referred to by
// the policies of a user (with its groups'), group or role, and by any
// given policies.
func (s *Service) GetContextKeysForPrincipalPolicy(ctx context.Context, in *GetContextKeysForPrincipalPolicyRequest) (*GetContextKeysForPolicyResponse, error) {
	c, err := s.authorize(ctx, "iam:GetContextKeysForPrincipalPolicy", in.PolicySourceArn)
	if err != nil {
		return nil, err
	}
	pd, err := s.principalPolicies(c.Account, in.PolicySourceArn)
	if err != nil {
		return nil, err
	}
	var texts []string
	for _, nt := range pd.identity {
		texts = append(texts, nt.text)
	}
	if pd.boundary != nil {
		texts = append(texts, pd.boundary.text)
	}
	docs, err := parseForKeys(texts, in.PolicyInputList)
	if err != nil {
		return nil, err
	}
	return contextKeysOut(docs), nil
}

// parseForKeys parses stored documents (skipping any that no longer
// parse) and input documents (rejecting invalid ones).
func parseForKeys(stored, inputs []string) ([]*policy.Document, error) {
	var docs []*policy.Document
	for _, text := range stored {
		if d, err := policy.ParseWithOptions([]byte(text), policy.Identity, policy.ParseOptions{AllowTrailingData: true}); err == nil {
			docs = append(docs, d)
		}
	}
	var sim simulation
	for _, text := range inputs {
		nd, err := sim.addDoc("", "", text, policy.Identity)
		if err != nil {
			return nil, err
		}
		docs = append(docs, nd.Doc)
	}
	return docs, nil
}

func contextKeysOut(docs []*policy.Document) *GetContextKeysForPolicyResponse {
	keys := policy.ContextKeysOf(docs...)
	if keys == nil {
		keys = []string{}
	}
	return &GetContextKeysForPolicyResponse{ContextKeyNames: keys}
}
