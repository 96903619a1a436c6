package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type signer struct {
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
	ec3 *ecdsa.PrivateKey
}

func newSigner(t testing.TB) *signer {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ek3, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &signer{rsa: rk, ec: ek, ec3: ek3}
}

func (s *signer) jwks() []byte {
	ec := func(kid, crv string, k *ecdsa.PublicKey, size int) map[string]any {
		point, err := k.Bytes() // 0x04 || X || Y
		if err != nil || len(point) != 1+2*size {
			panic(fmt.Sprintf("encode %s key: %v", crv, err))
		}
		return map[string]any{"kty": "EC", "kid": kid, "crv": crv,
			"x": b64.EncodeToString(point[1 : 1+size]), "y": b64.EncodeToString(point[1+size:])}
	}
	doc, _ := json.Marshal(map[string]any{"keys": []any{
		map[string]any{"kty": "RSA", "kid": "r1", "use": "sig", "n": b64.EncodeToString(s.rsa.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(s.rsa.E)).Bytes())},
		ec("e1", "P-256", &s.ec.PublicKey, 32),
		ec("e3", "P-384", &s.ec3.PublicKey, 48),
		map[string]any{"kty": "oct", "kid": "sym", "k": "c2VjcmV0"},
		map[string]any{"kty": "RSA", "kid": "enc", "use": "enc", "n": b64.EncodeToString(s.rsa.N.Bytes()), "e": "AQAB"},
	}})
	return doc
}

func (s *signer) sign(t testing.TB, alg, kid string, claims any) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": alg, "kid": kid})
	p, _ := json.Marshal(claims)
	signed := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
	var sig []byte
	var err error
	switch alg {
	case "RS256":
		d := sha256.Sum256([]byte(signed))
		sig, err = rsa.SignPKCS1v15(rand.Reader, s.rsa, crypto.SHA256, d[:])
	case "RS512":
		d := sha512.Sum512([]byte(signed))
		sig, err = rsa.SignPKCS1v15(rand.Reader, s.rsa, crypto.SHA512, d[:])
	case "ES256":
		d := sha256.Sum256([]byte(signed))
		var r, ss *big.Int
		r, ss, err = ecdsa.Sign(rand.Reader, s.ec, d[:])
		sig = append(r.FillBytes(make([]byte, 32)), ss.FillBytes(make([]byte, 32))...)
	case "ES384":
		d := sha512.Sum384([]byte(signed))
		var r, ss *big.Int
		r, ss, err = ecdsa.Sign(rand.Reader, s.ec3, d[:])
		sig = append(r.FillBytes(make([]byte, 48)), ss.FillBytes(make([]byte, 48))...)
	default:
		sig = []byte("x")
	}
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + b64.EncodeToString(sig)
}

func TestVerify(t *testing.T) {
	t.Parallel()
	s := newSigner(t)
	ks, err := ParseKeySet(s.jwks())
	if err != nil {
		t.Fatal(err)
	}
	if ks.Len() != 3 {
		t.Fatalf("usable keys = %d, want 3 (oct and enc keys skipped)", ks.Len())
	}
	claims := map[string]any{"iss": "https://issuer.example.com", "sub": "u1", "aud": []string{"a", "b"}, "exp": 2000000000, "iat": 1700000000.5}
	good := s.sign(t, "RS256", "r1", claims)
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"RS256", good, nil},
		{"RS512", s.sign(t, "RS512", "r1", claims), nil},
		{"ES256", s.sign(t, "ES256", "e1", claims), nil},
		{"ES384", s.sign(t, "ES384", "e3", claims), nil},
		{"no kid", s.sign(t, "RS256", "", claims), nil},
		{"unknown kid", s.sign(t, "RS256", "zz", claims), ErrNoKey},
		{"ES256 with RSA kid", s.sign(t, "ES256", "r1", claims), ErrNoKey},
		{"HS256", s.sign(t, "HS256", "sym", claims), ErrUnsupportedAlgorithm},
		{"none", s.sign(t, "none", "", claims), ErrUnsupportedAlgorithm},
		{"tampered payload", strings.Replace(good, good[strings.Index(good, ".")+1:strings.Index(good, ".")+5], "eyJp", 1) + "", ErrSignature},
		{"tampered signature", good[:len(good)-3] + "AAA", ErrSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok, err := Parse(tc.token)
			if err != nil {
				if tc.want == nil {
					t.Fatal(err)
				}
				return // a tampered payload may no longer parse
			}
			err = tok.Verify(ks)
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
	tok, err := Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	c := tok.Claims
	if c.Issuer != "https://issuer.example.com" || c.Subject != "u1" || len(c.Audience) != 2 || c.Expiry.Unix() != 2000000000 || c.IssuedAt.Unix() != 1700000000 {
		t.Errorf("claims = %+v", c)
	}
}

func TestParseMalformed(t *testing.T) {
	t.Parallel()
	for _, tc := range []string{
		"", "a", "a.b", "a.b.c.d", "!!.e30.AA", "e30.!!.AA", "e30.e30.", "e30.e30.!!",
		b64.EncodeToString([]byte(`{"alg":"RS256"}`)) + ".bnVsbA.AA", // payload null
		b64.EncodeToString([]byte(`{}`)) + ".e30.AA",                 // no alg
		b64.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." + b64.EncodeToString([]byte(`{"aud":5}`)) + ".AA",
		b64.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." + b64.EncodeToString([]byte(`{"exp":"soon"}`)) + ".AA",
		b64.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." + b64.EncodeToString([]byte(`{"sub":1}`)) + ".AA",
		strings.Repeat("a", MaxTokenLen+1),
	} {
		if _, err := Parse(tc); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%.40q) = %v, want ErrMalformed", tc, err)
		}
	}
}

func TestParseKeySetRejectsBadKeys(t *testing.T) {
	t.Parallel()
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	doc, _ := json.Marshal(map[string]any{"keys": []any{
		map[string]any{"kty": "RSA", "kid": "small", "n": b64.EncodeToString(small.N.Bytes()), "e": "AQAB"},
		map[string]any{"kty": "EC", "kid": "offcurve", "crv": "P-256", "x": b64.EncodeToString(make([]byte, 32)), "y": b64.EncodeToString(make([]byte, 32))},
		map[string]any{"kty": "EC", "kid": "curve", "crv": "P-521", "x": "AA", "y": "AA"},
	}})
	ks, err := ParseKeySet(doc)
	if err != nil {
		t.Fatal(err)
	}
	if ks.Len() != 0 {
		t.Errorf("accepted %d bad keys", ks.Len())
	}
	for _, bad := range []string{``, `[]`, `{"keys":5}`, `{}`} {
		if _, err := ParseKeySet([]byte(bad)); err == nil {
			t.Errorf("ParseKeySet(%q) succeeded", bad)
		}
	}
}

func TestFetcher(t *testing.T) {
	t.Parallel()
	s := newSigner(t)
	var discovery, keys atomic.Int32
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		discovery.Add(1)
		json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "jwks_uri": srv.URL + "/jwks"})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		keys.Add(1)
		w.Write(s.jwks())
	})
	srv = httptest.NewTLSServer(mux)
	defer srv.Close()

	now := time.Unix(1_800_000_000, 0)
	f := &Fetcher{Client: srv.Client(), Now: func() time.Time { return now }}
	ctx := context.Background()
	for range 3 {
		ks, err := f.KeySet(ctx, srv.URL, "r1")
		if err != nil {
			t.Fatal(err)
		}
		if !ks.HasKey("r1") {
			t.Fatal("key r1 missing")
		}
	}
	if keys.Load() != 1 {
		t.Errorf("fetched keys %d times, want 1 (cached)", keys.Load())
	}
	// An unknown kid refetches, but not more than once per MinRefresh.
	f.KeySet(ctx, srv.URL, "new")
	f.KeySet(ctx, srv.URL, "new")
	if keys.Load() != 1 {
		t.Errorf("refetched within MinRefresh: %d", keys.Load())
	}
	now = now.Add(time.Minute)
	f.KeySet(ctx, srv.URL, "new")
	if keys.Load() != 2 {
		t.Errorf("fetches = %d, want 2 after MinRefresh", keys.Load())
	}
	// An expired cache entry refetches; when the provider is down the old
	// keys keep serving.
	now = now.Add(2 * time.Hour)
	srv.CloseClientConnections()
	if _, err := f.KeySet(ctx, srv.URL, "r1"); err != nil {
		t.Fatal(err)
	}

	// Unreachable and broken providers.
	if _, err := (&Fetcher{Client: srv.Client()}).KeySet(ctx, "https://127.0.0.1:1", ""); !errors.Is(err, ErrFetch) {
		t.Errorf("unreachable: %v, want ErrFetch", err)
	}
	if _, err := (&Fetcher{Client: srv.Client()}).KeySet(ctx, srv.URL+"/nothing", ""); !errors.Is(err, ErrDiscovery) {
		t.Errorf("404: %v, want ErrDiscovery", err)
	}
	if _, err := (&Fetcher{}).KeySet(ctx, srv.URL, ""); !errors.Is(err, ErrFetch) {
		t.Errorf("untrusted certificate: %v, want ErrFetch", err)
	}
}
