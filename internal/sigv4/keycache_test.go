package sigv4

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
)

func TestSigningKeyMatchesCryptoHMAC(t *testing.T) {
	t.Parallel()
	for _, msg := range []string{"", "a", string(bytes.Repeat([]byte("x"), 63)), string(bytes.Repeat([]byte("y"), 1000))} {
		key := deriveKey([]byte(testSecret), "20261123", "us-east-1", "iam")
		got, _ := newSigningKey(key).sign(nil, []byte(msg))
		m := hmac.New(sha256.New, key)
		m.Write([]byte(msg))
		if want := m.Sum(nil); !bytes.Equal(got[:], want) {
			t.Errorf("len %d: sign = %x, want %x", len(msg), got, want)
		}
	}
}

// TestDeriveKey checks key derivation against the example in AWS's SigV4
// documentation.
func TestDeriveKey(t *testing.T) {
	t.Parallel()
	got := hex.EncodeToString(deriveKey([]byte("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), "20120215", "us-east-1", "iam"))
	const want = "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
	if got != want {
		t.Errorf("deriveKey = %s, want %s", got, want)
	}
}

func TestKeyCache(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		max  int
		puts int
		want int
	}{
		{name: "bounded", max: 4, puts: 10, want: 4},
		{name: "under-bound", max: 16, puts: 3, want: 3},
		{name: "disabled", max: -1, puts: 5, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newKeyCache(tc.max)
			for i := range tc.puts {
				c.get([]byte(fmt.Sprint("secret", i)), "20261123", "us-east-1", "iam")
			}
			if got := c.len(); got != tc.want {
				t.Errorf("len = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestKeyCacheKeyedBySecretAndScope(t *testing.T) {
	t.Parallel()
	c := newKeyCache(16)
	base := c.get([]byte("s1"), "20261123", "us-east-1", "iam")
	if c.get([]byte("s1"), "20261123", "us-east-1", "iam") != base {
		t.Error("same inputs did not hit the cache")
	}
	for name, k := range map[string]*signingKey{
		"secret":  c.get([]byte("s2"), "20261123", "us-east-1", "iam"),
		"date":    c.get([]byte("s1"), "20261124", "us-east-1", "iam"),
		"region":  c.get([]byte("s1"), "20261123", "eu-west-1", "iam"),
		"service": c.get([]byte("s1"), "20261123", "us-east-1", "sts"),
	} {
		if k.ipad == base.ipad {
			t.Errorf("changing the %s reused the key", name)
		}
	}
}

// TestRotatedSecret checks that after a secret rotates, requests signed
// with the old secret fail even though its derived key is cached.
func TestRotatedSecret(t *testing.T) {
	t.Parallel()
	src := testSource()
	v := NewVerifier(Config{Credentials: src, Now: fixedClock(signTime)})
	creds := Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}
	if _, err := v.Verify(context.Background(), signedIAMRequest(t, creds, "iam")); err != nil {
		t.Fatal(err)
	}
	src.set(testAKID, testKey{secret: "rotated"})
	if _, err := v.Verify(context.Background(), signedIAMRequest(t, creds, "iam")); !errors.Is(err, ErrSignatureDoesNotMatch) {
		t.Fatalf("old secret: err = %v, want SignatureDoesNotMatch", err)
	}
	creds.SecretAccessKey = "rotated"
	if _, err := v.Verify(context.Background(), signedIAMRequest(t, creds, "iam")); err != nil {
		t.Fatalf("new secret: %v", err)
	}
}

// TestVerifyConcurrent runs verifications in parallel over a small cache so
// that the race detector sees hits, misses and evictions together.
func TestVerifyConcurrent(t *testing.T) {
	t.Parallel()
	src := testSource()
	for i := range 8 {
		src.set(fmt.Sprintf("AKIA%016d", i), testKey{secret: fmt.Sprint("secret-", i)})
	}
	v := NewVerifier(Config{Credentials: src, Now: fixedClock(signTime), KeyCacheSize: 3})
	reqs := make([]*Request, 8)
	for i := range reqs {
		reqs[i] = signedIAMRequest(t, Credentials{AccessKeyID: fmt.Sprintf("AKIA%016d", i), SecretAccessKey: fmt.Sprint("secret-", i)}, "iam")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*50)
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				if _, err := v.Verify(context.Background(), reqs[(g+i)%len(reqs)]); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
