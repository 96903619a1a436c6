package e2e

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// TestReplicasReadYourWrites: a client sent to another replica right after
// a write finds what it wrote, as Terraform needs when it creates a role
// and attaches its policies through a load balancer.
func TestReplicasReadYourWrites(t *testing.T) {
	a, b := twoReplicas(t)
	ctx := context.Background()
	ra, rb := a.rootIAM(), b.rootIAM()
	trust := trustAWS(testAccount, "")
	for i := range 20 {
		role := fmt.Sprintf("ryw-%d", i)
		_, err := ra.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(role), AssumeRolePolicyDocument: aws.String(trust)})
		must(t, err)
		_, err = rb.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String("p"), PolicyDocument: aws.String(allowListUsers)})
		if err != nil {
			t.Fatalf("PutRolePolicy on B right after CreateRole on A: %v", err)
		}
		if _, err := ra.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String("p")}); err != nil {
			t.Fatalf("GetRolePolicy on A right after PutRolePolicy on B: %v", err)
		}
	}
	// What does not exist anywhere is still NoSuchEntity.
	_, err := rb.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("never-created")})
	wantCode(t, err, "NoSuchEntity")
}
