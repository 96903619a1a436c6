package iam

import "time"

// ServerCertificate is an X.509 server certificate with its private key and
// chain, for services that terminate TLS (as IAM keeps them for Elastic
// Load Balancing and CloudFront). It is keyed by name within the account.
type ServerCertificate struct {
	Name       string    `json:"name"`
	Path       string    `json:"path"`
	ID         string    `json:"id"` // ASCA…
	Uploaded   time.Time `json:"uploaded"`
	Expiration time.Time `json:"expiration"`
	Body       string    `json:"body"`            // PEM
	Chain      string    `json:"chain,omitempty"` // PEM, the issuer first
	// PrivateKey is the PEM private key sealed with the server's keyring,
	// bound to the certificate's ID. IAM never returns it.
	PrivateKey []byte `json:"privateKey"`
	Tags       []Tag  `json:"tags,omitempty"`
}

// ServerCertificate returns a server certificate by name.
func (a *AccountView) ServerCertificate(name string) (*Entry[ServerCertificate], bool) {
	return a.srvCerts.get(Key(name))
}

// ServerCertificates lists server certificates in name order.
func (a *AccountView) ServerCertificates(marker string, max int, match func(*ServerCertificate) bool) ([]*Entry[ServerCertificate], string) {
	return a.srvCerts.page(marker, max, match)
}

// ServerCertificateCount returns how many server certificates the account
// has.
func (a *AccountView) ServerCertificateCount() int { return a.srvCerts.len() }
