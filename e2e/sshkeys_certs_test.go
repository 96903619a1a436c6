package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/ssh"
)

// Credentials other than access keys and passwords: SSH public keys,
// signing certificates and service-specific credentials.

var sshKeyIDPattern = regexp.MustCompile(`^APKA[A-Z2-7]{17}$`)

// newSSHKey returns an RSA public key of the given size as an OpenSSH line
// and its fingerprint as IAM shows it.
func newSSHKey(t *testing.T, bits int) (line, fingerprint string, pub *rsa.PublicKey) {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(k.Marshal())
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02x", b)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))), strings.Join(parts, ":"), &priv.PublicKey
}

func TestSSHPublicKeys(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	_, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("dev")})
	must(t, err)
	user := aws.String("dev")

	// What Terraform's force_destroy lists first: an empty list, not an
	// error.
	empty, err := root.ListSSHPublicKeys(ctx, &iam.ListSSHPublicKeysInput{UserName: user})
	must(t, err)
	if len(empty.SSHPublicKeys) != 0 || empty.IsTruncated {
		t.Fatalf("ListSSHPublicKeys = %+v", empty)
	}

	line, fp, pub := newSSHKey(t, 2048)
	up, err := root.UploadSSHPublicKey(ctx, &iam.UploadSSHPublicKeyInput{UserName: user, SSHPublicKeyBody: aws.String(line + " dev@laptop\n")})
	must(t, err)
	k := up.SSHPublicKey
	id := aws.ToString(k.SSHPublicKeyId)
	if !sshKeyIDPattern.MatchString(id) || aws.ToString(k.Fingerprint) != fp || k.Status != types.StatusTypeActive ||
		aws.ToString(k.UserName) != "dev" || k.UploadDate == nil || aws.ToString(k.SSHPublicKeyBody) != line+" dev@laptop" {
		t.Fatalf("uploaded key = %+v", k)
	}

	got, err := root.GetSSHPublicKey(ctx, &iam.GetSSHPublicKeyInput{UserName: user, SSHPublicKeyId: k.SSHPublicKeyId, Encoding: types.EncodingTypeSsh})
	must(t, err)
	if aws.ToString(got.SSHPublicKey.SSHPublicKeyBody) != line+" dev@laptop" || aws.ToString(got.SSHPublicKey.Fingerprint) != fp {
		t.Errorf("GetSSHPublicKey SSH = %+v", got.SSHPublicKey)
	}
	got, err = root.GetSSHPublicKey(ctx, &iam.GetSSHPublicKeyInput{UserName: user, SSHPublicKeyId: k.SSHPublicKeyId, Encoding: types.EncodingTypePem})
	must(t, err)
	block, _ := pem.Decode([]byte(aws.ToString(got.SSHPublicKey.SSHPublicKeyBody)))
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("GetSSHPublicKey PEM = %q", aws.ToString(got.SSHPublicKey.SSHPublicKeyBody))
	}
	if back, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil || !back.(*rsa.PublicKey).Equal(pub) {
		t.Errorf("PEM body is not the key uploaded: %v", err)
	}

	// The same key in the other encoding is a duplicate.
	der, _ := x509.MarshalPKIXPublicKey(pub)
	_, err = root.UploadSSHPublicKey(ctx, &iam.UploadSSHPublicKeyInput{UserName: user, SSHPublicKeyBody: aws.String(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))})
	wantCode(t, err, "DuplicateSSHPublicKey")

	// Five keys per user.
	for range 4 {
		l, _, _ := newSSHKey(t, 2048)
		_, err := root.UploadSSHPublicKey(ctx, &iam.UploadSSHPublicKeyInput{UserName: user, SSHPublicKeyBody: aws.String(l)})
		must(t, err)
	}
	sixth, _, _ := newSSHKey(t, 2048)
	_, err = root.UploadSSHPublicKey(ctx, &iam.UploadSSHPublicKeyInput{UserName: user, SSHPublicKeyBody: aws.String(sixth)})
	wantCode(t, err, "LimitExceeded")

	_, err = root.UpdateSSHPublicKey(ctx, &iam.UpdateSSHPublicKeyInput{UserName: user, SSHPublicKeyId: k.SSHPublicKeyId, Status: types.StatusTypeInactive})
	must(t, err)
	list, err := root.ListSSHPublicKeys(ctx, &iam.ListSSHPublicKeysInput{UserName: user, MaxItems: aws.Int32(3)})
	must(t, err)
	if len(list.SSHPublicKeys) != 3 || !list.IsTruncated || aws.ToString(list.SSHPublicKeys[0].SSHPublicKeyId) != id || list.SSHPublicKeys[0].Status != types.StatusTypeInactive {
		t.Fatalf("first page = %+v", list)
	}
	rest, err := root.ListSSHPublicKeys(ctx, &iam.ListSSHPublicKeysInput{UserName: user, Marker: list.Marker})
	must(t, err)
	if len(rest.SSHPublicKeys) != 2 || rest.IsTruncated {
		t.Fatalf("second page = %+v", rest)
	}

	// A user with keys cannot be deleted until they are.
	_, err = root.DeleteUser(ctx, &iam.DeleteUserInput{UserName: user})
	wantCode(t, err, "DeleteConflict")
	wantAWSMessage(t, err, "Cannot delete entity, must delete SSH public keys first.")
	for _, m := range append(list.SSHPublicKeys, rest.SSHPublicKeys...) {
		_, err := root.DeleteSSHPublicKey(ctx, &iam.DeleteSSHPublicKeyInput{UserName: user, SSHPublicKeyId: m.SSHPublicKeyId})
		must(t, err)
	}
	_, err = root.DeleteSSHPublicKey(ctx, &iam.DeleteSSHPublicKeyInput{UserName: user, SSHPublicKeyId: k.SSHPublicKeyId})
	wantCode(t, err, "NoSuchEntity")
	_, err = root.DeleteUser(ctx, &iam.DeleteUserInput{UserName: user})
	must(t, err)
}

func TestSSHPublicKeyErrors(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	createUsers(t, root, "ann", "bob")
	line, _, _ := newSSHKey(t, 2048)
	small, _, _ := newSSHKey(t, 1024)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	edKey, _ := ssh.NewPublicKey(edPub)
	up, err := root.UploadSSHPublicKey(ctx, &iam.UploadSSHPublicKeyInput{UserName: aws.String("ann"), SSHPublicKeyBody: aws.String(line)})
	must(t, err)
	annKey := up.SSHPublicKey.SSHPublicKeyId
	// Another user may hold the same key: duplicates are per user.
	_, err = root.UploadSSHPublicKey(ctx, &iam.UploadSSHPublicKeyInput{UserName: aws.String("bob"), SSHPublicKeyBody: aws.String(line)})
	must(t, err)

	upload := func(user, body string) func() error {
		return func() error {
			_, err := root.UploadSSHPublicKey(ctx, &iam.UploadSSHPublicKeyInput{UserName: aws.String(user), SSHPublicKeyBody: aws.String(body)})
			return err
		}
	}
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"duplicate", upload("ann", line+" other comment"), "DuplicateSSHPublicKey"},
		{"RSA 1024", upload("ann", small), "InvalidPublicKey"},
		{"ed25519", upload("ann", string(ssh.MarshalAuthorizedKey(edKey))), "UnrecognizedPublicKeyEncoding"},
		{"not a key", upload("ann", "hello"), "UnrecognizedPublicKeyEncoding"},
		{"ssh-rsa with a broken blob", upload("ann", "ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB"), "InvalidPublicKey"},
		{"PEM with a broken body", upload("ann", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), "InvalidPublicKey"},
		{"empty", upload("ann", ""), "ValidationError"},
		{"unknown user", upload("nobody", line), "NoSuchEntity"},
		{"get another user's key", func() error {
			_, err := root.GetSSHPublicKey(ctx, &iam.GetSSHPublicKeyInput{UserName: aws.String("bob"), SSHPublicKeyId: annKey, Encoding: types.EncodingTypeSsh})
			return err
		}, "NoSuchEntity"},
		{"get unknown key", func() error {
			_, err := root.GetSSHPublicKey(ctx, &iam.GetSSHPublicKeyInput{UserName: aws.String("ann"), SSHPublicKeyId: aws.String("APKAAAAAAAAAAAAAAAAAA"), Encoding: types.EncodingTypeSsh})
			return err
		}, "NoSuchEntity"},
		{"bad encoding", func() error {
			_, err := root.GetSSHPublicKey(ctx, &iam.GetSSHPublicKeyInput{UserName: aws.String("ann"), SSHPublicKeyId: annKey, Encoding: "DER"})
			return err
		}, "ValidationError"},
		{"update another user's key", func() error {
			_, err := root.UpdateSSHPublicKey(ctx, &iam.UpdateSSHPublicKeyInput{UserName: aws.String("bob"), SSHPublicKeyId: annKey, Status: types.StatusTypeInactive})
			return err
		}, "NoSuchEntity"},
		{"list for unknown user", func() error {
			_, err := root.ListSSHPublicKeys(ctx, &iam.ListSSHPublicKeysInput{UserName: aws.String("nobody")})
			return err
		}, "NoSuchEntity"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, tc.call(), tc.code)
		})
	}
}

// TestSSHPublicKeySelfService checks the IAM actions: a user allowed only
// to list its own keys lists them without naming itself, and may not upload.
func TestSSHPublicKeySelfService(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	carl := e.iam(newUserWithKey(t, e, "carl", "iam:ListSSHPublicKeys"))
	line, _, _ := newSSHKey(t, 2048)
	_, err := carl.UploadSSHPublicKey(ctx, &iam.UploadSSHPublicKeyInput{UserName: aws.String("carl"), SSHPublicKeyBody: aws.String(line)})
	wantCode(t, err, "AccessDenied")
	_, err = e.rootIAM().UploadSSHPublicKey(ctx, &iam.UploadSSHPublicKeyInput{UserName: aws.String("carl"), SSHPublicKeyBody: aws.String(line)})
	must(t, err)
	own, err := carl.ListSSHPublicKeys(ctx, &iam.ListSSHPublicKeysInput{})
	must(t, err)
	if len(own.SSHPublicKeys) != 1 || aws.ToString(own.SSHPublicKeys[0].UserName) != "carl" {
		t.Errorf("own keys = %+v", own.SSHPublicKeys)
	}
	_, err = e.rootIAM().CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("dora")})
	must(t, err)
	_, err = carl.ListSSHPublicKeys(ctx, &iam.ListSSHPublicKeysInput{UserName: aws.String("dora")})
	wantCode(t, err, "AccessDenied")
	// The root user has no SSH keys of its own: an empty list.
	rootList, err := e.rootIAM().ListSSHPublicKeys(ctx, &iam.ListSSHPublicKeysInput{})
	must(t, err)
	if len(rootList.SSHPublicKeys) != 0 {
		t.Errorf("root's keys = %+v", rootList.SSHPublicKeys)
	}
}

func TestSSHPublicKeysCLI(t *testing.T) {
	e := start(t)
	_, err := e.cli(e.root, "iam", "create-user", "--user-name", "cli-dev")
	must(t, err)
	line, fp, _ := newSSHKey(t, 2048)
	out, err := e.cli(e.root, "iam", "upload-ssh-public-key", "--user-name", "cli-dev", "--ssh-public-key-body", line)
	must(t, err)
	var up struct {
		SSHPublicKey struct{ SSHPublicKeyId, Fingerprint, Status string }
	}
	must(t, json.Unmarshal([]byte(out), &up))
	if !sshKeyIDPattern.MatchString(up.SSHPublicKey.SSHPublicKeyId) || up.SSHPublicKey.Fingerprint != fp || up.SSHPublicKey.Status != "Active" {
		t.Fatalf("upload-ssh-public-key = %s", out)
	}
	out, err = e.cli(e.root, "iam", "list-ssh-public-keys", "--user-name", "cli-dev")
	must(t, err)
	if !strings.Contains(out, up.SSHPublicKey.SSHPublicKeyId) {
		t.Errorf("list-ssh-public-keys = %s", out)
	}
	_, err = e.cli(e.root, "iam", "upload-ssh-public-key", "--user-name", "cli-dev", "--ssh-public-key-body", "ssh-rsa AAAA")
	if err == nil || !strings.Contains(err.Error(), "InvalidPublicKey") {
		t.Errorf("malformed key: err = %v", err)
	}
}

// TestReplicasSSHPublicKeys uploads through one replica and reads and
// deletes through the other (PostgreSQL).
func TestReplicasSSHPublicKeys(t *testing.T) {
	a, b := twoReplicas(t)
	ctx := context.Background()
	ra, rb := a.rootIAM(), b.rootIAM()
	_, err := ra.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("rep")})
	must(t, err)
	line, fp, _ := newSSHKey(t, 2048)
	up, err := ra.UploadSSHPublicKey(ctx, &iam.UploadSSHPublicKeyInput{UserName: aws.String("rep"), SSHPublicKeyBody: aws.String(line)})
	must(t, err)
	within(t, propagation, "uploaded SSH key", func() error {
		got, err := rb.GetSSHPublicKey(ctx, &iam.GetSSHPublicKeyInput{UserName: aws.String("rep"), SSHPublicKeyId: up.SSHPublicKey.SSHPublicKeyId, Encoding: types.EncodingTypeSsh})
		if err != nil {
			return err
		}
		if aws.ToString(got.SSHPublicKey.Fingerprint) != fp {
			return fmt.Errorf("fingerprint %s", aws.ToString(got.SSHPublicKey.Fingerprint))
		}
		return nil
	})
	_, err = rb.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("rep")})
	wantCode(t, err, "DeleteConflict")
	_, err = rb.DeleteSSHPublicKey(ctx, &iam.DeleteSSHPublicKeyInput{UserName: aws.String("rep"), SSHPublicKeyId: up.SSHPublicKey.SSHPublicKeyId})
	must(t, err)
	within(t, propagation, "deleted SSH key", func() error {
		list, err := ra.ListSSHPublicKeys(ctx, &iam.ListSSHPublicKeysInput{UserName: aws.String("rep")})
		if err != nil {
			return err
		}
		if len(list.SSHPublicKeys) != 0 {
			return fmt.Errorf("%d keys", len(list.SSHPublicKeys))
		}
		return nil
	})
}

var signingCertIDPattern = regexp.MustCompile(`^[A-Z2-7]{32}$`)

// newCertificate returns a fresh self-signed certificate in PEM, valid from
// notBefore to notAfter.
func newCertificate(t *testing.T, notBefore, notAfter time.Time) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "signer"}, NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func validCertificate(t *testing.T) string {
	return newCertificate(t, time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour))
}

func TestSigningCertificates(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	createUsers(t, root, "signer", "other")
	user := aws.String("signer")

	empty, err := root.ListSigningCertificates(ctx, &iam.ListSigningCertificatesInput{UserName: user})
	must(t, err)
	if len(empty.Certificates) != 0 || empty.IsTruncated {
		t.Fatalf("ListSigningCertificates = %+v", empty)
	}

	body := validCertificate(t)
	up, err := root.UploadSigningCertificate(ctx, &iam.UploadSigningCertificateInput{UserName: user, CertificateBody: aws.String(body)})
	must(t, err)
	c1 := up.Certificate
	if !signingCertIDPattern.MatchString(aws.ToString(c1.CertificateId)) || c1.Status != types.StatusTypeActive ||
		aws.ToString(c1.UserName) != "signer" || c1.UploadDate == nil || aws.ToString(c1.CertificateBody) != body {
		t.Fatalf("uploaded certificate = %+v", c1)
	}
	// A certificate belongs to one user of the account.
	_, err = root.UploadSigningCertificate(ctx, &iam.UploadSigningCertificateInput{UserName: aws.String("other"), CertificateBody: aws.String(body)})
	wantCode(t, err, "DuplicateCertificate")
	_, err = root.UploadSigningCertificate(ctx, &iam.UploadSigningCertificateInput{UserName: user, CertificateBody: aws.String(body)})
	wantCode(t, err, "DuplicateCertificate")

	up2, err := root.UploadSigningCertificate(ctx, &iam.UploadSigningCertificateInput{UserName: user, CertificateBody: aws.String(validCertificate(t))})
	must(t, err)
	_, err = root.UploadSigningCertificate(ctx, &iam.UploadSigningCertificateInput{UserName: user, CertificateBody: aws.String(validCertificate(t))})
	wantCode(t, err, "LimitExceeded")

	_, err = root.UpdateSigningCertificate(ctx, &iam.UpdateSigningCertificateInput{UserName: user, CertificateId: c1.CertificateId, Status: types.StatusTypeInactive})
	must(t, err)
	list, err := root.ListSigningCertificates(ctx, &iam.ListSigningCertificatesInput{UserName: user})
	must(t, err)
	if len(list.Certificates) != 2 || list.Certificates[0].Status != types.StatusTypeInactive || list.Certificates[1].Status != types.StatusTypeActive {
		t.Fatalf("certificates = %+v", list.Certificates)
	}

	// The credential report shows both, oldest first.
	_, err = root.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
	must(t, err)
	rep, err := root.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	must(t, err)
	_, rows := reportRows(t, rep.Content)
	row := rows["signer"]
	if row["cert_1_active"] != "false" || row["cert_1_last_rotated"] != c1.UploadDate.UTC().Format("2006-01-02T15:04:05+00:00") ||
		row["cert_2_active"] != "true" || row["cert_2_last_rotated"] != up2.Certificate.UploadDate.UTC().Format("2006-01-02T15:04:05+00:00") {
		t.Errorf("report row = %v", row)
	}
	if r := rows["other"]; r["cert_1_active"] != "false" || r["cert_1_last_rotated"] != "N/A" || r["cert_2_last_rotated"] != "N/A" {
		t.Errorf("report row without certificates = %v", r)
	}

	_, err = root.DeleteUser(ctx, &iam.DeleteUserInput{UserName: user})
	wantCode(t, err, "DeleteConflict")
	wantAWSMessage(t, err, "Cannot delete entity, must delete signing certificates first.")
	for _, c := range list.Certificates {
		_, err := root.DeleteSigningCertificate(ctx, &iam.DeleteSigningCertificateInput{UserName: user, CertificateId: c.CertificateId})
		must(t, err)
	}
	_, err = root.DeleteSigningCertificate(ctx, &iam.DeleteSigningCertificateInput{UserName: user, CertificateId: c1.CertificateId})
	wantCode(t, err, "NoSuchEntity")
	_, err = root.DeleteUser(ctx, &iam.DeleteUserInput{UserName: user})
	must(t, err)
	// Deleted, the certificate may be uploaded again.
	_, err = root.UploadSigningCertificate(ctx, &iam.UploadSigningCertificateInput{UserName: aws.String("other"), CertificateBody: aws.String(body)})
	must(t, err)
}

// TestSigningCertificatesOwnAndRoot checks that without a user name the
// certificates are the caller's own: a user's, or the root user's, which the
// credential report shows on the root row.
func TestSigningCertificatesOwnAndRoot(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	self := e.iam(newUserWithKey(t, e, "selfie", "iam:UploadSigningCertificate", "iam:ListSigningCertificates", "iam:DeleteSigningCertificate"))
	up, err := self.UploadSigningCertificate(ctx, &iam.UploadSigningCertificateInput{CertificateBody: aws.String(validCertificate(t))})
	must(t, err)
	if aws.ToString(up.Certificate.UserName) != "selfie" {
		t.Errorf("own certificate = %+v", up.Certificate)
	}
	own, err := self.ListSigningCertificates(ctx, &iam.ListSigningCertificatesInput{})
	must(t, err)
	if len(own.Certificates) != 1 {
		t.Errorf("own certificates = %+v", own.Certificates)
	}
	_, err = root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("victim")})
	must(t, err)
	_, err = self.UploadSigningCertificate(ctx, &iam.UploadSigningCertificateInput{UserName: aws.String("victim"), CertificateBody: aws.String(validCertificate(t))})
	wantCode(t, err, "AccessDenied")

	rc, err := root.UploadSigningCertificate(ctx, &iam.UploadSigningCertificateInput{CertificateBody: aws.String(validCertificate(t))})
	must(t, err)
	rootList, err := root.ListSigningCertificates(ctx, &iam.ListSigningCertificatesInput{})
	must(t, err)
	if len(rootList.Certificates) != 1 || aws.ToString(rootList.Certificates[0].CertificateId) != aws.ToString(rc.Certificate.CertificateId) {
		t.Errorf("root's certificates = %+v", rootList.Certificates)
	}
	sum, err := root.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
	must(t, err)
	if sum.SummaryMap["AccountSigningCertificatesPresent"] != 1 {
		t.Errorf("AccountSigningCertificatesPresent = %d", sum.SummaryMap["AccountSigningCertificatesPresent"])
	}
	// A user's certificate is not the root user's.
	_, err = root.DeleteSigningCertificate(ctx, &iam.DeleteSigningCertificateInput{CertificateId: up.Certificate.CertificateId})
	wantCode(t, err, "NoSuchEntity")
	_, err = root.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
	must(t, err)
	rep, err := root.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	must(t, err)
	_, rows := reportRows(t, rep.Content)
	if r := rows["<root_account>"]; r["cert_1_active"] != "true" || r["cert_2_active"] != "false" {
		t.Errorf("root row = %v", r)
	}
	if r := rows["selfie"]; r["cert_1_active"] != "true" {
		t.Errorf("selfie row = %v", r)
	}
}

func TestSigningCertificateErrors(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	createUsers(t, root, "ann", "bob")
	up, err := root.UploadSigningCertificate(ctx, &iam.UploadSigningCertificateInput{UserName: aws.String("ann"), CertificateBody: aws.String(validCertificate(t))})
	must(t, err)
	annCert := up.Certificate.CertificateId
	upload := func(user, body string) func() error {
		return func() error {
			_, err := root.UploadSigningCertificate(ctx, &iam.UploadSigningCertificateInput{UserName: aws.String(user), CertificateBody: aws.String(body)})
			return err
		}
	}
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"not PEM", upload("ann", "hello"), "MalformedCertificate"},
		{"broken DER", upload("ann", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "MalformedCertificate"},
		{"expired", upload("ann", newCertificate(t, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))), "MalformedCertificate"},
		{"empty", upload("ann", ""), "ValidationError"},
		{"unknown user", upload("nobody", validCertificate(t)), "NoSuchEntity"},
		{"update another user's certificate", func() error {
			_, err := root.UpdateSigningCertificate(ctx, &iam.UpdateSigningCertificateInput{UserName: aws.String("bob"), CertificateId: annCert, Status: types.StatusTypeInactive})
			return err
		}, "NoSuchEntity"},
		{"delete unknown certificate", func() error {
			_, err := root.DeleteSigningCertificate(ctx, &iam.DeleteSigningCertificateInput{UserName: aws.String("ann"), CertificateId: aws.String("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")})
			return err
		}, "NoSuchEntity"},
		{"bad status", func() error {
			_, err := root.UpdateSigningCertificate(ctx, &iam.UpdateSigningCertificateInput{UserName: aws.String("ann"), CertificateId: annCert, Status: "Paused"})
			return err
		}, "ValidationError"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, tc.call(), tc.code)
		})
	}
}

func TestSigningCertificatesCLI(t *testing.T) {
	e := start(t)
	_, err := e.cli(e.root, "iam", "create-user", "--user-name", "cli-signer")
	must(t, err)
	out, err := e.cli(e.root, "iam", "upload-signing-certificate", "--user-name", "cli-signer", "--certificate-body", validCertificate(t))
	must(t, err)
	var up struct {
		Certificate struct{ CertificateId, Status string }
	}
	must(t, json.Unmarshal([]byte(out), &up))
	if !signingCertIDPattern.MatchString(up.Certificate.CertificateId) || up.Certificate.Status != "Active" {
		t.Fatalf("upload-signing-certificate = %s", out)
	}
	out, err = e.cli(e.root, "iam", "list-signing-certificates", "--user-name", "cli-signer")
	must(t, err)
	if !strings.Contains(out, up.Certificate.CertificateId) {
		t.Errorf("list-signing-certificates = %s", out)
	}
	_, err = e.cli(e.root, "iam", "upload-signing-certificate", "--user-name", "cli-signer", "--certificate-body", "junk")
	if err == nil || !strings.Contains(err.Error(), "MalformedCertificate") {
		t.Errorf("malformed certificate: err = %v", err)
	}
}

// TestReplicasSigningCertificates races two replicas uploading the same
// certificate: exactly one wins (PostgreSQL).
func TestReplicasSigningCertificates(t *testing.T) {
	a, b := twoReplicas(t)
	ctx := context.Background()
	ra, rb := a.rootIAM(), b.rootIAM()
	createUsers(t, ra, "x", "y")
	within(t, propagation, "users", func() error {
		_, err := rb.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("y")})
		return err
	})
	body := validCertificate(t)
	errs := make(chan error, 2)
	go func() {
		_, err := ra.UploadSigningCertificate(ctx, &iam.UploadSigningCertificateInput{UserName: aws.String("x"), CertificateBody: aws.String(body)})
		errs <- err
	}()
	go func() {
		_, err := rb.UploadSigningCertificate(ctx, &iam.UploadSigningCertificateInput{UserName: aws.String("y"), CertificateBody: aws.String(body)})
		errs <- err
	}()
	var ok, dup int
	for range 2 {
		switch err := <-errs; {
		case err == nil:
			ok++
		case errCode(err) == "DuplicateCertificate" || errCode(err) == "ConcurrentModification":
			dup++
		default:
			t.Fatalf("upload: %v", err)
		}
	}
	if ok != 1 || dup != 1 {
		t.Fatalf("%d uploads succeeded, %d refused; want 1 and 1", ok, dup)
	}
	within(t, propagation, "certificate on both replicas", func() error {
		for _, c := range []*iam.Client{ra, rb} {
			n := 0
			for _, u := range []string{"x", "y"} {
				l, err := c.ListSigningCertificates(ctx, &iam.ListSigningCertificatesInput{UserName: aws.String(u)})
				if err != nil {
					return err
				}
				n += len(l.Certificates)
			}
			if n != 1 {
				return fmt.Errorf("%d certificates", n)
			}
		}
		return nil
	})
}

var serviceCredIDPattern = regexp.MustCompile(`^ACCA[A-Z2-7]{17}$`)

func TestServiceSpecificCredentials(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	createUsers(t, root, "git")
	user := aws.String("git")
	create := func(service string) (*types.ServiceSpecificCredential, error) {
		out, err := root.CreateServiceSpecificCredential(ctx, &iam.CreateServiceSpecificCredentialInput{UserName: user, ServiceName: aws.String(service)})
		if err != nil {
			return nil, err
		}
		return out.ServiceSpecificCredential, nil
	}

	empty, err := root.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{UserName: user})
	must(t, err)
	if len(empty.ServiceSpecificCredentials) != 0 {
		t.Fatalf("ListServiceSpecificCredentials = %+v", empty)
	}

	c1, err := create("codecommit.amazonaws.com")
	must(t, err)
	if !serviceCredIDPattern.MatchString(aws.ToString(c1.ServiceSpecificCredentialId)) || aws.ToString(c1.ServiceUserName) != "git-at-123456789012" ||
		len(aws.ToString(c1.ServicePassword)) != 44 || c1.Status != types.StatusTypeActive || aws.ToString(c1.UserName) != "git" ||
		c1.CreateDate == nil || aws.ToString(c1.ServiceName) != "codecommit.amazonaws.com" || c1.ServiceCredentialSecret != nil {
		t.Fatalf("created credential = %+v", c1)
	}
	c2, err := create("codecommit.amazonaws.com")
	must(t, err)
	if aws.ToString(c2.ServiceUserName) != "git+1-at-123456789012" || aws.ToString(c2.ServicePassword) == aws.ToString(c1.ServicePassword) {
		t.Errorf("second credential = %+v", c2)
	}
	_, err = create("codecommit.amazonaws.com")
	wantCode(t, err, "LimitExceeded")
	// The quota is per service.
	c3, err := create("cassandra.amazonaws.com")
	must(t, err)
	_, err = create("s3.amazonaws.com")
	wantCode(t, err, "NotSupportedService")

	all, err := root.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{UserName: user})
	must(t, err)
	if n := len(all.ServiceSpecificCredentials); n != 3 {
		t.Fatalf("%d credentials, want 3", n)
	}
	for _, m := range all.ServiceSpecificCredentials {
		if m.ServiceUserName == nil || m.CreateDate == nil || m.Status != types.StatusTypeActive {
			t.Errorf("listed credential = %+v", m)
		}
	}
	cc, err := root.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{UserName: user, ServiceName: aws.String("codecommit.amazonaws.com")})
	must(t, err)
	if len(cc.ServiceSpecificCredentials) != 2 {
		t.Errorf("codecommit credentials = %+v", cc.ServiceSpecificCredentials)
	}
	_, err = root.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{UserName: user, ServiceName: aws.String("nope.amazonaws.com")})
	wantCode(t, err, "NotSupportedService")

	_, err = root.UpdateServiceSpecificCredential(ctx, &iam.UpdateServiceSpecificCredentialInput{UserName: user, ServiceSpecificCredentialId: c1.ServiceSpecificCredentialId, Status: types.StatusTypeInactive})
	must(t, err)
	reset, err := root.ResetServiceSpecificCredential(ctx, &iam.ResetServiceSpecificCredentialInput{UserName: user, ServiceSpecificCredentialId: c1.ServiceSpecificCredentialId})
	must(t, err)
	r := reset.ServiceSpecificCredential
	if aws.ToString(r.ServiceUserName) != "git-at-123456789012" || len(aws.ToString(r.ServicePassword)) != 44 ||
		aws.ToString(r.ServicePassword) == aws.ToString(c1.ServicePassword) || r.Status != types.StatusTypeInactive {
		t.Errorf("reset credential = %+v", r)
	}

	_, err = root.DeleteUser(ctx, &iam.DeleteUserInput{UserName: user})
	wantCode(t, err, "DeleteConflict")
	// A freed name is given again.
	_, err = root.DeleteServiceSpecificCredential(ctx, &iam.DeleteServiceSpecificCredentialInput{UserName: user, ServiceSpecificCredentialId: c1.ServiceSpecificCredentialId})
	must(t, err)
	c4, err := create("codecommit.amazonaws.com")
	must(t, err)
	if aws.ToString(c4.ServiceUserName) != "git-at-123456789012" {
		t.Errorf("credential after a deletion = %+v", c4)
	}
	for _, c := range []*types.ServiceSpecificCredential{c2, c3, c4} {
		_, err := root.DeleteServiceSpecificCredential(ctx, &iam.DeleteServiceSpecificCredentialInput{UserName: user, ServiceSpecificCredentialId: c.ServiceSpecificCredentialId})
		must(t, err)
	}
	_, err = root.DeleteServiceSpecificCredential(ctx, &iam.DeleteServiceSpecificCredentialInput{UserName: user, ServiceSpecificCredentialId: c4.ServiceSpecificCredentialId})
	wantCode(t, err, "NoSuchEntity")
	_, err = root.DeleteUser(ctx, &iam.DeleteUserInput{UserName: user})
	must(t, err)
}

// TestServiceSpecificAPIKeys checks the long-term API keys of Amazon
// Bedrock: an alias and a secret instead of a user name and password, and
// an expiry.
func TestServiceSpecificAPIKeys(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	createUsers(t, root, "ml")
	out, err := root.CreateServiceSpecificCredential(ctx, &iam.CreateServiceSpecificCredentialInput{
		UserName: aws.String("ml"), ServiceName: aws.String("bedrock.amazonaws.com"), CredentialAgeDays: aws.Int32(30),
	})
	must(t, err)
	k := out.ServiceSpecificCredential
	if aws.ToString(k.ServiceCredentialAlias) != "ml-at-123456789012" || !strings.HasPrefix(aws.ToString(k.ServiceCredentialSecret), "ABSK") ||
		k.ServiceUserName != nil || k.ServicePassword != nil || k.ExpirationDate == nil || !k.ExpirationDate.Equal(k.CreateDate.AddDate(0, 0, 30)) {
		t.Fatalf("API key = %+v", k)
	}
	list, err := root.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{UserName: aws.String("ml")})
	must(t, err)
	if len(list.ServiceSpecificCredentials) != 1 || aws.ToString(list.ServiceSpecificCredentials[0].ServiceCredentialAlias) != "ml-at-123456789012" || list.ServiceSpecificCredentials[0].ExpirationDate == nil {
		t.Errorf("listed API keys = %+v", list.ServiceSpecificCredentials)
	}
	_, err = root.CreateServiceSpecificCredential(ctx, &iam.CreateServiceSpecificCredentialInput{
		UserName: aws.String("ml"), ServiceName: aws.String("codecommit.amazonaws.com"), CredentialAgeDays: aws.Int32(30),
	})
	wantCode(t, err, "ValidationError")
	_, err = root.CreateServiceSpecificCredential(ctx, &iam.CreateServiceSpecificCredentialInput{
		UserName: aws.String("ml"), ServiceName: aws.String("bedrock.amazonaws.com"), CredentialAgeDays: aws.Int32(0),
	})
	wantCode(t, err, "ValidationError")
}

// TestServiceSpecificCredentialsAuthorization checks the IAM actions and
// the iam:ServiceSpecificCredentialServiceName condition key, the caller's
// own credentials without a user name, and AllUsers.
func TestServiceSpecificCredentialsAuthorization(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	dev := newUserWithKey(t, e, "dev", "iam:ListServiceSpecificCredentials", "iam:ResetServiceSpecificCredential")
	_, err := root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{
		UserName: aws.String("dev"), PolicyName: aws.String("git-only"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:CreateServiceSpecificCredential","Resource":"arn:aws:iam::123456789012:user/dev","Condition":{"StringEquals":{"iam:ServiceSpecificCredentialServiceName":"codecommit.amazonaws.com"}}}]}`),
	})
	must(t, err)
	c := e.iam(dev)
	created, err := c.CreateServiceSpecificCredential(ctx, &iam.CreateServiceSpecificCredentialInput{UserName: aws.String("dev"), ServiceName: aws.String("codecommit.amazonaws.com")})
	must(t, err)
	_, err = c.CreateServiceSpecificCredential(ctx, &iam.CreateServiceSpecificCredentialInput{UserName: aws.String("dev"), ServiceName: aws.String("cassandra.amazonaws.com")})
	wantCode(t, err, "AccessDenied")

	own, err := c.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{})
	must(t, err)
	if len(own.ServiceSpecificCredentials) != 1 || aws.ToString(own.ServiceSpecificCredentials[0].UserName) != "dev" {
		t.Errorf("own credentials = %+v", own.ServiceSpecificCredentials)
	}
	_, err = c.ResetServiceSpecificCredential(ctx, &iam.ResetServiceSpecificCredentialInput{ServiceSpecificCredentialId: created.ServiceSpecificCredential.ServiceSpecificCredentialId})
	must(t, err)
	_, err = c.DeleteServiceSpecificCredential(ctx, &iam.DeleteServiceSpecificCredentialInput{ServiceSpecificCredentialId: created.ServiceSpecificCredential.ServiceSpecificCredentialId})
	wantCode(t, err, "AccessDenied")
	_, err = c.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{AllUsers: aws.Bool(true)})
	wantCode(t, err, "AccessDenied")

	createUsers(t, root, "ops")
	_, err = root.CreateServiceSpecificCredential(ctx, &iam.CreateServiceSpecificCredentialInput{UserName: aws.String("ops"), ServiceName: aws.String("cassandra.amazonaws.com")})
	must(t, err)
	everyone, err := root.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{AllUsers: aws.Bool(true)})
	must(t, err)
	if len(everyone.ServiceSpecificCredentials) != 2 {
		t.Errorf("all users' credentials = %+v", everyone.ServiceSpecificCredentials)
	}
	ks, err := root.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{AllUsers: aws.Bool(true), ServiceName: aws.String("cassandra.amazonaws.com")})
	must(t, err)
	if len(ks.ServiceSpecificCredentials) != 1 || aws.ToString(ks.ServiceSpecificCredentials[0].UserName) != "ops" {
		t.Errorf("Keyspaces credentials = %+v", ks.ServiceSpecificCredentials)
	}
	// Another user's credential is not found under this user's name.
	_, err = root.ResetServiceSpecificCredential(ctx, &iam.ResetServiceSpecificCredentialInput{UserName: aws.String("ops"), ServiceSpecificCredentialId: created.ServiceSpecificCredential.ServiceSpecificCredentialId})
	wantCode(t, err, "NoSuchEntity")
}

func TestServiceSpecificCredentialsCLI(t *testing.T) {
	e := start(t)
	_, err := e.cli(e.root, "iam", "create-user", "--user-name", "cli-git")
	must(t, err)
	out, err := e.cli(e.root, "iam", "create-service-specific-credential", "--user-name", "cli-git", "--service-name", "codecommit.amazonaws.com")
	must(t, err)
	var created struct {
		ServiceSpecificCredential struct{ ServiceSpecificCredentialId, ServiceUserName, ServicePassword string }
	}
	must(t, json.Unmarshal([]byte(out), &created))
	if created.ServiceSpecificCredential.ServiceUserName != "cli-git-at-123456789012" || created.ServiceSpecificCredential.ServicePassword == "" {
		t.Fatalf("create-service-specific-credential = %s", out)
	}
	out, err = e.cli(e.root, "iam", "list-service-specific-credentials", "--user-name", "cli-git")
	must(t, err)
	if !strings.Contains(out, created.ServiceSpecificCredential.ServiceSpecificCredentialId) || strings.Contains(out, created.ServiceSpecificCredential.ServicePassword) {
		t.Errorf("list-service-specific-credentials = %s", out)
	}
	_, err = e.cli(e.root, "iam", "create-service-specific-credential", "--user-name", "cli-git", "--service-name", "ec2.amazonaws.com")
	if err == nil || !strings.Contains(err.Error(), "NotSupportedService") {
		t.Errorf("unsupported service: err = %v", err)
	}
}

var serverCertIDPattern = regexp.MustCompile(`^ASCA[A-Z2-7]{17}$`)

// tlsChain is a leaf certificate with its key, issued by an intermediate
// that a root signed.
type tlsChain struct {
	leaf, key, chain string
	notAfter         time.Time
	leafKey          *rsa.PrivateKey
}

func newTLSChain(t *testing.T) tlsChain {
	t.Helper()
	from, to := time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour)
	issue := func(name string, pub any, parent *x509.Certificate, parentKey any, ca bool, notAfter time.Time) (*x509.Certificate, string) {
		serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
		tmpl := &x509.Certificate{
			SerialNumber: serial, Subject: pkix.Name{CommonName: name}, NotBefore: from, NotAfter: notAfter,
			IsCA: ca, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		}
		if parent == nil {
			parent = tmpl
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	interKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	root, rootPEM := issue("root", &rootKey.PublicKey, nil, rootKey, true, to)
	inter, interPEM := issue("intermediate", &interKey.PublicKey, root, rootKey, true, to)
	leaf, leafPEM := issue("www.example.com", &leafKey.PublicKey, inter, interKey, false, to.Add(-time.Hour))
	return tlsChain{
		leaf: leafPEM, chain: interPEM + rootPEM, notAfter: leaf.NotAfter, leafKey: leafKey,
		key: string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(leafKey)})),
	}
}

func TestServerCertificates(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	tc := newTLSChain(t)

	empty, err := root.ListServerCertificates(ctx, &iam.ListServerCertificatesInput{})
	must(t, err)
	if len(empty.ServerCertificateMetadataList) != 0 {
		t.Fatalf("ListServerCertificates = %+v", empty)
	}
	up, err := root.UploadServerCertificate(ctx, &iam.UploadServerCertificateInput{
		ServerCertificateName: aws.String("web"), Path: aws.String("/cloudfront/test/"),
		CertificateBody: aws.String(tc.leaf), PrivateKey: aws.String(tc.key), CertificateChain: aws.String(tc.chain),
		Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}},
	})
	must(t, err)
	md := up.ServerCertificateMetadata
	if aws.ToString(md.Arn) != "arn:aws:iam::123456789012:server-certificate/cloudfront/test/web" || !serverCertIDPattern.MatchString(aws.ToString(md.ServerCertificateId)) ||
		aws.ToString(md.Path) != "/cloudfront/test/" || md.UploadDate == nil || md.Expiration == nil || !md.Expiration.Equal(tc.notAfter.Truncate(time.Second)) || len(up.Tags) != 1 {
		t.Fatalf("uploaded = %+v, tags %+v", md, up.Tags)
	}

	sum, err := root.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
	must(t, err)
	if sum.SummaryMap["ServerCertificates"] != 1 || sum.SummaryMap["ServerCertificatesQuota"] != 20 {
		t.Errorf("summary: ServerCertificates %d, quota %d", sum.SummaryMap["ServerCertificates"], sum.SummaryMap["ServerCertificatesQuota"])
	}
	got, err := root.GetServerCertificate(ctx, &iam.GetServerCertificateInput{ServerCertificateName: aws.String("web")})
	must(t, err)
	sc := got.ServerCertificate
	if aws.ToString(sc.CertificateBody) != strings.TrimSpace(tc.leaf) || aws.ToString(sc.CertificateChain) != strings.TrimSpace(tc.chain) ||
		len(sc.Tags) != 1 || aws.ToString(sc.ServerCertificateMetadata.ServerCertificateId) != aws.ToString(md.ServerCertificateId) {
		t.Errorf("GetServerCertificate = %+v", sc)
	}
	_, err = root.UploadServerCertificate(ctx, &iam.UploadServerCertificateInput{
		ServerCertificateName: aws.String("WEB"), CertificateBody: aws.String(tc.leaf), PrivateKey: aws.String(tc.key),
	})
	wantCode(t, err, "EntityAlreadyExists")

	for prefix, want := range map[string]int{"/cloudfront/": 1, "/": 1, "/other/": 0} {
		l, err := root.ListServerCertificates(ctx, &iam.ListServerCertificatesInput{PathPrefix: aws.String(prefix)})
		must(t, err)
		if len(l.ServerCertificateMetadataList) != want {
			t.Errorf("PathPrefix %s: %d certificates, want %d", prefix, len(l.ServerCertificateMetadataList), want)
		}
	}

	_, err = root.TagServerCertificate(ctx, &iam.TagServerCertificateInput{ServerCertificateName: aws.String("web"), Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("edge")}}})
	must(t, err)
	_, err = root.UntagServerCertificate(ctx, &iam.UntagServerCertificateInput{ServerCertificateName: aws.String("web"), TagKeys: []string{"env"}})
	must(t, err)
	tags, err := root.ListServerCertificateTags(ctx, &iam.ListServerCertificateTagsInput{ServerCertificateName: aws.String("web")})
	must(t, err)
	if len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "team" {
		t.Errorf("tags = %+v", tags.Tags)
	}

	_, err = root.UpdateServerCertificate(ctx, &iam.UpdateServerCertificateInput{
		ServerCertificateName: aws.String("web"), NewServerCertificateName: aws.String("www"), NewPath: aws.String("/elb/"),
	})
	must(t, err)
	_, err = root.GetServerCertificate(ctx, &iam.GetServerCertificateInput{ServerCertificateName: aws.String("web")})
	wantCode(t, err, "NoSuchEntity")
	wantAWSMessage(t, err, "The Server Certificate with name web cannot be found.")
	moved, err := root.GetServerCertificate(ctx, &iam.GetServerCertificateInput{ServerCertificateName: aws.String("www")})
	must(t, err)
	if m := moved.ServerCertificate.ServerCertificateMetadata; aws.ToString(m.Arn) != "arn:aws:iam::123456789012:server-certificate/elb/www" ||
		aws.ToString(m.ServerCertificateId) != aws.ToString(md.ServerCertificateId) || len(moved.ServerCertificate.Tags) != 1 {
		t.Errorf("renamed = %+v", moved.ServerCertificate)
	}

	_, err = root.DeleteServerCertificate(ctx, &iam.DeleteServerCertificateInput{ServerCertificateName: aws.String("www")})
	must(t, err)
	_, err = root.DeleteServerCertificate(ctx, &iam.DeleteServerCertificateInput{ServerCertificateName: aws.String("www")})
	wantCode(t, err, "NoSuchEntity")
}

func TestServerCertificateErrors(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	tc, other := newTLSChain(t), newTLSChain(t)
	expiredKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "old"}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &expiredKey.PublicKey, expiredKey)
	expiredPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	expiredKeyDER, _ := x509.MarshalECPrivateKey(expiredKey)

	upload := func(name, body, key, chain string) func() error {
		return func() error {
			in := &iam.UploadServerCertificateInput{ServerCertificateName: aws.String(name), CertificateBody: aws.String(body), PrivateKey: aws.String(key)}
			if chain != "" {
				in.CertificateChain = aws.String(chain)
			}
			_, err := root.UploadServerCertificate(ctx, in)
			return err
		}
	}
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"another certificate's key", upload("a", tc.leaf, other.key, ""), "KeyPairMismatch"},
		{"expired", upload("b", expiredPEM, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: expiredKeyDER})), ""), "MalformedCertificate"},
		{"another certificate's chain", upload("c", tc.leaf, tc.key, other.chain), "MalformedCertificate"},
		{"malformed body", upload("d", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", tc.key, ""), "MalformedCertificate"},
		{"malformed key", upload("e", tc.leaf, "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n", ""), "MalformedCertificate"},
		{"no private key", upload("f", tc.leaf, "", ""), "ValidationError"},
		{"bad name", upload("no spaces", tc.leaf, tc.key, ""), "ValidationError"},
		{"get unknown", func() error {
			_, err := root.GetServerCertificate(ctx, &iam.GetServerCertificateInput{ServerCertificateName: aws.String("nope")})
			return err
		}, "NoSuchEntity"},
		{"tag unknown", func() error {
			_, err := root.TagServerCertificate(ctx, &iam.TagServerCertificateInput{ServerCertificateName: aws.String("nope"), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
			return err
		}, "NoSuchEntity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, tt.call(), tt.code)
		})
	}

	// Twenty per account.
	for i := range 20 {
		must(t, upload(fmt.Sprintf("cert-%02d", i), tc.leaf, tc.key, tc.chain)())
	}
	wantCode(t, upload("cert-20", tc.leaf, tc.key, "")(), "LimitExceeded")
	page, err := root.ListServerCertificates(ctx, &iam.ListServerCertificatesInput{MaxItems: aws.Int32(15)})
	must(t, err)
	rest, err := root.ListServerCertificates(ctx, &iam.ListServerCertificatesInput{Marker: page.Marker})
	must(t, err)
	if len(page.ServerCertificateMetadataList) != 15 || !page.IsTruncated || len(rest.ServerCertificateMetadataList) != 5 || rest.IsTruncated {
		t.Errorf("pages of %d and %d", len(page.ServerCertificateMetadataList), len(rest.ServerCertificateMetadataList))
	}
	// A rename onto a taken name is refused.
	_, err = root.UpdateServerCertificate(ctx, &iam.UpdateServerCertificateInput{ServerCertificateName: aws.String("cert-00"), NewServerCertificateName: aws.String("cert-01")})
	wantCode(t, err, "EntityAlreadyExists")
}

// TestServerCertificatesCLI checks the CLI's view, and that no answer
// carries the private key.
func TestServerCertificatesCLI(t *testing.T) {
	e := start(t)
	tc := newTLSChain(t)
	out, err := e.cli(e.root, "iam", "upload-server-certificate", "--server-certificate-name", "cli-cert",
		"--certificate-body", tc.leaf, "--private-key", tc.key, "--certificate-chain", tc.chain)
	must(t, err)
	if !strings.Contains(out, "arn:aws:iam::123456789012:server-certificate/cli-cert") || strings.Contains(out, "PRIVATE KEY") {
		t.Fatalf("upload-server-certificate = %s", out)
	}
	out, err = e.cli(e.root, "iam", "get-server-certificate", "--server-certificate-name", "cli-cert")
	must(t, err)
	if !strings.Contains(out, "BEGIN CERTIFICATE") || strings.Contains(out, "PRIVATE KEY") {
		t.Errorf("get-server-certificate = %s", out)
	}
	out, err = e.cli(e.root, "iam", "list-server-certificates")
	must(t, err)
	if !strings.Contains(out, "cli-cert") {
		t.Errorf("list-server-certificates = %s", out)
	}
	_, err = e.cli(e.root, "iam", "upload-server-certificate", "--server-certificate-name", "bad",
		"--certificate-body", tc.leaf, "--private-key", newTLSChain(t).key)
	if err == nil || !strings.Contains(err.Error(), "KeyPairMismatch") {
		t.Errorf("mismatched key: err = %v", err)
	}
}

// TestReplicasServerCertificates uploads through one replica, reads through
// the other, and checks that the store holds the private key only sealed
// (PostgreSQL).
func TestReplicasServerCertificates(t *testing.T) {
	dsn := postgresSchema(t)
	key := newMasterKey()
	a, b := startReplica(t, dsn, key), startReplica(t, dsn, key)
	ctx := context.Background()
	tc := newTLSChain(t)
	_, err := a.rootIAM().UploadServerCertificate(ctx, &iam.UploadServerCertificateInput{
		ServerCertificateName: aws.String("shared"), CertificateBody: aws.String(tc.leaf), PrivateKey: aws.String(tc.key),
	})
	must(t, err)
	within(t, propagation, "uploaded server certificate", func() error {
		_, err := b.rootIAM().GetServerCertificate(ctx, &iam.GetServerCertificateInput{ServerCertificateName: aws.String("shared")})
		return err
	})
	conn, err := pgx.Connect(ctx, dsn)
	must(t, err)
	defer conn.Close(ctx)
	var data []byte
	must(t, conn.QueryRow(ctx, "SELECT data FROM records WHERE kind = 'servercert'").Scan(&data))
	if !strings.Contains(string(data), "BEGIN CERTIFICATE") || strings.Contains(string(data), "PRIVATE KEY") {
		t.Errorf("stored record: %s", data)
	}
}

// TestReplicasCredentialQuotaAndDeleteUser races uploads of SSH keys
// through two replicas against the quota of five, and uploads against
// DeleteUser: the quota holds exactly, and a user is never deleted while a
// key of it is stored (PostgreSQL).
func TestReplicasCredentialQuotaAndDeleteUser(t *testing.T) {
	a, b := twoReplicas(t)
	ctx := context.Background()
	ra, rb := a.rootIAM(), b.rootIAM()
	keys := make([]string, 8)
	for i := range keys {
		keys[i], _, _ = newSSHKey(t, 2048)
	}
	_, err := ra.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("quota")})
	must(t, err)
	within(t, propagation, "user", func() error {
		_, err := rb.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("quota")})
		return err
	})
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		ok     int
		others []error
	)
	for i, k := range keys {
		c := []*iam.Client{ra, rb}[i%2]
		wg.Go(func() {
			_, err := c.UploadSSHPublicKey(ctx, &iam.UploadSSHPublicKeyInput{UserName: aws.String("quota"), SSHPublicKeyBody: aws.String(k)})
			mu.Lock()
			defer mu.Unlock()
			switch code := errCode(err); {
			case err == nil:
				ok++
			case code == "LimitExceeded" || code == "ConcurrentModification":
			default:
				others = append(others, err)
			}
		})
	}
	wg.Wait()
	if ok > 5 || len(others) > 0 {
		t.Fatalf("%d uploads succeeded (at most 5); unexpected errors: %v", ok, others)
	}
	within(t, propagation, "keys on both replicas", func() error {
		for _, c := range []*iam.Client{ra, rb} {
			l, err := c.ListSSHPublicKeys(ctx, &iam.ListSSHPublicKeysInput{UserName: aws.String("quota")})
			if err != nil {
				return err
			}
			if len(l.SSHPublicKeys) != ok {
				return fmt.Errorf("%d keys listed, %d uploaded", len(l.SSHPublicKeys), ok)
			}
		}
		return nil
	})

	for round := range 5 {
		name := aws.String(fmt.Sprintf("doomed-%d", round))
		_, err := ra.CreateUser(ctx, &iam.CreateUserInput{UserName: name})
		must(t, err)
		within(t, propagation, "user", func() error {
			_, err := rb.GetUser(ctx, &iam.GetUserInput{UserName: name})
			return err
		})
		var uploadErr, deleteErr error
		wg.Go(func() {
			_, uploadErr = ra.UploadSSHPublicKey(ctx, &iam.UploadSSHPublicKeyInput{UserName: name, SSHPublicKeyBody: aws.String(keys[round])})
		})
		wg.Go(func() {
			_, deleteErr = rb.DeleteUser(ctx, &iam.DeleteUserInput{UserName: name})
		})
		wg.Wait()
		switch {
		case uploadErr == nil && deleteErr == nil:
			t.Fatalf("round %d: the user was deleted and a key uploaded for it", round)
		case uploadErr == nil:
			if c := errCode(deleteErr); c != "DeleteConflict" && c != "ConcurrentModification" {
				t.Fatalf("round %d: DeleteUser: %v", round, deleteErr)
			}
		case deleteErr == nil:
			if c := errCode(uploadErr); c != "NoSuchEntity" && c != "ConcurrentModification" {
				t.Fatalf("round %d: UploadSSHPublicKey: %v", round, uploadErr)
			}
		default:
			t.Fatalf("round %d: both failed: %v; %v", round, uploadErr, deleteErr)
		}
	}
}

// TestForceDestroyUser does what Terraform's aws_iam_user does with
// force_destroy: list every kind of credential of the user, delete each,
// then delete the user. Each list answers (empty or not), never
// NotImplemented.
func TestForceDestroyUser(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	createUsers(t, root, "tf")
	user := aws.String("tf")
	line, _, _ := newSSHKey(t, 2048)
	_, err := root.UploadSSHPublicKey(ctx, &iam.UploadSSHPublicKeyInput{UserName: user, SSHPublicKeyBody: aws.String(line)})
	must(t, err)
	_, err = root.UploadSigningCertificate(ctx, &iam.UploadSigningCertificateInput{UserName: user, CertificateBody: aws.String(validCertificate(t))})
	must(t, err)
	_, err = root.CreateServiceSpecificCredential(ctx, &iam.CreateServiceSpecificCredentialInput{UserName: user, ServiceName: aws.String("codecommit.amazonaws.com")})
	must(t, err)
	_, err = root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: user})
	must(t, err)

	for range 2 { // the second pass lists nothing
		keys, err := root.ListSSHPublicKeys(ctx, &iam.ListSSHPublicKeysInput{UserName: user})
		must(t, err)
		for _, k := range keys.SSHPublicKeys {
			_, err := root.DeleteSSHPublicKey(ctx, &iam.DeleteSSHPublicKeyInput{UserName: user, SSHPublicKeyId: k.SSHPublicKeyId})
			must(t, err)
		}
		certs, err := root.ListSigningCertificates(ctx, &iam.ListSigningCertificatesInput{UserName: user})
		must(t, err)
		for _, c := range certs.Certificates {
			_, err := root.DeleteSigningCertificate(ctx, &iam.DeleteSigningCertificateInput{UserName: user, CertificateId: c.CertificateId})
			must(t, err)
		}
		creds, err := root.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{UserName: user})
		must(t, err)
		for _, c := range creds.ServiceSpecificCredentials {
			_, err := root.DeleteServiceSpecificCredential(ctx, &iam.DeleteServiceSpecificCredentialInput{UserName: user, ServiceSpecificCredentialId: c.ServiceSpecificCredentialId})
			must(t, err)
		}
		aks, err := root.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: user})
		must(t, err)
		for _, k := range aks.AccessKeyMetadata {
			_, err := root.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: user, AccessKeyId: k.AccessKeyId})
			must(t, err)
		}
	}
	_, err = root.DeleteUser(ctx, &iam.DeleteUserInput{UserName: user})
	must(t, err)
}

// terraformPlugins is where the Terraform test finds the AWS provider
// (a filesystem mirror, so that the test needs no network), unless
// IAMD_TEST_TF_PLUGINS names another.
const terraformPlugins = "/opt/tf-plugins"

// terraformConfig manages, with Terraform's AWS provider, a user with
// force_destroy and each kind of credential, and a server certificate.
const terraformConfig = `
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "AKIAIOSFODNN7EXAMPLE"
  secret_key                  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  endpoints {
    iam = "ENDPOINT"
    sts = "ENDPOINT"
  }
}

resource "aws_iam_user" "dev" {
  name          = "tf-dev"
  force_destroy = true
}

resource "aws_iam_user_ssh_key" "ssh" {
  username   = aws_iam_user.dev.name
  encoding   = "SSH"
  public_key = file("ssh.pub")
}

resource "aws_iam_user_ssh_key" "pem" {
  username   = aws_iam_user.dev.name
  encoding   = "PEM"
  public_key = file("pem.pub")
  status     = "Inactive"
}

resource "aws_iam_signing_certificate" "dev" {
  user_name        = aws_iam_user.dev.name
  certificate_body = file("signing.pem")
  status           = "Inactive"
}

resource "aws_iam_service_specific_credential" "git" {
  user_name    = aws_iam_user.dev.name
  service_name = "codecommit.amazonaws.com"
}

resource "aws_iam_server_certificate" "web" {
  name              = "tf-web"
  path              = "/cloudfront/"
  certificate_body  = file("leaf.pem")
  certificate_chain = file("chain.pem")
  private_key       = file("leaf.key")
  tags              = { env = "test" }
}
`

// TestTerraformCredentials applies terraformConfig, checks that a second
// plan finds no drift, adds credentials behind Terraform's back and
// destroys everything: force_destroy must delete them. It runs when
// terraform and the AWS provider's mirror are installed (5.100.0 when
// written), and not with -short.
func TestTerraformCredentials(t *testing.T) {
	if testing.Short() {
		t.Skip("Terraform takes minutes; skipped with -short")
	}
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform not installed")
	}
	plugins := os.Getenv("IAMD_TEST_TF_PLUGINS")
	if plugins == "" {
		plugins = terraformPlugins
	}
	if _, err := os.Stat(filepath.Join(plugins, "registry.terraform.io", "hashicorp", "aws")); err != nil {
		t.Skipf("no AWS provider under %s (set IAMD_TEST_TF_PLUGINS to a filesystem mirror)", plugins)
	}
	e := start(t)
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		must(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600))
	}
	sshLine, _, _ := newSSHKey(t, 2048)
	_, _, pemKey := newSSHKey(t, 2048)
	pemDER, _ := x509.MarshalPKIXPublicKey(pemKey)
	tc := newTLSChain(t)
	write("main.tf", strings.ReplaceAll(terraformConfig, "ENDPOINT", e.url))
	write("ssh.pub", sshLine+" dev@example.com\n")
	write("pem.pub", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pemDER})))
	write("signing.pem", validCertificate(t))
	write("leaf.pem", tc.leaf)
	write("chain.pem", tc.chain)
	write("leaf.key", tc.key)
	write("tf.rc", fmt.Sprintf(`provider_installation {
  filesystem_mirror {
    path    = %q
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }
}
`, plugins))
	run := func(args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(tf, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+filepath.Join(dir, "tf.rc"), "TF_IN_AUTOMATION=1",
			"TF_DATA_DIR="+filepath.Join(dir, ".terraform"), "CHECKPOINT_DISABLE=1")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("init", "-no-color", "-input=false"); err != nil {
		t.Fatalf("terraform init: %v\n%s", err, out)
	}
	if out, err := run("apply", "-no-color", "-input=false", "-auto-approve", "-parallelism=10"); err != nil {
		t.Fatalf("terraform apply: %v\n%s", err, out)
	}
	if out, err := run("plan", "-no-color", "-input=false", "-detailed-exitcode"); err != nil {
		t.Fatalf("terraform plan after apply (exit 2 means drift): %v\n%s", err, out)
	}

	ctx := context.Background()
	root := e.rootIAM()
	other, _, _ := newSSHKey(t, 2048)
	_, err = root.UploadSSHPublicKey(ctx, &iam.UploadSSHPublicKeyInput{UserName: aws.String("tf-dev"), SSHPublicKeyBody: aws.String(other)})
	must(t, err)
	_, err = root.UploadSigningCertificate(ctx, &iam.UploadSigningCertificateInput{UserName: aws.String("tf-dev"), CertificateBody: aws.String(validCertificate(t))})
	must(t, err)
	_, err = root.CreateServiceSpecificCredential(ctx, &iam.CreateServiceSpecificCredentialInput{UserName: aws.String("tf-dev"), ServiceName: aws.String("cassandra.amazonaws.com")})
	must(t, err)
	if out, err := run("destroy", "-no-color", "-input=false", "-auto-approve"); err != nil {
		t.Fatalf("terraform destroy: %v\n%s", err, out)
	}
	_, err = root.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("tf-dev")})
	wantCode(t, err, "NoSuchEntity")
	certs, err := root.ListServerCertificates(ctx, &iam.ListServerCertificatesInput{})
	must(t, err)
	if len(certs.ServerCertificateMetadataList) != 0 {
		t.Errorf("server certificates left: %+v", certs.ServerCertificateMetadataList)
	}
}
