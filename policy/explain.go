package policy

import (
	"strings"
)

// StatementRef identifies a statement that matched a request.
type StatementRef struct {
	// Policy is the label given to the policy (NamedDocument.Name).
	Policy string
	// Sid is the statement's Sid, "" when it has none.
	Sid string
	// Index is the statement's position in its document, from 0.
	Index int
	// Effect is the statement's effect.
	Effect Effect
}

// LayerResult explains one layer of a decision.
type LayerResult struct {
	// Layer is the kind of policy.
	Layer Layer
	// Level is the SCP or RCP level (0 = outermost); 0 for other layers.
	Level int
	// Applicable is false when the layer does not take part, e.g. identity
	// policies for the root user or an anonymous caller.
	Applicable bool
	// Decision is ExplicitDeny when a Deny matched, Allowed when an Allow
	// (and no Deny) matched, ImplicitDeny when nothing matched.
	Decision Decision
	// Decider is the statement behind Decision: the first matching Deny, or
	// else the first matching Allow. Nil for ImplicitDeny.
	Decider *StatementRef
	// Matches lists every matching statement.
	Matches []StatementRef
	// PrincipalMatch, for the resource layer, says how the caller matched
	// the allowing statements: "direct", "role", "account" or "none".
	PrincipalMatch string
	// ContextKeysRead lists the context keys present in the request that
	// were read; MissingContextKeys those read but absent.
	ContextKeysRead    []string
	MissingContextKeys []string
}

// Explanation is a decision with its reasons, layer by layer.
type Explanation struct {
	Decision Decision
	// Layer is the layer that decided: the one holding the explicit deny,
	// the one that failed to allow, or the one that granted.
	Layer     Layer
	Action    string
	Resource  string
	Principal string
	// Credential is the kind of the caller's credentials, for the reason
	// of a LayerCredential decision.
	Credential Credential
	Layers     []LayerResult
}

// Explain evaluates the request like Decide and explains the decision. It
// allocates; keep it off the hot path.
func (c *Compiled) Explain(r *Request) *Explanation {
	if c == nil {
		c = noPolicies
	}
	ex := &Explanation{Action: r.Action, Resource: r.Resource, Principal: r.Principal.ARN, Credential: r.Principal.Credential}
	if ex.Principal == "" {
		switch r.Principal.Type {
		case PrincipalAnonymous:
			ex.Principal = "anonymous"
		case PrincipalService:
			ex.Principal = r.Principal.Service
		case PrincipalWebIdentity:
			ex.Principal = r.Principal.Federated
		}
	}
	es := newEvalState(r)
	ex.Decision = c.decide(r, &es, ex)
	return ex
}

func (ex *Explanation) addLayer(l *layer, level int, h layerHit, col *collector, kind matchKind) {
	lr := LayerResult{Layer: l.kind, Level: level, Applicable: true, Decision: ImplicitDeny}
	ref := func(doc int32, s *stmt) *StatementRef {
		return &StatementRef{Policy: l.labels[doc], Sid: s.sid, Index: int(s.index), Effect: s.effect}
	}
	switch {
	case h.deny != nil:
		lr.Decision, lr.Decider = ExplicitDeny, ref(h.denyDoc, h.deny)
	case h.allow != nil:
		lr.Decision, lr.Decider = Allowed, ref(h.allowDoc, h.allow)
	}
	for _, m := range col.matches {
		lr.Matches = append(lr.Matches, *ref(m.doc, m.s))
	}
	if l.kind == LayerResource {
		lr.PrincipalMatch = kind.String()
	}
	lr.ContextKeysRead = col.rec.read_
	lr.MissingContextKeys = col.rec.missing
	ex.Layers = append(ex.Layers, lr)
}

func (ex *Explanation) notApplicable(l Layer, _ bool) {
	ex.Layers = append(ex.Layers, LayerResult{Layer: l, Decision: ImplicitDeny})
}

// finish records the decision and the deciding layer. On a nil receiver
// (the fast path) it only returns d.
func (ex *Explanation) finish(d Decision, l Layer) Decision {
	if ex == nil {
		return d
	}
	ex.Decision = d
	ex.Layer = l
	if d == ExplicitDeny {
		// Report the first layer, in AWS's order, holding a matching Deny.
		for _, want := range []Layer{LayerSCP, LayerRCP, LayerIdentity, LayerBoundary, LayerSession, LayerResource, LayerEndpoint} {
			for i := range ex.Layers {
				if ex.Layers[i].Layer == want && ex.Layers[i].Decision == ExplicitDeny {
					ex.Layer = want
					return d
				}
			}
		}
	}
	return d
}

// LayerResult returns the explanation of the given layer (the first level
// for LayerSCP and LayerRCP), or nil if it took no part.
func (ex *Explanation) LayerResult(l Layer) *LayerResult {
	for i := range ex.Layers {
		if ex.Layers[i].Layer == l {
			return &ex.Layers[i]
		}
	}
	return nil
}

// Decider returns the statement that decided: the explicit Deny, or the
// Allow that granted; nil for an implicit deny.
func (ex *Explanation) Decider() *StatementRef {
	if ex.Decision == ImplicitDeny {
		return nil
	}
	for i := range ex.Layers {
		lr := &ex.Layers[i]
		if lr.Layer == ex.Layer && lr.Decider != nil && (ex.Decision == Allowed || lr.Decision == ExplicitDeny) {
			return lr.Decider
		}
	}
	return nil
}

var layerPhrase = [...]string{
	LayerIdentity: "an identity-based policy",
	LayerBoundary: "a permissions boundary",
	LayerSession:  "a session policy",
	LayerSCP:      "a service control policy",
	LayerResource: "a resource-based policy",
	LayerRCP:      "a resource control policy",
	LayerEndpoint: "a VPC endpoint policy",
}

var layerNoPhrase = [...]string{
	LayerIdentity: "no identity-based policy",
	LayerBoundary: "no permissions boundary",
	LayerSession:  "no session policy",
	LayerSCP:      "no service control policy",
	LayerResource: "no resource-based policy",
	LayerRCP:      "no resource control policy",
	LayerEndpoint: "no VPC endpoint policy",
}

// Reason returns the reason phrase AWS appends to AccessDenied messages,
// e.g. "because no identity-based policy allows the iam:CreateUser action"
// or "with an explicit deny in an identity-based policy". It is "" for a
// request the policies allow; an action that needs no permission
// (LayerAlwaysAllowed) says so.
func (ex *Explanation) Reason() string {
	switch ex.Layer {
	case LayerAlwaysAllowed:
		return "because " + ex.Action + " needs no permission: AWS allows it to every authenticated caller, even with an explicit deny"
	case LayerCredential:
		return "because " + credentialLimit(ex.Credential, ex.Action)
	}
	switch ex.Decision {
	case ExplicitDeny:
		return "with an explicit deny in " + layerPhrase[ex.Layer]
	case ImplicitDeny:
		return "because " + layerNoPhrase[ex.Layer] + " allows the " + ex.Action + " action"
	}
	return ""
}

// Message returns the whole AccessDenied message in AWS's wording:
// "User: ARN is not authorized to perform: ACTION on resource: ARN REASON".
func (ex *Explanation) Message() string {
	var b strings.Builder
	b.WriteString("User: ")
	b.WriteString(ex.Principal)
	b.WriteString(" is not authorized to perform: ")
	b.WriteString(ex.Action)
	if ex.Resource != "" {
		b.WriteString(" on resource: ")
		b.WriteString(ex.Resource)
	}
	if r := ex.Reason(); r != "" {
		b.WriteByte(' ')
		b.WriteString(r)
	}
	return b.String()
}
