package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"
)

// oidcHTTPClient returns the client STS fetches OpenID Connect discovery
// documents and keys with, trusting the certificates of the PEM file at
// caFile besides the system's roots (--oidc-ca-file): a private CA, such as
// a test Dex's, that the system does not trust. HTTPS stays required, as at
// AWS; only the roots change. An empty caFile gives nil (STS's default
// client, on the system's roots).
func oidcHTTPClient(caFile string) (*http.Client, error) {
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, nil
}
