package policy

import (
	"strings"
	"testing"
)

// TestFixedRules checks that the fixed rules decide whatever the policies
// say, in Decide and Explain alike, and that Explain names them.
func TestFixedRules(t *testing.T) {
	t.Parallel()
	allowAll := []string{doc(allowStmt("*", "*"))}
	denyAll := []string{doc(allowStmt("*", "*"), `{"Effect":"Deny","Action":"*","Resource":"*"}`)}
	withCred := func(p Principal, k Credential) *Principal { p.Credential = k; return &p }
	fedToken := withCred(Principal{Type: PrincipalFederatedUser, ARN: "arn:aws:sts::111122223333:federated-user/fed", Account: acct}, CredentialFederationToken)
	sessToken := withCred(bob, CredentialSessionToken)
	mfa := func(c *Context) { c.MultiFactorAuthPresent = True }
	noMFA := func(c *Context) { c.MultiFactorAuthPresent = False }
	trust := doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"sts:AssumeRole"}`)
	const (
		noPermission = "because sts:GetCallerIdentity needs no permission: AWS allows it to every authenticated caller, even with an explicit deny"
		fedLimit     = "because temporary credentials from GetFederationToken cannot call IAM or STS (except GetCallerIdentity)"
		iamLimit     = "because temporary credentials from GetSessionToken cannot call IAM unless the session was created with MFA"
		stsLimit     = "because temporary credentials from GetSessionToken cannot call STS except AssumeRole and GetCallerIdentity"
	)
	cases := []struct {
		evalCase
		layer Layer
	}{
		{evalCase{name: "GetCallerIdentity without policies", action: "sts:GetCallerIdentity", resource: "*", want: Allowed, reason: noPermission}, LayerAlwaysAllowed},
		{evalCase{name: "GetCallerIdentity despite Deny *", identity: denyAll, action: "sts:GetCallerIdentity", resource: "*", want: Allowed, reason: noPermission}, LayerAlwaysAllowed},
		{evalCase{name: "GetCallerIdentity despite an SCP deny", scps: [][]string{denyAll}, action: "sts:GetCallerIdentity", resource: "*", want: Allowed}, LayerAlwaysAllowed},
		{evalCase{name: "GetCallerIdentity any case", identity: denyAll, action: "STS:getCallerIdentity", resource: "*", want: Allowed}, LayerAlwaysAllowed},
		{evalCase{name: "GetCallerIdentity with federation token", principal: fedToken, action: "sts:GetCallerIdentity", resource: "*", want: Allowed}, LayerAlwaysAllowed},
		{evalCase{name: "GetCallerIdentity anonymous", principal: &Principal{Type: PrincipalAnonymous}, action: "sts:GetCallerIdentity", resource: "*", want: ImplicitDeny}, LayerResource},
		{evalCase{name: "federation token iam", principal: fedToken, identity: allowAll, action: "iam:GetUser", resource: "*", want: ImplicitDeny, reason: fedLimit}, LayerCredential},
		{evalCase{name: "federation token iam with MFA", principal: fedToken, identity: allowAll, action: "iam:GetUser", resource: "*", ctx: mfa, want: ImplicitDeny, reason: fedLimit}, LayerCredential},
		{evalCase{name: "federation token sts", principal: fedToken, identity: allowAll, action: "sts:AssumeRole", resource: "arn:aws:iam::111122223333:role/R", want: ImplicitDeny, reason: fedLimit}, LayerCredential},
		{evalCase{name: "federation token other service", principal: fedToken, identity: allowAll, action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: Allowed}, LayerIdentity},
		{evalCase{name: "federation token limit beats explicit deny", principal: fedToken, identity: denyAll, action: "iam:GetUser", resource: "*", want: ImplicitDeny, reason: fedLimit}, LayerCredential},
		{evalCase{name: "session token iam without MFA", principal: sessToken, identity: allowAll, action: "iam:GetUser", resource: "*", ctx: noMFA, want: ImplicitDeny, reason: iamLimit}, LayerCredential},
		{evalCase{name: "session token iam MFA unknown", principal: sessToken, identity: allowAll, action: "iam:GetUser", resource: "*", want: ImplicitDeny, reason: iamLimit}, LayerCredential},
		{evalCase{name: "session token iam with MFA", principal: sessToken, identity: allowAll, action: "iam:GetUser", resource: "*", ctx: mfa, want: Allowed}, LayerIdentity},
		{evalCase{name: "session token AssumeRole", principal: sessToken, identity: allowAll, resKind: Trust, resPolicy: trust, action: "sts:AssumeRole", resource: "arn:aws:iam::111122223333:role/R", want: Allowed}, LayerResource},
		{evalCase{name: "session token other sts", principal: sessToken, identity: allowAll, action: "sts:GetFederationToken", resource: "*", ctx: mfa, want: ImplicitDeny, reason: stsLimit}, LayerCredential},
		{evalCase{name: "session token other service", principal: sessToken, identity: allowAll, action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: Allowed}, LayerIdentity},
		{evalCase{name: "standard credentials iam", identity: allowAll, action: "iam:GetUser", resource: "*", want: Allowed}, LayerIdentity},
	}
	var ec []evalCase
	for _, tc := range cases {
		ec = append(ec, tc.evalCase)
	}
	runEvalCases(t, ec)
	for _, tc := range cases {
		t.Run(tc.name+"/layer", func(t *testing.T) {
			c, r := tc.build(t)
			ex := c.Explain(r)
			if ex.Layer != tc.layer {
				t.Errorf("deciding layer %v, want %v", ex.Layer, tc.layer)
			}
			if tc.layer == LayerCredential || tc.layer == LayerAlwaysAllowed {
				if len(ex.Layers) == 0 {
					t.Errorf("the policy layers are not explained")
				}
				if !strings.Contains(ex.Message(), ex.Reason()) {
					t.Errorf("Message %q lacks the reason", ex.Message())
				}
			}
		})
	}
}

func TestFixedRulesDoNotAllocate(t *testing.T) {
	c := benchPrincipal(t, 3, 13)
	for _, tc := range []struct {
		action string
		cred   Credential
	}{{"sts:GetCallerIdentity", CredentialStandard}, {"iam:GetUser", CredentialFederationToken}, {"iam:GetUser", CredentialSessionToken}} {
		req := benchRequest("*")
		req.Action, req.Principal.Credential = tc.action, tc.cred
		if n := testing.AllocsPerRun(100, func() { c.Decide(req) }); n != 0 {
			t.Errorf("Decide(%s) allocates %v times per run", tc.action, n)
		}
	}
}
