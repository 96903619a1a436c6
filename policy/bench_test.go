package policy

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// benchPrincipal builds the generated principal: ~40 statements
// from groups, a boundary, bucket-style ARNs, conditions on aws:SourceIp
// and aws:MultiFactorAuthPresent and ${aws:username} variables.
func benchPrincipal(tb testing.TB, groups, stmtsPerGroup int) *Compiled {
	tb.Helper()
	var set PolicySet
	actions := []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "iam:GetUser",
		"iam:ChangePassword", "ec2:DescribeInstances", "dynamodb:GetItem", "sqs:SendMessage", "sns:Publish"}
	for g := 0; g < groups; g++ {
		var stmts []string
		for i := 0; i < stmtsPerGroup; i++ {
			n := g*stmtsPerGroup + i
			act := actions[n%len(actions)]
			res := fmt.Sprintf("arn:aws:s3:::bucket-%d/home/${aws:username}/*", n)
			cond := `"Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]},"Bool":{"aws:MultiFactorAuthPresent":"true"}}`
			if i%3 == 0 {
				cond = `"Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`
			}
			acts := fmt.Sprintf("%q,%q", act, actions[(n+1)%len(actions)])
			if i%5 == 0 {
				// some statements use a wildcard action
				acts = fmt.Sprintf("%q", act[:len(act)-2]+"*")
			}
			stmts = append(stmts, fmt.Sprintf(`{"Sid":"S%d","Effect":"Allow","Action":[%s],"Resource":["%s","arn:aws:s3:::bucket-%d"],%s}`,
				n, acts, res, n, cond))
		}
		if g == 0 {
			stmts = append(stmts, `{"Sid":"DenyNoMFA","Effect":"Deny","Action":"s3:DeleteObject","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}`)
		}
		doc := `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
		d, err := Parse([]byte(doc), Identity)
		if err != nil {
			tb.Fatalf("parse group %d: %v", g, err)
		}
		set.Identity = append(set.Identity, NamedDocument{Name: fmt.Sprintf("group/g%d", g), Doc: d})
	}
	b, err := Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","iam:*","ec2:Describe*"],"Resource":"*"},{"Effect":"Deny","Action":"iam:CreateUser","Resource":"*"}]}`), Boundary)
	if err != nil {
		tb.Fatal(err)
	}
	set.Boundary = &NamedDocument{Name: "boundary", Doc: b}
	c, err := Compile(set)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func benchRequest(resource string) *Request {
	ctx := &Context{
		SourceIP:               netip.MustParseAddr("10.1.2.3"),
		MultiFactorAuthPresent: True,
		Username:               "bob",
		CurrentTime:            time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	return &Request{
		Action:    "s3:GetObject",
		Resource:  resource,
		Principal: Principal{Type: PrincipalUser, ARN: "arn:aws:iam::123456789012:user/bob", Account: "123456789012"},
		Context:   ctx,
	}
}

func BenchmarkDecide40(b *testing.B) {
	c := benchPrincipal(b, 4, 10)
	// statement 20 (group 2) allows s3:GetObject on bucket-20
	req := benchRequest("arn:aws:s3:::bucket-20/home/bob/report.csv")
	if got := c.Decide(req); got != Allowed {
		b.Fatalf("decision %v, want Allow", got)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Decide(req)
	}
}

func BenchmarkDecide40Deny(b *testing.B) {
	c := benchPrincipal(b, 4, 10)
	req := benchRequest("arn:aws:s3:::bucket-20/home/alice/report.csv")
	if got := c.Decide(req); got != ImplicitDeny {
		b.Fatalf("decision %v, want ImplicitDeny", got)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Decide(req)
	}
}

func BenchmarkDecide1000(b *testing.B) {
	var stmts []string
	for i := 0; i < 1000; i++ {
		svc := fmt.Sprintf("svc%d", i%50)
		act := fmt.Sprintf("Action%d", i)
		if i%250 == 0 {
			svc, act = "s3", "GetObject"
		}
		stmts = append(stmts, fmt.Sprintf(`{"Effect":"Allow","Action":"%s:%s","Resource":"arn:aws:s3:::bucket-%d/home/${aws:username}/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}`, svc, act, i))
	}
	d, err := Parse([]byte(`{"Version":"2012-10-17","Statement":[`+strings.Join(stmts, ",")+`]}`), Identity)
	if err != nil {
		b.Fatal(err)
	}
	c, err := Compile(PolicySet{Identity: []NamedDocument{{Name: "big", Doc: d}}})
	if err != nil {
		b.Fatal(err)
	}
	req := benchRequest("arn:aws:s3:::bucket-750/home/bob/x")
	if got := c.Decide(req); got != Allowed {
		b.Fatalf("decision %v, want Allow", got)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Decide(req)
	}
}

func BenchmarkExplain40(b *testing.B) {
	c := benchPrincipal(b, 4, 10)
	req := benchRequest("arn:aws:s3:::bucket-20/home/bob/report.csv")
	b.ReportAllocs()
	for b.Loop() {
		c.Explain(req)
	}
}

func BenchmarkParse(b *testing.B) {
	doc := []byte(`{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::b/${aws:username}/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(doc, Identity); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecide40StackRequest builds the Request and its Context on the
// caller's stack for every decision, as a server's handler does: neither
// may escape to the heap.
func BenchmarkDecide40StackRequest(b *testing.B) {
	c := benchPrincipal(b, 4, 10)
	ip := netip.MustParseAddr("10.1.2.3")
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		ctx := Context{SourceIP: ip, MultiFactorAuthPresent: True, Username: "bob", CurrentTime: now}
		r := Request{
			Action:    "s3:GetObject",
			Resource:  "arn:aws:s3:::bucket-20/home/bob/report.csv",
			Principal: Principal{Type: PrincipalUser, ARN: "arn:aws:iam::123456789012:user/bob", Account: "123456789012"},
			Context:   &ctx,
		}
		if c.Decide(&r) != Allowed {
			b.Fatal("not allowed")
		}
	}
}

// BenchmarkDecide1000Docs is BenchmarkDecide1000's statements spread over
// 100 documents of 10, as a principal with many attached policies has
// them: documents about other services or actions are skipped by their
// filters.
func BenchmarkDecide1000Docs(b *testing.B) {
	var set PolicySet
	for d := 0; d < 100; d++ {
		var stmts []string
		for j := 0; j < 10; j++ {
			i := d*10 + j
			svc := fmt.Sprintf("svc%d", i%50)
			act := fmt.Sprintf("Action%d", i)
			if i%250 == 0 {
				svc, act = "s3", "GetObject"
			}
			stmts = append(stmts, fmt.Sprintf(`{"Effect":"Allow","Action":"%s:%s","Resource":"arn:aws:s3:::bucket-%d/home/${aws:username}/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}`, svc, act, i))
		}
		doc, err := Parse([]byte(`{"Version":"2012-10-17","Statement":[`+strings.Join(stmts, ",")+`]}`), Identity)
		if err != nil {
			b.Fatal(err)
		}
		set.Identity = append(set.Identity, NamedDocument{Name: fmt.Sprintf("p%d", d), Doc: doc})
	}
	c, err := Compile(set)
	if err != nil {
		b.Fatal(err)
	}
	req := benchRequest("arn:aws:s3:::bucket-750/home/bob/x")
	if got := c.Decide(req); got != Allowed {
		b.Fatalf("decision %v, want Allow", got)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Decide(req)
	}
}
