// Package authz authorizes requests made to iamd: it gathers a caller's
// policies from the view (inline, attached, group, boundary, session
// policies), compiles each distinct document once with the policy engine
// and composes each principal from the shared compiled documents, fills
// the request context from the caller and the request, and decides.
package authz

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/managedpolicies"
	"github.com/iamd/iamd/policy"
)

// Authorizer decides on requests. It is safe for concurrent use.
type Authorizer struct {
	view    *iam.View
	managed func() *managedpolicies.Catalog

	compiled sync.Map // principal (user or role ID) → *compiledEntry
	// sessions holds the compiled policies of sessions with session
	// policies, by access key: they come and go with traffic, so the cache
	// is bounded.
	sessions *boundedCache[string, *compiledEntry]
	// docs holds the stored documents compiled, by text: each distinct
	// document is compiled once and shared by every principal that has it,
	// so a change of a managed policy compiles its new version once and
	// the principals that have it are composed again from references.
	docs      *textCache[*policy.CompiledDocument]
	compiles  atomic.Int64 // documents compiled into docs, for tests
	resources *textCache[*policy.ResourcePolicy]
	trusts    *textCache[*policy.ResourcePolicy]
	endpoints *textCache[*policy.EndpointPolicy]
	// rcpDocs and withRCPs serve requests carrying resource control
	// policies; see compiledWithRCPs.
	rcpDocs  *textCache[*policy.CompiledDocument]
	withRCPs *boundedCache[rcpKey, *policy.Compiled]
	ctxs     sync.Pool
}

// New returns an Authorizer reading policies from view.
func New(view *iam.View, managed func() *managedpolicies.Catalog) *Authorizer {
	a := &Authorizer{view: view, managed: managed,
		docs: newCache[string, *policy.CompiledDocument](8192), resources: newCache[string, *policy.ResourcePolicy](4096),
		trusts: newCache[string, *policy.ResourcePolicy](4096), endpoints: newCache[string, *policy.EndpointPolicy](1024),
		rcpDocs: newCache[string, *policy.CompiledDocument](1024), withRCPs: newCache[rcpKey, *policy.Compiled](1024),
		sessions: newCache[string, *compiledEntry](16384)}
	a.ctxs.New = func() any { return new(policy.Context) }
	return a
}

type compiledEntry struct {
	version int64  // the user's or role's record version
	gen     uint64 // the account's policy generation
	c       *policy.Compiled
	set     policy.CompiledSet // what c was composed of, for compiledWithRCPs
	tags    []iam.Tag          // principal tags (user or role tags)
	err     error
}

// Authorize returns nil if the caller may make the request, or a *Denied
// in AWS's wording.
func (a *Authorizer) Authorize(ctx context.Context, c *Caller, req *Request) error {
	d, _, err := a.decide(c, req, false)
	if err != nil {
		return err
	}
	if d == policy.Allowed {
		return nil
	}
	_, ex, _ := a.decide(c, req, true)
	return AccessDenied(ex)
}

// Explain evaluates the request and explains the decision.
func (a *Authorizer) Explain(c *Caller, req *Request) (*policy.Explanation, error) {
	_, ex, err := a.decide(c, req, true)
	return ex, err
}

// AccessDenied is the refusal of a denied decision: a *Denied carrying the
// explanation and AWS's message for it.
func AccessDenied(ex *policy.Explanation) error {
	return &Denied{Explanation: ex, message: ex.Message()}
}

// Denied is a refused authorization: the decision behind it and AWS's
// message for it. The protocol edge answers it as AccessDenied (403):
// awsquery.As maps it, as an awsquery.Denial.
type Denied struct {
	// Explanation is the decision; nil for the refusal of a role's trust
	// policy (AuthorizeTrust), which AWS words without a reason.
	Explanation *policy.Explanation
	message     string
}

func (d *Denied) Error() string { return "AccessDenied: " + d.message }

// DenialMessage is AWS's message for the refusal: "User: ARN is not
// authorized to perform: ACTION on resource: RESOURCE ...".
func (d *Denied) DenialMessage() string { return d.message }

// Explicit reports whether an explicit deny refused the request, which no
// implied permission can override. A trust policy's refusal, which has no
// explanation, counts as explicit: nothing implied lifts it.
func (d *Denied) Explicit() bool {
	return d.Explanation == nil || d.Explanation.Decision == policy.ExplicitDeny
}

// ImplicitlyDenied reports whether err is a refusal for want of an allow
// (no explicit deny), which a permission AWS implies may lift.
func ImplicitlyDenied(err error) bool {
	var d *Denied
	return errors.As(err, &d) && !d.Explicit()
}

func (a *Authorizer) decide(c *Caller, req *Request, explain bool) (policy.Decision, *policy.Explanation, error) {
	e := a.principalPolicies(c)
	if e.err != nil {
		return policy.ImplicitDeny, nil, e.err
	}
	compiled := e.c
	if len(req.ResourceControlPolicies) > 0 {
		var err error
		if compiled, err = a.compiledWithRCPs(e, req.ResourceControlPolicies); err != nil {
			return policy.ImplicitDeny, nil, err
		}
	}
	pctx := a.ctxs.Get().(*policy.Context)
	defer a.ctxs.Put(pctx)
	pctx.Reset()
	fillContext(pctx, c, req, e.tags)
	preq := policy.Request{
		Action:          req.Action,
		Resource:        req.Resource,
		Principal:       principalOf(c),
		ResourceAccount: req.ResourceAccount,
		Context:         pctx,
	}
	if req.ResourcePolicy != "" {
		rp, err := a.resourcePolicy(req.ResourcePolicy)
		if err != nil {
			return policy.ImplicitDeny, nil, &PolicyError{Field: "ResourcePolicy", Err: err}
		}
		preq.ResourcePolicy = rp
	}
	if req.EndpointPolicy != "" {
		ep, err := a.endpointPolicy(req.EndpointPolicy)
		if err != nil {
			return policy.ImplicitDeny, nil, &PolicyError{Field: "EndpointPolicy", Err: err}
		}
		preq.EndpointPolicy = ep
	}
	if explain {
		ex := compiled.Explain(&preq)
		return ex.Decision, ex, nil
	}
	return compiled.Decide(&preq), nil, nil
}

func principalOf(c *Caller) policy.Principal {
	p := policy.Principal{ARN: c.ARN, Account: c.Account, Credential: c.Credential()}
	switch c.Type {
	case Root:
		p.Type = policy.PrincipalRoot
	case User:
		p.Type = policy.PrincipalUser
	case AssumedRole:
		p.Type = policy.PrincipalAssumedRole
		p.RoleARN = c.PrincipalARN
	case FederatedUser:
		p.Type = policy.PrincipalFederatedUser
	case ServicePrincipal:
		p.Type = policy.PrincipalService
		p.Service = c.Name
	}
	return p
}

// resourceAccount is aws:ResourceAccount: the account given as owning the
// resource, else the account in the resource's ARN, else (resources
// without an account, such as "*") the caller's.
func resourceAccount(req *Request, c *Caller) string {
	if req.ResourceAccount != "" {
		return req.ResourceAccount
	}
	// arn:PARTITION:SERVICE:REGION:ACCOUNT:...
	r := req.Resource
	for field := 0; field < 4; field++ {
		i := strings.IndexByte(r, ':')
		if i < 0 {
			return c.Account
		}
		r = r[i+1:]
	}
	if i := strings.IndexByte(r, ':'); i == 12 && isDigits(r[:12]) {
		return r[:12]
	}
	return c.Account
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// falseValue and trueValue are the values of boolean keys; the engine
// never modifies context values.
var (
	falseValue = []string{"false"}
	trueValue  = []string{"true"}
)

// fillContext sets the global condition keys from the caller and the
// request-specific ones from the request.
func fillContext(pc *policy.Context, c *Caller, req *Request, principalTags []iam.Tag) {
	pc.CurrentTime = c.Time
	pc.SourceIP = c.SourceIP
	pc.SecureTransport = policy.TristateOf(c.SecureTransport)
	pc.ResourceAccount = resourceAccount(req, c)
	if c.Type == ServicePrincipal {
		// As AWS sets them for a service principal's own requests: the
		// service's name, and no ARN, account, user ID or principal type.
		pc.Add("aws:PrincipalIsAWSService", trueValue...)
		if c.values[2] == c.Name {
			pc.Add("aws:PrincipalServiceName", c.values[2:3:3]...)
		} else {
			pc.Add("aws:PrincipalServiceName", c.Name)
		}
	} else {
		pc.UserID = c.UserID
		pc.PrincipalARN = c.PrincipalARN
		pc.PrincipalAccount = c.Account
		pc.PrincipalType = c.Type.String()
		if c.Type == User {
			pc.Username = c.Name
		}
		// Present in every signed request, as on AWS.
		pc.Add("aws:PrincipalIsAWSService", falseValue...)
	}
	// No AWS service calls iamd, or the services asking it, on a
	// principal's behalf.
	pc.Add("aws:ViaAWSService", falseValue...)
	if c.Region != "" {
		pc.Add("aws:RequestedRegion", c.values[0:1:1]...)
	}
	if c.UserAgent != "" && c.values[1] == c.UserAgent {
		pc.Add("aws:UserAgent", c.values[1:2:2]...)
	}
	if s := c.Session; s != nil {
		pc.TokenIssueTime = s.IssuedAt
		pc.MultiFactorAuthPresent = policy.TristateOf(s.MFA)
		if s.MFA && !s.MFAAuthTime.IsZero() {
			pc.HasMultiFactorAuthAge = true
			pc.MultiFactorAuthAge = int64(c.Time.Sub(s.MFAAuthTime) / time.Second)
		}
		if s.SourceIdentity != "" {
			pc.Add("aws:SourceIdentity", s.SourceIdentity)
		}
		for k, v := range s.Tags {
			pc.Add("aws:PrincipalTag/"+k, v)
		}
	}
	// Long-term credentials leave aws:MultiFactorAuthPresent absent, as AWS
	// does; BoolIfExists and Null conditions depend on that.
	for _, t := range principalTags {
		if c.Session != nil {
			if _, overridden := c.Session.Tags[t.Key]; overridden {
				continue
			}
		}
		pc.Add("aws:PrincipalTag/"+t.Key, t.Value)
	}
	for _, kv := range req.Context {
		pc.Add(kv.Key, kv.Values...)
	}
	for _, t := range req.ResourceTags {
		pc.Add("aws:ResourceTag/"+t.Key, t.Value)
		pc.Add("iam:ResourceTag/"+t.Key, t.Value)
	}
}

// principalPolicies returns the caller's compiled policies and principal
// tags, from the cache when nothing they depend on changed.
func (a *Authorizer) principalPolicies(c *Caller) *compiledEntry {
	if c.Type == Root || c.Type == ServicePrincipal {
		// Neither has identity-based policies: the engine lets the root
		// user do anything in its own account, and a service principal
		// only what resource-based policies allow.
		return noPolicies
	}
	var (
		version int64
		gen     uint64
		found   bool
	)
	a.view.Read(c.Account, func(av *iam.AccountView) {
		gen = av.PolicyGen()
		switch c.Type {
		case User:
			if u, ok := av.UserByID(c.EntityID); ok {
				version, found = u.Version, true
			}
		case AssumedRole:
			if r, ok := av.RoleByID(c.EntityID); ok {
				version, found = r.Version, true
			}
		case FederatedUser:
			if u, ok := av.UserByID(c.EntityID); ok {
				version, found = u.Version, true
			} else {
				found = c.EntityID == c.Account // root's federation token
			}
		}
	})
	if !found {
		// The principal was deleted after it authenticated: nothing allows.
		return noPolicies
	}
	if s := c.Session; s != nil && (s.Policy != "" || len(s.PolicyARNs) > 0) {
		if e, ok := a.sessions.get(c.AccessKeyID); ok && e.version == version && e.gen == gen {
			return e
		}
		e := a.compile(c)
		e.version, e.gen = version, gen
		if e.err == nil {
			a.sessions.put(c.AccessKeyID, e)
		}
		return e
	}
	if v, ok := a.compiled.Load(c.EntityID); ok {
		e := v.(*compiledEntry)
		if e.version == version && e.gen == gen {
			return e
		}
	}
	e := a.compile(c)
	e.version, e.gen = version, gen
	if e.err == nil {
		a.compiled.Store(c.EntityID, e)
	}
	return e
}

// noPolicies is the entry of callers without identity-based policies.
var noPolicies = func() *compiledEntry {
	c, err := policy.Compile(policy.PolicySet{})
	if err != nil {
		panic(err)
	}
	return &compiledEntry{c: c}
}()

// compile gathers a principal's policies and composes them from the
// shared compiled documents.
func (a *Authorizer) compile(c *Caller) *compiledEntry {
	var (
		set      policy.CompiledSet
		boundary string
		tags     []iam.Tag
		docs     []namedText
		missing  error
	)
	a.view.Read(c.Account, func(av *iam.AccountView) {
		add := func(owner string, inline []iam.InlinePolicy, attached []string) {
			for _, p := range inline {
				docs = append(docs, namedText{owner + " inline policy " + p.Name, p.Document})
			}
			for _, arn := range attached {
				if text, ok := a.managedDocument(av, c.Account, arn); ok {
					docs = append(docs, namedText{arn, text})
				}
			}
		}
		switch c.Type {
		case User, FederatedUser:
			u, ok := av.UserByID(c.EntityID)
			if !ok {
				if c.Type == FederatedUser && c.EntityID == c.Account {
					// The root user's federation token: root may do
					// anything, so the session policy alone limits it.
					docs = append(docs, namedText{"root", allowAllText})
					break
				}
				return
			}
			tags = u.V.Tags
			boundary = u.V.Boundary
			// A federation token's permissions are the intersection of the
			// user's and the session policy (the session layer).
			add("user/"+u.V.Name, u.V.Inline, u.V.Attached)
			for _, gid := range u.V.Groups {
				if g, ok := av.GroupByID(gid); ok {
					add("group/"+g.V.Name, g.V.Inline, g.V.Attached)
				}
			}
		case AssumedRole:
			r, ok := av.RoleByID(c.EntityID)
			if !ok {
				return
			}
			tags = r.V.Tags
			boundary = r.V.Boundary
			add("role/"+r.V.Name, r.V.Inline, r.V.Attached)
		}
		if boundary != "" {
			text, ok := a.managedDocument(av, c.Account, boundary)
			if !ok {
				missing = fmt.Errorf("permissions boundary %s not found", boundary)
				return
			}
			docs = append(docs, namedText{"boundary:" + boundary, text})
		}
		if s := c.Session; s != nil {
			if s.Policy != "" {
				docs = append(docs, namedText{"session:session policy", s.Policy})
			}
			for _, arn := range s.PolicyARNs {
				if text, ok := a.managedDocument(av, c.Account, arn); ok {
					docs = append(docs, namedText{"session:" + arn, text})
				}
			}
		}
	})
	_ = missing // a vanished boundary policy leaves a boundary that allows nothing
	hasSession := c.Session != nil && (c.Session.Policy != "" || len(c.Session.PolicyARNs) > 0)
	for _, d := range docs {
		doc, err := a.compiledDocument(d.text)
		if err != nil {
			// Stored documents were validated when written; one that no
			// longer parses (an engine upgrade) might have held a Deny, so
			// the principal is denied everything rather than granted more.
			doc = emptyDoc
		}
		switch {
		case strings.HasPrefix(d.name, "boundary:"):
			set.Boundary = &policy.NamedCompiled{Name: strings.TrimPrefix(d.name, "boundary:"), Doc: doc}
		case strings.HasPrefix(d.name, "session:"):
			set.Session = append(set.Session, policy.NamedCompiled{Name: strings.TrimPrefix(d.name, "session:"), Doc: doc})
		default:
			set.Identity = append(set.Identity, policy.NamedCompiled{Name: d.name, Doc: doc})
		}
	}
	if boundary != "" && set.Boundary == nil {
		set.Boundary = &policy.NamedCompiled{Name: boundary, Doc: emptyDoc}
	}
	if hasSession && len(set.Session) == 0 {
		set.Session = []policy.NamedCompiled{{Name: "session policy", Doc: emptyDoc}}
	}
	compiled, err := policy.Compose(set)
	return &compiledEntry{c: compiled, set: set, tags: tags, err: err}
}

const allowAllText = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`

// emptyDoc allows nothing: the boundary or session policy of a principal
// whose own has vanished or no longer parses.
var emptyDoc = func() *policy.CompiledDocument {
	doc, err := policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":"*","Resource":"*"}]}`), policy.Identity)
	if err != nil {
		panic(err)
	}
	c, err := policy.CompileDocument(doc)
	if err != nil {
		panic(err)
	}
	return c
}()

type namedText struct{ name, text string }

// managedDocument returns the default version of a managed policy.
func (a *Authorizer) managedDocument(av *iam.AccountView, account, arn string) (string, bool) {
	p, ok := iam.ParsePolicyARN(arn)
	if !ok {
		return "", false
	}
	if p.Account == iam.AWSManagedAccount {
		if a.managed == nil {
			return "", false
		}
		m, ok := a.managed().Get(arn)
		if !ok {
			return "", false
		}
		return m.Document, true
	}
	if p.Account != account {
		return "", false
	}
	e, ok := av.Policy(p.Name)
	if !ok || e.V.Path != p.Path {
		return "", false
	}
	return e.V.DefaultDocument(), true
}

// compiledDocument parses and compiles a stored document once and caches
// the result by its text, for every principal that has it.
func (a *Authorizer) compiledDocument(text string) (*policy.CompiledDocument, error) {
	if c, ok := a.docs.get(text); ok {
		return c, nil
	}
	// Stored documents are read as they were accepted when written: bytes
	// after a document were then.
	doc, err := policy.ParseWithOptions([]byte(text), policy.Identity, policy.ParseOptions{AllowTrailingData: true})
	if err != nil {
		return nil, err
	}
	c, err := policy.CompileDocument(doc)
	if err != nil {
		return nil, err
	}
	a.compiles.Add(1)
	a.docs.put(text, c)
	return c, nil
}

// resourcePolicy parses and compiles a resource-based policy.
func (a *Authorizer) resourcePolicy(text string) (*policy.ResourcePolicy, error) {
	if rp, ok := a.resources.get(text); ok {
		return rp, nil
	}
	doc, err := policy.Parse([]byte(text), policy.Resource)
	if err != nil {
		return nil, err
	}
	rp, err := policy.CompileResource("resource-based policy", doc)
	if err != nil {
		return nil, err
	}
	a.resources.put(text, rp)
	return rp, nil
}

// endpointPolicy parses and compiles a VPC endpoint policy.
func (a *Authorizer) endpointPolicy(text string) (*policy.EndpointPolicy, error) {
	if ep, ok := a.endpoints.get(text); ok {
		return ep, nil
	}
	doc, err := policy.Parse([]byte(text), policy.Resource)
	if err != nil {
		return nil, err
	}
	ep, err := policy.CompileEndpoint("VPC endpoint policy", doc)
	if err != nil {
		return nil, err
	}
	a.endpoints.put(text, ep)
	return ep, nil
}

// rcpKey identifies a principal's policies composed with a request's
// resource control policies: the principal's cache entry (a new one each
// time its policies change) and the compiled RCP documents (one per text
// in rcpDocs). Made of pointers, it costs no allocation to look up.
type rcpKey struct {
	base *compiledEntry
	n    int
	docs [MaxRCPLevels]*policy.CompiledDocument
}

// rcpNames names the RCP levels in explanations.
var rcpNames = func() (n [MaxRCPLevels]string) {
	for i := range n {
		n[i] = "resource control policy, level " + strconv.Itoa(i)
	}
	return n
}()

// compiledWithRCPs returns e's policies composed together with the
// resource control policies texts.
//
// RCPs belong to the resource's account, not to the principal, so they
// cannot join the per-principal cache keyed by the principal alone; nor
// can they be decided apart, since the engine combines them with the other
// layers into one decision and one explanation. So they are compiled with
// the principal's policies on first use and cached under rcpKey, beside
// the per-principal cache: requests without RCPs (the common case) pay
// nothing for them, and requests with RCPs seen before allocate nothing.
// Composing costs references: the documents are compiled once each.
func (a *Authorizer) compiledWithRCPs(e *compiledEntry, texts []string) (*policy.Compiled, error) {
	if len(texts) > MaxRCPLevels {
		return nil, fmt.Errorf("%d levels of resource control policies; at most %d", len(texts), MaxRCPLevels)
	}
	key := rcpKey{base: e, n: len(texts)}
	for i, text := range texts {
		doc, err := a.rcpDocument(text)
		if err != nil {
			return nil, &PolicyError{Field: "ResourceControlPolicies", Level: i, Err: err}
		}
		key.docs[i] = doc
	}
	if c, ok := a.withRCPs.get(key); ok {
		return c, nil
	}
	set := e.set
	set.RCPs = make([][]policy.NamedCompiled, len(texts))
	for i := range texts {
		set.RCPs[i] = []policy.NamedCompiled{{Name: rcpNames[i], Doc: key.docs[i]}}
	}
	c, err := policy.Compose(set)
	if err != nil {
		return nil, err
	}
	a.withRCPs.put(key, c)
	return c, nil
}

// rcpDocument parses and compiles a resource control policy, a document
// shaped like a resource-based policy (Principal "*", conditions on the
// caller).
func (a *Authorizer) rcpDocument(text string) (*policy.CompiledDocument, error) {
	if c, ok := a.rcpDocs.get(text); ok {
		return c, nil
	}
	doc, err := policy.Parse([]byte(text), policy.Resource)
	if err != nil {
		return nil, err
	}
	c, err := policy.CompileDocument(doc)
	if err != nil {
		return nil, err
	}
	a.rcpDocs.put(text, c)
	return c, nil
}
