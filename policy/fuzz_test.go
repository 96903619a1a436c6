package policy

import (
	"net/netip"
	"testing"
)

func FuzzParse(f *testing.F) {
	seeds := []string{
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`,
		`{"Version":"2012-10-17","Statement":[{"Sid":"a","Effect":"Deny","NotAction":["iam:*"],"NotResource":"arn:aws:s3:::b/${aws:username}/*","Condition":{"ForAnyValue:StringLike":{"aws:TagKeys":["a*"]},"DateLessThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}}]}`,
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:root"]},"Action":"sts:AssumeRole"}}`,
		`{"Statement":{"Effect":"Allow","Action":"s3:List:Bucket","Resource":"a:b:c"}}`,
		`[]`, `{}`, `null`,
	}
	for _, s := range seeds {
		for k := Identity; k <= SCP; k++ {
			f.Add([]byte(s), uint8(k))
		}
	}
	f.Fuzz(func(t *testing.T, doc []byte, kind uint8) {
		d, err := Parse(doc, Kind(kind%6))
		if err != nil {
			return
		}
		// Whatever parses must compile and evaluate.
		c, err := Compile(PolicySet{Identity: []NamedDocument{{Name: "f", Doc: d}}})
		if err != nil {
			t.Fatal(err)
		}
		req := &Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Principal: bob, Context: &Context{Username: "bob"}}
		if c.Decide(req) != c.Explain(req).Decision {
			t.Fatal("Decide and Explain disagree")
		}
	})
}

func FuzzEvaluate(f *testing.F) {
	f.Add(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Get*","Resource":"arn:aws:s3:::b/${aws:username}/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}`,
		"s3:GetObject", "arn:aws:s3:::b/bob/k", "bob", "10.1.2.3", "aws:TagKeys", "a")
	f.Add(`{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":"*:*","NotResource":"arn:*","Condition":{"StringLike":{"aws:TagKeys":"${*}?*"}}}}`,
		"iam:CreateUser", "arn:aws:iam::1:user/x", "", "::1", "aws:tagkeys", "*")
	f.Fuzz(func(t *testing.T, policy, action, resource, user, ip, key, value string) {
		d, err := Parse([]byte(policy), Identity)
		if err != nil {
			return
		}
		c, err := Compile(PolicySet{Identity: []NamedDocument{{Name: "f", Doc: d}}, Boundary: &NamedDocument{Name: "b", Doc: d}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := &Context{Username: user}
		if a, err := netip.ParseAddr(ip); err == nil {
			ctx.SourceIP = a
		}
		ctx.Set(key, value)
		req := &Request{Action: action, Resource: resource, Principal: bob, Context: ctx}
		if c.Decide(req) != c.Explain(req).Decision {
			t.Fatal("Decide and Explain disagree")
		}
		rp, err := CompileResource("r", d)
		if err != nil {
			t.Fatal(err)
		}
		req.ResourcePolicy = rp
		c.Decide(req)
	})
}
