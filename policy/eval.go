package policy

import "strings"

// Decision is the outcome of evaluating a request.
type Decision uint8

// Decisions. The zero value is ImplicitDeny, the default.
const (
	// ImplicitDeny: nothing allowed the request (or a required layer did
	// not allow it, or the caller's credentials cannot be used for the
	// action at all: see CredentialForbids).
	ImplicitDeny Decision = iota
	// Allowed: the request is allowed.
	Allowed
	// ExplicitDeny: a Deny statement matched; nothing can override it.
	ExplicitDeny
)

var decisionNames = [...]string{"ImplicitDeny", "Allow", "ExplicitDeny"}

// String returns "Allow", "ExplicitDeny" or "ImplicitDeny".
func (d Decision) String() string {
	if int(d) < len(decisionNames) {
		return decisionNames[d]
	}
	return "Unknown"
}

// Request is one authorization question. The server can keep Requests and
// Contexts in a pool: evaluation neither retains nor modifies them.
type Request struct {
	// Action is "service:Action", matched case-insensitively.
	Action string
	// Resource is the resource ARN ("" or "*" for actions without one).
	Resource string
	// Principal is the caller.
	Principal Principal
	// ResourceAccount is the account that owns the resource. "" means the
	// caller's own account.
	ResourceAccount string
	// ResourcePolicy is the resource's policy (or the role's trust policy
	// for sts:AssumeRole*, which must then allow: see
	// DecidedByTrustPolicy), nil when it has none.
	ResourcePolicy *ResourcePolicy
	// EndpointPolicy is the policy of the VPC endpoint the request came
	// through, nil when it did not come through one. It must allow too.
	EndpointPolicy *EndpointPolicy
	// Context holds the condition keys; nil means none.
	Context *Context
}

// evalState is the per-request scratch space; it lives on the stack.
// It is filled once by newEvalState and holds copies of the Request's
// fields, never a pointer into the Request: escape analysis then sees that
// neither the Request nor its Context outlives the decision, so that a
// caller's Request and Context on its stack stay there. (A pointer into
// the Request, or a store into evalState during evaluation, would make
// them escape and allocate.)
type evalState struct {
	action   string // as given; matched case-insensitively
	svc      string // service prefix of action
	resource string
	resIsARN bool
	// colons holds the offsets in resource of the colons ending its
	// partition, service, region and account fields, when resIsARN.
	colons [4]int32
	resTok string // first segment of the resource field, when resIsARN
	// tokHash, actHash and svcHash are the foldHash of resTok, action and
	// svc, computed once and used by every document's lookups; svcBit,
	// actBit and tokBit are their bits in the documents' filters, and
	// filterBits is actBit | svcBit, for docRef.filter.
	tokHash, actHash, svcHash uint64
	svcBit, actBit, tokBit    uint64
	filterBits                uint64
	ctx                       *Context
	principal                 Principal
	// lower is action lower-cased, when it fits (lowerLen > 0): action
	// and service keys are lower-case, so every document's lookups then
	// compare bytes instead of folding case.
	lower    [64]byte
	lowerLen int
}

func newEvalState(r *Request) evalState {
	es := evalState{ctx: r.Context, principal: r.Principal, resource: r.Resource, action: r.Action, svc: r.Action}
	if es.resource == "" {
		es.resource = "*"
	}
	es.resTok, es.colons, es.resIsARN = arnFields(es.resource)
	es.tokHash = foldHash(es.resTok)
	for i := 0; i < len(r.Action); i++ {
		if r.Action[i] == ':' {
			es.svc = r.Action[:i]
			break
		}
	}
	if len(r.Action) <= len(es.lower) {
		for i := 0; i < len(r.Action); i++ {
			c := r.Action[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			es.lower[i] = c
		}
		es.lowerLen = len(r.Action)
	}
	es.actHash, es.svcHash = foldHash(es.action), foldHash(es.svc)
	es.svcBit, es.actBit, es.tokBit = 1<<(es.svcHash&63), 1<<(es.actHash&63), 1<<(es.tokHash&63)
	es.filterBits = es.svcBit | es.actBit
	return es
}

// parts returns the request's resource split into ARN fields; only call
// it when resIsARN.
func (es *evalState) parts() arnParts {
	s, c := es.resource, &es.colons
	return arnParts{partition: s[4:c[0]], service: s[c[0]+1 : c[1]], region: s[c[1]+1 : c[2]],
		account: s[c[2]+1 : c[3]], resource: s[c[3]+1:]}
}

// layerHit is the outcome of one layer. denyDoc and allowDoc are the
// positions in the layer of the documents holding deny and allow.
type layerHit struct {
	deny              *stmt
	allow             *stmt
	denyDoc, allowDoc int32
	kind              matchKind // best principal match among allowing statements
}

// docStmt is a statement and the position of its document in its layer.
type docStmt struct {
	doc int32
	s   *stmt
}

// collector gathers an explanation for one layer.
type collector struct {
	rec     recorder
	matches []docStmt
}

// eval evaluates the layer. With col nil it stops at the first Deny and
// skips Allow statements once one matched.
func (l *layer) eval(es *evalState, col *collector) layerHit {
	if col == nil {
		return l.evalFast(es)
	}
	// Every statement whose action can match, in the order of the
	// explanation: those naming the action, then those naming the
	// service, then the rest, each in the order of the documents.
	var h layerHit
	for li := 0; li < 3; li++ {
		for di := range l.refs {
			d := l.refs[di].doc
			var list []*stmt
			switch li {
			case 0:
				if e := d.exact.lookup(es.action, es.actHash, true); e != nil {
					list = e.stmts
				}
			case 1:
				if e := d.service.lookup(es.svc, es.svcHash, true); e != nil {
					list = e.stmts
				}
			case 2:
				list = d.global
			}
			for _, s := range list {
				ok, kind := s.applies(es, s.actions, li > 0, l.principals, &col.rec)
				if !ok {
					continue
				}
				col.matches = append(col.matches, docStmt{int32(di), s})
				if s.effect == Deny {
					if h.deny == nil {
						h.deny, h.denyDoc = s, int32(di)
					}
					continue
				}
				if h.allow == nil {
					h.allow, h.allowDoc = s, int32(di)
				}
				if kind > h.kind {
					h.kind = kind
				}
			}
		}
	}
	return h
}

// evalFast is eval without an explanation: document by document, it looks
// only at the statements whose action and resource tokens can match the
// request, and stops at the first explicit deny.
func (l *layer) evalFast(es *evalState) layerHit {
	var h layerHit
	if ix := l.bySvc; ix != nil {
		k := es.svcHash % svcBuckets
		for _, i := range ix.docs[ix.start[k]:ix.start[k+1]] {
			if l.refs[i].filter&es.filterBits != 0 && l.refs[i].doc.evalFast(es, &h, l.principals) {
				break
			}
		}
		return h
	}
	for i := range l.refs {
		if l.refs[i].filter&es.filterBits != 0 && l.refs[i].doc.evalFast(es, &h, l.principals) {
			break
		}
	}
	return h
}

// evalFast adds the document's matching statements to h; it reports true
// at the first explicit deny.
func (d *CompiledDocument) evalFast(es *evalState, h *layerHit, principals bool) bool {
	if d.actBits&es.actBit != 0 {
		var e *actionEntry
		if es.lowerLen > 0 {
			e = d.exact.lookupBytes(es.lower[:es.lowerLen], es.actHash)
		} else {
			e = d.exact.lookup(es.action, es.actHash, true)
		}
		if e != nil && h.scanIndex(&e.idx, es, false, principals) {
			return true
		}
	}
	if d.wildBits&es.svcBit != 0 {
		var e *actionEntry
		if es.lowerLen > 0 {
			e = d.service.lookupBytes(es.lower[:len(es.svc)], es.svcHash)
		} else {
			e = d.service.lookup(es.svc, es.svcHash, true)
		}
		if e != nil && h.scanIndex(&e.idx, es, true, principals) {
			return true
		}
	}
	return d.global != nil && h.scanIndex(&d.globalIdx, es, true, principals)
}

// scanIndex evaluates the statements of ix that can match the request's
// resource; it reports true at the first explicit deny.
func (h *layerHit) scanIndex(ix *tokIndex, es *evalState, checkAction, principals bool) bool {
	if h.scan(ix.rest, es, checkAction, principals) {
		return true
	}
	if es.resIsARN && ix.tokBits&es.tokBit != 0 {
		if list := ix.byTok.lookup(es.resTok, es.tokHash, false); list != nil {
			return h.scan(*list, es, checkAction, principals)
		}
	}
	return false
}

// scan evaluates list; it reports true at the first explicit deny. Once
// an Allow matched, further Allow statements are skipped unless they could
// improve a resource policy's principal match.
func (h *layerHit) scan(list []cand, es *evalState, checkAction, principals bool) bool {
	for i := range list {
		s := list[i].s
		if s.effect == Allow && h.allow != nil && (!principals || s.principal == nil || h.kind == mDirect) {
			continue
		}
		ok, kind := s.applies(es, list[i].acts, checkAction, principals, nil)
		if !ok {
			continue
		}
		if s.effect == Deny {
			h.deny = s
			return true
		}
		if h.allow == nil {
			h.allow = s
		}
		if kind > h.kind {
			h.kind = kind
		}
	}
	return false
}

// applies reports whether the statement matches the request, and for
// resource-based statements (principals) how the principal matched. With
// checkAction, the action must match one of acts (for NotAction, none):
// the statement's patterns, or those of them that can match the
// request's service.
func (s *stmt) applies(es *evalState, acts []pattern, checkAction, principals bool, rec *recorder) (bool, matchKind) {
	if checkAction {
		m := false
		for i := range acts {
			if ok, _ := acts[i].match(es.action, nil, nil, true); ok {
				m = true
				break
			}
		}
		if m == s.notAction {
			return false, mNone
		}
	}
	if !s.allRes {
		m := false
		for i := range s.resources {
			if ok, _ := s.resources[i].matchSplit(es, rec); ok {
				m = true
				break
			}
		}
		if m == s.notRes {
			return false, mNone
		}
	}
	kind := mNone
	if principals && s.principal != nil {
		if s.notPrinc {
			if s.principal.excludes(&es.principal, s.effect) {
				return false, mNone
			}
			kind = wildcardKind(&es.principal)
		} else {
			kind = s.principal.match(&es.principal)
			if kind == mNone {
				return false, mNone
			}
		}
	}
	if rec == nil && s.fastOrder != nil {
		for _, i := range s.fastOrder {
			if !s.conds[i].eval(es.ctx, nil) {
				return false, mNone
			}
		}
		return true, kind
	}
	for i := range s.conds {
		if !s.conds[i].eval(es.ctx, rec) {
			return false, mNone
		}
	}
	return true, kind
}

// Decide evaluates the request and returns only the decision. It does not
// allocate, and does not retain r: a Request on the caller's stack stays
// there. A nil *Compiled stands for a principal with no policies.
func (c *Compiled) Decide(r *Request) Decision {
	if c == nil {
		c = noPolicies
	}
	es := newEvalState(r)
	return c.decide(r, &es, nil)
}

// noPolicies stands for a nil *Compiled. It is never modified.
var noPolicies = &Compiled{identity: layer{kind: LayerIdentity, present: true}}

// decide implements AWS's evaluation logic. ex, when not nil, receives the
// per-layer explanation.
func (c *Compiled) decide(r *Request, es *evalState, ex *Explanation) Decision {
	rule, fixed := fixedRule(r, es)
	if !fixed {
		return c.decidePolicies(r, es, ex)
	}
	d := ImplicitDeny
	if rule == LayerAlwaysAllowed {
		d = Allowed
	}
	if ex != nil {
		// The layers are explained all the same, for the record; the
		// decision is the fixed rule's.
		c.decidePolicies(r, es, ex)
		ex.Decision, ex.Layer = d, rule
	}
	return d
}

// fixedRule returns the rule that decides the request whatever the
// policies say, if one does: sts:GetCallerIdentity needs no permission
// (LayerAlwaysAllowed), and GetSessionToken and GetFederationToken
// credentials cannot call some IAM and STS actions (LayerCredential). Both
// concern only iam and sts actions, so a length check keeps it off the
// path of every other service.
func fixedRule(r *Request, es *evalState) (Layer, bool) {
	if len(es.svc) != 3 {
		return 0, false
	}
	p := &r.Principal
	if p.Type != PrincipalAnonymous && AlwaysAllowed(es.action) {
		return LayerAlwaysAllowed, true
	}
	if p.Credential != CredentialStandard {
		mfa := r.Context != nil && r.Context.MultiFactorAuthPresent == True
		if CredentialForbids(p.Credential, mfa, es.action) {
			return LayerCredential, true
		}
	}
	return 0, false
}

// decidePolicies decides from the policies alone.
func (c *Compiled) decidePolicies(r *Request, es *evalState, ex *Explanation) Decision {
	p := &r.Principal
	explain := ex != nil
	var col *collector
	newCol := func() *collector {
		if explain {
			return &collector{}
		}
		return nil
	}

	denied := false
	scpMissing, rcpMissing := false, false
	if len(c.scps) > 0 {
		if scpApplies(p) {
			denied, scpMissing = evalLevels(c.scps, es, ex)
			if denied && !explain {
				return ExplicitDeny
			}
		} else if explain {
			ex.notApplicable(LayerSCP, true)
		}
	}
	if len(c.rcps) > 0 {
		if rcpApplies(p, es) {
			var d bool
			d, rcpMissing = evalLevels(c.rcps, es, ex)
			if d && !explain {
				return ExplicitDeny
			}
			denied = denied || d
		} else if explain {
			ex.notApplicable(LayerRCP, true)
		}
	}

	iam := p.Type.isIAM()
	var id, bd, ss layerHit
	if iam {
		col = newCol()
		id = c.identity.eval(es, col)
		if explain {
			ex.addLayer(&c.identity, 0, id, col, mNone)
		}
		denied = denied || id.deny != nil
		if !explain && denied {
			return ExplicitDeny
		}
		if c.boundary != nil {
			col = newCol()
			bd = c.boundary.eval(es, col)
			if explain {
				ex.addLayer(c.boundary, 0, bd, col, mNone)
			}
			denied = denied || bd.deny != nil
		}
		if c.session != nil {
			col = newCol()
			ss = c.session.eval(es, col)
			if explain {
				ex.addLayer(c.session, 0, ss, col, mNone)
			}
			denied = denied || ss.deny != nil
		}
		if !explain && denied {
			return ExplicitDeny
		}
	} else if explain {
		ex.notApplicable(LayerIdentity, c.identity.present)
	}
	var rs layerHit
	if r.ResourcePolicy != nil {
		col = newCol()
		rs = r.ResourcePolicy.l.eval(es, col)
		if explain {
			ex.addLayer(&r.ResourcePolicy.l, 0, rs, col, rs.kind)
		}
		denied = denied || rs.deny != nil
	}
	epMissing := false
	if r.EndpointPolicy != nil {
		col = newCol()
		h := r.EndpointPolicy.l.eval(es, col)
		if explain {
			ex.addLayer(&r.EndpointPolicy.l, 0, h, col, mNone)
		}
		denied = denied || h.deny != nil
		epMissing = h.allow == nil
	}
	if denied {
		return ex.finish(ExplicitDeny, LayerResource)
	}
	if scpMissing {
		return ex.finish(ImplicitDeny, LayerSCP)
	}
	if rcpMissing {
		return ex.finish(ImplicitDeny, LayerRCP)
	}
	if epMissing {
		return ex.finish(ImplicitDeny, LayerEndpoint)
	}
	resAllow := rs.allow != nil
	same := r.ResourceAccount == "" || r.ResourceAccount == p.Account
	if !iam {
		if p.Type == PrincipalRoot && same && (resAllow || !trustDecides(r, es)) {
			return ex.finish(Allowed, LayerIdentity)
		}
		if resAllow {
			return ex.finish(Allowed, LayerResource)
		}
		return ex.finish(ImplicitDeny, LayerResource)
	}
	bOK := c.boundary == nil || bd.allow != nil
	sOK := c.session == nil || ss.allow != nil
	if same && resAllow && rs.kind >= mRole {
		if rs.kind == mDirect {
			return ex.finish(Allowed, LayerResource)
		}
		if !bOK {
			return ex.finish(ImplicitDeny, LayerBoundary)
		}
		if !sOK {
			return ex.finish(ImplicitDeny, LayerSession)
		}
		return ex.finish(Allowed, LayerResource)
	}
	if id.allow == nil {
		return ex.finish(ImplicitDeny, LayerIdentity)
	}
	if !bOK {
		return ex.finish(ImplicitDeny, LayerBoundary)
	}
	if !sOK {
		return ex.finish(ImplicitDeny, LayerSession)
	}
	if !resAllow && (!same || trustDecides(r, es)) {
		return ex.finish(ImplicitDeny, LayerResource)
	}
	return ex.finish(Allowed, LayerIdentity)
}

// trustDecides reports whether the request is one that the role's trust
// policy (the request's resource policy) must allow even in the role's own
// account, where identity policies alone would otherwise suffice: the
// role-assumption actions, as iamd's AssumeRole and AWS decide them. It is
// only asked on the way to an allow without a resource policy's.
func trustDecides(r *Request, es *evalState) bool {
	if len(es.svc) != 3 {
		return false
	}
	if DecidedByTrustPolicy(es.action, es.resource) {
		return true
	}
	return r.ResourcePolicy != nil && r.ResourcePolicy.trust && sessionAction(es.action)
}

// DecidedByTrustPolicy reports whether a request for action on resource is
// decided against a role's trust policy, which must then allow the caller
// even in the role's own account (a missing trust policy allows no one):
// sts:AssumeRole, sts:AssumeRoleWithSAML and sts:AssumeRoleWithWebIdentity
// always; sts:TagSession, sts:SetSourceIdentity and sts:SetContext when the
// resource is a role, that is when they come with an AssumeRole* call
// (sts:TagSession for GetFederationToken is a federated user's, decided by
// identity policies alone). Pass the trust policy as Request.ResourcePolicy.
func DecidedByTrustPolicy(action, resource string) bool {
	svc, op, ok := strings.Cut(action, ":")
	if !ok || !strings.EqualFold(svc, "sts") {
		return false
	}
	for _, a := range [...]string{"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"} {
		if strings.EqualFold(op, a) {
			return true
		}
	}
	if !sessionAction(action) {
		return false
	}
	a, ok := splitARN(resource)
	return ok && a.service == "iam" && strings.HasPrefix(a.resource, "role/")
}

// sessionAction reports whether action is one of the session permissions a
// trust policy grants with the role: sts:TagSession, sts:SetSourceIdentity,
// sts:SetContext.
func sessionAction(action string) bool {
	svc, op, ok := strings.Cut(action, ":")
	if !ok || !strings.EqualFold(svc, "sts") {
		return false
	}
	return strings.EqualFold(op, "TagSession") || strings.EqualFold(op, "SetSourceIdentity") || strings.EqualFold(op, "SetContext")
}

// evalLevels evaluates the levels of an organization's policies (SCPs or
// RCPs), each of which must allow. Without an explanation it stops at the
// first explicit deny.
func evalLevels(levels []layer, es *evalState, ex *Explanation) (denied, missing bool) {
	for i := range levels {
		var col *collector
		if ex != nil {
			col = &collector{}
		}
		h := levels[i].eval(es, col)
		if h.deny != nil {
			denied = true
		} else if h.allow == nil {
			missing = true
		}
		if ex != nil {
			ex.addLayer(&levels[i], i, h, col, mNone)
		} else if denied {
			return denied, missing
		}
	}
	return denied, missing
}

// scpApplies reports whether service control policies limit the caller:
// they govern the IAM users and roles of the organization's accounts and
// their root users, not AWS service principals, web identities or
// anonymous callers, and not service-linked roles.
func scpApplies(p *Principal) bool {
	return (p.Type.isIAM() || p.Type == PrincipalRoot) && !p.serviceLinked()
}

// rcpApplies reports whether resource control policies limit the request:
// as AWS documents, they apply to the resources of the services that
// support them (RCPService), whoever the caller (AWS service principals
// and anonymous callers too), except service-linked roles. RCPs do not
// apply to the management account's resources: leave PolicySet.RCPs nil
// there.
func rcpApplies(p *Principal, es *evalState) bool {
	return RCPService(es.svc) && !p.serviceLinked()
}

// RCPService reports whether resource control policies apply to the
// resources of the service with the given action prefix (s3, sts, kms,
// sqs, secretsmanager, and the services AWS added since: ecr, aoss,
// cognito-identity, logs, dynamodb). For other services RCPs have no
// effect.
func RCPService(prefix string) bool {
	for _, s := range rcpServices {
		if strings.EqualFold(prefix, s) {
			return true
		}
	}
	return false
}

var rcpServices = [...]string{"s3", "sts", "kms", "sqs", "secretsmanager", "ecr", "aoss", "cognito-identity", "logs", "dynamodb"}
