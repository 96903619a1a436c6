package iamapi

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/iam"
)

func sshLine(t testing.TB, pub any) string {
	t.Helper()
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

func pemOf(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func awsCode(err error) string {
	var ae *awsquery.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

func TestParseSSHPublicKey(t *testing.T) {
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pkix, _ := x509.MarshalPKIXPublicKey(&rsa2048.PublicKey)
	ecPKIX, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	line := sshLine(t, &rsa2048.PublicKey)
	want, _ := ssh.NewPublicKey(&rsa2048.PublicKey)

	tests := []struct {
		name, body, code string
	}{
		{"ssh-rsa", line, ""},
		{"ssh-rsa with comment and spaces", "  " + line + " alice@example.com\n", ""},
		{"ssh-rsa with options", `no-pty,command="x" ` + line, ""},
		{"PEM SubjectPublicKeyInfo", pemOf("PUBLIC KEY", pkix), ""},
		{"PEM PKCS #1", pemOf("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsa2048.PublicKey)), ""},
		{"RSA below 2048 bits", sshLine(t, &rsa1024.PublicKey), "InvalidPublicKey"},
		{"PEM RSA below 2048 bits", pemOf("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsa1024.PublicKey)), "InvalidPublicKey"},
		{"ssh-ed25519", sshLine(t, edPub), "UnrecognizedPublicKeyEncoding"},
		{"ecdsa", sshLine(t, &ec.PublicKey), "UnrecognizedPublicKeyEncoding"},
		{"PEM ecdsa", pemOf("PUBLIC KEY", ecPKIX), "UnrecognizedPublicKeyEncoding"},
		{"PEM certificate", pemOf("CERTIFICATE", []byte{1, 2, 3}), "UnrecognizedPublicKeyEncoding"},
		{"PEM garbage", pemOf("PUBLIC KEY", []byte("not DER")), "InvalidPublicKey"},
		{"PEM truncated", "-----BEGIN PUBLIC KEY-----\nMIIB", "InvalidPublicKey"},
		{"ssh-rsa bad base64", "ssh-rsa !!!notbase64 me", "InvalidPublicKey"},
		{"ssh-rsa truncated blob", "ssh-rsa " + base64.StdEncoding.EncodeToString(want.Marshal()[:40]), "InvalidPublicKey"},
		{"words", "hello world", "UnrecognizedPublicKeyEncoding"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			blob, err := parseSSHPublicKey(tc.body)
			if got := awsCode(err); got != tc.code {
				t.Fatalf("error = %v (code %q), want code %q", err, got, tc.code)
			}
			if tc.code == "" && string(blob) != string(want.Marshal()) {
				t.Errorf("blob differs from the key's wire format")
			}
		})
	}
}

func TestSSHFingerprintAndEncodings(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	line := sshLine(t, &priv.PublicKey)
	blob, err := parseSSHPublicKey(line + " bob@host")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ssh.ParsePublicKey(blob)
	if got, want := sshFingerprint(blob), ssh.FingerprintLegacyMD5(key); got != want {
		t.Errorf("fingerprint = %s, want %s", got, want)
	}
	k := &iam.SSHPublicKey{Body: line + " bob@host", Blob: blob}
	tests := []struct {
		name, encoding, want string
	}{
		{"SSH as uploaded", EncodingTypeSsh, line + " bob@host"},
		{"PEM converted", EncodingTypePem, strings.TrimSpace(pemOf("PUBLIC KEY", mustGet(x509.MarshalPKIXPublicKey(&priv.PublicKey))))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sshKeyBody(k, tc.encoding)
			if err != nil || got != tc.want {
				t.Errorf("sshKeyBody = %q, %v; want %q", got, err, tc.want)
			}
			// Converting back gives the same key.
			if b, err := parseSSHPublicKey(got); err != nil || string(b) != string(blob) {
				t.Errorf("round trip: %v", err)
			}
		})
	}
	pemKey := &iam.SSHPublicKey{Body: strings.TrimSpace(pemOf("PUBLIC KEY", mustGet(x509.MarshalPKIXPublicKey(&priv.PublicKey)))), Blob: blob}
	if got, _ := sshKeyBody(pemKey, EncodingTypeSsh); got != line {
		t.Errorf("PEM key as SSH = %q, want %q", got, line)
	}
}

func mustGet[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// FuzzParseSSHPublicKey checks that no input makes the parser panic or
// answer anything but an AWS error.
func FuzzParseSSHPublicKey(f *testing.F) {
	priv, _ := rsa.GenerateKey(rand.Reader, 2048)
	f.Add(sshLine(f, &priv.PublicKey))
	f.Add(pemOf("PUBLIC KEY", mustGet(x509.MarshalPKIXPublicKey(&priv.PublicKey))))
	f.Add("ssh-rsa AAAA")
	f.Fuzz(func(t *testing.T, body string) {
		if _, err := parseSSHPublicKey(body); err != nil && awsCode(err) == "" {
			t.Fatalf("non-AWS error %v", err)
		}
	})
}
