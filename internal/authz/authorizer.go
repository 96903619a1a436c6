// Package authz authorizes requests made to iamd: it gathers a caller's
// policies from the view (inline, attached, group, boundary, session
// policies), compiles them once per change with the policy engine, fills the
// request context from the caller and the request, and decides.
package authz

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/managedpolicies"
	"github.com/iamd/iamd/policy"
)

// Authorizer decides on requests. It is safe for concurrent use.
type Authorizer struct {
	view    *iam.View
	managed func() *managedpolicies.Catalog

	compiled  sync.Map // principal (or session) → *compiledEntry
	docs      *textCache[*policy.Document]
	resources *textCache[*policy.ResourcePolicy]
	trusts    *textCache[*policy.ResourcePolicy]
	ctxs      sync.Pool
}

// New returns an Authorizer reading policies from view.
func New(view *iam.View, managed func() *managedpolicies.Catalog) *Authorizer {
	a := &Authorizer{view: view, managed: managed,
		docs: newTextCache[*policy.Document](8192), resources: newTextCache[*policy.ResourcePolicy](4096),
		trusts: newTextCache[*policy.ResourcePolicy](4096)}
	a.ctxs.New = func() any { return new(policy.Context) }
	return a
}

type compiledEntry struct {
	version int64  // the user's or role's record version
	gen     uint64 // the account's policy generation
	c       *policy.Compiled
	tags    []iam.Tag // principal tags (user or role tags)
	err     error
}

// Authorize returns nil if the caller may make the request, or an
// AccessDenied error in AWS's wording.
func (a *Authorizer) Authorize(ctx context.Context, c *Caller, req *Request) error {
	d, ex, err := a.decide(c, req, false)
	if err != nil {
		return err
	}
	if d == policy.Allowed {
		return nil
	}
	_, ex, _ = a.decide(c, req, true)
	return AccessDenied(ex)
}

// Explain evaluates the request and explains the decision.
func (a *Authorizer) Explain(c *Caller, req *Request) (*policy.Explanation, error) {
	_, ex, err := a.decide(c, req, true)
	return ex, err
}

// AccessDenied is the IAM AccessDenied error for a denied decision: a
// *Denied carrying the explanation, which unwraps to the wire error.
func AccessDenied(ex *policy.Explanation) error {
	return &Denied{Explanation: ex, wire: &awsquery.Error{Code: "AccessDenied", Message: ex.Message(), HTTPStatus: http.StatusForbidden, Sender: true}}
}

// Denied is a refused authorization: the decision behind it, and the AWS
// AccessDenied error the protocol edge answers (errors.As finds it).
type Denied struct {
	Explanation *policy.Explanation
	wire        *awsquery.Error
}

func (d *Denied) Error() string { return d.wire.Error() }

// Unwrap returns the AWS error for the wire.
func (d *Denied) Unwrap() error { return d.wire }

// Explicit reports whether an explicit deny refused the request, which no
// implied permission can override.
func (d *Denied) Explicit() bool { return d.Explanation.Decision == policy.ExplicitDeny }

// ImplicitlyDenied reports whether err is a refusal for want of an allow
// (no explicit deny), which a permission AWS implies may lift.
func ImplicitlyDenied(err error) bool {
	var d *Denied
	return errors.As(err, &d) && !d.Explicit()
}

func (a *Authorizer) decide(c *Caller, req *Request, explain bool) (policy.Decision, *policy.Explanation, error) {
	compiled, tags, err := a.principalPolicies(c)
	if err != nil {
		return policy.ImplicitDeny, nil, err
	}
	pctx := a.ctxs.Get().(*policy.Context)
	defer a.ctxs.Put(pctx)
	pctx.Reset()
	fillContext(pctx, c, req, tags)
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
			return policy.ImplicitDeny, nil, err
		}
		preq.ResourcePolicy = rp
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

// falseValue is the value of the boolean keys that are always false; the
// engine never modifies context values.
var falseValue = []string{"false"}

// fillContext sets the global condition keys from the caller and the
// request-specific ones from the request.
func fillContext(pc *policy.Context, c *Caller, req *Request, principalTags []iam.Tag) {
	pc.CurrentTime = c.Time
	pc.SourceIP = c.SourceIP
	pc.SecureTransport = policy.TristateOf(c.SecureTransport)
	pc.UserID = c.UserID
	pc.PrincipalARN = c.PrincipalARN
	pc.PrincipalAccount = c.Account
	pc.PrincipalType = c.Type.String()
	pc.ResourceAccount = resourceAccount(req, c)
	if c.Type == User {
		pc.Username = c.Name
	}
	// Present in every signed request, as on AWS: iamd's callers are never
	// AWS services, nor calling through one.
	pc.Add("aws:PrincipalIsAWSService", falseValue...)
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
func (a *Authorizer) principalPolicies(c *Caller) (*policy.Compiled, []iam.Tag, error) {
	if c.Type == Root {
		return rootPolicies, nil, nil
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
		return noPolicies, nil, nil
	}
	key := c.EntityID
	if s := c.Session; s != nil && (s.Policy != "" || len(s.PolicyARNs) > 0) {
		key = c.AccessKeyID
	}
	if v, ok := a.compiled.Load(key); ok {
		e := v.(*compiledEntry)
		if e.version == version && e.gen == gen {
			return e.c, e.tags, e.err
		}
	}
	e := a.compile(c)
	e.version, e.gen = version, gen
	if e.err == nil {
		a.compiled.Store(key, e)
	}
	return e.c, e.tags, e.err
}

var (
	noPolicies, _   = policy.Compile(policy.PolicySet{})
	rootPolicies, _ = policy.Compile(policy.PolicySet{})
)

// compile gathers and compiles a principal's policies.
func (a *Authorizer) compile(c *Caller) *compiledEntry {
	var (
		set      policy.PolicySet
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
		doc, err := a.parse(d.text)
		if err != nil {
			// Stored documents were validated when written; one that no
			// longer parses (an engine upgrade) grants nothing.
			continue
		}
		switch {
		case strings.HasPrefix(d.name, "boundary:"):
			set.Boundary = &policy.NamedDocument{Name: strings.TrimPrefix(d.name, "boundary:"), Doc: doc}
		case strings.HasPrefix(d.name, "session:"):
			set.Session = append(set.Session, policy.NamedDocument{Name: strings.TrimPrefix(d.name, "session:"), Doc: doc})
		default:
			set.Identity = append(set.Identity, policy.NamedDocument{Name: d.name, Doc: doc})
		}
	}
	if boundary != "" && set.Boundary == nil {
		set.Boundary = &policy.NamedDocument{Name: boundary, Doc: emptyDoc}
	}
	if hasSession && len(set.Session) == 0 {
		set.Session = []policy.NamedDocument{{Name: "session policy", Doc: emptyDoc}}
	}
	compiled, err := policy.Compile(set)
	return &compiledEntry{c: compiled, tags: tags, err: err}
}

const allowAllText = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`

var emptyDoc, _ = policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":"*","Resource":"*"}]}`), policy.Identity)

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

// parse parses a stored document once and caches the result by its text.
func (a *Authorizer) parse(text string) (*policy.Document, error) {
	if doc, ok := a.docs.get(text); ok {
		return doc, nil
	}
	doc, err := policy.Parse([]byte(text), policy.Identity)
	if err != nil {
		return nil, err
	}
	a.docs.put(text, doc)
	return doc, nil
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
