package uuid

import (
	"regexp"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	form := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := New()
		if !form.MatchString(id) {
			t.Fatalf("%q is not a version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("%q repeated", id)
		}
		seen[id] = true
	}
}

func TestParseFormat(t *testing.T) {
	for range 100 {
		id := New()
		b, ok := Parse(id)
		if !ok || Format(b) != id {
			t.Fatalf("Parse(%q) = %x, %v; formats as %q", id, b, ok, Format(b))
		}
	}
	upper := "0123ABCD-4567-89EF-ABCD-0123456789AB"
	if b, ok := Parse(upper); !ok || Format(b) != "0123abcd-4567-89ef-abcd-0123456789ab" {
		t.Errorf("Parse(%q) = %x, %v", upper, b, ok)
	}
	for _, bad := range []string{"", "0123abcd-4567-89ef-abcd-0123456789a", "0123abcd-4567-89ef-abcd-0123456789ag",
		"0123abcd+4567-89ef-abcd-0123456789ab", "0123abcd-4567-89ef-abcd-0123456789abc"} {
		if _, ok := Parse(bad); ok {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

// FuzzParse checks that Parse accepts exactly the 36-character forms and
// that what it accepts formats back to the same UUID in lower case.
func FuzzParse(f *testing.F) {
	f.Add("0123abcd-4567-89ef-abcd-0123456789ab")
	f.Add("0123ABCD-4567-89EF-ABCD-0123456789AB")
	f.Add("0123abcd-4567-89ef-abcd-0123456789ag")
	f.Fuzz(func(t *testing.T, s string) {
		b, ok := Parse(s)
		if !ok {
			if b != ([16]byte{}) {
				t.Fatalf("Parse(%q) failed but returned %x", s, b)
			}
			return
		}
		if got := Format(b); got != strings.ToLower(s) {
			t.Fatalf("Parse(%q) formats as %q", s, got)
		}
	})
}
