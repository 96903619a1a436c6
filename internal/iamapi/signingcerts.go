package iamapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base32"
	"encoding/pem"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/store"
)

// X.509 signing certificates of IAM users and of the root user. A
// certificate's ID is derived from the certificate (the base32 SHA-1 of its
// DER), and certificates are keyed by ID within the account: the same
// certificate cannot be uploaded twice in one account, for whichever user,
// and two replicas racing to upload it cannot both succeed.

func noSuchSigningCertificate(id string) error {
	// AWS's wording could not be confirmed; this follows its message for
	// access keys.
	return noSuchEntity("The Certificate with id %s cannot be found.", id)
}

func malformedCertificate(format string, args ...any) error {
	return MalformedCertificateError(message(format, args...))
}

// parseCertificatePEM parses one PEM-encoded X.509 certificate. A body that
// is not a PEM certificate, or holds anything after it, is malformed; so is
// a certificate that has expired (IAM's MalformedCertificate covers both).
func parseCertificatePEM(body string, now time.Time) (*x509.Certificate, error) {
	block, rest := pem.Decode([]byte(strings.TrimSpace(body)))
	if block == nil || block.Type != "CERTIFICATE" || len(strings.TrimSpace(string(rest))) != 0 {
		return nil, malformedCertificate("Unable to parse certificate. Please ensure the certificate is in PEM format.")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, malformedCertificate("Unable to parse certificate. Please ensure the certificate is in PEM format.")
	}
	if now.After(cert.NotAfter) {
		return nil, malformedCertificate("Certificate is expired.")
	}
	return cert, nil
}

// parseSigningCertificate parses a signing certificate. Public keys other
// than RSA of at least 1024 bits and ECDSA are refused as invalid: AWS does
// not document its list, and these are what X.509 signing certificates are
// issued with.
func parseSigningCertificate(body string, now time.Time) (*x509.Certificate, error) {
	cert, err := parseCertificatePEM(body, now)
	if err != nil {
		return nil, err
	}
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 1024 {
			return nil, InvalidCertificateError("The request was rejected because the certificate is invalid.")
		}
	case *ecdsa.PublicKey:
	default:
		return nil, InvalidCertificateError("The request was rejected because the certificate is invalid.")
	}
	return cert, nil
}

// signingCertificateID is the ID IAM gives a certificate: 32 upper-case
// base32 characters, derived from the certificate itself.
func signingCertificateID(cert *x509.Certificate) string {
	sum := sha1.Sum(cert.Raw)
	return base32.StdEncoding.EncodeToString(sum[:])
}

func signingCertOut(userName string, c *iam.SigningCertificate) SigningCertificate {
	return SigningCertificate{UserName: userName, CertificateId: c.ID, CertificateBody: c.Body, Status: c.Status, UploadDate: c.Uploaded.Truncate(time.Second)}
}

// UploadSigningCertificate adds a signing certificate to a user, or to the
// caller: the root user's certificates are the account's.
func (s *Service) UploadSigningCertificate(ctx context.Context, in *UploadSigningCertificateRequest) (*UploadSigningCertificateResponse, error) {
	c, owner, err := s.credentialOwnerOf(ctx, "iam:UploadSigningCertificate", in.UserName)
	if err != nil {
		return nil, err
	}
	cert, err := parseSigningCertificate(in.CertificateBody, s.now())
	if err != nil {
		return nil, err
	}
	sc := &iam.SigningCertificate{
		ID: signingCertificateID(cert), UserID: owner.keyUserID(),
		// The body is kept as uploaded: clients such as Terraform compare
		// what they read back with what they sent.
		Body: in.CertificateBody, Status: string(StatusTypeActive), Uploaded: s.uploadTime(),
	}
	// As for access keys (CreateAccessKey): the touch of the owner and the
	// lock keep the quota; the record's key keeps certificates unique.
	s.mu.Lock()
	defer s.mu.Unlock()
	err = retry(ctx, func() error {
		guard, err := s.ownerGuard(c.Account, owner)
		if err != nil {
			return err
		}
		var verr error
		if err := s.read(c.Account, func(a *iam.AccountView) {
			if _, dup := a.SigningCertificate(sc.ID); dup {
				verr = DuplicateCertificateError("The request was rejected because the same certificate is associated with an IAM user in the account.")
			} else if a.SigningCertificateCount(sc.UserID) >= quotaSigningCertsPerUser {
				verr = limitExceeded("Cannot exceed quota for SigningCertificatesPerUser: %d", quotaSigningCertsPerUser)
			}
		}); err != nil {
			return err
		}
		if verr != nil {
			return verr
		}
		return s.commit(ctx, guard, iam.Put(iam.KindSigningCert, c.Account, sc.ID, sc, store.Absent))
	})
	if err != nil {
		return nil, err
	}
	return &UploadSigningCertificateResponse{Certificate: signingCertOut(owner.name(), sc)}, nil
}

// ownedSigningCert returns a certificate of the owner, or NoSuchEntity if it
// does not exist or belongs to someone else.
func (s *Service) ownedSigningCert(account string, owner credentialOwner, id string) (*iam.Entry[iam.SigningCertificate], error) {
	var e *iam.Entry[iam.SigningCertificate]
	if err := s.read(account, func(a *iam.AccountView) { e, _ = a.SigningCertificate(id) }); err != nil {
		return nil, err
	}
	if e == nil || e.V.UserID != owner.keyUserID() {
		return nil, noSuchSigningCertificate(id)
	}
	return e, nil
}

// ListSigningCertificates lists a user's signing certificates (or the
// caller's), oldest first.
func (s *Service) ListSigningCertificates(ctx context.Context, in *ListSigningCertificatesRequest) (*ListSigningCertificatesResponse, error) {
	c, owner, err := s.credentialOwnerOf(ctx, "iam:ListSigningCertificates", in.UserName)
	if err != nil {
		return nil, err
	}
	all := []SigningCertificate{}
	if err := s.read(c.Account, func(a *iam.AccountView) {
		for _, e := range a.SigningCertificates(owner.keyUserID()) {
			all = append(all, signingCertOut(owner.name(), e.V))
		}
	}); err != nil {
		return nil, err
	}
	page, next, err := pageOf(all, in.Marker, maxItems(in.MaxItems))
	if err != nil {
		return nil, err
	}
	return &ListSigningCertificatesResponse{Certificates: page, IsTruncated: next != "", Marker: next}, nil
}

// UpdateSigningCertificate activates or deactivates a signing certificate.
func (s *Service) UpdateSigningCertificate(ctx context.Context, in *UpdateSigningCertificateRequest) (*UpdateSigningCertificateResponse, error) {
	c, owner, err := s.credentialOwnerOf(ctx, "iam:UpdateSigningCertificate", in.UserName)
	if err != nil {
		return nil, err
	}
	err = setCredentialStatus(ctx, s, iam.KindSigningCert, c.Account, in.Status,
		func() (*iam.Entry[iam.SigningCertificate], error) {
			return s.ownedSigningCert(c.Account, owner, in.CertificateId)
		},
		func(e *iam.SigningCertificate) (string, *string) { return e.ID, &e.Status })
	if err != nil {
		return nil, err
	}
	return &UpdateSigningCertificateResponse{}, nil
}

// DeleteSigningCertificate deletes a signing certificate.
func (s *Service) DeleteSigningCertificate(ctx context.Context, in *DeleteSigningCertificateRequest) (*DeleteSigningCertificateResponse, error) {
	c, owner, err := s.credentialOwnerOf(ctx, "iam:DeleteSigningCertificate", in.UserName)
	if err != nil {
		return nil, err
	}
	err = deleteCredential(ctx, s, iam.KindSigningCert, c.Account,
		func() (*iam.Entry[iam.SigningCertificate], error) {
			return s.ownedSigningCert(c.Account, owner, in.CertificateId)
		},
		func(e *iam.SigningCertificate) string { return e.ID })
	if err != nil {
		return nil, err
	}
	return &DeleteSigningCertificateResponse{}, nil
}
