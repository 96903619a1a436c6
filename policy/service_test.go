package policy

import (
	"strings"
	"testing"
)

// TestServicePrincipal checks an AWS service principal calling on a
// resource: only a resource-based policy naming the service (or "*") can
// allow it, identity policies never apply, and the service keys are
// readable in conditions.
func TestServicePrincipal(t *testing.T) {
	t.Parallel()
	lambda := Principal{Type: PrincipalService, Service: "lambda.amazonaws.com"}
	svcCtx := func(c *Context) {
		c.Set("aws:PrincipalServiceName", "lambda.amazonaws.com")
		c.Set("aws:PrincipalIsAWSService", "true")
		c.Set("aws:SourceAccount", acct)
	}
	grant := func(principal, cond string) string {
		st := `{"Effect":"Allow","Principal":` + principal + `,"Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:111122223333:q"`
		if cond != "" {
			st += `,"Condition":` + cond
		}
		return doc(st + "}")
	}
	const q = "arn:aws:sqs:us-east-1:111122223333:q"
	runEvalCases(t, []evalCase{
		{name: "named", principal: &lambda, resPolicy: grant(`{"Service":"lambda.amazonaws.com"}`, ""), action: "sqs:SendMessage", resource: q, ctx: svcCtx, want: Allowed},
		{name: "named among others", principal: &lambda, resPolicy: grant(`{"Service":["sns.amazonaws.com","lambda.amazonaws.com"]}`, ""), action: "sqs:SendMessage", resource: q, ctx: svcCtx, want: Allowed},
		{name: "another service", principal: &lambda, resPolicy: grant(`{"Service":"sns.amazonaws.com"}`, ""), action: "sqs:SendMessage", resource: q, ctx: svcCtx, want: ImplicitDeny,
			reason: "because no resource-based policy allows the sqs:SendMessage action"},
		{name: "star", principal: &lambda, resPolicy: grant(`"*"`, ""), action: "sqs:SendMessage", resource: q, ctx: svcCtx, want: Allowed},
		{name: "account principal is not the service", principal: &lambda, resPolicy: grant(`{"AWS":"111122223333"}`, ""), action: "sqs:SendMessage", resource: q, ctx: svcCtx, want: ImplicitDeny},
		{name: "identity policies do not apply", principal: &lambda, identity: []string{doc(allowStmt("*", "*"))}, action: "sqs:SendMessage", resource: q, ctx: svcCtx, want: ImplicitDeny},
		{name: "PrincipalIsAWSService condition", principal: &lambda, resPolicy: grant(`"*"`, `{"Bool":{"aws:PrincipalIsAWSService":"true"}}`), action: "sqs:SendMessage", resource: q, ctx: svcCtx, want: Allowed},
		{name: "PrincipalServiceName condition", principal: &lambda, resPolicy: grant(`"*"`, `{"StringEquals":{"aws:PrincipalServiceName":"sns.amazonaws.com"}}`), action: "sqs:SendMessage", resource: q, ctx: svcCtx, want: ImplicitDeny},
		{name: "SourceAccount condition", principal: &lambda, resPolicy: grant(`{"Service":"lambda.amazonaws.com"}`, `{"StringEquals":{"aws:SourceAccount":"111122223333"}}`), action: "sqs:SendMessage", resource: q, ctx: svcCtx, want: Allowed},
		{name: "deny for services", principal: &lambda, resPolicy: doc(`{"Effect":"Allow","Principal":"*","Action":"sqs:*","Resource":"*"}`, `{"Effect":"Deny","Principal":"*","Action":"sqs:*","Resource":"*","Condition":{"Bool":{"aws:PrincipalIsAWSService":"true"}}}`), action: "sqs:SendMessage", resource: q, ctx: svcCtx, want: ExplicitDeny},
	})
	c, r := (&evalCase{principal: &lambda, action: "sqs:SendMessage", resource: q}).build(t)
	if msg := c.Explain(r).Message(); !strings.HasPrefix(msg, "User: lambda.amazonaws.com is not authorized") {
		t.Errorf("Message = %q, want the service named", msg)
	}
}
