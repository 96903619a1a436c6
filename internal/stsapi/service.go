// Package stsapi implements AWS STS on iamd's state: AssumeRole and its
// federated variants (web identity, SAML), GetSessionToken,
// GetFederationToken, GetCallerIdentity, GetAccessKeyInfo and
// DecodeAuthorizationMessage. Temporary credentials are self-contained: the
// session token seals everything authorization needs (package ststoken), so
// any replica authenticates them without reading the store;
// SessionCredentials (the authn.TemporaryCredentials of the SigV4 front)
// opens them.
//
// It does not serve HTTP (package server does) nor verify JWTs or SAML
// signatures itself (packages oidc and saml).
package stsapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/jwtissuer"
	"github.com/iamd/iamd/internal/managedpolicies"
	"github.com/iamd/iamd/internal/oidc"
	"github.com/iamd/iamd/internal/ststoken"
)

// Authorizer decides on STS requests; *authz.Authorizer implements it.
type Authorizer interface {
	// Authorize decides an ordinary request (sts:GetSessionToken, ...).
	Authorize(ctx context.Context, c *authz.Caller, req *authz.Request) error
	// AuthorizeTrust decides a role assumption against the role's trust
	// policy and the caller's own policies.
	AuthorizeTrust(ctx context.Context, c *authz.Caller, tr *authz.TrustRequest) error
	// TrustAllows evaluates a trust policy for a federated principal.
	TrustAllows(fr *authz.FederatedTrustRequest) bool
}

// Keyring seals and opens data with the server's master keys;
// *secrets.Keyring implements it.
type Keyring interface {
	Seal(plaintext, associatedData []byte) ([]byte, error)
	Open(ciphertext, associatedData []byte) ([]byte, error)
	DeriveKeys(purpose string) [][]byte
}

// Config configures a Service.
type Config struct {
	View       *iam.View
	Writer     *iam.Writer
	Keyring    Keyring
	Authorizer Authorizer
	// Managed returns the AWS-managed policy catalogue (for PolicyArns).
	Managed func() *managedpolicies.Catalog
	Now     func() time.Time
	Log     *slog.Logger
	// HTTPClient fetches OpenID Connect discovery documents and keys; nil
	// means a client with a 10-second timeout.
	HTTPClient *http.Client
	// Issuer signs GetWebIdentityToken's tokens and PublicURL is the base
	// of their issuer URLs; without an Issuer, GetWebIdentityToken answers
	// as if the feature were off.
	Issuer    *jwtissuer.Issuer
	PublicURL string
	// Partition is the partition of every ARN the service builds and
	// accepts; the zero value is "aws".
	Partition iam.Partition
}

// TokenPurpose is the key-derivation purpose of session-token keys.
const TokenPurpose = "iamd/sts-token/v1"

// Service implements the STS API.
type Service struct {
	UnimplementedServer

	view    *iam.View
	writer  *iam.Writer
	keyring Keyring
	authz   Authorizer
	managed func() *managedpolicies.Catalog
	now     func() time.Time
	log     *slog.Logger
	http    *http.Client

	issuer    *jwtissuer.Issuer
	publicURL string

	sealer *ststoken.Sealer
	creds  *SessionCredentials
	usage  *roleUsage
	jwks   *oidc.Fetcher
	samlMD samlMetadataCache
	// samlSeen holds the assertions used, until they expire (per replica).
	samlSeen samlReplay

	// partition builds and checks ARNs (arn:PARTITION:...).
	partition iam.Partition
}

// New returns an STS service.
func New(cfg Config) (*Service, error) {
	if cfg.Keyring == nil || cfg.View == nil {
		return nil, errors.New("stsapi: Config needs View and Keyring")
	}
	s := &Service{
		view: cfg.View, writer: cfg.Writer, keyring: cfg.Keyring, authz: cfg.Authorizer,
		managed: cfg.Managed, now: cfg.Now, log: cfg.Log, http: cfg.HTTPClient,
		issuer: cfg.Issuer, publicURL: cfg.PublicURL, partition: cfg.Partition,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.http == nil {
		s.http = &http.Client{Timeout: 10 * time.Second}
	}
	sealer, err := ststoken.New(cfg.Keyring.DeriveKeys(TokenPurpose)...)
	if err != nil {
		return nil, fmt.Errorf("stsapi: session token keys: %w", err)
	}
	s.sealer = sealer
	s.creds = newCredentials(sealer, s.now)
	s.usage = newRoleUsage(cfg.Writer)
	s.jwks = &oidc.Fetcher{Client: s.http, Now: s.now}
	return s, nil
}

// Credentials returns the authenticator of the temporary credentials this
// service issues, to set as authn.Source.Temporary.
func (s *Service) Credentials() *SessionCredentials { return s.creds }

// Flush writes pending role-usage records; call it at shutdown.
func (s *Service) Flush(ctx context.Context) error { return s.usage.Flush(ctx) }

// caller returns the authenticated caller.
func caller(ctx context.Context) (*authz.Caller, error) {
	c := authz.CallerFrom(ctx)
	if c == nil {
		return nil, errors.New("stsapi: no caller in context")
	}
	return c, nil
}

// authorize checks an ordinary STS permission.
func (s *Service) authorize(ctx context.Context, c *authz.Caller, action, resource string, kvs ...authz.KV) error {
	return s.authz.Authorize(ctx, c, &authz.Request{Action: action, Resource: resource, Context: kvs})
}

// Errors.

func validationError(format string, args ...any) error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return awsquery.ValidationError(msg)
}

func accessDenied(format string, args ...any) error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &awsquery.Error{Code: "AccessDenied", Message: msg, HTTPStatus: http.StatusForbidden, Sender: true}
}

func notAuthorized(callerARN, action, resource string) error {
	return accessDenied("User: %s is not authorized to perform: %s on resource: %s", callerARN, action, resource)
}

func invalidParameterValue(format string, args ...any) error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &awsquery.Error{Code: awsquery.CodeInvalidParameterValue, Message: msg, HTTPStatus: http.StatusBadRequest, Sender: true}
}
