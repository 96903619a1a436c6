package authz

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/policy"
)

// TestManagedPolicyChangeCompilesItOnce checks that principals share the
// compiled documents they have in common: ten users with one managed
// policy compile it once, and a new default version of it is compiled
// once, not once per user, while every user's decision follows it.
func TestManagedPolicyChangeCompilesItOnce(t *testing.T) {
	t.Parallel()
	v := newTestView(t)
	allow := func(action string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"` + action + `","Resource":"*"}]}`
	}
	shared := func(doc string) iam.Policy {
		return iam.Policy{Name: "Shared", Path: "/", ID: "ANPASHARED", DefaultVersion: "v1",
			Versions: []iam.PolicyVersion{{ID: "v1", Document: doc}}, NextVersion: 2}
	}
	arn := "arn:aws:iam::" + testAccount + ":policy/Shared"
	v.put(iam.KindPolicy, "Shared", shared(allow("s3:GetObject")))
	var callers []*Caller
	for i := range 10 {
		name := fmt.Sprintf("user%d", i)
		id := fmt.Sprintf("AIDAUSER%d", i)
		v.put(iam.KindUser, name, iam.User{Name: name, Path: "/", ID: id, Attached: []string{arn}})
		callers = append(callers, &Caller{Account: testAccount, Type: User, ARN: "arn:aws:iam::" + testAccount + ":user/" + name,
			PrincipalARN: "arn:aws:iam::" + testAccount + ":user/" + name, UserID: id, Name: name, EntityID: id, Time: time.Now()})
	}
	a := New(v.View, nil)
	decide := func(action string, want policy.Decision) {
		t.Helper()
		for _, c := range callers {
			ex, err := a.Explain(c, &Request{Action: action, Resource: "arn:aws:s3:::b/k"})
			if err != nil {
				t.Fatal(err)
			}
			if ex.Decision != want {
				t.Fatalf("%s %s: %s, want %s", c.Name, action, ex.Decision, want)
			}
			if want == policy.Allowed && ex.Decider().Policy != arn {
				t.Fatalf("decided by %q, want %q", ex.Decider().Policy, arn)
			}
		}
	}
	decide("s3:GetObject", policy.Allowed)
	if n := a.compiles.Load(); n != 1 {
		t.Fatalf("10 users with one managed policy: %d documents compiled, want 1", n)
	}
	v.put(iam.KindPolicy, "Shared", shared(allow("s3:PutObject")))
	decide("s3:GetObject", policy.ImplicitDeny)
	decide("s3:PutObject", policy.Allowed)
	if n := a.compiles.Load(); n != 2 {
		t.Fatalf("after a new default version: %d documents compiled in all, want 2", n)
	}
	if err := a.Authorize(context.Background(), callers[0], &Request{Action: "s3:PutObject", Resource: "*"}); err != nil {
		t.Fatal(err)
	}
}
