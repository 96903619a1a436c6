package audit

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/authz"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

// callCase is one request as the server records it: what it tells the
// Call, and the response it writes.
type callCase struct {
	name    string
	header  http.Header
	remote  string
	form    url.Values
	json    []byte // a JSON-protocol request's body
	service string
	caller  *authz.Caller
	status  int
	body    string
	// decisions are recorded as the authorizer would (action, resource,
	// allowed).
	decisions []decision
}

func testCallCases() []callCase {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	user := &authz.Caller{Account: "123456789012", Type: authz.User, ARN: "arn:aws:iam::123456789012:user/alice",
		UserID: "AIDAALICE", Name: "alice", EntityID: "AIDAALICE", AccessKeyID: "AKIAALICE"}
	role := &authz.Caller{Account: "123456789012", Type: authz.AssumedRole, ARN: "arn:aws:sts::123456789012:assumed-role/admin/sess",
		PrincipalARN: "arn:aws:iam::123456789012:role/admin", UserID: "AROAADMIN:sess", Name: "admin", EntityID: "AROAADMIN",
		AccessKeyID: "ASIAROLE", Session: &authz.Session{Name: "sess", IssuedAt: t0.Add(-time.Hour), MFA: true, SourceIdentity: "me"}}
	fedRoot := &authz.Caller{Account: "123456789012", Type: authz.FederatedUser, ARN: "arn:aws:sts::123456789012:federated-user/bob",
		UserID: "123456789012:bob", Name: "bob", EntityID: "123456789012", AccessKeyID: "ASIAFED",
		Session: &authz.Session{Name: "bob", IssuedAt: t0}}
	root := &authz.Caller{Account: "123456789012", Type: authz.Root, ARN: "arn:aws:iam::123456789012:root", UserID: "123456789012",
		EntityID: "123456789012", AccessKeyID: "AKIAROOT"}
	fedUser := &authz.Caller{Account: "123456789012", Type: authz.FederatedUser, ARN: "arn:aws:sts::123456789012:federated-user/carol",
		UserID: "123456789012:carol", Name: "carol", EntityID: "AIDAALICE", AccessKeyID: "ASIAFEDU",
		Session: &authz.Session{Name: "carol", IssuedAt: t0.Add(-time.Minute)}}
	userSession := &authz.Caller{Account: "123456789012", Type: authz.User, ARN: "arn:aws:iam::123456789012:user/alice",
		UserID: "AIDAALICE", Name: "alice", EntityID: "AIDAALICE", AccessKeyID: "ASIAUSER",
		Session: &authz.Session{Name: "alice", IssuedAt: t0.Add(-2 * time.Minute), MFA: true}}
	signed := http.Header{"Authorization": {"AWS4-HMAC-SHA256 Credential=AKIAALICE/20250102/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=abc"},
		"User-Agent": {"aws-cli/2.15.0 \"quoted\" é"}}
	return []callCase{
		{name: "signed GetUser", header: signed, remote: "10.0.0.1:5555", service: "iam", caller: user,
			form:   url.Values{"Action": {"GetUser"}, "Version": {"2010-05-08"}, "UserName": {"bob"}},
			status: 200, body: `<GetUserResponse><GetUserResult><User><UserName>bob</UserName></User></GetUserResult></GetUserResponse>`,
			decisions: []decision{{"iam:GetUser", "arn:aws:iam::123456789012:user/bob", "Allow"}}},
		{name: "denied by role session", header: signed, remote: "[2001:db8::1]:443", service: "iam", caller: role,
			form:   url.Values{"Action": {"DeleteRole"}, "Version": {"2010-05-08"}, "RoleName": {"x"}},
			status: 403, body: `<ErrorResponse><Error><Code>AccessDenied</Code><Message>not &lt;allowed&gt;</Message></Error></ErrorResponse>`,
			decisions: []decision{{"iam:DeleteRole", "arn:aws:iam::123456789012:role/x", "Deny"}, {"iam:DeleteRole", "", "Deny"}}},
		{name: "federated root session", header: http.Header{}, remote: "[::ffff:10.1.2.3]:80", service: "sts", caller: fedRoot,
			form:   url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}},
			status: 200, body: `<GetCallerIdentityResponse><GetCallerIdentityResult><Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`},
		{name: "federated user session", remote: "127.0.0.1:1", service: "sts", caller: fedUser,
			form: url.Values{"Action": {"GetCallerIdentity"}}, status: 200, body: `<R></R>`},
		{name: "user session", remote: "127.0.0.1:1", service: "iam", caller: userSession,
			form: url.Values{"Action": {"ListRoles"}}, status: 200, body: `<R></R>`},
		{name: "root creates an access key", remote: "127.0.0.1:1", service: "iam", caller: root,
			form:   url.Values{"Action": {"CreateAccessKey"}, "Version": {"2010-05-08"}, "UserName": {"alice"}},
			status: 200, body: `<CreateAccessKeyResponse><CreateAccessKeyResult><AccessKey><UserName>alice</UserName><AccessKeyId>AKIANEW</AccessKeyId><SecretAccessKey>s3cr3t</SecretAccessKey></AccessKey></CreateAccessKeyResult></CreateAccessKeyResponse>`},
		{name: "create policy with tags", remote: "127.0.0.1:1", service: "iam", caller: user,
			form: url.Values{"Action": {"CreatePolicy"}, "Version": {"2010-05-08"}, "PolicyName": {"p"}, "Path": {"/a/"},
				"PolicyDocument":     {`{"Version":"2012-10-17","Statement":[]}`},
				"Tags.member.10.Key": {"k10"}, "Tags.member.10.Value": {"v10"},
				"Tags.member.2.Key": {"k2"}, "Tags.member.2.Value": {"v\"2\n"},
				"Tags.member.1.Key": {"k1"}, "Tags.member.1.Value": {"v1", "ignored"}},
			status: 200, body: `<CreatePolicyResponse><CreatePolicyResult><Policy><PolicyName>p</PolicyName><Arn>arn:aws:iam::123456789012:policy/p</Arn></Policy></CreatePolicyResult></CreatePolicyResponse>`},
		{name: "nested secrets, maps and odd keys", remote: "127.0.0.1:1", service: "iam", caller: user,
			form: url.Values{"Action": {"TagRole"}, "Version": {"2010-05-08"}, "RoleName": {"r"}, "X-Amz-Date": {"20250102T030405Z"},
				"Attributes.entry.2.key": {"b"}, "Attributes.entry.2.value": {"2"}, "Attributes.entry.1.Key": {"a"}, "Attributes.entry.1.Value": {"1"},
				"Password.member.1": {"p1"}, "Profile.NewPassword": {"p2"}, "Credentials.member.1.SessionToken": {"t"},
				"List.member.x": {"notanindex"}, "lower": {"kept"}, "Empty": {""}, "Unicode": {"\u2028\xff"}},
			status: 200, body: `<TagRoleResponse></TagRoleResponse>`},
		{name: "overlapping keys", remote: "127.0.0.1:1", service: "iam", caller: user,
			form: url.Values{"Action": {"UpdateUser"}, "UserName": {"u"}, "NewUserName": {"v"},
				"Tags": {"lost"}, "Tags.member.1": {"a"}, "Tags.member.01": {"b"}, "Tags.member.+2": {"c"}, "Tags.member.-1": {"d"},
				"A.B": {"leaf"}, "A.B.C": {"deeper"}, "A.member": {"m"}, "Mixed.member.1": {"x"}, "Mixed.entry.2.Key": {"k"},
				"Mixed.entry.2.value": {"v"}, "Deep.member.1.Inner.member.2.Name": {"n"}, "Deep.member.1.SecretAccessKey": {"s"},
				"Ctrl": {"a\x00b\tc"}, "Quote\"Key": {"q"}, "élan": {"x"}, "TOKENCODE": {"t"}, "To\u212aenCode": {"k"}},
			status: 200, body: `<UpdateUserResponse></UpdateUserResponse>`},
		{name: "flat secrets", remote: "127.0.0.1:1", service: "iam", caller: user,
			form: url.Values{"Action": {"ChangePassword"}, "Version": {"2010-05-08"}, "OldPassword": {"a"}, "NewPassword": {"b"},
				"X-Amz-Signature": {"sig"}, "X-Amz-Credential": {"cred"}, "PasswordResetRequired": {"true"}, "MyPrivateKey": {"k"},
				"TEMPSESSIONTOKEN": {"t"}, "SessionTokenExtra": {"kept"}, "ClientSecret": {"c"}, "Ünicode": {"u"}, "Secretaccess\u212aey": {"hidden"}},
			status: 200, body: `<ChangePasswordResponse></ChangePasswordResponse>`},
		{name: "failed signature", remote: "10.0.0.9:1",
			header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 Credential=AKIAKNOWN/20250102/eu-west-1/sts/aws4_request,SignedHeaders=host,Signature=x"}},
			form:   url.Values{"Action": {"GetSessionToken"}, "Version": {"2011-06-15"}, "DurationSeconds": {"900"}, "TokenCode": {"123456"}},
			status: 403, body: `<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>bad</Message></Error></ErrorResponse>`},
		{name: "unknown key", remote: "10.0.0.9:1",
			header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 Credential=AKIAUNKNOWN/20250102/us-east-1/iam/aws4_request"}},
			form:   url.Values{"Action": {"ListUsers"}},
			status: 403, body: `<ErrorResponse><Error><Code>InvalidClientTokenId</Code><Message>no</Message></Error></ErrorResponse>`},
		{name: "web identity", remote: "10.0.0.2:1", service: "sts",
			form: url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"}, "RoleArn": {"arn:aws:iam::210987654321:role/web"},
				"RoleSessionName": {"s"}, "WebIdentityToken": {"eyJ"}},
			status: 200, body: `<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><SubjectFromWebIdentityToken>sub</SubjectFromWebIdentityToken><Audience>aud</Audience><Provider>accounts.example.com</Provider><Credentials><AccessKeyId>ASIAWEB</AccessKeyId><SecretAccessKey>x</SecretAccessKey><SessionToken>y</SessionToken></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>`},
		{name: "saml failed", remote: "10.0.0.2:1", service: "sts",
			form: url.Values{"Action": {"AssumeRoleWithSAML"}, "Version": {"2011-06-15"}, "RoleArn": {"arn:aws:iam::210987654321:role/saml"},
				"PrincipalArn": {"arn:aws:iam::210987654321:saml-provider/idp"}, "SAMLAssertion": {"PHNhbWw+"}},
			status: 400, body: `<ErrorResponse><Error><Code>InvalidIdentityToken</Code><Message>expired</Message></Error></ErrorResponse>`},
		{name: "saml", remote: "10.0.0.2:1", service: "sts",
			form: url.Values{"Action": {"AssumeRoleWithSAML"}, "Version": {"2011-06-15"}, "RoleArn": {"arn:aws:iam::210987654321:role/saml"},
				"PrincipalArn": {"arn:aws:iam::210987654321:saml-provider/idp"}, "SAMLAssertion": {"PHNhbWw+"}},
			status: 200, body: `<AssumeRoleWithSAMLResponse><AssumeRoleWithSAMLResult><Subject>jane</Subject><NameQualifier>nq</NameQualifier><Credentials><SessionToken>y</SessionToken></Credentials></AssumeRoleWithSAMLResult></AssumeRoleWithSAMLResponse>`},
		{name: "json protocol", remote: "10.0.0.3:1", service: "cloudtrail", caller: user,
			json:   []byte(`{"LookupAttributes":[{"AttributeKey":"Username","AttributeValue":"bob"}],"MaxResults":5,"SessionToken":"t"}`),
			status: 400, body: `{"__type":"InvalidLookupAttributesException","message":"bad"}`},
		{name: "no handler output", remote: "10.0.0.4:1", form: url.Values{"Version": {"2010-05-08"}}},
	}
}

// recordCall serves one case through Begin, the setters and Finish.
func recordCall(t *testing.T, l *Log, tc callCase, at time.Time) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header = tc.header
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.RemoteAddr = tc.remote
	c := l.Begin(httptest.NewRecorder(), r, "req-"+strings.ReplaceAll(tc.name, " ", "-"), at)
	defer c.Close()
	c.SetService(tc.service, "")
	if tc.json != nil {
		c.SetJSON("LookupEvents", tc.json)
	}
	if tc.form != nil {
		c.SetForm(tc.form)
	}
	if tc.caller != nil {
		caller := *tc.caller
		c.SetCaller(&caller)
	}
	for _, d := range tc.decisions {
		c.RecordDecision(d.Action, d.Resource, d.Decision == "Allow")
	}
	if tc.status != 0 {
		c.WriteHeader(tc.status)
		_, _ = c.Write([]byte(tc.body))
	}
	if err := c.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
}

var uuidPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`)

// TestCallRecords pins the bytes each kind of request's record holds from
// its meta on (the prefix before it is the chain's), event IDs aside.
func TestCallRecords(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	l, err := Open(Options{Dir: dir, Keys: testKey, Now: func() time.Time { return t0 }, NoSync: true,
		AccountOfKey: func(id string) (string, bool) { return "123456789012", id == "AKIAKNOWN" }})
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range testCallCases() {
		recordCall(t, l, tc, t0.Add(time.Duration(i)*time.Second))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// The golden file holds each record's meta and its event as readers
	// render it: API calls are stored in the compact form.
	var got bytes.Buffer
	for _, line := range lines(t, segmentPath(t, dir)) {
		i := bytes.Index(line, []byte(`"meta":`))
		s, e, ok := eventSpan(bytes.TrimSuffix(line, []byte("\n")))
		if i < 0 || !ok {
			t.Fatalf("record without meta or event: %s", line)
		}
		var rec recordLine
		if err := parseHead(append(slices.Clip(line[:s-len(eventKey)]), '}'), &rec); err != nil {
			t.Fatal(err)
		}
		if line[s] != '[' {
			t.Errorf("record of %s is not in the positional form: %s", rec.Meta.Name, line)
		}
		r := append(slices.Clip(line[i:s]), renderEvent(nil, line[s:e], &rec.Meta)...)
		got.Write(uuidPattern.ReplaceAll(append(r, "}\n"...), []byte("UUID")))
	}
	golden := filepath.Join("testdata", "call_records.golden")
	if *updateGolden {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	g, w := strings.Split(got.String(), "\n"), strings.Split(string(want), "\n")
	if len(g) != len(w) {
		t.Fatalf("%d records, want %d:\n%s", len(g)-1, len(w)-1, got.String())
	}
	for i := range g {
		if g[i] != w[i] {
			t.Errorf("record %d:\n got %s\nwant %s", i+1, g[i], w[i])
		}
	}
}

// benchSignedGetUser opens a log for a benchmark and returns a
// function that begins, on it, the Call of a signed GetUser (the first
// test case), its decision and response written to w.
func benchSignedGetUser(b *testing.B, w http.ResponseWriter) func() *Call {
	b.Helper()
	tc := testCallCases()[0]
	l, err := Open(Options{Dir: b.TempDir(), Keys: testKey, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header, r.RemoteAddr = tc.header, tc.remote
	caller := *tc.caller
	t0 := time.Now()
	return func() *Call {
		c := l.Begin(w, r, "req", t0)
		c.SetService(tc.service, "")
		c.SetForm(tc.form)
		c.SetCaller(&caller)
		c.RecordDecision("iam:GetUser", "arn:aws:iam::123456789012:user/bob", true)
		_, _ = c.Write([]byte(tc.body))
		return c
	}
}

// BenchmarkCall measures the audit trail's work on a request's goroutine
// for a signed GetUser: "event" builds the event only, "record" also
// encodes, writes and indexes it.
func BenchmarkCall(b *testing.B) {
	w := httptest.NewRecorder()
	begin := benchSignedGetUser(b, w)
	b.Run("event", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c := begin()
			c.end()
			c.Event()
			c.Close()
		}
	})
	b.Run("record", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c := begin()
			if err := c.Finish(context.Background()); err != nil {
				b.Fatal(err)
			}
			c.Close()
			w.Body.Reset()
			clear(w.Header())
		}
	})
}

// BenchmarkEncode measures the parts of Record on a request's goroutine
// outside the log's lock: building a signed GetUser's record and
// indexing it.
func BenchmarkEncode(b *testing.B) {
	begin := benchSignedGetUser(b, httptest.NewRecorder())
	c := begin()
	if err := c.Finish(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ev := &c.ev
	b.Run("record", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 2048)
		for b.Loop() {
			m := metaOfEvent(ev)
			buf = appendMeta(buf[:prefixRoom], &m)
			buf = append(buf, eventKey...)
			buf = appendStoredEvent(buf, ev, true, ev.EventTime)
		}
	})
	b.Run("index", func(b *testing.B) {
		b.ReportAllocs()
		m := metaOfEvent(ev)
		x := newIndex("c", 1, "", nil)
		for i := 0; b.Loop(); i++ {
			if i%(1<<16) == 0 {
				x = newIndex("c", 1, "", nil)
			}
			x.appendOne(&m)
		}
	})
}

// BenchmarkIndexAppend indexes events as a server under load does: every
// event's strings are new (each request parses its own), and the resource
// names rotate over 1,000 users.
func BenchmarkIndexAppend(b *testing.B) {
	const n = 1 << 15
	ms := make([]meta, n)
	for i := range ms {
		ms[i] = meta{time: int64(1796694336 + i/20000), account: strings.Clone("111122223333"), name: strings.Clone("GetUser"),
			source: strings.Clone("iam.amazonaws.com"), user: strings.Clone("load-000001"), key: strings.Clone("AKIAZ54VECKFJ3EIDTG3"),
			idBytes: [16]byte{byte(i), byte(i >> 8), 1}, readOnly: true,
			res: []Resource{{Type: strings.Clone("AWS::IAM::User"), Name: fmt.Sprintf("load-%06d", i%1000)}}}
	}
	b.ReportAllocs()
	x := newIndex("c", 1, "", nil)
	for i := 0; b.Loop(); i++ {
		if i%n == 0 {
			x = newIndex("c", 1, "", nil)
		}
		x.appendOne(&ms[i%n])
	}
}
