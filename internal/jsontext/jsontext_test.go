package jsontext

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestAppendString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, plain, html string
	}{
		{"", `""`, `""`},
		{"user/alice", `"user/alice"`, `"user/alice"`},
		{`a"b\c`, `"a\"b\\c"`, `"a\"b\\c"`},
		{"l1\nl2\r\t\x01", `"l1\nl2\r\t\u0001"`, `"l1\nl2\r\t\u0001"`},
		{"<a&b>", `"<a&b>"`, `"\u003ca\u0026b\u003e"`},
		{"caf\xc3\xa9 \xff", "\"caf\xc3\xa9 \\ufffd\"", "\"caf\xc3\xa9 \\ufffd\""},
		{"\u2028\u2029", `"\u2028\u2029"`, `"\u2028\u2029"`},
		{"0123456789abcdef\"", `"0123456789abcdef\""`, `"0123456789abcdef\""`},
	} {
		if got := string(AppendString(nil, tc.in)); got != tc.plain {
			t.Errorf("AppendString(%q) = %s, want %s", tc.in, got, tc.plain)
		}
		if got := string(AppendHTMLSafeString([]byte("x"), tc.in)); got != "x"+tc.html {
			t.Errorf("AppendHTMLSafeString(%q) = %s, want x%s", tc.in, got, tc.html)
		}
	}
}

// FuzzAppendString checks that both forms decode to what encoding/json
// decodes its own encoding of the same string to, and that the HTML-safe
// form has no '<', '>' or '&'.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "abc", "a\"\\\n<>&\u2028", "\xff\xfe", "0123456789012345\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var wantValue string
		if err := json.Unmarshal(want, &wantValue); err != nil {
			t.Fatal(err)
		}
		for _, got := range [][]byte{AppendString(nil, s), AppendHTMLSafeString(nil, s)} {
			var gotValue string
			if err := json.Unmarshal(got, &gotValue); err != nil {
				t.Fatalf("%q: %s is not JSON: %v", s, got, err)
			}
			if gotValue != wantValue {
				t.Fatalf("%q: decodes to %q, want %q", s, gotValue, wantValue)
			}
		}
		if bytes.ContainsAny(AppendHTMLSafeString(nil, s), "<>&") {
			t.Fatalf("%q: HTML-safe form has <, > or &", s)
		}
	})
}

// FuzzPlainPrefix checks the word-at-a-time scan against a byte-at-a-time
// one.
func FuzzPlainPrefix(f *testing.F) {
	for _, s := range []string{"", "arn:aws:iam::111122223333:user/alice", "0123456\"89abcdef0", "0123456789abcdef\x7f\x1f", "abcdefgh\\", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := 0
		for want < len(s) {
			if c := s[want]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
				break
			}
			want++
		}
		if got := plainPrefix(s); got != want {
			t.Fatalf("plainPrefix(%q) = %d, want %d", s, got, want)
		}
	})
}

// BenchmarkAppendString appends the strings of an audit record of a
// signed GetUser.
func BenchmarkAppendString(b *testing.B) {
	strs := []string{
		"111122223333", "GetUser", "iam.amazonaws.com", "load-000001", "AKIAZ54VECKFJ3EIDTG3",
		"01a25353-e2eb-7b96-928a-db2ece0a84bd", "AWS::IAM::User", "load-000769", "IAMUser",
		"AIDA5DLHW3GGX5V22UIEV", "arn:aws:iam::111122223333:user/load-000001", "111122223333",
		"load-000001", "us-east-1", "127.0.0.1", "aws-cli/1.36.0 md/Botocore#1.35.0 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.2 md/pyimpl#CPython cfg/retry-mode#legacy botocore/1.35.0",
		"", "", "userName", "load-000769", "iam:GetUser", "arn:aws:iam::111122223333:user/load-000769", "Allow",
		"04c08bde-4952-4200-a304-7bdebdab68dc",
	}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for _, s := range strs {
			buf = AppendString(buf, s)
		}
	}
}
