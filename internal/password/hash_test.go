package password

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
)

// cheap keeps tests fast; DefaultParams is exercised by the benchmark.
var cheap = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func newHasher(t testing.TB, p Params) *Hasher {
	t.Helper()
	h, err := NewHasher(p, 2)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHashFormat(t *testing.T) {
	t.Parallel()
	h := newHasher(t, DefaultParams())
	enc, err := h.Hash(context.Background(), "Tr0ub4dor&3")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !re.MatchString(enc) {
		t.Fatalf("hash %q does not match %v", enc, re)
	}
	if err := h.Verify(context.Background(), enc, "Tr0ub4dor&3"); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if h.NeedsRehash(enc) {
		t.Error("NeedsRehash(fresh hash) = true")
	}
}

func TestHashSalted(t *testing.T) {
	t.Parallel()
	h := newHasher(t, cheap)
	a, _ := h.Hash(context.Background(), "same")
	b, _ := h.Hash(context.Background(), "same")
	if a == b {
		t.Fatal("two hashes of the same password are equal")
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	h := newHasher(t, cheap)
	ctx := context.Background()
	enc, _ := h.Hash(ctx, "correct horse")
	parts := strings.Split(enc, "$")
	tests := []struct {
		name     string
		encoded  string
		password string
		want     error
	}{
		{"match", enc, "correct horse", nil},
		{"wrong password", enc, "correct horse ", ErrMismatch},
		{"empty password", enc, "", ErrMismatch},
		{"case differs", enc, "Correct horse", ErrMismatch},
		{"empty hash", "", "x", ErrMalformedHash},
		{"argon2i", strings.Replace(enc, "argon2id", "argon2i", 1), "correct horse", ErrMalformedHash},
		{"version 16", strings.Replace(enc, "v=19", "v=16", 1), "correct horse", ErrMalformedHash},
		{"params reordered", strings.Replace(enc, "m=64,t=1", "t=1,m=64", 1), "correct horse", ErrMalformedHash},
		{"huge memory", strings.Replace(enc, "m=64", "m=4294967295", 1), "x", ErrMalformedHash},
		{"huge time", strings.Replace(enc, "t=1", "t=1000", 1), "x", ErrMalformedHash},
		{"zero threads", strings.Replace(enc, "p=1", "p=0", 1), "x", ErrMalformedHash},
		{"leading zero", strings.Replace(enc, "t=1", "t=01", 1), "x", ErrMalformedHash},
		{"padded salt", strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4] + "==", parts[5]}, "$"), "x", ErrMalformedHash},
		{"short salt", strings.Join([]string{"", parts[1], parts[2], parts[3], "c2FsdA", parts[5]}, "$"), "x", ErrMalformedHash},
		{"truncated hash", enc[:len(enc)-30], "correct horse", ErrMalformedHash},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", "x", ErrMalformedHash},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := h.Verify(ctx, tc.encoded, tc.password)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifyOtherParams(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	old := newHasher(t, cheap)
	enc, _ := old.Hash(ctx, "pw")
	stronger := cheap
	stronger.Time = 2
	h := newHasher(t, stronger)
	if err := h.Verify(ctx, enc, "pw"); err != nil {
		t.Fatalf("Verify hash made with older params: %v", err)
	}
	tests := []struct {
		name    string
		encoded string
		want    bool
	}{
		{"older params", enc, true},
		{"current params", func() string { s, _ := h.Hash(ctx, "pw"); return s }(), false},
		{"malformed", "garbage", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := h.NeedsRehash(tc.encoded); got != tc.want {
				t.Errorf("NeedsRehash = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNewHasherInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    Params
	}{
		{"zero", Params{}},
		{"no threads", Params{Memory: 64, Time: 1, SaltLen: 16, KeyLen: 32}},
		{"short salt", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32}},
		{"short key", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 8}},
		{"memory too small for threads", Params{Memory: 8, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := NewHasher(tc.p, 1); !errors.Is(err, ErrInvalidParams) {
				t.Fatalf("err = %v, want ErrInvalidParams", err)
			}
		})
	}
}

func TestHashCanceled(t *testing.T) {
	t.Parallel()
	h := newHasher(t, cheap)
	h.sem <- struct{}{} // occupy both slots so the call must wait
	h.sem <- struct{}{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash err = %v, want context.Canceled", err)
	}
}

func FuzzDecode(f *testing.F) {
	h, _ := NewHasher(cheap, 1)
	enc, _ := h.Hash(context.Background(), "pw")
	f.Add(enc)
	f.Add("$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc")
	f.Add("$argon2id$v=19$m=,t=,p=$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := decode(s)
		if err != nil {
			return
		}
		if p.validate() != nil {
			t.Fatalf("decode accepted out-of-range params %+v", p)
		}
		if got := encode(p, salt, key); got != s {
			t.Fatalf("round trip: %q != %q", got, s)
		}
	})
}

func BenchmarkHashDefault(b *testing.B) {
	h := newHasher(b, DefaultParams())
	b.ReportAllocs()
	for b.Loop() {
		h.Hash(context.Background(), "Tr0ub4dor&3")
	}
}

func BenchmarkVerifyDefault(b *testing.B) {
	h := newHasher(b, DefaultParams())
	enc, _ := h.Hash(context.Background(), "Tr0ub4dor&3")
	b.ReportAllocs()
	for b.Loop() {
		if err := h.Verify(context.Background(), enc, "Tr0ub4dor&3"); err != nil {
			b.Fatal(err)
		}
	}
}
