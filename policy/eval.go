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
type evalState struct {
	action   string // as given; matched case-insensitively
	svc      string // service prefix of action
	resource string
	res      arnParts // resource split into fields, when split
	split    bool
	resIsARN bool
	resTok   string // first segment of the resource field, when resIsARN
	tokHash  uint64 // foldHash(resTok)
	// actHash and svcHash are the foldHash of action and svc, computed
	// once and used by every layer's lookups.
	actHash, svcHash uint64
	hashed           bool
	ctx              *Context
	p                *Principal
}

func (es *evalState) init(r *Request) {
	es.ctx = r.Context
	es.p = &r.Principal
	es.resource = r.Resource
	if es.resource == "" {
		es.resource = "*"
	}
	es.resTok, es.resIsARN = arnToken(es.resource)
	es.tokHash = foldHash(es.resTok)
	es.action = r.Action
	es.svc = r.Action
	for i := 0; i < len(r.Action); i++ {
		if r.Action[i] == ':' {
			es.svc = r.Action[:i]
			break
		}
	}
}

// parts returns the request's resource split into ARN fields; only call
// it when resIsARN.
func (es *evalState) parts() *arnParts {
	if !es.split {
		es.res, _ = splitARN(es.resource)
		es.split = true
	}
	return &es.res
}

// layerHit is the outcome of one layer.
type layerHit struct {
	deny  *stmt
	allow *stmt
	kind  matchKind // best principal match among allowing statements
}

// collector gathers an explanation for one layer.
type collector struct {
	rec     recorder
	matches []*stmt
}

// eval evaluates the layer. With col nil it stops at the first Deny and
// skips Allow statements once one matched.
func (l *layer) eval(es *evalState, col *collector) layerHit {
	if col == nil {
		return l.evalFast(es)
	}
	var h layerHit
	var rec *recorder
	if col != nil {
		rec = &col.rec
	}
	var lists [3][]*stmt
	if e := l.exact.lookup(es.action, foldHash(es.action), true); e != nil {
		lists[0] = e.stmts
	}
	if e := l.service.lookup(es.svc, foldHash(es.svc), true); e != nil {
		lists[1] = e.stmts
	}
	lists[2] = l.global
	for li, list := range lists {
		for _, s := range list {
			if col == nil {
				if s.effect == Allow && h.allow != nil && (s.principal == nil || h.kind == mDirect) {
					continue
				}
			}
			ok, kind := s.applies(es, li > 0, rec)
			if !ok {
				continue
			}
			if col != nil {
				col.matches = append(col.matches, s)
			}
			if s.effect == Deny {
				if h.deny == nil {
					h.deny = s
				}
				if col == nil {
					return h
				}
				continue
			}
			if h.allow == nil {
				h.allow = s
			}
			if kind > h.kind {
				h.kind = kind
			}
		}
	}
	return h
}

// evalFast is eval without an explanation: it looks only at the statements
// whose resource tokens can match the request's resource, and stops at the
// first explicit deny.
func (l *layer) evalFast(es *evalState) layerHit {
	var h layerHit
	if !es.hashed {
		es.actHash, es.svcHash, es.hashed = foldHash(es.action), foldHash(es.svc), true
	}
	if e := l.exact.lookup(es.action, es.actHash, true); e != nil && h.scanIndex(&e.idx, es, false) {
		return h
	}
	if e := l.service.lookup(es.svc, es.svcHash, true); e != nil && h.scanIndex(&e.idx, es, true) {
		return h
	}
	h.scanIndex(&l.globalIdx, es, true)
	return h
}

// scanIndex evaluates the statements of ix that can match the request's
// resource; it reports true at the first explicit deny.
func (h *layerHit) scanIndex(ix *tokIndex, es *evalState, checkAction bool) bool {
	if h.scan(ix.rest, es, checkAction) {
		return true
	}
	if es.resIsARN && !ix.byTok.empty() {
		if list := ix.byTok.lookup(es.resTok, es.tokHash, false); list != nil {
			return h.scan(*list, es, checkAction)
		}
	}
	return false
}

// scan evaluates list; it reports true at the first explicit deny. Once
// an Allow matched, further Allow statements are skipped unless they could
// improve a resource policy's principal match.
func (h *layerHit) scan(list []*stmt, es *evalState, checkAction bool) bool {
	for _, s := range list {
		if s.effect == Allow && h.allow != nil && (s.principal == nil || h.kind == mDirect) {
			continue
		}
		ok, kind := s.applies(es, checkAction, nil)
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
// resource-based statements how the principal matched.
func (s *stmt) applies(es *evalState, checkAction bool, rec *recorder) (bool, matchKind) {
	if checkAction {
		m := false
		for i := range s.actions {
			if ok, _ := s.actions[i].match(es.action, nil, nil, true); ok {
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
	if s.principal != nil {
		if s.notPrinc {
			if s.principal.excludes(es.p, s.effect) {
				return false, mNone
			}
			kind = wildcardKind(es.p)
		} else {
			kind = s.principal.match(es.p)
			if kind == mNone {
				return false, mNone
			}
		}
	}
	for i := range s.conds {
		if !s.conds[i].eval(es.ctx, rec) {
			return false, mNone
		}
	}
	return true, kind
}

// Decide evaluates the request and returns only the decision. It does not
// allocate. A nil *Compiled stands for a principal with no policies.
func (c *Compiled) Decide(r *Request) Decision {
	if c == nil {
		return noPolicies.Decide(r)
	}
	var es evalState
	es.init(r)
	return c.decide(r, &es, nil)
}

// noPolicies stands for a nil *Compiled. It is never modified.
var noPolicies = &Compiled{identity: layer{present: true}}

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
		if c.boundary.present {
			col = newCol()
			bd = c.boundary.eval(es, col)
			if explain {
				ex.addLayer(&c.boundary, 0, bd, col, mNone)
			}
			denied = denied || bd.deny != nil
		}
		if c.session.present {
			col = newCol()
			ss = c.session.eval(es, col)
			if explain {
				ex.addLayer(&c.session, 0, ss, col, mNone)
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
	bOK := !c.boundary.present || bd.allow != nil
	sOK := !c.session.present || ss.allow != nil
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
