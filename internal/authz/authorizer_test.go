package authz

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/policy"
)

const (
	testAccount = "123456789012"
	fullAccess  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`
	noTLSLess   = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},
		{"Sid":"TLSOnly","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`
	logsPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"Logging","Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::logs/*"}]}`
)

func rootCaller(tls bool) *Caller {
	return &Caller{Account: testAccount, Type: Root, ARN: "arn:aws:iam::" + testAccount + ":root", UserID: testAccount,
		SecureTransport: tls, Time: time.Now()}
}

// TestRequestLayers checks that a request's RCPs and endpoint policy
// take part in the decision, and that the cache of policies compiled with
// RCPs never answers for other RCPs.
func TestRequestLayers(t *testing.T) {
	t.Parallel()
	a := New(iam.NewView(), nil)
	obj := "arn:aws:s3:::photos/cat.jpg"
	tests := []struct {
		name   string
		caller *Caller
		req    Request
		want   policy.Decision
		layer  policy.Layer
	}{
		{"root, no layers", rootCaller(false), Request{Action: "s3:GetObject", Resource: obj, ResourceAccount: testAccount}, policy.Allowed, policy.LayerIdentity},
		{"RCPs allow", rootCaller(true), Request{Action: "s3:GetObject", Resource: obj, ResourceAccount: testAccount,
			ResourceControlPolicies: []string{fullAccess, noTLSLess}}, policy.Allowed, policy.LayerIdentity},
		{"RCP denies", rootCaller(false), Request{Action: "s3:GetObject", Resource: obj, ResourceAccount: testAccount,
			ResourceControlPolicies: []string{fullAccess, noTLSLess}}, policy.ExplicitDeny, policy.LayerRCP},
		{"same RCPs, other order", rootCaller(false), Request{Action: "s3:GetObject", Resource: obj, ResourceAccount: testAccount,
			ResourceControlPolicies: []string{noTLSLess, fullAccess}}, policy.ExplicitDeny, policy.LayerRCP},
		{"fewer RCPs", rootCaller(false), Request{Action: "s3:GetObject", Resource: obj, ResourceAccount: testAccount,
			ResourceControlPolicies: []string{fullAccess}}, policy.Allowed, policy.LayerIdentity},
		{"RCP level without an allow", rootCaller(true), Request{Action: "s3:GetObject", Resource: obj, ResourceAccount: testAccount,
			ResourceControlPolicies: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:*","Resource":"*"}]}`}}, policy.ImplicitDeny, policy.LayerRCP},
		{"RCPs ignored for other services", rootCaller(false), Request{Action: "ec2:RunInstances", Resource: "*",
			ResourceControlPolicies: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}]}`}}, policy.Allowed, policy.LayerIdentity},
		{"endpoint policy does not allow", rootCaller(true), Request{Action: "s3:GetObject", Resource: obj, ResourceAccount: testAccount,
			EndpointPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"*"}]}`}, policy.ImplicitDeny, policy.LayerEndpoint},
		{"service principal named", ServiceCaller("logging.s3.amazonaws.com", time.Now()), Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::logs/a", ResourceAccount: testAccount,
			ResourcePolicy: logsPolicy}, policy.Allowed, policy.LayerResource},
		{"other service principal", ServiceCaller("cloudtrail.amazonaws.com", time.Now()), Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::logs/a", ResourceAccount: testAccount,
			ResourcePolicy: logsPolicy}, policy.ImplicitDeny, policy.LayerResource},
		{"service principal by its keys", ServiceCaller("logging.s3.amazonaws.com", time.Now()), Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::logs/a", ResourceAccount: testAccount,
			ResourcePolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"*",
				"Condition":{"StringEquals":{"aws:PrincipalServiceName":"logging.s3.amazonaws.com"},"Bool":{"aws:PrincipalIsAWSService":"true"},"Null":{"aws:PrincipalArn":"true","aws:PrincipalType":"true"}}}]}`},
			policy.Allowed, policy.LayerResource},
		{"service principal without a resource policy", ServiceCaller("logging.s3.amazonaws.com", time.Now()), Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::logs/a", ResourceAccount: testAccount},
			policy.ImplicitDeny, policy.LayerResource},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for range 2 { // compiled, then cached
				ex, err := a.Explain(tc.caller, &tc.req)
				if err != nil {
					t.Fatal(err)
				}
				if ex.Decision != tc.want || ex.Layer != tc.layer {
					t.Fatalf("decision %s by %s, want %s by %s: %s", ex.Decision, ex.Layer, tc.want, tc.layer, ex.Message())
				}
				err = a.Authorize(context.Background(), tc.caller, &tc.req)
				if (err == nil) != (tc.want == policy.Allowed) {
					t.Fatalf("Authorize: %v, want %s", err, tc.want)
				}
			}
		})
	}
}

func TestRequestPolicyErrors(t *testing.T) {
	t.Parallel()
	a := New(iam.NewView(), nil)
	tests := []struct {
		name  string
		req   Request
		field string
		level int
	}{
		{"resource policy", Request{ResourcePolicy: `{"Statement":[`}, "ResourcePolicy", 0},
		{"RCP", Request{ResourceControlPolicies: []string{fullAccess, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`}}, "ResourceControlPolicies", 1},
		{"endpoint policy", Request{EndpointPolicy: `[]`}, "EndpointPolicy", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Action, tc.req.Resource = "s3:GetObject", "*"
			err := a.Authorize(context.Background(), rootCaller(true), &tc.req)
			var pe *PolicyError
			var ve *policy.ValidationError
			if !errors.As(err, &pe) || pe.Field != tc.field || pe.Level != tc.level || !errors.As(err, &ve) {
				t.Fatalf("err = %#v, want a PolicyError for %s[%d] wrapping a ValidationError", err, tc.field, tc.level)
			}
		})
	}
	many := Request{Action: "s3:GetObject", Resource: "*", ResourceControlPolicies: make([]string, MaxRCPLevels+1)}
	for i := range many.ResourceControlPolicies {
		many.ResourceControlPolicies[i] = fullAccess
	}
	if err := a.Authorize(context.Background(), rootCaller(true), &many); err == nil {
		t.Errorf("%d RCP levels decided", len(many.ResourceControlPolicies))
	}
}
