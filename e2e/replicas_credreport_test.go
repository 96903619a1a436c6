package e2e

import (
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// TestReplicasCredentialReport: a credential report generated on one
// replica is the one every replica serves, at once.
func TestReplicasCredentialReport(t *testing.T) {
	a, b := twoReplicas(t)
	ctx := context.Background()
	ra, rb := a.rootIAM(), b.rootIAM()
	_, err := ra.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("rita")})
	must(t, err)

	_, err = rb.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	wantCode(t, err, "ReportNotPresent")
	gen, err := ra.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
	must(t, err)
	if gen.State != types.ReportStateTypeStarted {
		t.Errorf("first GenerateCredentialReport on A: %s", gen.State)
	}
	// B sees the report A generated: it is fresh, and B serves it.
	gen, err = rb.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
	must(t, err)
	if gen.State != types.ReportStateTypeComplete {
		t.Errorf("GenerateCredentialReport on B after A: %s, want COMPLETE", gen.State)
	}
	fromA, err := ra.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	must(t, err)
	fromB, err := rb.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	must(t, err)
	if !bytes.Equal(fromA.Content, fromB.Content) || !aws.ToTime(fromA.GeneratedTime).Equal(aws.ToTime(fromB.GeneratedTime)) {
		t.Errorf("replicas serve different reports:\nA %s\nB %s", fromA.Content, fromB.Content)
	}
	if !bytes.Contains(fromB.Content, []byte("\nrita,arn:aws:iam::"+testAccount+":user/rita,")) {
		t.Errorf("report lacks rita:\n%s", fromB.Content)
	}
}
