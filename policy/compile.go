package policy

import (
	"errors"
	"fmt"
	"slices"
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

// Compiled is a principal's policies compiled for evaluation: for each
// layer, references to compiled documents (shared with every other
// principal whose policies include them) and the labels this principal
// gives them. It is immutable and safe for concurrent use.
type Compiled struct {
	identity layer
	// boundary and session are nil when the principal has none: most
	// principals have neither, and a Compiled is then two cache lines.
	boundary *layer
	session  *layer
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
	d, err := CompileDocument(doc)
	if err != nil {
		return nil, err
	}
	return &EndpointPolicy{l: newLayer(LayerEndpoint, []NamedCompiled{{Name: name, Doc: d}})}, nil
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
	index     int32 // position in its document
	sid       string
	effect    Effect
	notAction bool
	actions   []pattern // lower-cased
	notRes    bool
	allRes    bool
	resources []arnPattern
	principal *principalMatcher // nil without Principal or NotPrincipal
	notPrinc  bool
	conds     []cond
	// fastOrder, when not nil, is the order in which the fast path
	// evaluates conds: keys with a typed Context field first, which are
	// read without scanning Context.Values, so that a failing one spares
	// the scan. Explanations keep the document's order.
	fastOrder []uint8
}

// CompiledDocument is one policy document compiled for evaluation: its
// statements indexed by action and resource token. It does not depend on
// the principal nor on the layer it is used in, so one CompiledDocument
// serves every principal whose policies include the document: compile
// each distinct document once and compose principals from them with
// Compose. It is immutable and safe for concurrent use.
type CompiledDocument struct {
	// actBits and wildBits have bit foldHash(key)&63 set for every key of
	// exact and of service: a lookup whose bit is clear would miss.
	actBits, wildBits uint64
	exact             table[actionEntry] // "service:action"
	service           table[actionEntry] // "service": action part has wildcards
	global            []*stmt            // wildcard service, "*", NotAction
	// globalIdx is global split by resource token, for the fast path.
	globalIdx tokIndex
	// services holds the foldHash of every service named by an exact or
	// service-wide key, for the layers that index documents by service.
	services []uint64
	count    int
}

// Statements returns the number of statements in the document.
func (d *CompiledDocument) Statements() int { return d.count }

// NamedCompiled is a compiled document with the label a principal's
// explanations give it (see NamedDocument).
type NamedCompiled struct {
	Name string
	Doc  *CompiledDocument
}

// CompiledSet is PolicySet with compiled documents: everything that
// governs one principal's requests, for Compose.
type CompiledSet struct {
	Identity []NamedCompiled
	Boundary *NamedCompiled
	Session  []NamedCompiled
	SCPs     [][]NamedCompiled
	RCPs     [][]NamedCompiled
}

// layer is the documents of one kind of policy (one level for SCPs and
// RCPs), evaluated document by document.
type layer struct {
	present bool
	kind    Layer
	// principals: the layer's statements are resource-based (resource,
	// endpoint, RCP) and their Principal or NotPrincipal must match the
	// caller; in the other layers it is ignored.
	principals bool
	count      int32
	refs       []docRef
	labels     []string // refs[i]'s label, for explanations
	// bySvc is set for layers of many documents.
	bySvc *svcIndex
}

// svcIndex lists in docs[start[k]:start[k+1]] the positions in the layer
// of the documents naming a service whose hash is k modulo svcBuckets,
// and then of those with statements not indexed by service (in every
// bucket's list), so that a decision visits only the documents that may
// concern its service, however many others the layer has.
type svcIndex struct {
	start []uint16
	docs  []uint16
}

// bySvcMin is the number of documents from which a layer indexes them by
// service: below it, testing each document's filter costs less.
const bySvcMin = 16

const svcBuckets = 64

// docRef is a document in a layer, with its filter at hand so that the
// documents about other actions and services cost one test, not a visit.
type docRef struct {
	// filter is the document's actBits | wildBits, all ones when it has
	// statements whose action is not indexed by service; a request whose
	// actBit | svcBit is clear in it has nothing to look at there.
	filter uint64
	doc    *CompiledDocument
}

func newLayer(kind Layer, docs []NamedCompiled) layer {
	l := layer{kind: kind, present: len(docs) > 0}
	l.principals = kind == LayerResource || kind == LayerEndpoint || kind == LayerRCP
	if len(docs) > 0 {
		l.refs = make([]docRef, len(docs))
		l.labels = make([]string, len(docs))
	}
	for i, d := range docs {
		l.refs[i] = docRef{filter: d.Doc.actBits | d.Doc.wildBits, doc: d.Doc}
		if d.Doc.global != nil {
			l.refs[i].filter = ^uint64(0)
		}
		l.labels[i] = d.Name
		l.count += int32(d.Doc.count)
	}
	if len(docs) >= bySvcMin && len(docs) <= 1<<16 {
		l.indexBySvc()
	}
	return l
}

func (l *layer) indexBySvc() {
	var n [svcBuckets]int
	total, always := 0, 0
	for _, r := range l.refs {
		if r.doc.global != nil {
			always++
			continue
		}
		for _, h := range r.doc.services {
			n[h%svcBuckets]++
			total++
		}
	}
	if total+svcBuckets*always > 1<<16-1 {
		return // the plain loop then
	}
	ix := &svcIndex{start: make([]uint16, svcBuckets+1), docs: make([]uint16, total+svcBuckets*always)}
	for k := 0; k < svcBuckets; k++ {
		ix.start[k+1] = ix.start[k] + uint16(n[k]+always)
	}
	var next [svcBuckets]uint16
	copy(next[:], ix.start)
	for i, r := range l.refs {
		if r.doc.global == nil {
			for _, h := range r.doc.services {
				k := h % svcBuckets
				ix.docs[next[k]] = uint16(i)
				next[k]++
			}
		}
	}
	for i, r := range l.refs {
		if r.doc.global != nil {
			for k := range next {
				ix.docs[next[k]] = uint16(i)
				next[k]++
			}
		}
	}
	l.bySvc = ix
}

// tokIndex splits a list of statements by the first segment of their
// resource patterns (an S3 bucket, an IAM "user", ...), so that the fast
// path only considers statements that can match the request's resource.
// Statements whose resources are not indexable (wildcards in the first
// segment, "*", NotResource, non-ARN patterns) are in rest.
type tokIndex struct {
	// tokBits has bit foldHash(token)&63 set for every key of byTok.
	tokBits uint64
	byTok   table[[]cand] // keyed case-sensitively
	rest    []cand
}

// cand is a statement as the fast path sees it under one index key: acts
// are the action patterns that can match an action of that key (under a
// service key, the statement's patterns of that service only: AWS-managed
// policies list hundreds of services' actions in one statement).
type cand struct {
	s    *stmt
	acts []pattern
}

// actionEntry is the statements under one action (or service) key.
type actionEntry struct {
	stmts []*stmt // for explanations
	idx   tokIndex
}

func newTokIndex(list []cand) tokIndex {
	var ix tokIndex
	var byTok map[string][]cand
	for _, c := range list {
		toks, ok := c.s.resourceTokens()
		if !ok {
			ix.rest = append(ix.rest, c)
			continue
		}
		if byTok == nil {
			byTok = map[string][]cand{}
		}
		for _, t := range toks {
			byTok[t] = append(byTok[t], c)
			ix.tokBits |= 1 << (foldHash(t) & 63)
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
// may be shared between compilations. Compile compiles every document it
// is given; a server governing many principals with the same documents
// should compile each document once with CompileDocument and Compose the
// principals from them, so that they share the compiled documents.
func Compile(set PolicySet) (*Compiled, error) {
	var cs CompiledSet
	var err error
	if cs.Identity, err = compileDocs(LayerIdentity, set.Identity); err != nil {
		return nil, err
	}
	if set.Boundary != nil {
		b, err := compileDocs(LayerBoundary, []NamedDocument{*set.Boundary})
		if err != nil {
			return nil, err
		}
		cs.Boundary = &b[0]
	}
	if cs.Session, err = compileDocs(LayerSession, set.Session); err != nil {
		return nil, err
	}
	if set.SCPs != nil {
		cs.SCPs = make([][]NamedCompiled, len(set.SCPs))
		for i, level := range set.SCPs {
			if cs.SCPs[i], err = compileDocs(LayerSCP, level); err != nil {
				return nil, err
			}
		}
	}
	if set.RCPs != nil {
		cs.RCPs = make([][]NamedCompiled, len(set.RCPs))
		for i, level := range set.RCPs {
			if cs.RCPs[i], err = compileDocs(LayerRCP, level); err != nil {
				return nil, err
			}
		}
	}
	return Compose(cs)
}

// Compose builds a principal's compiled policies from compiled documents,
// without copying them: its cost and memory are those of the references.
func Compose(set CompiledSet) (*Compiled, error) {
	if err := checkCompiled(LayerIdentity, set.Identity); err != nil {
		return nil, err
	}
	c := &Compiled{identity: newLayer(LayerIdentity, set.Identity)}
	c.identity.present = true
	if set.Boundary != nil {
		b := []NamedCompiled{*set.Boundary}
		if err := checkCompiled(LayerBoundary, b); err != nil {
			return nil, err
		}
		bl := newLayer(LayerBoundary, b)
		c.boundary = &bl
	}
	if len(set.Session) > 0 {
		if err := checkCompiled(LayerSession, set.Session); err != nil {
			return nil, err
		}
		sl := newLayer(LayerSession, set.Session)
		c.session = &sl
	}
	if set.SCPs != nil {
		c.scps = make([]layer, len(set.SCPs))
		for i, level := range set.SCPs {
			if err := checkCompiled(LayerSCP, level); err != nil {
				return nil, err
			}
			c.scps[i] = newLayer(LayerSCP, level)
			c.scps[i].present = true
		}
	}
	if set.RCPs != nil {
		c.rcps = make([]layer, len(set.RCPs))
		for i, level := range set.RCPs {
			if err := checkCompiled(LayerRCP, level); err != nil {
				return nil, err
			}
			c.rcps[i] = newLayer(LayerRCP, level)
			c.rcps[i].present = true
		}
	}
	return c, nil
}

func checkCompiled(kind Layer, docs []NamedCompiled) error {
	for _, d := range docs {
		if d.Doc == nil {
			return fmt.Errorf("policy: %s policy %q has no compiled document", kind, d.Name)
		}
	}
	return nil
}

func compileDocs(kind Layer, docs []NamedDocument) ([]NamedCompiled, error) {
	if len(docs) == 0 {
		return nil, nil
	}
	out := make([]NamedCompiled, len(docs))
	for i, nd := range docs {
		if nd.Doc == nil {
			return nil, fmt.Errorf("policy: %s policy %q has no document", kind, nd.Name)
		}
		d, err := CompileDocument(nd.Doc)
		if err != nil {
			return nil, err
		}
		out[i] = NamedCompiled{Name: nd.Name, Doc: d}
	}
	return out, nil
}

// CompileResource compiles a resource-based or trust policy.
func CompileResource(name string, doc *Document) (*ResourcePolicy, error) {
	if doc == nil {
		return nil, errors.New("policy: nil resource policy document")
	}
	d, err := CompileDocument(doc)
	if err != nil {
		return nil, err
	}
	return &ResourcePolicy{l: newLayer(LayerResource, []NamedCompiled{{Name: name, Doc: d}}), trust: doc.Kind == Trust}, nil
}

// CompileDocument compiles one document for any layer: identity,
// boundary, session, SCP, RCP. The document is not modified and may be
// shared; the compiled document keeps references into it (Sids, condition
// sources).
func CompileDocument(doc *Document) (*CompiledDocument, error) {
	if doc == nil {
		return nil, errors.New("policy: nil policy document")
	}
	d := &CompiledDocument{}
	exact, service := map[string][]cand{}, map[string][]cand{}
	vars := doc.Variables()
	for si := range doc.Statements {
		s := &doc.Statements[si]
		cs := compileStmt(s, vars)
		cs.index = int32(si)
		d.add(cs, s, exact, service)
		d.count++
	}
	d.exact = newActionTable(exact)
	d.service = newActionTable(service)
	global := make([]cand, len(d.global))
	for i, s := range d.global {
		global[i] = cand{s: s, acts: s.actions}
	}
	d.globalIdx = newTokIndex(global)
	for k := range exact {
		svc, _, _ := strings.Cut(k, ":")
		d.actBits |= 1 << (foldHash(k) & 63)
		if h := foldHash(svc); !slices.Contains(d.services, h) {
			d.services = append(d.services, h)
		}
	}
	for k := range service {
		h := foldHash(k)
		d.wildBits |= 1 << (h & 63)
		if !slices.Contains(d.services, h) {
			d.services = append(d.services, h)
		}
	}
	return d, nil
}

func compileStmt(s *Statement, vars bool) *stmt {
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
	if s.NotPrincipal != nil {
		cs.principal, cs.notPrinc = compilePrincipals(s.NotPrincipal), true
	} else {
		cs.principal = compilePrincipals(s.Principal)
	}
	for i := range s.Conditions {
		cs.conds = append(cs.conds, compileCondition(&s.Conditions[i], vars))
	}
	cs.fastOrder = typedFirst(cs.conds)
	return cs
}

// typedFirst returns the order that evaluates the conditions on typed
// context keys first, or nil when that is the conditions' own order.
func typedFirst(conds []cond) []uint8 {
	if len(conds) < 2 || len(conds) > 255 {
		return nil
	}
	order := make([]uint8, 0, len(conds))
	for pass := 0; pass < 2; pass++ {
		for i := range conds {
			if (conds[i].key.id != kOther) == (pass == 0) {
				order = append(order, uint8(i))
			}
		}
	}
	for i, o := range order {
		if int(o) != i {
			return order
		}
	}
	return nil
}

// add indexes a statement by the actions it can match.
func (d *CompiledDocument) add(cs *stmt, s *Statement, exact, service map[string][]cand) {
	if cs.notAction {
		d.global = append(d.global, cs)
		return
	}
	var keysExact, keysSvc []string
	for _, a := range s.Action {
		la := strings.ToLower(a)
		svc, act, ok := strings.Cut(la, ":")
		if !ok || strings.ContainsAny(svc, "*?") {
			d.global = append(d.global, cs)
			return
		}
		if strings.ContainsAny(act, "*?") {
			keysSvc = appendUnique(keysSvc, svc)
		} else {
			keysExact = appendUnique(keysExact, la)
		}
	}
	for _, k := range keysSvc {
		// The statement's patterns of service k, in their order.
		var acts []pattern
		for i, a := range s.Action {
			if svc, _, _ := strings.Cut(a, ":"); strings.EqualFold(svc, k) {
				acts = append(acts, cs.actions[i])
			}
		}
		service[k] = append(service[k], cand{s: cs, acts: acts})
	}
	for _, k := range keysExact {
		exact[k] = append(exact[k], cand{s: cs})
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

// StatementCount returns the number of identity, boundary, session, SCP and
// RCP statements compiled.
func (c *Compiled) StatementCount() int {
	n := int(c.identity.count)
	if c.boundary != nil {
		n += int(c.boundary.count)
	}
	if c.session != nil {
		n += int(c.session.count)
	}
	for i := range c.scps {
		n += int(c.scps[i].count)
	}
	for i := range c.rcps {
		n += int(c.rcps[i].count)
	}
	return n
}

func newActionTable(m map[string][]cand) table[actionEntry] {
	entries := make(map[string]actionEntry, len(m))
	for k, list := range m {
		stmts := make([]*stmt, len(list))
		for i, c := range list {
			stmts[i] = c.s
		}
		entries[k] = actionEntry{stmts: stmts, idx: newTokIndex(list)}
	}
	return newTable(entries)
}
