package iamapi

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/secrets"
	"github.com/iamd/iamd/internal/store"
)

// Server certificates: an X.509 certificate, its private key and its chain,
// kept for services that terminate TLS. The certificate, the key and the
// chain are checked when uploaded (the key must be the certificate's, each
// certificate of the chain must have signed the one before it). The private
// key is sealed at rest, bound to the certificate's ID, and never returned.

func noSuchServerCertificate(name string) error {
	return noSuchEntity("The Server Certificate with name %s cannot be found.", name)
}

func (s *Service) serverCertARN(account string, c *iam.ServerCertificate) string {
	return s.partition.ARN(account, "server-certificate", c.Path, c.Name)
}

func (s *Service) serverCertMetadata(account string, c *iam.ServerCertificate) ServerCertificateMetadata {
	return ServerCertificateMetadata{
		Path: c.Path, ServerCertificateName: c.Name, ServerCertificateId: c.ID,
		Arn: s.serverCertARN(account, c), UploadDate: c.Uploaded, Expiration: c.Expiration,
	}
}

// checkServerKeyType accepts the key types TLS services take: RSA of 1024
// to 4096 bits and ECDSA on P-256, P-384 or P-521. AWS does not list them
// for IAM; these are Elastic Load Balancing's.
func checkServerKeyType(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n >= 1024 && n <= 4096 {
			return nil
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
	}
	return malformedCertificate("The certificate's public key type or size is not supported.")
}

// parsePrivateKeyPEM parses an unencrypted PEM private key: PKCS #1 RSA,
// SEC 1 EC, or PKCS #8.
func parsePrivateKeyPEM(s string) (crypto.Signer, error) {
	bad := malformedCertificate("Unable to parse private key. Please ensure the private key is in PEM format and not encrypted.")
	block, rest := pem.Decode([]byte(strings.TrimSpace(s)))
	if block == nil || len(strings.TrimSpace(string(rest))) != 0 || block.Headers["Proc-Type"] != "" {
		return nil, bad
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, bad
	}
	if err != nil {
		return nil, bad
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, bad
	}
	return signer, nil
}

// parseCertificateChain parses the PEM certificates of a chain and checks
// that each signed the one before it, the first the certificate itself.
func parseCertificateChain(chain string, cert *x509.Certificate) error {
	rest := []byte(strings.TrimSpace(chain))
	prev := cert
	for i := 0; len(rest) > 0; i++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil || block.Type != "CERTIFICATE" {
			return malformedCertificate("Unable to parse certificate chain. Please ensure the certificate chain is in PEM format.")
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return malformedCertificate("Unable to parse certificate chain. Please ensure the certificate chain is in PEM format.")
		}
		if prev.CheckSignatureFrom(c) != nil {
			return malformedCertificate("Unable to validate certificate chain. The certificate chain must start with the immediate signing certificate, followed by any intermediaries in order. The index within the chain of the invalid certificate is: %d", i)
		}
		prev = c
		rest = []byte(strings.TrimSpace(string(rest)))
	}
	return nil
}

// checkServerCertificate parses and checks what UploadServerCertificate is
// given, and returns the certificate.
func checkServerCertificate(body, privateKey, chain string, now time.Time) (*x509.Certificate, error) {
	cert, err := parseCertificatePEM(body, now)
	if err != nil {
		return nil, err
	}
	if err := checkServerKeyType(cert.PublicKey); err != nil {
		return nil, err
	}
	key, err := parsePrivateKeyPEM(privateKey)
	if err != nil {
		return nil, err
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, KeyPairMismatchError("The request was rejected because the public key certificate and the private key do not match.")
	}
	if strings.TrimSpace(chain) != "" {
		if err := parseCertificateChain(chain, cert); err != nil {
			return nil, err
		}
	}
	return cert, nil
}

// UploadServerCertificate stores a server certificate with its private key
// and chain.
func (s *Service) UploadServerCertificate(ctx context.Context, in *UploadServerCertificateRequest) (*UploadServerCertificateResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	path := pathOrDefault(in.Path)
	arn := s.partition.ARN(c.Account, "server-certificate", path, in.ServerCertificateName)
	if _, err := s.authorize(ctx, "iam:UploadServerCertificate", arn, tagOptions(in.Tags)); err != nil {
		return nil, err
	}
	if len(in.Tags) > 0 {
		if _, err := s.authorize(ctx, "iam:TagServerCertificate", arn, tagOptions(in.Tags)); err != nil {
			return nil, err
		}
	}
	if err := checkNewTags(in.Tags); err != nil {
		return nil, err
	}
	cert, err := checkServerCertificate(in.CertificateBody, in.PrivateKey, in.CertificateChain, s.now())
	if err != nil {
		return nil, err
	}
	sc := &iam.ServerCertificate{
		Name: in.ServerCertificateName, Path: path, ID: secrets.NewUniqueID(secrets.PrefixCertificate),
		Uploaded: s.timestamp(), Expiration: cert.NotAfter.UTC(),
		Body: strings.TrimSpace(in.CertificateBody), Chain: strings.TrimSpace(in.CertificateChain),
		Tags: toTags(in.Tags),
	}
	if sc.PrivateKey, err = s.secrets.Seal([]byte(strings.TrimSpace(in.PrivateKey)), []byte(sc.ID)); err != nil {
		return nil, err
	}
	err = retry(ctx, func() error {
		var verr error
		if err := s.read(c.Account, func(a *iam.AccountView) {
			if _, exists := a.ServerCertificate(sc.Name); exists {
				verr = entityAlreadyExists("The Server Certificate with name %s already exists.", sc.Name)
			} else if a.ServerCertificateCount() >= quotaServerCertificates {
				verr = limitExceeded("Cannot exceed quota for ServerCertificatesPerAccount: %d", quotaServerCertificates)
			}
		}); err != nil {
			return err
		}
		if verr != nil {
			return verr
		}
		return s.commit(ctx, iam.Put(iam.KindServerCert, c.Account, iam.Key(sc.Name), sc, store.Absent))
	})
	if err != nil {
		return nil, err
	}
	md := s.serverCertMetadata(c.Account, sc)
	return &UploadServerCertificateResponse{ServerCertificateMetadata: &md, Tags: fromTags(sc.Tags)}, nil
}

// lookupServerCert authorizes action on the named server certificate and
// returns it, without revealing whether it exists to a caller who may not
// act on it.
func (s *Service) lookupServerCert(ctx context.Context, action, name string, opts ...authz.Option) (*authz.Caller, *iam.Entry[iam.ServerCertificate], error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	var e *iam.Entry[iam.ServerCertificate]
	if err := s.read(c.Account, func(a *iam.AccountView) { e, _ = a.ServerCertificate(name) }); err != nil {
		return nil, nil, err
	}
	if e == nil {
		if _, err := s.authorize(ctx, action, s.partition.ARN(c.Account, "server-certificate", "/", name), opts...); err != nil {
			return nil, nil, err
		}
		return nil, nil, noSuchServerCertificate(name)
	}
	opts = append(opts, resourceTags(e.V.Tags))
	if _, err := s.authorize(ctx, action, s.serverCertARN(c.Account, e.V), opts...); err != nil {
		return nil, nil, err
	}
	return c, e, nil
}

// updateServerCert re-reads the named server certificate, applies change
// to a copy and commits it, retrying lost races.
func (s *Service) updateServerCert(ctx context.Context, account, name string, change func(c *iam.ServerCertificate) error) error {
	return retry(ctx, func() error {
		var e *iam.Entry[iam.ServerCertificate]
		if err := s.read(account, func(a *iam.AccountView) { e, _ = a.ServerCertificate(name) }); err != nil {
			return err
		}
		if e == nil {
			return noSuchServerCertificate(name)
		}
		next := *e.V
		if err := change(&next); err != nil {
			return err
		}
		return s.commit(ctx, iam.Put(iam.KindServerCert, account, iam.Key(next.Name), &next, e.Version))
	})
}

// GetServerCertificate returns a server certificate and its chain, never
// its private key.
func (s *Service) GetServerCertificate(ctx context.Context, in *GetServerCertificateRequest) (*GetServerCertificateResponse, error) {
	c, e, err := s.lookupServerCert(ctx, "iam:GetServerCertificate", in.ServerCertificateName)
	if err != nil {
		return nil, err
	}
	return &GetServerCertificateResponse{ServerCertificate: ServerCertificate{
		ServerCertificateMetadata: s.serverCertMetadata(c.Account, e.V),
		CertificateBody:           e.V.Body, CertificateChain: e.V.Chain, Tags: tagList(e.V.Tags),
	}}, nil
}

// ListServerCertificates lists server certificates in name order.
func (s *Service) ListServerCertificates(ctx context.Context, in *ListServerCertificatesRequest) (*ListServerCertificatesResponse, error) {
	c, err := s.authorize(ctx, "iam:ListServerCertificates", s.partition.ARN(callerAccount(ctx), "server-certificate", pathOrDefault(in.PathPrefix), ""))
	if err != nil {
		return nil, err
	}
	marker, err := decodeMarker(in.Marker)
	if err != nil {
		return nil, err
	}
	out := &ListServerCertificatesResponse{ServerCertificateMetadataList: []ServerCertificateMetadata{}}
	if err := s.read(c.Account, func(a *iam.AccountView) {
		page, next := a.ServerCertificates(marker, maxItems(in.MaxItems), func(sc *iam.ServerCertificate) bool {
			return iam.PathPrefixMatch(sc.Path, in.PathPrefix)
		})
		for _, e := range page {
			out.ServerCertificateMetadataList = append(out.ServerCertificateMetadataList, s.serverCertMetadata(c.Account, e.V))
		}
		if next != "" {
			out.IsTruncated, out.Marker = true, encodeMarker(next)
		}
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateServerCertificate renames a server certificate or moves it to
// another path. The caller needs the permission on both the old and the new
// name, as on AWS.
func (s *Service) UpdateServerCertificate(ctx context.Context, in *UpdateServerCertificateRequest) (*UpdateServerCertificateResponse, error) {
	c, e, err := s.lookupServerCert(ctx, "iam:UpdateServerCertificate", in.ServerCertificateName)
	if err != nil {
		return nil, err
	}
	newName, newPath := in.NewServerCertificateName, in.NewPath
	if newName == "" {
		newName = e.V.Name
	}
	if newPath == "" {
		newPath = e.V.Path
	}
	if _, err := s.authorize(ctx, "iam:UpdateServerCertificate", s.partition.ARN(c.Account, "server-certificate", newPath, newName)); err != nil {
		return nil, err
	}
	r := renaming[iam.ServerCertificate]{
		kind: iam.KindServerCert,
		get: func(a *iam.AccountView, name string) (*iam.Entry[iam.ServerCertificate], bool) {
			return a.ServerCertificate(name)
		},
		notFound: noSuchServerCertificate,
		taken: func(name string) error {
			return entityAlreadyExists("The Server Certificate with name %s already exists.", name)
		},
		renamed: func(v *iam.ServerCertificate) *iam.ServerCertificate {
			n := *v
			n.Name, n.Path = newName, newPath
			return &n
		},
		nameOf: func(v *iam.ServerCertificate) string { return v.Name },
	}
	if err := r.commit(ctx, s, c.Account, in.ServerCertificateName, newName); err != nil {
		return nil, err
	}
	return &UpdateServerCertificateResponse{}, nil
}

// DeleteServerCertificate deletes a server certificate and its private key.
func (s *Service) DeleteServerCertificate(ctx context.Context, in *DeleteServerCertificateRequest) (*DeleteServerCertificateResponse, error) {
	c, _, err := s.lookupServerCert(ctx, "iam:DeleteServerCertificate", in.ServerCertificateName)
	if err != nil {
		return nil, err
	}
	err = retry(ctx, func() error {
		var e *iam.Entry[iam.ServerCertificate]
		if err := s.read(c.Account, func(a *iam.AccountView) { e, _ = a.ServerCertificate(in.ServerCertificateName) }); err != nil {
			return err
		}
		if e == nil {
			return noSuchServerCertificate(in.ServerCertificateName)
		}
		return s.commit(ctx, iam.Delete(iam.KindServerCert, c.Account, iam.Key(e.V.Name), e.Version))
	})
	if err != nil {
		return nil, err
	}
	return &DeleteServerCertificateResponse{}, nil
}

// TagServerCertificate adds or replaces tags on a server certificate.
func (s *Service) TagServerCertificate(ctx context.Context, in *TagServerCertificateRequest) (*TagServerCertificateResponse, error) {
	c, _, err := s.lookupServerCert(ctx, "iam:TagServerCertificate", in.ServerCertificateName, tagOptions(in.Tags))
	if err != nil {
		return nil, err
	}
	err = s.updateServerCert(ctx, c.Account, in.ServerCertificateName, func(sc *iam.ServerCertificate) error {
		tags, err := mergeTags(sc.Tags, in.Tags)
		sc.Tags = tags
		return err
	})
	if err != nil {
		return nil, err
	}
	return &TagServerCertificateResponse{}, nil
}

// UntagServerCertificate removes tags from a server certificate.
func (s *Service) UntagServerCertificate(ctx context.Context, in *UntagServerCertificateRequest) (*UntagServerCertificateResponse, error) {
	c, _, err := s.lookupServerCert(ctx, "iam:UntagServerCertificate", in.ServerCertificateName, tagKeysOption(in.TagKeys))
	if err != nil {
		return nil, err
	}
	err = s.updateServerCert(ctx, c.Account, in.ServerCertificateName, func(sc *iam.ServerCertificate) error {
		sc.Tags = removeTags(sc.Tags, in.TagKeys)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &UntagServerCertificateResponse{}, nil
}

// ListServerCertificateTags lists a server certificate's tags.
func (s *Service) ListServerCertificateTags(ctx context.Context, in *ListServerCertificateTagsRequest) (*ListServerCertificateTagsResponse, error) {
	_, e, err := s.lookupServerCert(ctx, "iam:ListServerCertificateTags", in.ServerCertificateName)
	if err != nil {
		return nil, err
	}
	page, next, err := pageOf(sortedTags(e.V.Tags), in.Marker, maxItems(in.MaxItems))
	if err != nil {
		return nil, err
	}
	out := &ListServerCertificateTagsResponse{Tags: page, IsTruncated: next != "", Marker: next}
	if out.Tags == nil {
		out.Tags = []Tag{}
	}
	return out, nil
}
