package authz

import (
	"context"
	"net/netip"
	"time"

	"github.com/iamd/iamd/policy"
)

// TrustRequest asks whether a principal may assume a role (or tag its
// session, or set its source identity): the role's trust policy is the
// resource-based policy of the request.
type TrustRequest struct {
	// Action is sts:AssumeRole, sts:TagSession, sts:SetSourceIdentity, ...
	Action string
	// RoleARN is the role's ARN (with its path), the request's resource.
	RoleARN string
	// RoleAccount owns the role.
	RoleAccount string
	// TrustPolicy is the role's trust policy document.
	TrustPolicy string
	// Context holds the request's keys: sts:ExternalId, sts:RoleSessionName,
	// sts:SourceIdentity, aws:RequestTag/..., aws:TagKeys, ...
	Context []KV
	// MFA is set when the request carried a valid MFA code (AssumeRole's
	// SerialNumber and TokenCode): aws:MultiFactorAuthPresent is then true
	// and aws:MultiFactorAuthAge 0 whatever the caller's credentials say.
	MFA bool
}

// AuthorizeTrust decides whether caller c may perform a role-assumption
// action. As AWS documents for AssumeRole, the role's trust policy must
// allow the caller; when it names the caller's account rather than the
// caller itself, or when the role is in another account, the caller's
// identity-based policies (within its boundary and session policies) must
// allow too. An explicit deny anywhere wins. It returns nil when allowed,
// or a *Denied in STS's wording.
func (a *Authorizer) AuthorizeTrust(ctx context.Context, c *Caller, tr *TrustRequest) error {
	ok, err := a.decideTrust(c, tr)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	return &Denied{message: "User: " + c.ARN + " is not authorized to perform: " + tr.Action + " on resource: " + tr.RoleARN}
}

func (a *Authorizer) decideTrust(c *Caller, tr *TrustRequest) (bool, error) {
	e := a.principalPolicies(c)
	if e.err != nil {
		return false, e.err
	}
	trust, err := a.trustPolicy(tr.TrustPolicy)
	if err != nil {
		// A stored trust policy that no longer parses trusts no one.
		return false, nil
	}
	pctx := a.ctxs.Get().(*policy.Context)
	defer a.ctxs.Put(pctx)
	pctx.Reset()
	fillContext(pctx, c, &Request{Resource: tr.RoleARN, ResourceAccount: tr.RoleAccount, Context: tr.Context}, e.tags)
	if tr.MFA {
		pctx.MultiFactorAuthPresent = policy.True
		pctx.HasMultiFactorAuthAge, pctx.MultiFactorAuthAge = true, 0
	}
	preq := policy.Request{
		Action:          tr.Action,
		Resource:        tr.RoleARN,
		Principal:       principalOf(c),
		ResourceAccount: tr.RoleAccount,
		ResourcePolicy:  trust,
		Context:         pctx,
	}
	// The engine requires the trust policy to allow the role-assumption
	// actions even in the role's own account (policy.DecidedByTrustPolicy),
	// and the caller's identity policies too when the trust policy names
	// its account rather than the caller, or across accounts: AWS's rule,
	// in one evaluation.
	return e.c.Decide(&preq) == policy.Allowed, nil
}

// FederatedTrustRequest asks whether an identity that is not an IAM
// principal (a web identity or SAML provider, or a service) may assume a
// role.
type FederatedTrustRequest struct {
	// Principal is the requesting identity: Type PrincipalWebIdentity with
	// Federated set to the provider ARN (or a well-known provider name such
	// as accounts.google.com), or PrincipalService with Service set.
	Principal policy.Principal
	// Action is sts:AssumeRoleWithWebIdentity, sts:AssumeRoleWithSAML,
	// sts:TagSession, sts:AssumeRole (services), ...
	Action      string
	RoleARN     string
	RoleAccount string
	TrustPolicy string
	// Context holds the provider's keys (PROVIDER:sub, PROVIDER:aud,
	// saml:sub, ...) and the request's.
	Context  []KV
	Time     time.Time
	SourceIP netip.Addr
	// SecureTransport says whether the request came over TLS.
	SecureTransport bool
}

// TrustAllows evaluates a role's trust policy for a principal that has no
// IAM policies of its own: only the trust policy can allow it.
func (a *Authorizer) TrustAllows(fr *FederatedTrustRequest) bool {
	trust, err := a.trustPolicy(fr.TrustPolicy)
	if err != nil {
		return false
	}
	pctx := a.ctxs.Get().(*policy.Context)
	defer a.ctxs.Put(pctx)
	pctx.Reset()
	pctx.CurrentTime = fr.Time
	pctx.SourceIP = fr.SourceIP
	pctx.SecureTransport = policy.TristateOf(fr.SecureTransport)
	pctx.PrincipalType = fr.Principal.Type.String()
	pctx.ResourceAccount = fr.RoleAccount
	for _, kv := range fr.Context {
		pctx.Add(kv.Key, kv.Values...)
	}
	preq := policy.Request{
		Action:          fr.Action,
		Resource:        fr.RoleARN,
		Principal:       fr.Principal,
		ResourceAccount: fr.RoleAccount,
		ResourcePolicy:  trust,
		Context:         pctx,
	}
	return noPolicies.c.Decide(&preq) == policy.Allowed
}

// trustPolicy parses and compiles a trust policy once per text.
func (a *Authorizer) trustPolicy(text string) (*policy.ResourcePolicy, error) {
	if rp, ok := a.trusts.get(text); ok {
		return rp, nil
	}
	// A stored trust policy is read as it was accepted when written.
	doc, err := policy.ParseWithOptions([]byte(text), policy.Trust, policy.ParseOptions{AllowTrailingData: true})
	if err != nil {
		return nil, err
	}
	rp, err := policy.CompileResource("trust policy", doc)
	if err != nil {
		return nil, err
	}
	a.trusts.put(text, rp)
	return rp, nil
}
