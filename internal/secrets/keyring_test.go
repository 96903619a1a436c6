package secrets

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func mustNew(t testing.TB, keys ...[]byte) *Keyring {
	t.Helper()
	k, err := New(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	k := mustNew(t, GenerateKey())
	tests := []struct {
		name      string
		plaintext []byte
		ad        []byte
	}{
		{"secret access key", []byte("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), []byte("AKIAIOSFODNN7EXAMPLE")},
		{"empty plaintext", nil, []byte("AKIAIOSFODNN7EXAMPLE")},
		{"no associated data", []byte("seed"), nil},
		{"large", bytes.Repeat([]byte{7}, 1<<16), []byte("x")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ct, err := k.Seal(tc.plaintext, tc.ad)
			if err != nil {
				t.Fatal(err)
			}
			if len(ct) != len(tc.plaintext)+Overhead {
				t.Errorf("len = %d, want %d", len(ct), len(tc.plaintext)+Overhead)
			}
			if len(tc.plaintext) > 8 && bytes.Contains(ct, tc.plaintext[:8]) {
				t.Error("ciphertext contains plaintext")
			}
			pt, err := k.Open(ct, tc.ad)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pt, tc.plaintext) {
				t.Errorf("Open = %q, want %q", pt, tc.plaintext)
			}
		})
	}
}

func TestSealRandomNonce(t *testing.T) {
	k := mustNew(t, GenerateKey())
	a, _ := k.Seal([]byte("same"), []byte("ad"))
	b, _ := k.Seal([]byte("same"), []byte("ad"))
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are equal")
	}
}

func TestOpenRejects(t *testing.T) {
	k := mustNew(t, GenerateKey())
	ct, _ := k.Seal([]byte("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), []byte("AKIA1"))
	flip := func(i int) []byte {
		c := bytes.Clone(ct)
		c[i] ^= 1
		return c
	}
	other := mustNew(t, GenerateKey())
	tests := []struct {
		name string
		k    *Keyring
		ct   []byte
		ad   string
	}{
		{"swapped record", k, ct, "AKIA2"},
		{"empty ad", k, ct, ""},
		{"version changed", k, flip(0), "AKIA1"},
		{"key id changed", k, flip(2), "AKIA1"},
		{"nonce changed", k, flip(8), "AKIA1"},
		{"body changed", k, flip(headerSize), "AKIA1"},
		{"tag changed", k, flip(len(ct) - 1), "AKIA1"},
		{"truncated", k, ct[:Overhead-1], "AKIA1"},
		{"empty", k, nil, "AKIA1"},
		{"other keyring", other, ct, "AKIA1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.k.Open(tc.ct, []byte(tc.ad))
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("Open err = %v, want ErrDecrypt", err)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	oldKey, newKey := GenerateKey(), GenerateKey()
	before := mustNew(t, oldKey)
	ct, _ := before.Seal([]byte("secret"), []byte("id"))

	after := mustNew(t, newKey, oldKey)
	if !after.NeedsReseal(ct) {
		t.Error("NeedsReseal(old ciphertext) = false")
	}
	pt, err := after.Open(ct, []byte("id"))
	if err != nil || string(pt) != "secret" {
		t.Fatalf("Open old ciphertext after rotation = %q, %v", pt, err)
	}
	ct2, _ := after.Seal(pt, []byte("id"))
	if after.NeedsReseal(ct2) {
		t.Error("NeedsReseal(new ciphertext) = true")
	}
	if _, err := before.Open(ct2, []byte("id")); !errors.Is(err, ErrDecrypt) {
		t.Errorf("old keyring opened new ciphertext: %v", err)
	}
	if ids := after.KeyIDs(); ids[0] != KeyID(newKey) || ids[1] != KeyID(oldKey) {
		t.Errorf("KeyIDs = %x", ids)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		keys [][]byte
		want error
	}{
		{"none", nil, ErrNoKeys},
		{"short", [][]byte{make([]byte, 16)}, ErrInvalidKey},
		{"second bad", [][]byte{GenerateKey(), make([]byte, 33)}, ErrInvalidKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.keys...); !errors.Is(err, tc.want) {
				t.Fatalf("New err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseKeys(t *testing.T) {
	k1, k2 := GenerateKey(), GenerateKey()
	e1, e2 := base64.StdEncoding.EncodeToString(k1), base64.StdEncoding.EncodeToString(k2)
	tests := []struct {
		name    string
		in      string
		want    [][]byte
		wantErr error
	}{
		{"one", e1, [][]byte{k1}, nil},
		{"comma list", e1 + "," + e2, [][]byte{k1, k2}, nil},
		{"file lines with comment", "# rotated 2025\n" + e2 + "\n\n" + e1 + "\n", [][]byte{k2, k1}, nil},
		{"unpadded", strings.TrimRight(e1, "="), [][]byte{k1}, nil},
		{"crlf", e1 + "\r\n", [][]byte{k1}, nil},
		{"empty", "", nil, ErrNoKeys},
		{"only comment", "# nothing\n", nil, ErrNoKeys},
		{"not base64", "not*base64", nil, ErrInvalidKey},
		{"wrong size", base64.StdEncoding.EncodeToString([]byte("short")), nil, ErrInvalidKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseKeys(tc.in)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d keys, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !bytes.Equal(got[i], tc.want[i]) {
					t.Errorf("key %d differs", i)
				}
			}
		})
	}
}

func noEnv(string) string { return "" }

func TestLoadOrCreateCreatesFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	k1, err := LoadOrCreate(dir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, MasterKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", st.Mode().Perm())
	}
	ct, _ := k1.Seal([]byte("x"), []byte("ad"))

	// A restart reads the same key.
	k2, err := LoadOrCreate(dir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k2.Open(ct, []byte("ad")); err != nil {
		t.Fatalf("reloaded keyring cannot open: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data dir has %d entries, want only %s", len(entries), MasterKeyFile)
	}
}

func TestLoadOrCreateConcurrent(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	rings := make([]*Keyring, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { rings[i], errs[i] = LoadOrCreate(dir, noEnv) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if rings[i].KeyIDs()[0] != rings[0].KeyIDs()[0] {
			t.Fatal("concurrent starters got different keys")
		}
	}
}

func TestLoadOrCreateEnv(t *testing.T) {
	dir := t.TempDir()
	key := GenerateKey()
	env := func(name string) string {
		if name == EnvMasterKey {
			return base64.StdEncoding.EncodeToString(key)
		}
		return ""
	}
	k, err := LoadOrCreate(dir, env)
	if err != nil {
		t.Fatal(err)
	}
	if k.KeyIDs()[0] != KeyID(key) {
		t.Error("keyring does not use the env key")
	}
	if _, err := os.Stat(filepath.Join(dir, MasterKeyFile)); !os.IsNotExist(err) {
		t.Errorf("key file created although env is set: %v", err)
	}

	bad := func(string) string { return "nope" }
	if _, err := LoadOrCreate(dir, bad); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("bad env err = %v, want ErrInvalidKey", err)
	}
}

func TestLoadOrCreateFileErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		want    error
	}{
		{"world readable", base64.StdEncoding.EncodeToString(GenerateKey()), 0o644, ErrInsecureKeyFile},
		{"group readable", base64.StdEncoding.EncodeToString(GenerateKey()), 0o640, ErrInsecureKeyFile},
		{"garbage", "garbage", 0o600, ErrInvalidKey},
		{"empty", "", 0o600, ErrNoKeys},
		{"too large", strings.Repeat("#", maxKeyFile+1), 0o600, ErrInvalidKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, MasterKeyFile)
			if err := os.WriteFile(path, []byte(tc.content), tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil { // umask-proof
				t.Fatal(err)
			}
			if _, err := LoadOrCreate(dir, noEnv); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDeriveKey(t *testing.T) {
	m := GenerateKey()
	a := DeriveKey(m, "iamd/sts-token/v1")
	if len(a) != KeySize {
		t.Fatalf("len = %d", len(a))
	}
	if !bytes.Equal(a, DeriveKey(m, "iamd/sts-token/v1")) {
		t.Error("DeriveKey is not deterministic")
	}
	if bytes.Equal(a, DeriveKey(m, "other")) {
		t.Error("different purposes give the same key")
	}
	if bytes.Equal(a, DeriveKey(GenerateKey(), "iamd/sts-token/v1")) {
		t.Error("different masters give the same key")
	}
	if bytes.Equal(a, m) {
		t.Error("derived key equals master")
	}
	k := mustNew(t, GenerateKey(), m)
	ks := k.DeriveKeys("iamd/sts-token/v1")
	if len(ks) != 2 || !bytes.Equal(ks[1], a) {
		t.Error("DeriveKeys does not derive from each master in order")
	}
}

func TestEqual(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"same", "wJalrXUtnFEMI", "wJalrXUtnFEMI", true},
		{"differ", "wJalrXUtnFEMI", "wJalrXUtnFEMJ", false},
		{"prefix", "wJalr", "wJalrXUtnFEMI", false},
		{"both empty", "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Equal(tc.a, tc.b); got != tc.want {
				t.Errorf("Equal = %v, want %v", got, tc.want)
			}
		})
	}
}

func FuzzOpen(f *testing.F) {
	k := mustNew(f, bytes.Repeat([]byte{1}, KeySize))
	ct, _ := k.Seal([]byte("secret"), []byte("ad"))
	f.Add(ct, []byte("ad"))
	f.Add([]byte{}, []byte{})
	f.Add([]byte{1, 0, 0, 0, 0}, []byte("ad"))
	f.Fuzz(func(t *testing.T, ct, ad []byte) {
		pt, err := k.Open(ct, ad)
		if err == nil && !bytes.Equal(pt, []byte("secret")) {
			t.Fatalf("forged ciphertext opened: %q", pt)
		}
	})
}

func FuzzParseKeys(f *testing.F) {
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	f.Add("# c\n,,\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		keys, err := ParseKeys(s)
		if err != nil {
			return
		}
		for _, k := range keys {
			if len(k) != KeySize {
				t.Fatalf("key of %d bytes accepted", len(k))
			}
		}
	})
}

func BenchmarkSeal(b *testing.B) {
	k := mustNew(b, GenerateKey())
	pt := []byte("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
	ad := []byte("AKIAIOSFODNN7EXAMPLE")
	b.ReportAllocs()
	for b.Loop() {
		k.Seal(pt, ad)
	}
}

func BenchmarkOpen(b *testing.B) {
	k := mustNew(b, GenerateKey())
	ad := []byte("AKIAIOSFODNN7EXAMPLE")
	ct, _ := k.Seal([]byte("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), ad)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Open(ct, ad); err != nil {
			b.Fatal(err)
		}
	}
}

func TestLoadAllowInsecureKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, MasterKeyFile)
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(GenerateKey())), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir, noEnv, LoadOptions{}); !errors.Is(err, ErrInsecureKeyFile) {
		t.Fatalf("err = %v, want ErrInsecureKeyFile", err)
	}
	if _, err := Load(dir, noEnv, LoadOptions{AllowInsecureKeyFile: true}); err != nil {
		t.Fatal(err)
	}
}

func TestKeyCheck(t *testing.T) {
	oldKey, newKey, otherKey := GenerateKey(), GenerateKey(), GenerateKey()
	ring := func(keys ...[]byte) *Keyring {
		t.Helper()
		k, err := New(keys...)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	sealedOld := ring(oldKey).SealCheck()
	sealedNew := ring(newKey, oldKey).SealCheck()
	// A ciphertext of something else under the right key is no check value.
	notCheck, _ := ring(oldKey).Seal([]byte(checkPlaintext), []byte("other"))
	tests := []struct {
		name       string
		ring       *Keyring
		value      []byte
		wantReseal bool
		wantErr    error
	}{
		{"same key", ring(oldKey), sealedOld, false, nil},
		{"rotated: old key second", ring(newKey, oldKey), sealedOld, true, nil},
		{"rotated: sealed with newest", ring(newKey, oldKey), sealedNew, false, nil},
		{"newest only opens its own", ring(newKey), sealedNew, false, nil},
		{"old key dropped too early", ring(newKey), sealedOld, false, ErrWrongKey},
		{"another key", ring(otherKey), sealedOld, false, ErrWrongKey},
		{"other ciphertext", ring(oldKey), notCheck, false, ErrWrongKey},
		{"garbage", ring(oldKey), []byte("x"), false, ErrWrongKey},
		{"empty", ring(oldKey), nil, false, ErrWrongKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reseal, err := tc.ring.VerifyCheck(tc.value)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if reseal != tc.wantReseal {
				t.Errorf("reseal = %v, want %v", reseal, tc.wantReseal)
			}
		})
	}
}

func TestKeyCheckErrorNamesKeyIDs(t *testing.T) {
	a, b := GenerateKey(), GenerateKey()
	ka, _ := New(a)
	kb, _ := New(b)
	_, err := kb.VerifyCheck(ka.SealCheck())
	ida, idb := KeyID(a), KeyID(b)
	for _, want := range []string{fmt.Sprintf("%x", ida), fmt.Sprintf("%x", idb)} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to name key ID %s", err, want)
		}
	}
}
