package policy

import "testing"

// TestEndpointPolicy checks that a request through a VPC endpoint must also
// be allowed by the endpoint's policy, whoever the caller, and that a deny
// in it wins.
func TestEndpointPolicy(t *testing.T) {
	t.Parallel()
	allowS3 := []string{doc(allowStmt("s3:*", "*"))}
	full := doc(`{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}`)
	bucketOnly := doc(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`)
	bobOnly := doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"*","Resource":"*"}`)
	denyPut := doc(`{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}`, `{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"*"}`)
	root := Principal{Type: PrincipalRoot, ARN: "arn:aws:iam::111122223333:root", Account: acct}
	anon := Principal{Type: PrincipalAnonymous}
	alice := Principal{Type: PrincipalUser, ARN: "arn:aws:iam::111122223333:user/alice", Account: acct}
	public := doc(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`)
	runEvalCases(t, []evalCase{
		{name: "full access", identity: allowS3, endpoint: full, action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: Allowed},
		{name: "resource outside the endpoint policy", identity: allowS3, endpoint: bucketOnly, action: "s3:GetObject", resource: "arn:aws:s3:::other/k", want: ImplicitDeny,
			reason: "because no VPC endpoint policy allows the s3:GetObject action"},
		{name: "action outside the endpoint policy", identity: allowS3, endpoint: bucketOnly, action: "s3:PutObject", resource: "arn:aws:s3:::b/k", want: ImplicitDeny},
		{name: "explicit deny", identity: allowS3, endpoint: denyPut, action: "s3:PutObject", resource: "arn:aws:s3:::b/k", want: ExplicitDeny,
			reason: "with an explicit deny in a VPC endpoint policy"},
		{name: "principal named", identity: allowS3, endpoint: bobOnly, action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: Allowed},
		{name: "principal not named", principal: &alice, identity: allowS3, endpoint: bobOnly, action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: ImplicitDeny},
		{name: "alone grants nothing", endpoint: full, action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: ImplicitDeny,
			reason: "because no identity-based policy allows the s3:GetObject action"},
		{name: "limits the root user", principal: &root, endpoint: bucketOnly, action: "s3:PutObject", resource: "arn:aws:s3:::b/k", want: ImplicitDeny},
		{name: "limits resource-based access", principal: &anon, resPolicy: public, endpoint: bobOnly, action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: ImplicitDeny},
		{name: "anonymous through an open endpoint", principal: &anon, resPolicy: public, endpoint: full, action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: Allowed},
		{name: "no endpoint", identity: allowS3, action: "s3:PutObject", resource: "arn:aws:s3:::b/k", want: Allowed},
	})
}
