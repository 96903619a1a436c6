package policy_test

import (
	"fmt"

	"github.com/iamd/iamd/policy"
)

// ExampleCompile decides requests as AWS would for a user with an
// identity-based policy and a permissions boundary: default deny, an
// explicit deny beats an allow, and the boundary caps what the policy
// grants.
func ExampleCompile() {
	parse := func(text string, kind policy.Kind) *policy.Document {
		doc, err := policy.Parse([]byte(text), kind)
		if err != nil {
			panic(err)
		}
		return doc
	}
	identity := parse(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["s3:*","iam:GetUser"],"Resource":"*"},
		{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}`, policy.Identity)
	boundary := parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`, policy.Boundary)
	c, err := policy.Compile(policy.PolicySet{
		Identity: []policy.NamedDocument{{Name: "storage-admin", Doc: identity}},
		Boundary: &policy.NamedDocument{Name: "s3-only", Doc: boundary},
	})
	if err != nil {
		panic(err)
	}
	alice := policy.Principal{Type: policy.PrincipalUser, ARN: "arn:aws:iam::111122223333:user/alice", Account: "111122223333"}
	for _, action := range []string{"s3:GetObject", "s3:DeleteObject", "iam:GetUser", "ec2:RunInstances"} {
		req := policy.Request{Action: action, Resource: "*", Principal: alice}
		fmt.Printf("%-16s %s\n", action, c.Decide(&req))
	}
	// Output:
	// s3:GetObject     Allow
	// s3:DeleteObject  ExplicitDeny
	// iam:GetUser      ImplicitDeny
	// ec2:RunInstances ImplicitDeny
}

// ExampleCompiled_Explain explains a denied request in AWS's words.
func ExampleCompiled_Explain() {
	doc, err := policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Sid":"ReadOnly","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}]}`), policy.Identity)
	if err != nil {
		panic(err)
	}
	c, err := policy.Compile(policy.PolicySet{Identity: []policy.NamedDocument{{Name: "photos-read", Doc: doc}}})
	if err != nil {
		panic(err)
	}
	req := policy.Request{
		Action:    "s3:PutObject",
		Resource:  "arn:aws:s3:::photos/cat.jpg",
		Principal: policy.Principal{Type: policy.PrincipalUser, ARN: "arn:aws:iam::111122223333:user/bob", Account: "111122223333"},
	}
	ex := c.Explain(&req)
	fmt.Println(ex.Decision)
	fmt.Println(ex.Message())
	// Output:
	// ImplicitDeny
	// User: arn:aws:iam::111122223333:user/bob is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::photos/cat.jpg because no identity-based policy allows the s3:PutObject action
}

// ExampleCompileResource evaluates a bucket policy for a caller of another
// account: cross-account access needs both the bucket policy and the
// caller's own policies to allow.
func ExampleCompileResource() {
	bucketDoc, err := policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"}]}`), policy.Resource)
	if err != nil {
		panic(err)
	}
	bucket, err := policy.CompileResource("bucket policy", bucketDoc)
	if err != nil {
		panic(err)
	}
	idDoc, err := policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`), policy.Identity)
	if err != nil {
		panic(err)
	}
	caller, err := policy.Compile(policy.PolicySet{Identity: []policy.NamedDocument{{Name: "read", Doc: idDoc}}})
	if err != nil {
		panic(err)
	}
	req := policy.Request{
		Action:          "s3:GetObject",
		Resource:        "arn:aws:s3:::shared/report.csv",
		Principal:       policy.Principal{Type: policy.PrincipalUser, ARN: "arn:aws:iam::444455556666:user/carol", Account: "444455556666"},
		ResourceAccount: "111122223333",
		ResourcePolicy:  bucket,
	}
	fmt.Println("with the bucket policy:", caller.Decide(&req))
	req.ResourcePolicy = nil
	fmt.Println("without it:", caller.Decide(&req))
	// Output:
	// with the bucket policy: Allow
	// without it: ImplicitDeny
}
