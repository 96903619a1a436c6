package policy

import "testing"

// TestRCP checks resource control policies: each level must allow, an
// explicit deny wins, for identity-based and resource-based access alike
// and whoever the caller, on the services RCPs cover, except for
// service-linked roles.
func TestRCP(t *testing.T) {
	t.Parallel()
	full := doc(`{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}`)
	sqsOnly := doc(`{"Effect":"Allow","Principal":"*","Action":"sqs:*","Resource":"*"}`)
	denyS3 := doc(`{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}`, `{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}`)
	denyOutsiders := doc(`{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}`,
		`{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*","Condition":{"StringNotEqualsIfExists":{"aws:PrincipalAccount":"111122223333"},"BoolIfExists":{"aws:PrincipalIsAWSService":"false"}}}`)
	allowS3 := []string{doc(allowStmt("s3:*", "*"))}
	allowAll := []string{doc(allowStmt("*", "*"))}
	bucketPolicy := func(principal string) string {
		return doc(`{"Effect":"Allow","Principal":` + principal + `,"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`)
	}
	root := Principal{Type: PrincipalRoot, ARN: "arn:aws:iam::111122223333:root", Account: acct}
	anon := Principal{Type: PrincipalAnonymous}
	svc := Principal{Type: PrincipalService, Service: "cloudtrail.amazonaws.com"}
	eve := Principal{Type: PrincipalUser, ARN: "arn:aws:iam::444455556666:user/eve", Account: "444455556666"}
	slr := Principal{Type: PrincipalAssumedRole, ARN: "arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForX/s",
		RoleARN: "arn:aws:iam::111122223333:role/aws-service-role/x.amazonaws.com/AWSServiceRoleForX", Account: acct}
	isService := func(c *Context) { c.Set("aws:PrincipalIsAWSService", "true") }
	const obj = "arn:aws:s3:::b/k"
	runEvalCases(t, []evalCase{
		{name: "full access", identity: allowS3, rcps: [][]string{{full}}, action: "s3:GetObject", resource: obj, want: Allowed},
		{name: "level without allow", identity: allowS3, rcps: [][]string{{full}, {sqsOnly}}, action: "s3:GetObject", resource: obj, want: ImplicitDeny,
			reason: "because no resource control policy allows the s3:GetObject action"},
		{name: "explicit deny", identity: allowS3, rcps: [][]string{{denyS3}}, action: "s3:GetObject", resource: obj, want: ExplicitDeny,
			reason: "with an explicit deny in a resource control policy"},
		{name: "alone grants nothing", rcps: [][]string{{full}}, action: "s3:GetObject", resource: obj, want: ImplicitDeny,
			reason: "because no identity-based policy allows the s3:GetObject action"},
		{name: "caps resource-based access", resPolicy: bucketPolicy(`{"AWS":"arn:aws:iam::111122223333:user/bob"}`), rcps: [][]string{{sqsOnly}}, action: "s3:GetObject", resource: obj, want: ImplicitDeny,
			reason: "because no resource control policy allows the s3:GetObject action"},
		{name: "deny beats resource-based access", resPolicy: bucketPolicy(`"*"`), rcps: [][]string{{denyS3}}, action: "s3:GetObject", resource: obj, want: ExplicitDeny},
		{name: "applies to the root user", principal: &root, rcps: [][]string{{sqsOnly}}, action: "s3:GetObject", resource: obj, want: ImplicitDeny},
		{name: "applies to anonymous callers", principal: &anon, resPolicy: bucketPolicy(`"*"`), rcps: [][]string{{denyOutsiders}}, action: "s3:GetObject", resource: obj, want: ExplicitDeny},
		{name: "outsider denied", principal: &eve, identity: allowS3, resPolicy: bucketPolicy(`{"AWS":"444455556666"}`), resAccount: acct, rcps: [][]string{{denyOutsiders}}, action: "s3:GetObject", resource: obj, want: ExplicitDeny},
		{name: "insider allowed", identity: allowS3, rcps: [][]string{{denyOutsiders}}, action: "s3:GetObject", resource: obj,
			ctx: func(c *Context) { c.PrincipalAccount = acct }, want: Allowed},
		{name: "service principal spared by condition", principal: &svc, resPolicy: bucketPolicy(`{"Service":"cloudtrail.amazonaws.com"}`), rcps: [][]string{{denyOutsiders}}, action: "s3:GetObject", resource: obj, ctx: isService, want: Allowed},
		{name: "applies to service principals", principal: &svc, resPolicy: bucketPolicy(`{"Service":"cloudtrail.amazonaws.com"}`), rcps: [][]string{{denyS3}}, action: "s3:GetObject", resource: obj, want: ExplicitDeny},
		{name: "not for services without RCPs", identity: allowAll, rcps: [][]string{{doc(`{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}`)}}, action: "iam:GetUser", resource: "*", want: Allowed},
		{name: "sts is covered", identity: allowAll, rcps: [][]string{{sqsOnly}}, action: "sts:GetSessionToken", resource: "*", want: ImplicitDeny},
		{name: "kms is covered", identity: allowAll, rcps: [][]string{{sqsOnly}}, action: "kms:Decrypt", resource: "arn:aws:kms:us-east-1:111122223333:key/k", want: ImplicitDeny},
		{name: "service-linked role exempt", principal: &slr, identity: allowS3, rcps: [][]string{{denyS3}}, action: "s3:GetObject", resource: obj, want: Allowed},
		{name: "GetCallerIdentity despite a deny", identity: allowAll, rcps: [][]string{{doc(`{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}`)}}, action: "sts:GetCallerIdentity", resource: "*", want: Allowed},
		{name: "scp and rcp deny: scp reported", identity: allowS3, scps: [][]string{{doc(`{"Effect":"Deny","Action":"*","Resource":"*"}`)}}, rcps: [][]string{{denyS3}}, action: "s3:GetObject", resource: obj, want: ExplicitDeny,
			reason: "with an explicit deny in a service control policy"},
	})
}

// TestSCPScope checks that SCPs limit the organization's IAM principals and
// root users only.
func TestSCPScope(t *testing.T) {
	t.Parallel()
	denyAll := doc(`{"Effect":"Deny","Action":"*","Resource":"*"}`)
	svc := Principal{Type: PrincipalService, Service: "cloudtrail.amazonaws.com"}
	slr := Principal{Type: PrincipalAssumedRole, ARN: "arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForX/s",
		RoleARN: "arn:aws:iam::111122223333:role/aws-service-role/x.amazonaws.com/AWSServiceRoleForX", Account: acct}
	root := Principal{Type: PrincipalRoot, ARN: "arn:aws:iam::111122223333:root", Account: acct}
	bucket := doc(`{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:PutObject","Resource":"*"}`)
	runEvalCases(t, []evalCase{
		{name: "user", identity: []string{doc(allowStmt("*", "*"))}, scps: [][]string{{denyAll}}, action: "s3:PutObject", resource: "arn:aws:s3:::b/k", want: ExplicitDeny},
		{name: "root", principal: &root, scps: [][]string{{denyAll}}, action: "s3:PutObject", resource: "arn:aws:s3:::b/k", want: ExplicitDeny},
		{name: "service principal", principal: &svc, resPolicy: bucket, scps: [][]string{{denyAll}}, action: "s3:PutObject", resource: "arn:aws:s3:::b/k", want: Allowed},
		{name: "service-linked role", principal: &slr, identity: []string{doc(allowStmt("*", "*"))}, scps: [][]string{{denyAll}}, action: "s3:PutObject", resource: "arn:aws:s3:::b/k", want: Allowed},
	})
}
