package policy

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// Documents that parse as every kind, to which trailing bytes are appended.
var trailingBase = map[Kind]string{
	Identity: `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::example_bucket"}}`,
	Resource: `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::example_bucket"}}`,
	Trust:    `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}`,
	Boundary: `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`,
	Session:  `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`,
	SCP:      `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*"}}`,
}

func TestParseTrailingBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		suffix string
		ok     bool
	}{
		{"nothing", "", true},
		{"json whitespace", " \t\r\n \n", true},
		{"word", "xyz", false},
		{"word after newline", "\nxyz", false},
		{"closing brace", "}", false},
		{"second document", `{"Version":"2012-10-17"}`, false},
		{"string", `"x"`, false},
		{"number", "1", false},
		{"comma", ",", false},
		{"nul", "\x00", false},
		{"vertical tab", "\v", false},
		{"form feed", "\f", false},
		{"no-break space utf-8", "\u00a0", false},
		{"no-break space latin-1", "\xa0", false},
		{"byte order mark", "\ufeff", false},
		{"comment", "// done", false},
	}
	for kind, base := range trailingBase {
		for _, tc := range tests {
			t.Run(kind.String()+"/"+tc.name, func(t *testing.T) {
				_, err := Parse([]byte(base+tc.suffix), kind)
				if tc.ok {
					if err != nil {
						t.Fatalf("Parse(%q): %v", base+tc.suffix, err)
					}
					return
				}
				var ve *ValidationError
				if !errors.As(err, &ve) || ve.Message != msgSyntax {
					t.Fatalf("Parse(%q) = %v, want %q", base+tc.suffix, err, msgSyntax)
				}
			})
		}
	}
}

func TestParseLeadingWhitespace(t *testing.T) {
	t.Parallel()
	if _, err := Parse([]byte(" \t\r\n"+trailingBase[Identity]+"\n"), Identity); err != nil {
		t.Fatal(err)
	}
}

// FuzzParseTrailing checks that a document that parses still parses, to the
// same result, with whitespace after it, and never with anything else.
func FuzzParseTrailing(f *testing.F) {
	for kind, base := range trailingBase {
		for _, suffix := range []string{"", "xyz", " \n", "}", "\u00a0", `{}`, " x"} {
			f.Add([]byte(base), []byte(suffix), uint8(kind))
		}
	}
	f.Fuzz(func(t *testing.T, doc, suffix []byte, k uint8) {
		kind := Kind(k % 6)
		want, err := Parse(doc, kind)
		if err != nil {
			return
		}
		got, err := Parse(append(bytes.Clone(doc), suffix...), kind)
		if !onlyWhitespace(suffix) {
			if err == nil {
				t.Fatalf("Parse accepted %q after the document", suffix)
			}
			return
		}
		if err != nil {
			t.Fatalf("Parse rejected whitespace %q after the document: %v", suffix, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("whitespace %q changed the result", suffix)
		}
	})
}

// TestParseAllowTrailingData: documents stored before trailing bytes were
// refused parse as they did then, to the same result as without them.
func TestParseAllowTrailingData(t *testing.T) {
	t.Parallel()
	for kind, base := range trailingBase {
		want, err := Parse([]byte(base), kind)
		if err != nil {
			t.Fatal(err)
		}
		for _, suffix := range []string{"xyz", "}", `{"a":1}`, "\u00a0"} {
			got, err := ParseWithOptions([]byte(base+suffix), kind, ParseOptions{AllowTrailingData: true})
			if err != nil {
				t.Fatalf("%v %q: %v", kind, suffix, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%v %q: result differs", kind, suffix)
			}
		}
	}
}
