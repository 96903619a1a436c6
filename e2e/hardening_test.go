package e2e

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// wantMalformed fails the test unless err is MalformedPolicyDocument with
// HTTP status 400.
func wantMalformed(t *testing.T, err error) {
	t.Helper()
	wantCode(t, err, "MalformedPolicyDocument")
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusBadRequest {
		t.Fatalf("error = %v, want HTTP 400", err)
	}
}

// TestTrailingBytesAfterPolicyDocument: bytes after a valid document are
// rejected wherever a document is taken, and nothing is stored.
func TestTrailingBytesAfterPolicyDocument(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	const identity = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}}`
	trust := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + testAccount + `:root"},"Action":"sts:AssumeRole"}}`

	t.Run("CreatePolicy", func(t *testing.T) {
		_, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("trailing"), PolicyDocument: aws.String(identity + "xyz")})
		wantMalformed(t, err)
		_, err = c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String("arn:aws:iam::" + testAccount + ":policy/trailing")})
		wantCode(t, err, "NoSuchEntity")
		// Whitespace after the document is fine.
		_, err = c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("spaced"), PolicyDocument: aws.String(identity + " \n\t\r\n")})
		must(t, err)
	})
	t.Run("CreatePolicyVersion", func(t *testing.T) {
		_, err := c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{
			PolicyArn: aws.String("arn:aws:iam::" + testAccount + ":policy/spaced"), PolicyDocument: aws.String(identity + "}"),
		})
		wantMalformed(t, err)
	})
	t.Run("PutUserPolicy", func(t *testing.T) {
		_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("trailing")})
		must(t, err)
		_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("trailing"), PolicyName: aws.String("p"), PolicyDocument: aws.String(identity + "xyz")})
		wantMalformed(t, err)
		_, err = c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("trailing"), PolicyName: aws.String("p")})
		wantCode(t, err, "NoSuchEntity")
	})
	t.Run("CreateRole", func(t *testing.T) {
		_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("trailing"), AssumeRolePolicyDocument: aws.String(trust + `{"x":1}`)})
		wantMalformed(t, err)
	})
	t.Run("PutRolePolicy and UpdateAssumeRolePolicy", func(t *testing.T) {
		_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("ok"), AssumeRolePolicyDocument: aws.String(trust)})
		must(t, err)
		_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("ok"), PolicyName: aws.String("p"), PolicyDocument: aws.String(identity + "\u00a0")})
		wantMalformed(t, err)
		_, err = c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("ok"), PolicyDocument: aws.String(trust + "xyz")})
		wantMalformed(t, err)
	})
	t.Run("AssumeRole session policy", func(t *testing.T) {
		_, err := e.sts(e.root).AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn: aws.String("arn:aws:iam::" + testAccount + ":role/ok"), RoleSessionName: aws.String("s1"),
			Policy: aws.String(identity + "xyz"),
		})
		wantMalformed(t, err)
	})
}
