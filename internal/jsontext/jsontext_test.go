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
