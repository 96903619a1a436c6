package awsquery

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLoadModel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		service, version, ns string
		op, wrapper          string
	}{
		{ServiceIAM, "2010-05-08", "https://iam.amazonaws.com/doc/2010-05-08/", "GetUser", "GetUserResult"},
		{ServiceSTS, "2011-06-15", "https://sts.amazonaws.com/doc/2011-06-15/", "GetCallerIdentity", "GetCallerIdentityResult"},
	}
	for _, tc := range tests {
		t.Run(tc.service, func(t *testing.T) {
			m, err := LoadModel(tc.service)
			if err != nil {
				t.Fatal(err)
			}
			if m.APIVersion != tc.version || m.XMLNamespace != tc.ns {
				t.Errorf("metadata = %s %s", m.APIVersion, m.XMLNamespace)
			}
			op := m.Operations[tc.op]
			if op == nil || op.ResultWrapper != tc.wrapper {
				t.Fatalf("operation %s = %+v", tc.op, op)
			}
			for name, s := range m.Shapes {
				if s.Pattern != "" && s.pattern == nil {
					t.Errorf("shape %s: pattern not compiled", name)
				}
			}
		})
	}
	if _, err := LoadModel("s3"); !errors.Is(err, ErrUnknownService) {
		t.Errorf("LoadModel(s3) = %v, want ErrUnknownService", err)
	}
}

func TestModelMemberOrderAndTraits(t *testing.T) {
	t.Parallel()
	m, err := LoadModel(ServiceIAM)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mem := range m.Shapes["User"].Members {
		names = append(names, mem.Name)
	}
	if got := strings.Join(names, ","); got != "Path,UserName,UserId,Arn,CreateDate,PasswordLastUsed,PermissionsBoundary,Tags" {
		t.Errorf("User members = %s", got)
	}
	if !m.Shapes["policyDocumentType"].URLEncoded {
		t.Error("IAM policyDocumentType is not marked URL-encoded")
	}
	info, ok := m.ErrorFor("NoSuchEntity")
	if !ok || info.HTTPStatus != 404 || !info.Sender {
		t.Errorf("ErrorFor(NoSuchEntity) = %+v %v", info, ok)
	}
	if op := m.Operations["GetAccountSummary"]; op.Input != nil || op.Output == nil {
		t.Errorf("GetAccountSummary = %+v", op)
	}
}

func TestPatterns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		pattern string
		match   []string
		reject  []string
	}{
		{"user name", `[\w+=,.@-]+`, []string{"alice", "a.b@c", "x_1+=,"}, []string{"", "a b", "a/b", "ä"}},
		{"full match, not substring", `\d{12}`, []string{"123456789012"}, []string{"1234567890123", "x123456789012"}},
		{"path", `(\u002F)|(\u002F[\u0021-\u007E]+\u002F)`, []string{"/", "/a/b/"}, []string{"a", "/a", "/a b/"}},
		{"policy document", `[\u0009\u000A\u000D\u0020-\u00FF]+`, []string{"{\n\t\"a\": \"é\"}"}, []string{"\x01", "€"}},
		{"supplementary code points", `[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+`,
			[]string{"arn:aws:iam::1:role/😀", "é"}, []string{"\x00", "a\x7fb"}},
		{"tag value", `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`, []string{"", "Ünïcode 1", "a+b=c"}, []string{"a&b", "(x)"}},
		{"negative lookahead", `^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$`, []string{"abc", "a-b-c"}, []string{"a--b", "-ab", "ab"}},
		{"possessive quantifier", `a++b`, []string{"ab", "aaab"}, []string{"b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := compilePattern(tc.pattern)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.match {
				if !p.match(s) {
					t.Errorf("%q should match", s)
				}
			}
			for _, s := range tc.reject {
				if p.match(s) {
					t.Errorf("%q should not match", s)
				}
			}
		})
	}
}

func TestTranslatePattern(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"bmp escape", `[\u0020-\u00FF]+`, `[\x{0020}-\x{00FF}]+`},
		{"supplementary escape", `[\uE000-\uFFFD\u10000-\u10FFFF]`, `[\x{E000}-\x{FFFD}\x{10000}-\x{10FFFF}]`},
		{"possessive", `a*+b?+c++`, `a*b?c+`},
		{"lazy kept", `a+?`, `a+?`},
		{"plus in class kept", `[+]+`, `[+]+`},
		{"escaped plus", `\++`, `\++`},
		{"short escape kept", `\u12`, `\u12`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := translatePattern(tc.in); got != tc.want {
				t.Errorf("translatePattern(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestJavaLength(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int
	}{{"", 0}, {"abc", 3}, {"é", 1}, {"😀", 2}, {"\xff", 1}}
	for _, tc := range tests {
		if got := javaLength(tc.in); got != tc.want {
			t.Errorf("javaLength(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestAppendEscaped(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{`a<b>&"c'`, `a&lt;b&gt;&amp;&quot;c'`},
		{"tab\tnl\ncr\r", "tab\tnl\ncr&#xD;"},
		{"nul\x00bad\xff", "nul\uFFFDbad\uFFFD"},
		{"ünï", "ünï"},
	}
	for _, tc := range tests {
		if got := string(appendEscaped(nil, tc.in)); got != tc.want {
			t.Errorf("appendEscaped(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// Every ASCII byte but these is copied as it is.
	escaped := map[byte]bool{'&': true, '<': true, '>': true, '"': true, '\r': true}
	for c := range byte(0x20) {
		escaped[c] = c != '\t' && c != '\n'
	}
	for c := range byte(0x80) {
		in := "a" + string(c) + "b"
		if got := string(appendEscaped(nil, in)); (got != in) != escaped[c] {
			t.Errorf("appendEscaped(%q) = %q", in, got)
		}
	}
}

// BenchmarkAppendEscaped escapes the strings of a GetUser response (ARN,
// name, ID, path, request ID), none of which needs escaping.
func BenchmarkAppendEscaped(b *testing.B) {
	ss := []string{"arn:aws:iam::111122223333:user/load-000001", "load-000001", "AIDAFLOOR0000000000001", "/", "2b7a9b56-7d65-4c1f-9e0a-7b1f7e3a8c11"}
	buf := make([]byte, 0, 512)
	for b.Loop() {
		buf = buf[:0]
		for _, s := range ss {
			buf = appendEscaped(buf, s)
		}
	}
}

func TestAppendPercentEncoded(t *testing.T) {
	t.Parallel()
	in := `{"a": "b c/d*e+f~g-h_i.j"} ü`
	want := `%7B%22a%22%3A%20%22b%20c%2Fd%2Ae%2Bf~g-h_i.j%22%7D%20%C3%BC`
	if got := string(appendPercentEncoded(nil, in)); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestAppendTime(t *testing.T) {
	t.Parallel()
	tests := []time.Time{
		time.Date(2024, 5, 6, 7, 8, 9, 999, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2010, 12, 31, 23, 59, 59, 0, time.FixedZone("x", 3600)),
		time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for _, tm := range tests {
		if got, want := string(appendTime(nil, tm)), tm.UTC().Format(timeFormat); got != want {
			t.Errorf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}
