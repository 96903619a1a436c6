//go:build !race

package authz

import (
	"context"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/iam"
)

// TestAuthorizeAllocationFree checks that an allowed decision allocates
// nothing once its policies are compiled, with and without the request's
// own layers. (The race detector's instrumentation allocates; hence the
// build tag.)
func TestAuthorizeAllocationFree(t *testing.T) {
	a := New(iam.NewView(), nil)
	obj := "arn:aws:s3:::photos/cat.jpg"
	tests := []struct {
		name   string
		caller *Caller
		req    Request
	}{
		{"root", rootCaller(true), Request{Action: "s3:GetObject", Resource: obj, ResourceAccount: testAccount}},
		{"root with RCPs, endpoint and resource policies", rootCaller(true), Request{Action: "s3:GetObject", Resource: obj, ResourceAccount: testAccount,
			ResourceControlPolicies: []string{fullAccess, noTLSLess}, EndpointPolicy: fullAccess,
			ResourcePolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + testAccount + `"},"Action":"s3:*","Resource":"*"}]}`}},
		{"service principal with RCPs", ServiceCaller("logging.s3.amazonaws.com", time.Now()), Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::logs/a", ResourceAccount: testAccount,
			ResourcePolicy: logsPolicy, ResourceControlPolicies: []string{fullAccess}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if err := a.Authorize(ctx, tc.caller, &tc.req); err != nil {
				t.Fatal(err)
			}
			if n := testing.AllocsPerRun(100, func() { _ = a.Authorize(ctx, tc.caller, &tc.req) }); n != 0 {
				t.Errorf("%v allocations per decision", n)
			}
		})
	}
}
