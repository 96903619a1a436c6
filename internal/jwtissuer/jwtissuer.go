// Package jwtissuer signs the JSON Web Tokens of outbound web identity
// federation (STS GetWebIdentityToken) and publishes what verifies them: an
// OpenID Connect discovery document per issuer and the JWKS of the signing
// keys. The keys (RSA 2048 for RS256, P-384 for ES384) are made once per
// deployment and kept in the store sealed under the master key, so every
// replica signs with the same keys and serves the same JWKS.
//
// It does not decide who may get a token (package stsapi does) nor verify
// tokens (package oidc does).
package jwtissuer

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/iamd/iamd/internal/store"
)

// Signing algorithms, as GetWebIdentityToken names them.
const (
	RS256 = "RS256"
	ES384 = "ES384"
)

// Keyring seals and opens the private keys; *secrets.Keyring implements it.
type Keyring interface {
	Seal(plaintext, associatedData []byte) ([]byte, error)
	Open(ciphertext, associatedData []byte) ([]byte, error)
}

// The store record of the signing keys (a global record, skipped by the
// view).
const (
	keysKind = "jwt-signing-keys"
	keysKey  = "v1"
	sealAD   = "iamd/jwt-signing-keys/v1"
)

// storedKeys is the record: PKCS #8 private keys sealed under the master
// key, and their key IDs.
type storedKeys struct {
	RSAKID string `json:"rsaKid"`
	RSA    []byte `json:"rsa"`
	ECKID  string `json:"ecKid"`
	EC     []byte `json:"ec"`
}

// Issuer signs tokens with the deployment's keys.
type Issuer struct {
	Store   store.Store
	Keyring Keyring

	mu   sync.Mutex
	keys *keys // loaded once
}

type keys struct {
	rsa          *rsa.PrivateKey
	ec           *ecdsa.PrivateKey
	rsaKID, eKID string
}

// load returns the signing keys, making and storing them the first time
// any replica needs them.
func (i *Issuer) load(ctx context.Context) (*keys, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.keys != nil {
		return i.keys, nil
	}
	for range 3 {
		rec, ok, err := i.Store.Get(ctx, keysKind, "", keysKey)
		if err != nil {
			return nil, fmt.Errorf("jwtissuer: read keys: %w", err)
		}
		if ok {
			k, err := i.open(rec.Data)
			if err != nil {
				return nil, err
			}
			i.keys = k
			return k, nil
		}
		data, err := i.generate()
		if err != nil {
			return nil, err
		}
		_, err = i.Store.Commit(ctx, []store.Op{{Type: store.Put, Kind: keysKind, Key: keysKey, Expect: store.Absent, Data: data}})
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("jwtissuer: store keys: %w", err)
		}
		// Stored, or another replica stored its own first: read them.
	}
	return nil, errors.New("jwtissuer: signing keys could not be stored")
}

func (i *Issuer) generate() ([]byte, error) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ek, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, err
	}
	var out storedKeys
	for _, k := range []struct {
		priv any
		pub  any
		kid  *string
		dst  *[]byte
	}{{rk, &rk.PublicKey, &out.RSAKID, &out.RSA}, {ek, &ek.PublicKey, &out.ECKID, &out.EC}} {
		der, err := x509.MarshalPKCS8PrivateKey(k.priv)
		if err != nil {
			return nil, err
		}
		pub, err := x509.MarshalPKIXPublicKey(k.pub)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(pub)
		*k.kid = base64.RawURLEncoding.EncodeToString(sum[:16])
		if *k.dst, err = i.Keyring.Seal(der, []byte(sealAD+"/"+*k.kid)); err != nil {
			return nil, err
		}
	}
	return json.Marshal(&out)
}

func (i *Issuer) open(data []byte) (*keys, error) {
	var sk storedKeys
	if err := json.Unmarshal(data, &sk); err != nil {
		return nil, fmt.Errorf("jwtissuer: keys record: %w", err)
	}
	parse := func(sealed []byte, kid string) (any, error) {
		der, err := i.Keyring.Open(sealed, []byte(sealAD+"/"+kid))
		if err != nil {
			return nil, fmt.Errorf("jwtissuer: open signing key: %w", err)
		}
		return x509.ParsePKCS8PrivateKey(der)
	}
	r, err := parse(sk.RSA, sk.RSAKID)
	if err != nil {
		return nil, err
	}
	e, err := parse(sk.EC, sk.ECKID)
	if err != nil {
		return nil, err
	}
	rk, ok1 := r.(*rsa.PrivateKey)
	ek, ok2 := e.(*ecdsa.PrivateKey)
	if !ok1 || !ok2 {
		return nil, errors.New("jwtissuer: keys record holds keys of the wrong types")
	}
	return &keys{rsa: rk, ec: ek, rsaKID: sk.RSAKID, eKID: sk.ECKID}, nil
}

// Sign returns a compact JWT of claims signed with alg (RS256 or ES384).
func (i *Issuer) Sign(ctx context.Context, alg string, claims any) (string, error) {
	k, err := i.load(ctx)
	if err != nil {
		return "", err
	}
	kid := k.rsaKID
	if alg == ES384 {
		kid = k.eKID
	} else if alg != RS256 {
		return "", fmt.Errorf("jwtissuer: unsupported algorithm %q", alg)
	}
	header, err := json.Marshal(map[string]string{"alg": alg, "typ": "JWT", "kid": kid})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	var sig []byte
	switch alg {
	case RS256:
		sum := sha256.Sum256([]byte(signing))
		sig, err = rsa.SignPKCS1v15(rand.Reader, k.rsa, crypto.SHA256, sum[:])
	case ES384:
		sum := sha512.Sum384([]byte(signing))
		var r, s *big.Int
		r, s, err = ecdsa.Sign(rand.Reader, k.ec, sum[:])
		if err == nil {
			sig = make([]byte, 96) // JWS: r and s, 48 bytes each
			r.FillBytes(sig[:48])
			s.FillBytes(sig[48:])
		}
	}
	if err != nil {
		return "", fmt.Errorf("jwtissuer: sign: %w", err)
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

// JWKS returns the public signing keys as a JSON Web Key Set.
func (i *Issuer) JWKS(ctx context.Context) ([]byte, error) {
	k, err := i.load(ctx)
	if err != nil {
		return nil, err
	}
	enc := base64.RawURLEncoding
	point, err := k.ec.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "use": "sig", "alg": RS256, "kid": k.rsaKID,
			"n": enc.EncodeToString(k.rsa.N.Bytes()), "e": enc.EncodeToString(big.NewInt(int64(k.rsa.E)).Bytes())},
		{"kty": "EC", "use": "sig", "alg": ES384, "kid": k.eKID, "crv": "P-384",
			"x": enc.EncodeToString(point[1:49]), "y": enc.EncodeToString(point[49:])},
	}})
}

// Discovery returns the OpenID Connect discovery document of issuer, whose
// keys are at issuer + "/.well-known/jwks.json".
func Discovery(issuer string) []byte {
	doc, _ := json.Marshal(map[string]any{
		"issuer":                                issuer,
		"jwks_uri":                              issuer + "/.well-known/jwks.json",
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{RS256, ES384},
		"claims_supported":                      []string{"aud", "exp", "iat", "iss", "jti", "sub"},
	})
	return doc
}

// Claims are the registered claims of a token; callers add their own by
// embedding it.
type Claims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  []string `json:"aud"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf"`
	Expires   int64    `json:"exp"`
	ID        string   `json:"jti"`
}

// NewClaims fills the registered claims of a token valid from now for d.
func NewClaims(issuer, subject string, audience []string, now time.Time, d time.Duration, id string) Claims {
	return Claims{Issuer: issuer, Subject: subject, Audience: audience,
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expires: now.Add(d).Unix(), ID: id}
}

// IssuerURL is the issuer of an account's tokens: iamd's public URL, then
// /oidc/ACCOUNT/ISSUER-ID. Its discovery document is at
// ISSUER/.well-known/openid-configuration.
func IssuerURL(publicURL, account, issuerID string) string {
	return strings.TrimRight(publicURL, "/") + "/oidc/" + account + "/" + issuerID
}
