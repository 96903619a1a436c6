package policy

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

var (
	propActions    = []string{"s3:GetObject", "s3:*", "iam:*", "*", "s3:Get*", "iam:GetUser", "ec2:Describe*"}
	propResources  = []string{"*", "arn:aws:s3:::b/*", "arn:aws:s3:::b/${aws:username}/*", "arn:aws:iam::111122223333:user/*", "arn:aws:s3:::c/*"}
	propConditions = []string{"", `{"Bool":{"aws:MultiFactorAuthPresent":"true"}}`, `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`,
		`{"StringNotEquals":{"aws:username":"alice"}}`, `{"ForAnyValue:StringLike":{"aws:TagKeys":"a*"}}`, `{"NumericLessThanIfExists":{"aws:MultiFactorAuthAge":"60"}}`}
	propRequests = []struct{ action, resource string }{
		{"s3:GetObject", "arn:aws:s3:::b/bob/k"}, {"s3:PutObject", "arn:aws:s3:::c/k"}, {"iam:GetUser", "arn:aws:iam::111122223333:user/bob"},
		{"ec2:DescribeInstances", "*"}, {"s3:GetObject", "arn:aws:s3:::b/alice/k"},
	}
)

func randStmt(r *rand.Rand, effect string) string {
	var b strings.Builder
	b.WriteString(`{"Effect":"` + effect + `",`)
	key := "Action"
	if r.IntN(5) == 0 {
		key = "NotAction"
	}
	fmt.Fprintf(&b, `"%s":%q,`, key, propActions[r.IntN(len(propActions))])
	key = "Resource"
	if r.IntN(6) == 0 {
		key = "NotResource"
	}
	fmt.Fprintf(&b, `"%s":%q`, key, propResources[r.IntN(len(propResources))])
	if c := propConditions[r.IntN(len(propConditions))]; c != "" {
		b.WriteString(`,"Condition":` + c)
	}
	b.WriteString("}")
	return b.String()
}

func randDoc(r *rand.Rand, n int, denyShare int) string {
	var stmts []string
	for i := 0; i < n; i++ {
		eff := "Allow"
		if r.IntN(denyShare) == 0 {
			eff = "Deny"
		}
		stmts = append(stmts, randStmt(r, eff))
	}
	return doc(stmts...)
}

func randContext(r *rand.Rand) *Context {
	c := &Context{Username: "bob"}
	if r.IntN(2) == 0 {
		c.MultiFactorAuthPresent = TristateOf(r.IntN(2) == 0)
	}
	if r.IntN(2) == 0 {
		c.SourceIP = netip.AddrFrom4([4]byte{byte(10 * r.IntN(2)), 1, 2, 3})
	}
	if r.IntN(2) == 0 {
		c.Add("aws:TagKeys", "abc", "x")
	}
	return c
}

func decideDocs(t *testing.T, identity []string, boundary string, req *Request) Decision {
	t.Helper()
	var set PolicySet
	for _, s := range identity {
		set.Identity = append(set.Identity, NamedDocument{Name: "p", Doc: mustParse(t, s, Identity)})
	}
	if boundary != "" {
		set.Boundary = &NamedDocument{Name: "b", Doc: mustParse(t, boundary, Boundary)}
	}
	c, err := Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	return c.Decide(req)
}

func TestPropertyDenyNeverGrants(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		base := randDoc(r, 1+r.IntN(5), 3)
		deny := doc(randStmt(r, "Deny"))
		for _, pr := range propRequests {
			req := &Request{Action: pr.action, Resource: pr.resource, Principal: bob, Context: randContext(r)}
			before := decideDocs(t, []string{base}, "", req)
			after := decideDocs(t, []string{base, deny}, "", req)
			if after == Allowed && before != Allowed {
				t.Fatalf("adding a Deny granted access:\nbase %s\ndeny %s\nrequest %+v", base, deny, pr)
			}
			if before == ExplicitDeny && after != ExplicitDeny {
				t.Fatalf("adding a Deny removed an explicit deny")
			}
		}
	}
}

func TestPropertyBoundaryNeverWidens(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 300; i++ {
		base := randDoc(r, 1+r.IntN(5), 4)
		boundary := randDoc(r, 1+r.IntN(3), 4)
		for _, pr := range propRequests {
			req := &Request{Action: pr.action, Resource: pr.resource, Principal: bob, Context: randContext(r)}
			with := decideDocs(t, []string{base}, boundary, req)
			without := decideDocs(t, []string{base}, "", req)
			if with == Allowed && without != Allowed {
				t.Fatalf("boundary widened access:\nbase %s\nboundary %s\nrequest %+v", base, boundary, pr)
			}
		}
	}
}

func TestPropertyAllowNeverBeatsDeny(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 300; i++ {
		allows := randDoc(r, 1+r.IntN(5), 1<<30)
		denies := randDoc(r, 1+r.IntN(3), 1)
		for _, pr := range propRequests {
			req := &Request{Action: pr.action, Resource: pr.resource, Principal: bob, Context: randContext(r)}
			if decideDocs(t, []string{denies}, "", req) != ExplicitDeny {
				continue
			}
			if got := decideDocs(t, []string{allows, denies}, "", req); got != ExplicitDeny {
				t.Fatalf("allow beat explicit deny (%v):\nallows %s\ndenies %s\nrequest %+v", got, allows, denies, pr)
			}
			rp := doc(`{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}`)
			c, _ := Compile(PolicySet{Identity: []NamedDocument{{Name: "d", Doc: mustParse(t, denies, Identity)}}})
			res, _ := CompileResource("r", mustParse(t, rp, Resource))
			req.ResourcePolicy = res
			if got := c.Decide(req); got != ExplicitDeny {
				t.Fatalf("resource allow beat identity deny: %v", got)
			}
		}
	}
}

// TestPropertyExplainAgrees checks that Explain and Decide never disagree.
func TestPropertyExplainAgrees(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 200; i++ {
		var set PolicySet
		set.Identity = []NamedDocument{{Name: "p", Doc: mustParse(t, randDoc(r, 1+r.IntN(6), 3), Identity)}}
		if r.IntN(2) == 0 {
			set.Boundary = &NamedDocument{Name: "b", Doc: mustParse(t, randDoc(r, 2, 5), Boundary)}
		}
		if r.IntN(3) == 0 {
			set.SCPs = [][]NamedDocument{{{Name: "s", Doc: mustParse(t, randDoc(r, 2, 5), SCP)}}}
		}
		c, err := Compile(set)
		if err != nil {
			t.Fatal(err)
		}
		for _, pr := range propRequests {
			req := &Request{Action: pr.action, Resource: pr.resource, Principal: bob, Context: randContext(r)}
			if d, ex := c.Decide(req), c.Explain(req); d != ex.Decision {
				t.Fatalf("Decide %v, Explain %v", d, ex.Decision)
			}
		}
	}
}
