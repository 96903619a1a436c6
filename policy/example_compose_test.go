package policy_test

import (
	"fmt"

	"github.com/iamd/iamd/policy"
)

// ExampleCompose compiles a managed policy once and shares it between two
// users: each Compiled holds only a reference and the label its
// explanations use.
func ExampleCompose() {
	doc, err := policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}`), policy.Identity)
	if err != nil {
		panic(err)
	}
	readReports, err := policy.CompileDocument(doc) // once per document, not per user
	if err != nil {
		panic(err)
	}
	for _, user := range []string{"alice", "bob"} {
		c, err := policy.Compose(policy.CompiledSet{
			Identity: []policy.NamedCompiled{{Name: "arn:aws:iam::111122223333:policy/ReadReports", Doc: readReports}},
		})
		if err != nil {
			panic(err)
		}
		req := policy.Request{
			Action:    "s3:GetObject",
			Resource:  "arn:aws:s3:::reports/2026.csv",
			Principal: policy.Principal{Type: policy.PrincipalUser, ARN: "arn:aws:iam::111122223333:user/" + user, Account: "111122223333"},
		}
		fmt.Println(user, c.Decide(&req), c.Explain(&req).Decider().Policy)
	}
	// Output:
	// alice Allow arn:aws:iam::111122223333:policy/ReadReports
	// bob Allow arn:aws:iam::111122223333:policy/ReadReports
}
