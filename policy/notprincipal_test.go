package policy

import (
	"slices"
	"testing"
)

// TestNotPrincipal checks every principal form against every form of
// NotPrincipal list, with both effects: an Allow never grants to a caller
// the list names in any form; a Deny spares only a caller whose whole
// chain (account, role, session or user) is listed, as AWS documents.
func TestNotPrincipal(t *testing.T) {
	t.Parallel()
	const (
		other   = "999988887777" // the resource's account: every request is cross-account
		user    = `"arn:aws:iam::111122223333:user/bob"`
		root    = `"arn:aws:iam::111122223333:root"`
		role    = `"arn:aws:iam::111122223333:role/Dev"`
		session = `"arn:aws:sts::111122223333:assumed-role/Dev/s1"`
		fedUser = `"arn:aws:sts::111122223333:federated-user/fed"`
	)
	lists := []struct{ name, json string }{
		{"account id", `{"AWS":"111122223333"}`},
		{"root arn", `{"AWS":` + root + `}`},
		{"user", `{"AWS":` + user + `}`},
		{"role", `{"AWS":` + role + `}`},
		{"session", `{"AWS":` + session + `}`},
		{"federated user", `{"AWS":` + fedUser + `}`},
		{"user+account", `{"AWS":[` + user + `,` + root + `]}`},
		{"session+role+account", `{"AWS":[` + session + `,` + role + `,` + root + `]}`},
		{"session+account", `{"AWS":[` + session + `,` + root + `]}`},
		{"role+account", `{"AWS":[` + role + `,` + root + `]}`},
		{"federated user+account", `{"AWS":[` + fedUser + `,"111122223333"]}`},
		{"service", `{"Service":"lambda.amazonaws.com"}`},
		{"provider", `{"Federated":"accounts.google.com"}`},
		{"star", `"*"`},
		{"aws star", `{"AWS":"*"}`},
		{"someone else", `{"AWS":["arn:aws:iam::444455556666:user/x","444455556666"]}`},
	}
	withAccount := []string{"account id", "root arn", "user+account", "session+role+account", "session+account", "role+account", "federated user+account"}
	star := []string{"star", "aws star"}
	principals := []struct {
		name string
		p    Principal
		// named: lists naming the caller in some form (an Allow must not
		// grant); exempt: lists that spare it from a Deny.
		named, exempt []string
	}{
		{"root", Principal{Type: PrincipalRoot, ARN: "arn:aws:iam::111122223333:root", Account: acct},
			append(withAccount, star...), append(withAccount, star...)},
		{"user", bob,
			append([]string{"user"}, append(withAccount, star...)...), append([]string{"user+account"}, star...)},
		{"role session", bobSession,
			append([]string{"role", "session"}, append(withAccount, star...)...), append([]string{"session+role+account"}, star...)},
		{"federated user", Principal{Type: PrincipalFederatedUser, ARN: "arn:aws:sts::111122223333:federated-user/fed", Account: acct},
			append([]string{"federated user"}, append(withAccount, star...)...), append([]string{"federated user+account"}, star...)},
		{"service", Principal{Type: PrincipalService, Service: "lambda.amazonaws.com"},
			append([]string{"service"}, star...), append([]string{"service"}, star...)},
		{"federated provider", Principal{Type: PrincipalWebIdentity, Federated: "accounts.google.com"},
			append([]string{"provider"}, star...), append([]string{"provider"}, star...)},
		{"anonymous", Principal{Type: PrincipalAnonymous}, star, star},
	}
	identity := []string{doc(allowStmt("s3:*", "*"))}
	var cases []evalCase
	for _, pr := range principals {
		for _, l := range lists {
			allowWant, denyWant := Allowed, ExplicitDeny
			if slices.Contains(pr.named, l.name) {
				allowWant = ImplicitDeny
			}
			if slices.Contains(pr.exempt, l.name) {
				denyWant = Allowed
			}
			cases = append(cases,
				evalCase{
					name: "allow/" + pr.name + "/" + l.name, principal: &pr.p, identity: identity,
					resPolicy: doc(`{"Effect":"Allow","NotPrincipal":` + l.json + `,"Action":"s3:GetObject","Resource":"*"}`),
					action:    "s3:GetObject", resource: "arn:aws:s3:::b/k", resAccount: other, want: allowWant,
				},
				evalCase{
					name: "deny/" + pr.name + "/" + l.name, principal: &pr.p, identity: identity,
					resPolicy: doc(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}`,
						`{"Effect":"Deny","NotPrincipal":`+l.json+`,"Action":"s3:GetObject","Resource":"*"}`),
					action: "s3:GetObject", resource: "arn:aws:s3:::b/k", resAccount: other, want: denyWant,
				})
		}
	}
	runEvalCases(t, cases)
}

// TestNotPrincipalAllowSameAccount is the case: an Allow with
// NotPrincipal naming user/a gives user/a nothing, and everyone else what
// it says, without identity policies in the same account.
func TestNotPrincipalAllowSameAccount(t *testing.T) {
	t.Parallel()
	a := Principal{Type: PrincipalUser, ARN: "arn:aws:iam::123456789012:user/a", Account: "123456789012"}
	b := Principal{Type: PrincipalUser, ARN: "arn:aws:iam::123456789012:user/b", Account: "123456789012"}
	pol := doc(`{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:user/a"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`)
	runEvalCases(t, []evalCase{
		{name: "excluded user", principal: &a, resPolicy: pol, action: "s3:GetObject", resource: "arn:aws:s3:::b/k", resAccount: "123456789012", want: ImplicitDeny},
		{name: "other user", principal: &b, resPolicy: pol, action: "s3:GetObject", resource: "arn:aws:s3:::b/k", resAccount: "123456789012", want: Allowed},
	})
}
