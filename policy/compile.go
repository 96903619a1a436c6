package policy

import (
	"errors"
	"fmt"
	"strings"
)

// NamedDocument is a policy document with the label used in explanations:
// a managed policy ARN, or e.g. "user/bob inline policy Admin".
type NamedDocument struct {
	Name string
	Doc  *Document
}

// PolicySet is everything that governs one principal's requests.
type PolicySet struct {
	// Identity holds the principal's identity-based policies: inline and
	// attached managed policies of the user or role, and of the user's
	// groups.
	Identity []NamedDocument
	// Boundary is the permissions boundary, nil when there is none.
	Boundary *NamedDocument
	// Session holds the session policies (inline and managed), empty when
	// the session has none. Together they act as one policy: some statement
	// in one of them must allow.
	Session []NamedDocument
	// SCPs holds service control policies level by level (root, OUs,
	// account), outermost first; each level must allow. Leave it nil for
	// principals not governed by SCPs (e.g. a management account).
	SCPs [][]NamedDocument
	// RCPs holds the resource control policies governing the resources the
	// principal's requests act on, level by level (root, OUs, account),
	// outermost first; each level must allow (RCPFullAWSAccess allows
	// all). They belong to the account that owns the resource: leave it nil
	// for resources not governed by RCPs (the management account's, or an
	// account outside an organization). They apply only to the services
	// RCPService names, to every caller but service-linked roles.
	RCPs [][]NamedDocument
}

// Compiled is a principal's policies compiled for evaluation. It is
// immutable and safe for concurrent use.
type Compiled struct {
	identity layer
	boundary layer
	session  layer
	scps     []layer
	rcps     []layer
}

// ResourcePolicy is a compiled resource-based (or trust) policy. It is
// immutable and safe for concurrent use; the server may cache it.
type ResourcePolicy struct {
	l layer
	// trust: the document was validated as a role's trust policy.
	trust bool
}

// EndpointPolicy is a compiled VPC endpoint policy: a request made through
// the endpoint must also be allowed by it. It is immutable and safe for
// concurrent use.
type EndpointPolicy struct {
	l layer
}

// CompileEndpoint compiles a VPC endpoint policy, a document shaped like a
// resource-based policy (with Principal).
func CompileEndpoint(name string, doc *Document) (*EndpointPolicy, error) {
	if doc == nil {
		return nil, errors.New("policy: nil endpoint policy document")
	}
	l, err := compileLayer(LayerEndpoint, []NamedDocument{{Name: name, Doc: doc}}, true)
	if err != nil {
		return nil, err
	}
	return &EndpointPolicy{l: l}, nil
}

// Layer names a kind of policy taking part in a decision.
type Layer uint8

// Layers.
const (
	LayerIdentity Layer = iota
	LayerBoundary
	LayerSession
	LayerSCP
	LayerResource
	// LayerCredential is not a policy: the fixed limits of GetSessionToken
	// and GetFederationToken credentials (CredentialForbids), which deny
	// whatever the policies allow.
	LayerCredential
	// LayerAlwaysAllowed is not a policy either: actions AWS allows every
	// authenticated caller whatever the policies say (AlwaysAllowed).
	LayerAlwaysAllowed
	// LayerRCP is a level of resource control policies.
	LayerRCP
	// LayerEndpoint is the policy of the VPC endpoint the request came
	// through.
	LayerEndpoint
)

var layerNames = [...]string{"identity", "boundary", "session", "scp", "resource", "credential", "always-allowed", "rcp", "endpoint"}

// String returns the layer's short name.
func (l Layer) String() string {
	if int(l) < len(layerNames) {
		return layerNames[l]
	}
	return "unknown"
}

// stmt is a compiled statement.
type stmt struct {
	policy    int32
	index     int32
	sid       string
	effect    Effect
	notAction bool
	actions   []pattern // lower-cased
	notRes    bool
	allRes    bool
	resources []arnPattern
	principal *principalMatcher
	notPrinc  bool
	conds     []cond
}

// layer is a set of policies indexed by action.
type layer struct {
	present bool
	kind    Layer
	labels  []string
	exact   table[actionEntry] // "service:action"
	service table[actionEntry] // "service": action part has wildcards
	global  []*stmt            // wildcard service, "*", NotAction
	count   int
	// globalIdx is global split by resource token, for the fast path.
	globalIdx tokIndex
}

// tokIndex splits a list of statements by the first segment of their
// resource patterns (an S3 bucket, an IAM "user", ...), so that the fast
// path only considers statements that can match the request's resource.
// Statements whose resources are not indexable (wildcards in the first
// segment, "*", NotResource, non-ARN patterns) are in rest.
type tokIndex struct {
	byTok table[[]*stmt] // keyed case-sensitively
	rest  []*stmt
}

// actionEntry is the statements under one action (or service) key.
type actionEntry struct {
	stmts []*stmt
	idx   tokIndex
}

func newTokIndex(list []*stmt) tokIndex {
	var ix tokIndex
	byTok := map[string][]*stmt{}
	for _, s := range list {
		toks, ok := s.resourceTokens()
		if !ok {
			ix.rest = append(ix.rest, s)
			continue
		}
		for _, t := range toks {
			byTok[t] = append(byTok[t], s)
		}
	}
	ix.byTok = newTable(byTok)
	return ix
}

// resourceTokens returns the distinct resource tokens of the statement's
// Resource patterns, or false if any pattern could match a resource
// whatever its token.
func (s *stmt) resourceTokens() ([]string, bool) {
	if s.allRes || s.notRes || len(s.resources) == 0 {
		return nil, false
	}
	var toks []string
	for i := range s.resources {
		t, ok := s.resources[i].token()
		if !ok {
			return nil, false
		}
		toks = appendUnique(toks, t)
	}
	return toks, true
}

// Compile compiles a principal's policies. Documents are not modified and
// may be shared between compilations.
func Compile(set PolicySet) (*Compiled, error) {
	c := &Compiled{}
	var err error
	if c.identity, err = compileLayer(LayerIdentity, set.Identity, false); err != nil {
		return nil, err
	}
	c.identity.present = true
	if set.Boundary != nil {
		if c.boundary, err = compileLayer(LayerBoundary, []NamedDocument{*set.Boundary}, false); err != nil {
			return nil, err
		}
	}
	if len(set.Session) > 0 {
		if c.session, err = compileLayer(LayerSession, set.Session, false); err != nil {
			return nil, err
		}
	}
	if set.SCPs != nil {
		c.scps = make([]layer, len(set.SCPs))
		for i, level := range set.SCPs {
			if c.scps[i], err = compileLayer(LayerSCP, level, false); err != nil {
				return nil, err
			}
			c.scps[i].present = true
		}
	}
	if set.RCPs != nil {
		c.rcps = make([]layer, len(set.RCPs))
		for i, level := range set.RCPs {
			if c.rcps[i], err = compileLayer(LayerRCP, level, true); err != nil {
				return nil, err
			}
			c.rcps[i].present = true
		}
	}
	return c, nil
}

// CompileResource compiles a resource-based or trust policy.
func CompileResource(name string, doc *Document) (*ResourcePolicy, error) {
	if doc == nil {
		return nil, errors.New("policy: nil resource policy document")
	}
	l, err := compileLayer(LayerResource, []NamedDocument{{Name: name, Doc: doc}}, true)
	if err != nil {
		return nil, err
	}
	return &ResourcePolicy{l: l, trust: doc.Kind == Trust}, nil
}

func compileLayer(kind Layer, docs []NamedDocument, principals bool) (layer, error) {
	l := layer{kind: kind, present: len(docs) > 0}
	exact, service := map[string][]*stmt{}, map[string][]*stmt{}
	for pi, nd := range docs {
		if nd.Doc == nil {
			return layer{}, fmt.Errorf("policy: %s policy %q has no document", kind, nd.Name)
		}
		l.labels = append(l.labels, nd.Name)
		vars := nd.Doc.Variables()
		for si := range nd.Doc.Statements {
			s := &nd.Doc.Statements[si]
			cs := compileStmt(s, vars, principals)
			cs.policy, cs.index = int32(pi), int32(si)
			l.add(cs, s, exact, service)
			l.count++
		}
	}
	l.exact = newActionTable(exact)
	l.service = newActionTable(service)
	l.globalIdx = newTokIndex(l.global)
	return l, nil
}

func compileStmt(s *Statement, vars, principals bool) *stmt {
	cs := &stmt{sid: s.Sid, effect: s.Effect}
	acts := s.Action
	if s.NotAction != nil {
		cs.notAction, acts = true, s.NotAction
	}
	for _, a := range acts {
		cs.actions = append(cs.actions, compilePattern(strings.ToLower(a), true, false))
	}
	res := s.Resource
	switch {
	case s.NotResource != nil:
		cs.notRes, res = true, s.NotResource
	case s.Resource == nil:
		cs.allRes = true
	}
	for _, r := range res {
		ap := compileARNPattern(r, vars)
		if ap.any && !cs.notRes {
			cs.allRes = true
		}
		cs.resources = append(cs.resources, ap)
	}
	if principals {
		if s.NotPrincipal != nil {
			cs.principal, cs.notPrinc = compilePrincipals(s.NotPrincipal), true
		} else {
			cs.principal = compilePrincipals(s.Principal)
		}
	}
	for i := range s.Conditions {
		cs.conds = append(cs.conds, compileCondition(&s.Conditions[i], vars))
	}
	return cs
}

// add indexes a statement by the actions it can match.
func (l *layer) add(cs *stmt, s *Statement, exact, service map[string][]*stmt) {
	if cs.notAction {
		l.global = append(l.global, cs)
		return
	}
	var keysExact, keysSvc []string
	for _, a := range s.Action {
		la := strings.ToLower(a)
		svc, act, ok := strings.Cut(la, ":")
		if !ok || strings.ContainsAny(svc, "*?") {
			l.global = append(l.global, cs)
			return
		}
		if strings.ContainsAny(act, "*?") {
			keysSvc = appendUnique(keysSvc, svc)
		} else {
			keysExact = appendUnique(keysExact, la)
		}
	}
	for _, k := range keysSvc {
		service[k] = append(service[k], cs)
	}
	for _, k := range keysExact {
		exact[k] = append(exact[k], cs)
	}
}

func appendUnique(list []string, s string) []string {
	for _, e := range list {
		if e == s {
			return list
		}
	}
	return append(list, s)
}

// Statements returns the number of statements compiled into the layer.
func (l *layer) statements() int { return l.count }

// StatementCount returns the number of identity, boundary, session, SCP and
// RCP statements compiled.
func (c *Compiled) StatementCount() int {
	n := c.identity.statements() + c.boundary.statements() + c.session.statements()
	for i := range c.scps {
		n += c.scps[i].statements()
	}
	for i := range c.rcps {
		n += c.rcps[i].statements()
	}
	return n
}

func newActionTable(m map[string][]*stmt) table[actionEntry] {
	entries := make(map[string]actionEntry, len(m))
	for k, list := range m {
		entries[k] = actionEntry{stmts: list, idx: newTokIndex(list)}
	}
	return newTable(entries)
}
