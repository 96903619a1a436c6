package pgtrail

import "testing"

// FuzzParseToken: any token either parses into a position a query can
// use (valid UTF-8 chain, no NUL) or is ErrInvalidToken; never a panic.
func FuzzParseToken(f *testing.F) {
	f.Add(makeToken(cursor{time: 1772366439, chain: "abc", seq: 7}, "fp"), "fp")
	f.Add("x", "fp")
	f.Fuzz(func(t *testing.T, tok, fp string) {
		c, err := parseToken(tok, fp)
		if err != nil {
			return
		}
		if again, err := parseToken(makeToken(c, fp), fp); err != nil || again != c {
			t.Fatalf("token %q: %+v does not round-trip: %+v %v", tok, c, again, err)
		}
	})
}
