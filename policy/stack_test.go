package policy

import (
	"net/netip"
	"testing"
)

// TestDecideStackRequestDoesNotAllocate checks that Decide and the
// layers it goes through do not make a caller's Request or Context
// escape: built on the caller's stack, they stay there.
func TestDecideStackRequestDoesNotAllocate(t *testing.T) {
	c := benchPrincipal(t, 4, 10)
	rp, err := CompileResource("bucket", mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/bob"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-20/*"}]}`, Resource))
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddr("10.1.2.3")
	for _, tc := range []struct {
		name     string
		resource string
		rp       *ResourcePolicy
		want     Decision
	}{
		{"allowed", "arn:aws:s3:::bucket-20/home/bob/report.csv", nil, Allowed},
		{"denied", "arn:aws:s3:::bucket-20/home/alice/report.csv", nil, ImplicitDeny},
		{"resource policy", "arn:aws:s3:::bucket-20/home/alice/report.csv", rp, Allowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got Decision
			allocs := testing.AllocsPerRun(100, func() {
				ctx := Context{SourceIP: addr, MultiFactorAuthPresent: True, Username: "bob"}
				r := Request{
					Action:         "s3:GetObject",
					Resource:       tc.resource,
					Principal:      Principal{Type: PrincipalUser, ARN: "arn:aws:iam::123456789012:user/bob", Account: "123456789012"},
					ResourcePolicy: tc.rp,
					Context:        &ctx,
				}
				got = c.Decide(&r)
			})
			if got != tc.want {
				t.Fatalf("decision %v, want %v", got, tc.want)
			}
			if allocs != 0 {
				t.Errorf("Decide with a Request and Context on the stack: %v allocations, want 0", allocs)
			}
		})
	}
}
