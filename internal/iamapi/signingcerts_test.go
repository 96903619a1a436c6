package iamapi

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"regexp"
	"testing"
	"time"
)

// selfSigned returns a PEM certificate for key, valid from notBefore to
// notAfter.
func selfSigned(t testing.TB, key crypto.Signer, notBefore, notAfter time.Time) string {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "iamd test"},
		NotBefore:    notBefore, NotAfter: notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("CERTIFICATE", der)
}

func TestParseSigningCertificate(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	valid := selfSigned(t, rsaKey, now.Add(-time.Hour), now.Add(365*24*time.Hour))

	tests := []struct {
		name, body, code string
	}{
		{"RSA", valid, ""},
		{"RSA with surrounding whitespace", "\n  " + valid + "\n\n", ""},
		{"ECDSA", selfSigned(t, ecKey, now.Add(-time.Hour), now.Add(time.Hour)), ""},
		{"not yet valid", selfSigned(t, rsaKey, now.Add(time.Hour), now.Add(2*time.Hour)), ""},
		{"expired", selfSigned(t, rsaKey, now.Add(-2*time.Hour), now.Add(-time.Hour)), "MalformedCertificate"},
		{"Ed25519", selfSigned(t, edKey, now.Add(-time.Hour), now.Add(time.Hour)), "InvalidCertificate"},
		{"not PEM", "MIIBkTCB+wIJAO", "MalformedCertificate"},
		{"PEM of a key", pemOf("PUBLIC KEY", mustGet(x509.MarshalPKIXPublicKey(&rsaKey.PublicKey))), "MalformedCertificate"},
		{"PEM with garbage DER", pemOf("CERTIFICATE", []byte("nonsense")), "MalformedCertificate"},
		{"two certificates", valid + valid, "MalformedCertificate"},
		{"truncated", valid[:len(valid)/2], "MalformedCertificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseSigningCertificate(tc.body, now)
			if got := awsCode(err); got != tc.code {
				t.Fatalf("error = %v (code %q), want %q", err, got, tc.code)
			}
		})
	}
}

func TestSigningCertificateID(t *testing.T) {
	now := time.Now()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	a, err := parseSigningCertificate(selfSigned(t, key, now.Add(-time.Hour), now.Add(time.Hour)), now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseSigningCertificate(selfSigned(t, key, now.Add(-time.Hour), now.Add(time.Hour)), now)
	if err != nil {
		t.Fatal(err)
	}
	id := signingCertificateID(a)
	if !regexp.MustCompile(`^[A-Z2-7]{32}$`).MatchString(id) {
		t.Errorf("ID = %q", id)
	}
	if signingCertificateID(a) != id || signingCertificateID(b) == id {
		t.Errorf("IDs are not one per certificate")
	}
}

// FuzzParseCertificatePEM checks that no input makes the parser panic or
// answer anything but an AWS error.
func FuzzParseSigningCertificate(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	f.Add(selfSigned(f, key, now.Add(-time.Hour), now.Add(time.Hour)))
	f.Add("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	f.Fuzz(func(t *testing.T, body string) {
		if _, err := parseSigningCertificate(body, now); err != nil && awsCode(err) == "" {
			t.Fatalf("non-AWS error %v", err)
		}
	})
}
