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
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

// issue returns a PEM certificate for key's public half, signed by
// parent's key (self-signed when parent is nil).
func issue(t testing.TB, name string, key crypto.Signer, parent *x509.Certificate, parentKey crypto.Signer, ca bool, notBefore, notAfter time.Time) (string, *x509.Certificate) {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: notBefore, NotAfter: notAfter, IsCA: ca, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return pemOf("CERTIFICATE", der), c
}

func TestCheckServerCertificate(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	from, to := now.Add(-time.Hour), now.Add(90*24*time.Hour)
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	interKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)

	rootPEM, root := issue(t, "root CA", rootKey, nil, nil, true, from, to)
	interPEM, inter := issue(t, "intermediate", interKey, root, rootKey, true, from, to)
	leaf, _ := issue(t, "www.example.com", rsaKey, inter, interKey, false, from, to)
	ecLeaf, _ := issue(t, "ec.example.com", ecKey, nil, nil, false, from, to)
	expired, _ := issue(t, "old.example.com", rsaKey, nil, nil, false, now.Add(-48*time.Hour), now.Add(-time.Hour))
	edLeaf, _ := issue(t, "ed.example.com", edKey, nil, nil, false, from, to)

	pkcs1 := pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey))
	pkcs8 := pemOf("PRIVATE KEY", mustGet(x509.MarshalPKCS8PrivateKey(rsaKey)))
	sec1 := pemOf("EC PRIVATE KEY", mustGet(x509.MarshalECPrivateKey(ecKey)))
	other := pemOf("EC PRIVATE KEY", mustGet(x509.MarshalECPrivateKey(otherKey)))
	encrypted := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte{1, 2, 3}}))

	tests := []struct {
		name, body, key, chain, code string
		msg                          string // a part of the message, if checked
	}{
		{"RSA leaf, PKCS #1 key, full chain", leaf, pkcs1, interPEM + rootPEM, "", ""},
		{"RSA leaf, PKCS #8 key, intermediate only", leaf, pkcs8, interPEM, "", ""},
		{"RSA leaf without chain", leaf, pkcs1, "", "", ""},
		{"ECDSA P-384, SEC 1 key", ecLeaf, sec1, "", "", ""},
		{"key of another certificate", leaf, other, "", "KeyPairMismatch", ""},
		{"expired", expired, pkcs1, "", "MalformedCertificate", "expired"},
		{"Ed25519 certificate", edLeaf, pemOf("PRIVATE KEY", mustGet(x509.MarshalPKCS8PrivateKey(edKey))), "", "MalformedCertificate", "not supported"},
		{"body not PEM", "junk", pkcs1, "", "MalformedCertificate", ""},
		{"key not PEM", leaf, "junk", "", "MalformedCertificate", "private key"},
		{"encrypted key", leaf, encrypted, "", "MalformedCertificate", "private key"},
		{"public key for private", leaf, pemOf("PUBLIC KEY", mustGet(x509.MarshalPKIXPublicKey(&rsaKey.PublicKey))), "", "MalformedCertificate", "private key"},
		{"chain out of order", leaf, pkcs1, rootPEM + interPEM, "MalformedCertificate", "is: 0"},
		{"chain missing the intermediate", leaf, pkcs1, rootPEM, "MalformedCertificate", "is: 0"},
		{"chain with an unrelated second certificate", leaf, pkcs1, interPEM + ecLeaf, "MalformedCertificate", "is: 1"},
		{"chain not PEM", leaf, pkcs1, "junk", "MalformedCertificate", "chain"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := checkServerCertificate(tc.body, tc.key, tc.chain, now)
			if got := awsCode(err); got != tc.code {
				t.Fatalf("error = %v (code %q), want %q", err, got, tc.code)
			}
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not mention %q", err, tc.msg)
			}
		})
	}
}

// FuzzCheckServerCertificate checks that no key or chain makes the checks
// panic or answer anything but an AWS error.
func FuzzCheckServerCertificate(f *testing.F) {
	now := time.Now()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	body, _ := issue(f, "fuzz", key, nil, nil, true, now.Add(-time.Hour), now.Add(time.Hour))
	f.Add(pemOf("EC PRIVATE KEY", mustGet(x509.MarshalECPrivateKey(key))), body)
	f.Add("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----")
	f.Fuzz(func(t *testing.T, privateKey, chain string) {
		if _, err := checkServerCertificate(body, privateKey, chain, now); err != nil && awsCode(err) == "" {
			t.Fatalf("non-AWS error %v", err)
		}
	})
}
