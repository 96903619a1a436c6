package uuid

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestNew(t *testing.T) {
	t.Parallel()
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

func TestNewV7(t *testing.T) {
	t.Parallel()
	form := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	at := time.Date(2026, 12, 7, 5, 10, 11, 123456789, time.UTC)
	seen := map[string]bool{}
	prev := ""
	for i := range 1000 {
		now := at.Add(time.Duration(i) * time.Millisecond)
		id := NewV7(now)
		if !form.MatchString(id) {
			t.Fatalf("%q is not a version 7 UUID", id)
		}
		if seen[id] || id <= prev {
			t.Fatalf("%q repeated or out of order after %q", id, prev)
		}
		seen[id], prev = true, id
		b, _ := Parse(id)
		if got, ok := TimeV7(b); !ok || !got.Equal(now.Truncate(time.Millisecond)) {
			t.Fatalf("TimeV7(%s) = %v, %v; want %v", id, got, ok, now.Truncate(time.Millisecond))
		}
	}
	b, _ := Parse(New())
	if _, ok := TimeV7(b); ok {
		t.Error("TimeV7 of a version 4 UUID is ok")
	}
}

func TestParseFormat(t *testing.T) {
	t.Parallel()
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
