package policy

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

const acct = "111122223333"

var bob = Principal{Type: PrincipalUser, ARN: "arn:aws:iam::111122223333:user/bob", Account: acct}

var bobSession = Principal{Type: PrincipalAssumedRole, ARN: "arn:aws:sts::111122223333:assumed-role/Dev/s1",
	RoleARN: "arn:aws:iam::111122223333:role/Dev", Account: acct}

// allowAll wraps statements into a 2012-10-17 document.
func doc(stmts ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
}

type evalCase struct {
	name       string
	identity   []string
	boundary   string
	session    []string
	scps       [][]string
	rcps       [][]string
	endpoint   string
	resPolicy  string
	resKind    Kind
	action     string
	resource   string
	principal  *Principal
	resAccount string
	ctx        func(*Context)
	want       Decision
	reason     string
}

func mustParse(t testing.TB, s string, k Kind) *Document {
	t.Helper()
	d, err := Parse([]byte(s), k)
	if err != nil {
		t.Fatalf("Parse(%s): %v", s, err)
	}
	return d
}

func (tc *evalCase) build(t testing.TB) (*Compiled, *Request) {
	t.Helper()
	var set PolicySet
	for i, s := range tc.identity {
		set.Identity = append(set.Identity, NamedDocument{Name: "id" + string(rune('0'+i)), Doc: mustParse(t, s, Identity)})
	}
	if tc.boundary != "" {
		set.Boundary = &NamedDocument{Name: "boundary", Doc: mustParse(t, tc.boundary, Boundary)}
	}
	for _, s := range tc.session {
		set.Session = append(set.Session, NamedDocument{Name: "session", Doc: mustParse(t, s, Session)})
	}
	for _, level := range tc.scps {
		var l []NamedDocument
		for _, s := range level {
			l = append(l, NamedDocument{Name: "scp", Doc: mustParse(t, s, SCP)})
		}
		set.SCPs = append(set.SCPs, l)
	}
	for _, level := range tc.rcps {
		var l []NamedDocument
		for _, s := range level {
			l = append(l, NamedDocument{Name: "rcp", Doc: mustParse(t, s, Resource)})
		}
		set.RCPs = append(set.RCPs, l)
	}
	c, err := Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	r := &Request{Action: tc.action, Resource: tc.resource, Principal: bob, ResourceAccount: tc.resAccount, Context: &Context{}}
	if tc.principal != nil {
		r.Principal = *tc.principal
	}
	if tc.resPolicy != "" {
		k := tc.resKind
		if k == Identity {
			k = Resource
		}
		rp, err := CompileResource("resource", mustParse(t, tc.resPolicy, k))
		if err != nil {
			t.Fatal(err)
		}
		r.ResourcePolicy = rp
	}
	if tc.endpoint != "" {
		ep, err := CompileEndpoint("endpoint", mustParse(t, tc.endpoint, Resource))
		if err != nil {
			t.Fatal(err)
		}
		r.EndpointPolicy = ep
	}
	if tc.ctx != nil {
		tc.ctx(r.Context)
	}
	return c, r
}

func runEvalCases(t *testing.T, cases []evalCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, r := tc.build(t)
			if got := c.Decide(r); got != tc.want {
				t.Errorf("Decide = %v, want %v", got, tc.want)
			}
			ex := c.Explain(r)
			if ex.Decision != tc.want {
				t.Errorf("Explain.Decision = %v, want %v (layers %+v)", ex.Decision, tc.want, ex.Layers)
			}
			if tc.reason != "" && ex.Reason() != tc.reason {
				t.Errorf("Reason = %q, want %q", ex.Reason(), tc.reason)
			}
		})
	}
}

func allowStmt(action, resource string) string {
	return `{"Effect":"Allow","Action":"` + action + `","Resource":"` + resource + `"}`
}

func TestMatching(t *testing.T) {
	t.Parallel()
	runEvalCases(t, []evalCase{
		{name: "exact", identity: []string{doc(allowStmt("iam:GetUser", "*"))}, action: "iam:GetUser", resource: "arn:aws:iam::111122223333:user/bob", want: Allowed},
		{name: "action case-insensitive", identity: []string{doc(allowStmt("IAM:getuser", "*"))}, action: "iam:GetUser", want: Allowed},
		{name: "action wildcard", identity: []string{doc(allowStmt("iam:Get*", "*"))}, action: "iam:GetUser", want: Allowed},
		{name: "action question mark", identity: []string{doc(allowStmt("iam:GetUse?", "*"))}, action: "iam:GetUser", want: Allowed},
		{name: "action question mark too short", identity: []string{doc(allowStmt("iam:GetUser?", "*"))}, action: "iam:GetUser", want: ImplicitDeny},
		{name: "action other service", identity: []string{doc(allowStmt("iam:*", "*"))}, action: "s3:GetObject", want: ImplicitDeny,
			reason: "because no identity-based policy allows the s3:GetObject action"},
		{name: "star action", identity: []string{doc(allowStmt("*", "*"))}, action: "s3:GetObject", want: Allowed},
		{name: "service wildcard", identity: []string{doc(allowStmt("*:GetObject", "*"))}, action: "s3:GetObject", want: Allowed},
		{name: "notaction allows others", identity: []string{doc(`{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}`)}, action: "s3:GetObject", want: Allowed},
		{name: "notaction excludes listed", identity: []string{doc(`{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}`)}, action: "iam:CreateUser", want: ImplicitDeny},
		{name: "resource case-sensitive", identity: []string{doc(allowStmt("s3:GetObject", "arn:aws:s3:::Bucket/*"))}, action: "s3:GetObject", resource: "arn:aws:s3:::bucket/a", want: ImplicitDeny},
		{name: "resource wildcard crosses slashes", identity: []string{doc(allowStmt("s3:GetObject", "arn:aws:s3:::bucket/*"))}, action: "s3:GetObject", resource: "arn:aws:s3:::bucket/a/b/c", want: Allowed},
		{name: "resource star does not cross field", identity: []string{doc(allowStmt("ec2:StartInstances", "arn:aws:ec2:*:instance/*"))}, action: "ec2:StartInstances", resource: "arn:aws:ec2:us-east-1:111122223333:instance/i-1", want: ImplicitDeny},
		{name: "resource field wildcards", identity: []string{doc(allowStmt("ec2:StartInstances", "arn:aws:ec2:*:*:instance/*"))}, action: "ec2:StartInstances", resource: "arn:aws:ec2:us-east-1:111122223333:instance/i-1", want: Allowed},
		{name: "resource colon in resource part", identity: []string{doc(allowStmt("logs:PutLogEvents", "arn:aws:logs:us-east-1:111122223333:log-group:g:*"))}, action: "logs:PutLogEvents", resource: "arn:aws:logs:us-east-1:111122223333:log-group:g:log-stream:s", want: Allowed},
		{name: "notresource", identity: []string{doc(`{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::secret/*"}`)}, action: "s3:GetObject", resource: "arn:aws:s3:::public/x", want: Allowed},
		{name: "notresource excluded", identity: []string{doc(`{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::secret/*"}`)}, action: "s3:GetObject", resource: "arn:aws:s3:::secret/x", want: ImplicitDeny},
		{name: "deny wins", identity: []string{doc(allowStmt("s3:*", "*"), `{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}`)}, action: "s3:DeleteObject", resource: "arn:aws:s3:::b/k", want: ExplicitDeny,
			reason: "with an explicit deny in an identity-based policy"},
		{name: "deny in other policy wins", identity: []string{doc(allowStmt("s3:*", "*")), doc(`{"Effect":"Deny","Action":"s3:*","Resource":"*"}`)}, action: "s3:GetObject", want: ExplicitDeny},
		{name: "no policies", action: "s3:GetObject", want: ImplicitDeny},
	})
}

func TestVariables(t *testing.T) {
	t.Parallel()
	withUser := func(c *Context) { c.Username = "bob"; c.Add("aws:PrincipalTag/team", "blue") }
	runEvalCases(t, []evalCase{
		{name: "username in resource", identity: []string{doc(allowStmt("s3:GetObject", "arn:aws:s3:::b/home/${aws:username}/*"))}, action: "s3:GetObject", resource: "arn:aws:s3:::b/home/bob/x", ctx: withUser, want: Allowed},
		{name: "username other user", identity: []string{doc(allowStmt("s3:GetObject", "arn:aws:s3:::b/home/${aws:username}/*"))}, action: "s3:GetObject", resource: "arn:aws:s3:::b/home/alice/x", ctx: withUser, want: ImplicitDeny},
		{name: "variable key case-insensitive", identity: []string{doc(allowStmt("s3:GetObject", "arn:aws:s3:::b/${AWS:UserName}"))}, action: "s3:GetObject", resource: "arn:aws:s3:::b/bob", ctx: withUser, want: Allowed},
		{name: "principal tag", identity: []string{doc(allowStmt("s3:GetObject", "arn:aws:s3:::b/${aws:PrincipalTag/team}/*"))}, action: "s3:GetObject", resource: "arn:aws:s3:::b/blue/x", ctx: withUser, want: Allowed},
		{name: "unresolved matches nothing", identity: []string{doc(allowStmt("s3:GetObject", "arn:aws:s3:::b/${aws:username}*"))}, action: "s3:GetObject", resource: "arn:aws:s3:::b/x", want: ImplicitDeny},
		{name: "default value", identity: []string{doc(allowStmt("s3:GetObject", "arn:aws:s3:::b/${aws:username, 'guest'}/*"))}, action: "s3:GetObject", resource: "arn:aws:s3:::b/guest/x", want: Allowed},
		{name: "default value unused", identity: []string{doc(allowStmt("s3:GetObject", "arn:aws:s3:::b/${aws:username,'guest'}/*"))}, action: "s3:GetObject", resource: "arn:aws:s3:::b/bob/x", ctx: withUser, want: Allowed},
		{name: "literal star", identity: []string{doc(allowStmt("s3:GetObject", "arn:aws:s3:::b/${*}"))}, action: "s3:GetObject", resource: "arn:aws:s3:::b/*", want: Allowed},
		{name: "literal star is not wildcard", identity: []string{doc(allowStmt("s3:GetObject", "arn:aws:s3:::b/${*}"))}, action: "s3:GetObject", resource: "arn:aws:s3:::b/x", want: ImplicitDeny},
		{name: "literal question and dollar", identity: []string{doc(allowStmt("s3:GetObject", "arn:aws:s3:::b/${?}${$}"))}, action: "s3:GetObject", resource: "arn:aws:s3:::b/?$", want: Allowed},
		{name: "old version literal", identity: []string{`{"Version":"2008-10-17","Statement":[` + allowStmt("s3:GetObject", "arn:aws:s3:::b/${aws:username}") + `]}`}, action: "s3:GetObject", resource: "arn:aws:s3:::b/${aws:username}", ctx: withUser, want: Allowed},
		{name: "old version no substitution", identity: []string{`{"Version":"2008-10-17","Statement":[` + allowStmt("s3:GetObject", "arn:aws:s3:::b/${aws:username}") + `]}`}, action: "s3:GetObject", resource: "arn:aws:s3:::b/bob", ctx: withUser, want: ImplicitDeny},
		{name: "no version literal", identity: []string{`{"Statement":[` + allowStmt("s3:GetObject", "arn:aws:s3:::b/${aws:username}") + `]}`}, action: "s3:GetObject", resource: "arn:aws:s3:::b/bob", ctx: withUser, want: ImplicitDeny},
		{name: "variable value is literal", identity: []string{doc(allowStmt("s3:GetObject", "arn:aws:s3:::b/${aws:username}"))}, action: "s3:GetObject", resource: "arn:aws:s3:::b/bobby", ctx: func(c *Context) { c.Username = "bob*" }, want: ImplicitDeny},
		{name: "variable in condition", identity: []string{doc(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}}`)}, action: "s3:ListBucket", ctx: func(c *Context) { withUser(c); c.Add("s3:prefix", "home/bob/docs") }, want: Allowed},
		{name: "unresolved variable in negated condition", identity: []string{doc(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"StringNotEquals":{"s3:prefix":"${aws:username}"}}}`)}, action: "s3:ListBucket", ctx: func(c *Context) { c.Add("s3:prefix", "x") }, want: ImplicitDeny},
		{name: "multivalued key is not a variable", identity: []string{doc(allowStmt("s3:GetObject", "arn:aws:s3:::b/${aws:TagKeys}"))}, action: "s3:GetObject", resource: "arn:aws:s3:::b/a", ctx: func(c *Context) { c.Add("aws:TagKeys", "a", "b") }, want: ImplicitDeny},
	})
}

func condDoc(cond string) []string {
	return []string{doc(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":` + cond + `}`)}
}

func ctxKV(kvs ...string) func(*Context) {
	return func(c *Context) {
		for i := 0; i+1 < len(kvs); i += 2 {
			c.Set(kvs[i], kvs[i+1])
		}
	}
}

func TestConditionOperators(t *testing.T) {
	t.Parallel()
	at := func(ts string) func(*Context) {
		return func(c *Context) { c.CurrentTime, _ = time.Parse(time.RFC3339, ts) }
	}
	ip := func(a string) func(*Context) { return func(c *Context) { c.SourceIP = netip.MustParseAddr(a) } }
	tags := func(vals ...string) func(*Context) { return func(c *Context) { c.Add("aws:TagKeys", vals...) } }
	cases := []struct {
		name string
		cond string
		ctx  func(*Context)
		want bool
	}{
		{"StringEquals", `{"StringEquals":{"aws:PrincipalTag/job":"admin"}}`, ctxKV("aws:PrincipalTag/job", "admin"), true},
		{"StringEquals case-sensitive", `{"StringEquals":{"aws:PrincipalTag/job":"admin"}}`, ctxKV("aws:PrincipalTag/job", "Admin"), false},
		{"StringEquals key case-insensitive", `{"StringEquals":{"AWS:principaltag/JOB":"admin"}}`, ctxKV("aws:PrincipalTag/job", "admin"), true},
		{"StringEquals any of values", `{"StringEquals":{"aws:PrincipalTag/job":["a","admin"]}}`, ctxKV("aws:PrincipalTag/job", "admin"), true},
		{"StringEquals missing key", `{"StringEquals":{"aws:PrincipalTag/job":"admin"}}`, nil, false},
		{"StringEquals star is literal", `{"StringEquals":{"aws:PrincipalTag/job":"*"}}`, ctxKV("aws:PrincipalTag/job", "admin"), false},
		{"StringNotEquals", `{"StringNotEquals":{"aws:PrincipalTag/job":["a","b"]}}`, ctxKV("aws:PrincipalTag/job", "c"), true},
		{"StringNotEquals matched", `{"StringNotEquals":{"aws:PrincipalTag/job":["a","b"]}}`, ctxKV("aws:PrincipalTag/job", "b"), false},
		{"StringNotEquals missing key", `{"StringNotEquals":{"aws:PrincipalTag/job":"a"}}`, nil, true},
		{"StringEqualsIgnoreCase", `{"StringEqualsIgnoreCase":{"aws:PrincipalTag/job":"ADMIN"}}`, ctxKV("aws:PrincipalTag/job", "admin"), true},
		{"StringNotEqualsIgnoreCase", `{"StringNotEqualsIgnoreCase":{"aws:PrincipalTag/job":"ADMIN"}}`, ctxKV("aws:PrincipalTag/job", "admin"), false},
		{"StringLike", `{"StringLike":{"s3:prefix":"home/*"}}`, ctxKV("s3:prefix", "home/bob/x"), true},
		{"StringLike question", `{"StringLike":{"s3:prefix":"a?c"}}`, ctxKV("s3:prefix", "abc"), true},
		{"StringLike no match", `{"StringLike":{"s3:prefix":"home/*"}}`, ctxKV("s3:prefix", "other"), false},
		{"StringNotLike", `{"StringNotLike":{"s3:prefix":"home/*"}}`, ctxKV("s3:prefix", "other"), true},
		{"StringNotLike missing", `{"StringNotLike":{"s3:prefix":"home/*"}}`, nil, true},
		{"StringEqualsIfExists missing", `{"StringEqualsIfExists":{"ec2:InstanceType":"t2.micro"}}`, nil, true},
		{"StringEqualsIfExists present", `{"StringEqualsIfExists":{"ec2:InstanceType":"t2.micro"}}`, ctxKV("ec2:InstanceType", "m5.large"), false},
		{"NumericLessThan", `{"NumericLessThan":{"s3:max-keys":"10"}}`, ctxKV("s3:max-keys", "9"), true},
		{"NumericLessThan equal", `{"NumericLessThan":{"s3:max-keys":"10"}}`, ctxKV("s3:max-keys", "10"), false},
		{"NumericLessThanEquals", `{"NumericLessThanEquals":{"s3:max-keys":"10"}}`, ctxKV("s3:max-keys", "10"), true},
		{"NumericGreaterThan", `{"NumericGreaterThan":{"s3:max-keys":"10"}}`, ctxKV("s3:max-keys", "10.5"), true},
		{"NumericGreaterThanEquals", `{"NumericGreaterThanEquals":{"s3:max-keys":"10"}}`, ctxKV("s3:max-keys", "9"), false},
		{"NumericEquals", `{"NumericEquals":{"s3:max-keys":"10"}}`, ctxKV("s3:max-keys", "10.0"), true},
		{"NumericNotEquals", `{"NumericNotEquals":{"s3:max-keys":["10","20"]}}`, ctxKV("s3:max-keys", "20"), false},
		{"NumericEquals not a number", `{"NumericEquals":{"s3:max-keys":"10"}}`, ctxKV("s3:max-keys", "ten"), false},
		{"NumericLessThan MFA age", `{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}`, func(c *Context) { c.MultiFactorAuthAge, c.HasMultiFactorAuthAge = 100, true }, true},
		{"NumericLessThan MFA age missing", `{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}`, nil, false},
		{"DateGreaterThan", `{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}`, at("2021-06-01T00:00:00Z"), true},
		{"DateLessThan", `{"DateLessThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}`, at("2021-06-01T00:00:00Z"), false},
		{"DateEquals", `{"DateEquals":{"aws:CurrentTime":"2021-06-01T00:00:00Z"}}`, at("2021-06-01T00:00:00Z"), true},
		{"DateNotEquals", `{"DateNotEquals":{"aws:CurrentTime":"2021-06-01T00:00:00Z"}}`, at("2021-06-01T00:00:00Z"), false},
		{"DateLessThanEquals epoch", `{"DateLessThanEquals":{"aws:CurrentTime":"1622505600"}}`, at("2021-06-01T00:00:00Z"), true},
		{"DateGreaterThanEquals date only", `{"DateGreaterThanEquals":{"aws:CurrentTime":"2021-06-01"}}`, at("2021-06-01T00:00:00Z"), true},
		{"DateLessThan with offset", `{"DateLessThan":{"aws:CurrentTime":"2021-06-01T02:00:00+02:00"}}`, at("2021-06-01T00:00:01Z"), false},
		{"DateGreaterThan token issue time", `{"DateGreaterThan":{"aws:TokenIssueTime":"2020-01-01T00:00:00Z"}}`, func(c *Context) { c.TokenIssueTime = time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC) }, true},
		{"DateGreaterThan epoch key", `{"DateGreaterThan":{"aws:EpochTime":"1600000000"}}`, at("2021-06-01T00:00:00Z"), true},
		{"Bool true", `{"Bool":{"aws:MultiFactorAuthPresent":"true"}}`, func(c *Context) { c.MultiFactorAuthPresent = True }, true},
		{"Bool false value", `{"Bool":{"aws:MultiFactorAuthPresent":"true"}}`, func(c *Context) { c.MultiFactorAuthPresent = False }, false},
		{"Bool missing", `{"Bool":{"aws:MultiFactorAuthPresent":"false"}}`, nil, false},
		{"BoolIfExists missing", `{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}`, nil, true},
		{"Bool json boolean", `{"Bool":{"aws:SecureTransport":false}}`, func(c *Context) { c.SecureTransport = False }, true},
		{"Bool case-insensitive value", `{"Bool":{"aws:SecureTransport":"TRUE"}}`, func(c *Context) { c.SecureTransport = True }, true},
		{"Bool string context", `{"Bool":{"aws:ViaAWSService":"true"}}`, ctxKV("aws:ViaAWSService", "true"), true},
		{"BinaryEquals", `{"BinaryEquals":{"aws:Key":"QmluYXJ5VmFsdWU="}}`, ctxKV("aws:Key", "QmluYXJ5VmFsdWU="), true},
		{"BinaryEquals differs", `{"BinaryEquals":{"aws:Key":"QmluYXJ5VmFsdWU="}}`, ctxKV("aws:Key", "QmluYXJ5"), false},
		{"IpAddress v4", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, ip("203.0.113.7"), true},
		{"IpAddress v4 outside", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, ip("203.0.114.7"), false},
		{"IpAddress single", `{"IpAddress":{"aws:SourceIp":"203.0.113.7"}}`, ip("203.0.113.7"), true},
		{"IpAddress v6", `{"IpAddress":{"aws:SourceIp":"2001:DB8:1234:5678::/64"}}`, ip("2001:db8:1234:5678::1"), true},
		{"IpAddress v6 vs v4", `{"IpAddress":{"aws:SourceIp":"2001:DB8:1234:5678::/64"}}`, ip("203.0.113.7"), false},
		{"IpAddress list", `{"IpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24"]}}`, ip("203.0.113.7"), true},
		{"IpAddress missing", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, nil, false},
		{"NotIpAddress", `{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, ip("198.51.100.1"), true},
		{"NotIpAddress inside", `{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, ip("203.0.113.1"), false},
		{"NotIpAddress missing", `{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, nil, true},
		{"IpAddress string context", `{"IpAddress":{"aws:VpcSourceIp":"10.0.0.0/8"}}`, ctxKV("aws:VpcSourceIp", "10.1.1.1"), true},
		{"ArnEquals", `{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:111122223333:topic"}}`, ctxKV("aws:SourceArn", "arn:aws:sns:us-east-1:111122223333:topic"), true},
		{"ArnLike wildcard", `{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:111122223333:*"}}`, ctxKV("aws:SourceArn", "arn:aws:sns:us-east-1:111122223333:topic"), true},
		{"ArnLike field bound", `{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:topic"}}`, ctxKV("aws:SourceArn", "arn:aws:sns:us-east-1:111122223333:topic"), false},
		{"ArnNotLike", `{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/Admin"}}`, ctxKV("aws:PrincipalArn", "arn:aws:iam::111122223333:role/Dev"), true},
		{"ArnNotEquals matched", `{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/Dev"}}`, ctxKV("aws:PrincipalArn", "arn:aws:iam::111122223333:role/Dev"), false},
		{"ArnLike not arn", `{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:*:*"}}`, ctxKV("aws:SourceArn", "topic"), false},
		{"Null true absent", `{"Null":{"aws:TokenIssueTime":"true"}}`, nil, true},
		{"Null true present", `{"Null":{"aws:TokenIssueTime":"true"}}`, func(c *Context) { c.TokenIssueTime = time.Unix(1, 0) }, false},
		{"Null false present", `{"Null":{"aws:TokenIssueTime":"false"}}`, func(c *Context) { c.TokenIssueTime = time.Unix(1, 0) }, true},
		{"Null false absent", `{"Null":{"aws:TokenIssueTime":"false"}}`, nil, false},
		{"ForAllValues subset", `{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}`, tags("a"), true},
		{"ForAllValues not subset", `{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}`, tags("a", "c"), false},
		{"ForAllValues missing is true", `{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}`, nil, true},
		{"ForAllValues empty is true", `{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}`, tags(), true},
		{"ForAnyValue intersect", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["a","b"]}}`, tags("c", "b"), true},
		{"ForAnyValue disjoint", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["a","b"]}}`, tags("c"), false},
		{"ForAnyValue missing is false", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["a","b"]}}`, nil, false},
		{"ForAnyValue IfExists missing", `{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":["a"]}}`, nil, true},
		{"ForAnyValue StringLike", `{"ForAnyValue:StringLike":{"aws:TagKeys":["env*"]}}`, tags("x", "environment"), true},
		{"ForAllValues StringNotEquals", `{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}`, tags("a", "b"), true},
		{"ForAllValues StringNotEquals hit", `{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}`, tags("a", "secret"), false},
		{"ForAnyValue StringNotEquals", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["secret"]}}`, tags("secret", "a"), true},
		{"ForAnyValue StringNotEquals only secret", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["secret"]}}`, tags("secret"), false},
		{"multiple keys and", `{"StringEquals":{"aws:PrincipalTag/a":"1","aws:PrincipalTag/b":"2"}}`, ctxKV("aws:PrincipalTag/a", "1"), false},
		{"multiple operators and", `{"StringEquals":{"aws:PrincipalTag/a":"1"},"Bool":{"aws:SecureTransport":"true"}}`, func(c *Context) { c.Add("aws:PrincipalTag/a", "1"); c.SecureTransport = True }, true},
	}
	var ec []evalCase
	for _, c := range cases {
		want := ImplicitDeny
		if c.want {
			want = Allowed
		}
		ec = append(ec, evalCase{name: c.name, identity: condDoc(c.cond), action: "s3:GetObject", resource: "arn:aws:s3:::b/k", ctx: c.ctx, want: want})
	}
	runEvalCases(t, ec)
}

func TestLayers(t *testing.T) {
	t.Parallel()
	allowS3 := doc(allowStmt("s3:*", "*"))
	allowIAM := doc(allowStmt("iam:*", "*"))
	root := Principal{Type: PrincipalRoot, ARN: "arn:aws:iam::111122223333:root", Account: acct}
	other := Principal{Type: PrincipalUser, ARN: "arn:aws:iam::444455556666:user/eve", Account: "444455556666"}
	anon := Principal{Type: PrincipalAnonymous}
	bucketPolicy := func(principal string) string {
		return doc(`{"Effect":"Allow","Principal":` + principal + `,"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`)
	}
	runEvalCases(t, []evalCase{
		{name: "boundary allows", identity: []string{allowS3}, boundary: allowS3, action: "s3:GetObject", want: Allowed},
		{name: "boundary does not allow", identity: []string{allowS3}, boundary: allowIAM, action: "s3:GetObject", want: ImplicitDeny,
			reason: "because no permissions boundary allows the s3:GetObject action"},
		{name: "boundary alone grants nothing", boundary: allowS3, action: "s3:GetObject", want: ImplicitDeny,
			reason: "because no identity-based policy allows the s3:GetObject action"},
		{name: "boundary deny", identity: []string{allowS3}, boundary: doc(allowStmt("s3:*", "*"), `{"Effect":"Deny","Action":"s3:GetObject","Resource":"*"}`), action: "s3:GetObject", want: ExplicitDeny,
			reason: "with an explicit deny in a permissions boundary"},
		{name: "session allows", identity: []string{allowS3}, session: []string{allowS3}, principal: &bobSession, action: "s3:GetObject", want: Allowed},
		{name: "session does not allow", identity: []string{allowS3}, session: []string{allowIAM}, principal: &bobSession, action: "s3:GetObject", want: ImplicitDeny,
			reason: "because no session policy allows the s3:GetObject action"},
		{name: "session policies union", identity: []string{allowS3}, session: []string{allowIAM, allowS3}, principal: &bobSession, action: "s3:GetObject", want: Allowed},
		{name: "scp allows", identity: []string{allowS3}, scps: [][]string{{doc(allowStmt("*", "*"))}}, action: "s3:GetObject", want: Allowed},
		{name: "scp level missing allow", identity: []string{allowS3}, scps: [][]string{{doc(allowStmt("*", "*"))}, {allowIAM}}, action: "s3:GetObject", want: ImplicitDeny,
			reason: "because no service control policy allows the s3:GetObject action"},
		{name: "scp deny", identity: []string{allowS3}, scps: [][]string{{doc(allowStmt("*", "*"), `{"Effect":"Deny","Action":"s3:*","Resource":"*"}`)}}, action: "s3:GetObject", want: ExplicitDeny,
			reason: "with an explicit deny in a service control policy"},
		{name: "scp alone grants nothing", scps: [][]string{{doc(allowStmt("*", "*"))}}, action: "s3:GetObject", want: ImplicitDeny},
		{name: "root allowed without policies", principal: &root, action: "iam:CreateUser", want: Allowed},
		{name: "root limited by scp", principal: &root, scps: [][]string{{allowIAM}}, action: "s3:GetObject", want: ImplicitDeny},
		{name: "root denied by scp", principal: &root, scps: [][]string{{doc(allowStmt("*", "*"), `{"Effect":"Deny","Action":"iam:*","Resource":"*"}`)}}, action: "iam:CreateUser", want: ExplicitDeny},
		{name: "root ignores identity deny", principal: &root, identity: []string{doc(`{"Effect":"Deny","Action":"*","Resource":"*"}`)}, action: "iam:CreateUser", want: Allowed},
		{name: "root denied by bucket policy", principal: &root, resPolicy: doc(`{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}`), action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: ExplicitDeny},
		{name: "resource policy user arn same account", resPolicy: bucketPolicy(`{"AWS":"arn:aws:iam::111122223333:user/bob"}`), action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: Allowed},
		{name: "resource policy user arn ignores boundary", resPolicy: bucketPolicy(`{"AWS":"arn:aws:iam::111122223333:user/bob"}`), boundary: allowIAM, action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: Allowed},
		{name: "resource policy account needs identity", resPolicy: bucketPolicy(`{"AWS":"arn:aws:iam::111122223333:root"}`), action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: ImplicitDeny,
			reason: "because no identity-based policy allows the s3:GetObject action"},
		{name: "resource policy account id with identity", resPolicy: bucketPolicy(`{"AWS":"111122223333"}`), identity: []string{allowS3}, action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: Allowed},
		{name: "resource policy star", resPolicy: bucketPolicy(`"*"`), action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: Allowed},
		{name: "resource policy other principal", resPolicy: bucketPolicy(`{"AWS":"arn:aws:iam::111122223333:user/alice"}`), action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: ImplicitDeny},
		{name: "resource policy session arn ignores session policy", principal: &bobSession, session: []string{allowIAM}, resPolicy: bucketPolicy(`{"AWS":"arn:aws:sts::111122223333:assumed-role/Dev/s1"}`), action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: Allowed},
		{name: "resource policy role arn without identity", principal: &bobSession, resPolicy: bucketPolicy(`{"AWS":"arn:aws:iam::111122223333:role/Dev"}`), action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: Allowed},
		{name: "resource policy role arn limited by session policy", principal: &bobSession, session: []string{allowIAM}, resPolicy: bucketPolicy(`{"AWS":"arn:aws:iam::111122223333:role/Dev"}`), action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: ImplicitDeny,
			reason: "because no session policy allows the s3:GetObject action"},
		{name: "resource policy role arn limited by boundary", principal: &bobSession, boundary: allowIAM, resPolicy: bucketPolicy(`{"AWS":"arn:aws:iam::111122223333:role/Dev"}`), action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: ImplicitDeny},
		{name: "resource policy deny beats identity allow", identity: []string{allowS3}, resPolicy: doc(`{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"s3:*","Resource":"*"}`), action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: ExplicitDeny,
			reason: "with an explicit deny in a resource-based policy"},
		{name: "identity deny beats resource allow", identity: []string{doc(`{"Effect":"Deny","Action":"s3:*","Resource":"*"}`)}, resPolicy: bucketPolicy(`"*"`), action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: ExplicitDeny},
		{name: "cross account needs both", principal: &other, identity: []string{allowS3}, resPolicy: bucketPolicy(`{"AWS":"444455556666"}`), resAccount: acct, action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: Allowed},
		{name: "cross account without identity", principal: &other, resPolicy: bucketPolicy(`{"AWS":"arn:aws:iam::444455556666:user/eve"}`), resAccount: acct, action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: ImplicitDeny,
			reason: "because no identity-based policy allows the s3:GetObject action"},
		{name: "cross account without resource policy", principal: &other, identity: []string{allowS3}, resAccount: acct, action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: ImplicitDeny,
			reason: "because no resource-based policy allows the s3:GetObject action"},
		{name: "cross account resource policy names other account", principal: &other, identity: []string{allowS3}, resPolicy: bucketPolicy(`{"AWS":"999999999999"}`), resAccount: acct, action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: ImplicitDeny},
		{name: "anonymous public bucket", principal: &anon, resPolicy: bucketPolicy(`"*"`), action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: Allowed},
		{name: "anonymous aws star", principal: &anon, resPolicy: bucketPolicy(`{"AWS":"*"}`), action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: Allowed},
		{name: "anonymous account principal", principal: &anon, resPolicy: bucketPolicy(`{"AWS":"111122223333"}`), action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: ImplicitDeny},
		{name: "notprincipal deny excludes listed", identity: []string{allowS3}, resPolicy: doc(`{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/bob","arn:aws:iam::111122223333:root"]},"Action":"s3:*","Resource":"*"}`), action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: Allowed},
		{name: "notprincipal deny needs account", identity: []string{allowS3}, resPolicy: doc(`{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/bob"]},"Action":"s3:*","Resource":"*"}`), action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: ExplicitDeny},
		{name: "notprincipal deny others", identity: []string{allowS3}, resPolicy: doc(`{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/alice","arn:aws:iam::111122223333:root"]},"Action":"s3:*","Resource":"*"}`), action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: ExplicitDeny},
		{name: "trust policy service", principal: &Principal{Type: PrincipalService, Service: "ec2.amazonaws.com"}, resKind: Trust, resPolicy: doc(`{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}`), action: "sts:AssumeRole", resource: "arn:aws:iam::111122223333:role/R", want: Allowed},
		{name: "trust policy user direct", resKind: Trust, resPolicy: doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"sts:AssumeRole"}`), action: "sts:AssumeRole", resource: "arn:aws:iam::111122223333:role/R", want: Allowed},
		{name: "trust policy account needs identity", resKind: Trust, resPolicy: doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}`), action: "sts:AssumeRole", resource: "arn:aws:iam::111122223333:role/R", want: ImplicitDeny},
		{name: "trust policy external id", resKind: Trust, resPolicy: doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"abc"}}}`), action: "sts:AssumeRole", resource: "arn:aws:iam::111122223333:role/R", ctx: ctxKV("sts:ExternalId", "abc"), want: Allowed},
		{name: "trust policy web identity", principal: &Principal{Type: PrincipalWebIdentity, Federated: "accounts.google.com", Account: acct}, resKind: Trust, resPolicy: doc(`{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity"}`), action: "sts:AssumeRoleWithWebIdentity", resource: "arn:aws:iam::111122223333:role/R", want: Allowed},
	})
}

func TestExplain(t *testing.T) {
	t.Parallel()
	tc := evalCase{
		identity: []string{doc(`{"Sid":"Read","Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"Bool":{"aws:MultiFactorAuthPresent":"true"}}}`)},
		boundary: doc(`{"Sid":"B","Effect":"Allow","Action":"iam:*","Resource":"*"}`),
		action:   "s3:GetObject", resource: "arn:aws:s3:::b/k",
		ctx: func(c *Context) { c.SourceIP = netip.MustParseAddr("10.0.0.1"); c.MultiFactorAuthPresent = True },
	}
	c, r := tc.build(t)
	ex := c.Explain(r)
	if ex.Decision != ImplicitDeny || ex.Layer != LayerBoundary {
		t.Fatalf("decision %v layer %v", ex.Decision, ex.Layer)
	}
	id := ex.LayerResult(LayerIdentity)
	if id == nil || id.Decision != Allowed || id.Decider == nil || id.Decider.Sid != "Read" || id.Decider.Policy != "id0" || id.Decider.Index != 0 {
		t.Fatalf("identity layer = %+v", id)
	}
	if len(id.ContextKeysRead) != 2 || len(id.MissingContextKeys) != 0 {
		t.Errorf("keys read %v missing %v", id.ContextKeysRead, id.MissingContextKeys)
	}
	want := "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::b/k because no permissions boundary allows the s3:GetObject action"
	if got := ex.Message(); got != want {
		t.Errorf("Message = %q\nwant %q", got, want)
	}
	r.Context = &Context{}
	ex = c.Explain(r)
	id = ex.LayerResult(LayerIdentity)
	if id.Decision != ImplicitDeny || len(id.MissingContextKeys) == 0 {
		t.Errorf("identity layer without context = %+v", id)
	}
}

func TestContextSet(t *testing.T) {
	t.Parallel()
	var c Context
	c.Set("aws:SourceIp", "10.1.2.3")
	c.Set("AWS:SecureTransport", "true")
	c.Set("aws:CurrentTime", "2024-01-02T03:04:05Z")
	c.Set("aws:username", "bob")
	c.Set("aws:TagKeys", "a", "b")
	c.Set("aws:tagkeys", "c")
	if !c.SourceIP.IsValid() || c.SecureTransport != True || c.CurrentTime.Year() != 2024 || c.Username != "bob" {
		t.Errorf("typed fields not set: %+v", c)
	}
	if len(c.Values) != 1 || len(c.Values[0].Values) != 3 {
		t.Errorf("Values = %+v", c.Values)
	}
	c.Reset()
	if c.Username != "" || len(c.Values) != 0 || cap(c.Values) == 0 {
		t.Errorf("Reset = %+v", c)
	}
}

func TestDecideDoesNotAllocate(t *testing.T) {
	c := benchPrincipal(t, 3, 13)
	req := benchRequest("arn:aws:s3:::bucket-20/home/bob/report.csv")
	if n := testing.AllocsPerRun(100, func() { c.Decide(req) }); n != 0 {
		t.Errorf("Decide allocates %v times per run", n)
	}
}

func TestWildcard(t *testing.T) {
	t.Parallel()
	cases := []struct {
		s, pat string
		want   bool
	}{
		{"abc", "abc", true}, {"abc", "a*", true}, {"abc", "*c", true}, {"abc", "a?c", true},
		{"abc", "a?", false}, {"", "*", true}, {"", "?", false}, {"aXbXc", "a*b*c", true},
		{"aXbX", "a*b*c", false}, {"héllo", "h?llo", true}, {"abcabc", "*abc", true},
	}
	for _, tc := range cases {
		if got := globMatchString(tc.s, tc.pat); got != tc.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tc.s, tc.pat, got, tc.want)
		}
	}
}
