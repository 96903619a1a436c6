package policy

import "testing"

// TestTrustPolicyMustAllow checks the rule iamd's AssumeRole applies: the
// role's trust policy must allow the caller even in the role's own
// account; identity policies alone never suffice for the role-assumption
// actions, and a missing trust policy allows no one.
func TestTrustPolicyMustAllow(t *testing.T) {
	t.Parallel()
	const role = "arn:aws:iam::111122223333:role/R"
	allowSTS := []string{doc(allowStmt("sts:*", "*"))}
	trust := func(principal string, actions string) string {
		return doc(`{"Effect":"Allow","Principal":` + principal + `,"Action":` + actions + `}`)
	}
	root := Principal{Type: PrincipalRoot, ARN: "arn:aws:iam::111122223333:root", Account: acct}
	other := Principal{Type: PrincipalUser, ARN: "arn:aws:iam::444455556666:user/eve", Account: "444455556666"}
	svc := Principal{Type: PrincipalService, Service: "ec2.amazonaws.com"}
	web := Principal{Type: PrincipalWebIdentity, Federated: "accounts.google.com"}
	noTrust := "because no resource-based policy allows the sts:AssumeRole action"
	runEvalCases(t, []evalCase{
		{name: "identity alone, no trust policy", identity: allowSTS, action: "sts:AssumeRole", resource: role, want: ImplicitDeny, reason: noTrust},
		{name: "identity alone, trust names someone else", identity: allowSTS, resKind: Trust, resPolicy: trust(`{"AWS":"arn:aws:iam::111122223333:user/alice"}`, `"sts:AssumeRole"`), action: "sts:AssumeRole", resource: role, want: ImplicitDeny, reason: noTrust},
		{name: "identity alone, trust for another action", identity: allowSTS, resKind: Trust, resPolicy: trust(`{"AWS":"arn:aws:iam::111122223333:user/bob"}`, `"sts:TagSession"`), action: "sts:AssumeRole", resource: role, want: ImplicitDeny},
		{name: "trust names the account, identity allows", identity: allowSTS, resKind: Trust, resPolicy: trust(`{"AWS":"111122223333"}`, `"sts:AssumeRole"`), action: "sts:AssumeRole", resource: role, want: Allowed},
		{name: "trust names the account, no identity policy", resKind: Trust, resPolicy: trust(`{"AWS":"111122223333"}`, `"sts:AssumeRole"`), action: "sts:AssumeRole", resource: role, want: ImplicitDeny,
			reason: "because no identity-based policy allows the sts:AssumeRole action"},
		{name: "trust names the user, no identity policy", resKind: Trust, resPolicy: trust(`{"AWS":"arn:aws:iam::111122223333:user/bob"}`, `"sts:AssumeRole"`), action: "sts:AssumeRole", resource: role, want: Allowed},
		{name: "trust names the caller's role", principal: &bobSession, resKind: Trust, resPolicy: trust(`{"AWS":"arn:aws:iam::111122223333:role/Dev"}`, `"sts:AssumeRole"`), action: "sts:AssumeRole", resource: role, want: Allowed},
		{name: "trust deny", identity: allowSTS, resKind: Trust, resPolicy: doc(`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}`, `{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRole"}`), action: "sts:AssumeRole", resource: role, want: ExplicitDeny},
		{name: "cross-account needs both", principal: &other, identity: allowSTS, resKind: Trust, resPolicy: trust(`{"AWS":"444455556666"}`, `"sts:AssumeRole"`), resAccount: acct, action: "sts:AssumeRole", resource: role, want: Allowed},
		{name: "cross-account trust alone", principal: &other, resKind: Trust, resPolicy: trust(`{"AWS":"arn:aws:iam::444455556666:user/eve"}`, `"sts:AssumeRole"`), resAccount: acct, action: "sts:AssumeRole", resource: role, want: ImplicitDeny},
		{name: "root without trust policy", principal: &root, action: "sts:AssumeRole", resource: role, want: ImplicitDeny},
		{name: "root named by trust", principal: &root, resKind: Trust, resPolicy: trust(`{"AWS":"arn:aws:iam::111122223333:root"}`, `"sts:AssumeRole"`), action: "sts:AssumeRole", resource: role, want: Allowed},
		{name: "service without trust policy", principal: &svc, action: "sts:AssumeRole", resource: role, want: ImplicitDeny},
		{name: "web identity without trust policy", principal: &web, action: "sts:AssumeRoleWithWebIdentity", resource: role, want: ImplicitDeny},
		{name: "SAML identity alone", identity: allowSTS, action: "sts:AssumeRoleWithSAML", resource: role, want: ImplicitDeny},
		{name: "action any case", identity: allowSTS, action: "STS:assumerole", resource: role, want: ImplicitDeny},
		{name: "TagSession on a role needs trust", identity: allowSTS, resKind: Trust, resPolicy: trust(`{"AWS":"111122223333"}`, `"sts:AssumeRole"`), action: "sts:TagSession", resource: role, want: ImplicitDeny},
		{name: "TagSession on a role allowed by trust", identity: allowSTS, resKind: Trust, resPolicy: trust(`{"AWS":"111122223333"}`, `["sts:AssumeRole","sts:TagSession"]`), action: "sts:TagSession", resource: role, want: Allowed},
		{name: "TagSession without trust policy", identity: allowSTS, action: "sts:TagSession", resource: role, want: ImplicitDeny},
		{name: "SetSourceIdentity needs trust", identity: allowSTS, action: "sts:SetSourceIdentity", resource: role, want: ImplicitDeny},
		{name: "SetContext needs trust", identity: allowSTS, action: "sts:SetContext", resource: role, want: ImplicitDeny},
		{name: "TagSession for GetFederationToken", identity: allowSTS, action: "sts:TagSession", resource: "arn:aws:sts::111122223333:federated-user/fed", want: Allowed},
		{name: "TagSession against a trust policy, any resource", identity: allowSTS, resKind: Trust, resPolicy: trust(`{"AWS":"arn:aws:iam::111122223333:user/alice"}`, `"sts:TagSession"`), action: "sts:TagSession", resource: "*", want: ImplicitDeny},
		{name: "other sts actions unchanged", identity: allowSTS, action: "sts:GetSessionToken", resource: "*", want: Allowed},
	})
}

func TestDecidedByTrustPolicy(t *testing.T) {
	t.Parallel()
	cases := []struct {
		action, resource string
		want             bool
	}{
		{"sts:AssumeRole", "arn:aws:iam::1:role/R", true},
		{"sts:assumerolewithsaml", "*", true},
		{"sts:AssumeRoleWithWebIdentity", "", true},
		{"sts:TagSession", "arn:aws:iam::111122223333:role/path/R", true},
		{"sts:TagSession", "arn:aws:sts::111122223333:federated-user/f", false},
		{"sts:SetSourceIdentity", "arn:aws:iam::111122223333:role/R", true},
		{"sts:GetFederationToken", "*", false},
		{"iam:PassRole", "arn:aws:iam::111122223333:role/R", false},
		{"sts:AssumeRoot", "*", false},
	}
	for _, tc := range cases {
		if got := DecidedByTrustPolicy(tc.action, tc.resource); got != tc.want {
			t.Errorf("DecidedByTrustPolicy(%q, %q) = %v, want %v", tc.action, tc.resource, got, tc.want)
		}
	}
}
