package policy

import (
	"strings"
	"testing"
)

func TestASCIIEqualFold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{"", "", true},
		{"s3:GetObject", "s3:getobject", true},
		{"S3:GETOBJECT", "s3:getobject", true},
		{"s3:GetObject", "s3:getobjecT", true},
		{"s3:GetObject", "s3:getobjecu", false},
		{"iam:ListAttachedRolePolicies", "iam:listattachedrolepolicies", true},
		{"iam:ListAttachedRolePolicies", "iam:listattachedrolepolicie", false},
		{"@[`{", "`{@[", false}, // the neighbours of the letters do not fold
		{"abc", "ABD", false},
		{"Straße-Ä", "straße-ä", false}, // only ASCII folds
		{"Straße-x", "straße-X", true},
		{"12345678", "12345678", true},
		{"1234567A", "1234567a", true},
		{"1234567A", "1234567b", false},
	}
	for _, tt := range tests {
		if got := asciiEqualFold(tt.a, tt.b); got != tt.want {
			t.Errorf("asciiEqualFold(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestLower8 checks the word-at-a-time lower-casing against a byte loop
// for every byte value in every position.
func TestLower8(t *testing.T) {
	t.Parallel()
	for pos := 0; pos < 8; pos++ {
		for c := 0; c < 256; c++ {
			b := []byte("xY0:@[`{")
			b[pos] = byte(c)
			want := []byte(string(b))
			for i, x := range want {
				if 'A' <= x && x <= 'Z' {
					want[i] = x + 'a' - 'A'
				}
			}
			if got, w := lower8(le64(string(b))), le64(string(want)); got != w {
				t.Fatalf("lower8(%q) = %#x, want %#x", b, got, w)
			}
		}
	}
}

func TestFoldHashFolds(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "s3", "s3:GetObject", "iam:ListAttachedRolePolicies", "bucket-20"} {
		if foldHash(s) != foldHash(strings.ToLower(s)) {
			t.Errorf("foldHash(%q) differs from its lower-case form", s)
		}
	}
}

func TestTableLookup(t *testing.T) {
	t.Parallel()
	m := map[string]int{}
	for i := 0; i < 500; i++ {
		m[strings.Repeat("k", i%7)+"ey-"+string(rune('a'+i%26))+strings.Repeat("z", i/26)] = i
	}
	tab := newTable(m)
	for k, v := range m {
		got := tab.lookup(k, foldHash(k), false)
		if got == nil || *got != v {
			t.Fatalf("lookup(%q) = %v, want %d", k, got, v)
		}
		up := strings.ToUpper(k)
		if got := tab.lookup(up, foldHash(up), true); got == nil || *got != v {
			t.Fatalf("folded lookup(%q) = %v, want %d", up, got, v)
		}
		if got := tab.lookup(up, foldHash(up), false); got != nil {
			t.Fatalf("exact lookup(%q) found %d", up, *got)
		}
	}
	if got := tab.lookup("absent", foldHash("absent"), true); got != nil {
		t.Fatalf("lookup(absent) = %d", *got)
	}
}

func TestARNTokenAgreesWithSplit(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "*", "arn:", "arn:aws:s3:::", "arn:aws:s3:::b", "arn:aws:s3:::b/k:x",
		"arn:aws:iam::1:user/a/b", "arn:aws:iam::1", "arn:aws:sqs:us-east-1:1:q:x", "ARN:aws:s3:::b", "arn:a:b:c"} {
		tok, ok := arnToken(s)
		a, want := splitARN(s)
		if ok != want {
			t.Errorf("arnToken(%q) ok = %v, splitARN says %v", s, ok, want)
			continue
		}
		if ok {
			wantTok := a.resource
			if i := strings.IndexAny(wantTok, "/:"); i >= 0 {
				wantTok = wantTok[:i]
			}
			if tok != wantTok {
				t.Errorf("arnToken(%q) = %q, want %q", s, tok, wantTok)
			}
		}
	}
}
