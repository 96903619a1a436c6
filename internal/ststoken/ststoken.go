// Package ststoken seals STS session credentials into self-contained session
// tokens, so any iamd replica can authenticate a request signed with
// temporary credentials without reading a database.
//
// A token is the base64 encoding of
//
//	version (1 byte) | key ID (4) | nonce (12) | AES-256-GCM(payload) | tag (16)
//
// with the access key ID (ASIA…) as associated data, so a token only opens
// together with the access key ID it was issued with. The payload is the
// Session as compact JSON, DEFLATE-compressed when that helps (large session
// policies). Tokens are opaque to clients; their format may change between
// versions because every token is short-lived.
//
// The package does not revoke tokens: a revocation list (for example the
// "revoke older sessions" policy IAM's console writes) is the caller's.
package ststoken

import (
	"bytes"
	"compress/flate"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// KeySize is the size of a sealing key.
const KeySize = 32

// MaxTokenLen is the longest token Seal produces and Open accepts.
const MaxTokenLen = 16 << 10

const (
	version    = 1
	keyIDSize  = 4
	nonceSize  = 12
	headerSize = 1 + keyIDSize + nonceSize
	tagSize    = 16

	encJSON    = 0
	encDeflate = 1
	// compressAbove is the payload size from which Seal tries DEFLATE;
	// smaller payloads rarely shrink enough to pay for it.
	compressAbove = 512
	// maxPayload bounds the decompressed payload.
	maxPayload = 64 << 10
)

// adPrefix separates this package's associated data from any other use of
// the same key.
const adPrefix = "iamd/sts-token/v1\x00"

// Errors returned by this package; check them with errors.Is.
var (
	// ErrInvalid means a token is malformed, was tampered with, belongs to
	// another access key ID, or was sealed under a key the Sealer does not
	// hold. STS and SigV4 answer InvalidClientTokenId / "The security token
	// included in the request is invalid".
	ErrInvalid = errors.New("ststoken: invalid session token")
	// ErrExpired means the token is authentic but its session has expired.
	// SigV4 answers ExpiredToken.
	ErrExpired = errors.New("ststoken: session token expired")
	// ErrInvalidKey means New was given a key that is not 32 bytes, or none.
	ErrInvalidKey = errors.New("ststoken: invalid sealing key")
	// ErrInvalidSession means Seal was given a Session it cannot seal
	// (missing access key ID, unknown kind, expiry not after issue, or too
	// large for a token).
	ErrInvalidSession = errors.New("ststoken: invalid session")
)

// Kind is the kind of principal a session belongs to.
type Kind uint8

// Kinds of session principal.
const (
	KindAssumedRole   Kind = 1 // AssumeRole, AssumeRoleWithSAML, AssumeRoleWithWebIdentity
	KindFederatedUser Kind = 2 // GetFederationToken
	KindUser          Kind = 3 // GetSessionToken called by an IAM user
	KindRoot          Kind = 4 // GetSessionToken called by the account root user
)

func (k Kind) valid() bool { return k >= KindAssumedRole && k <= KindRoot }

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case KindAssumedRole:
		return "assumed-role"
	case KindFederatedUser:
		return "federated-user"
	case KindUser:
		return "user"
	case KindRoot:
		return "root"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Tag is a session tag.
type Tag struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

// Session is what a session token carries: the temporary credentials and
// everything authorization needs to know about the session's principal.
type Session struct {
	// AccessKeyID is the temporary access key ID (ASIA…). It is bound to
	// the token as associated data rather than stored in it; Open fills it in.
	AccessKeyID     string
	SecretAccessKey string
	Account         string
	Kind            Kind
	// ARN is the session principal's ARN, e.g.
	// arn:aws:sts::123456789012:assumed-role/Role/session,
	// arn:aws:sts::123456789012:federated-user/Bob, or the IAM user's or
	// root's ARN for GetSessionToken.
	ARN string
	// PrincipalID is aws:userid: "AROA…:session" for an assumed role,
	// "123456789012:Bob" for a federated user, the user ID or the account ID.
	PrincipalID string
	// SourceARN and SourceID are the role (ARN, AROA… ID) of an assumed-role
	// session, or the IAM user whose credentials requested a federated-user
	// or GetSessionToken session.
	SourceARN   string
	SourceID    string
	SessionName string
	IssuedAt    time.Time
	Expiration  time.Time
	// MFAAuthenticated and MFAAuthTime feed aws:MultiFactorAuthPresent and
	// aws:MultiFactorAuthAge.
	MFAAuthenticated  bool
	MFAAuthTime       time.Time
	SourceIdentity    string
	Tags              []Tag
	TransitiveTagKeys []string
	// Policy is the inline session policy JSON and PolicyARNs the managed
	// session policies; together they limit the session's permissions.
	Policy     string
	PolicyARNs []string
	// RoleChained is set when a role session assumed this role, which caps
	// the session at one hour and propagates transitive tags.
	RoleChained bool
}

// wire is the JSON form of a Session. Field names are short because every
// request carries the token.
type wire struct {
	Secret      string   `json:"s"`
	Account     string   `json:"a"`
	Kind        Kind     `json:"k"`
	ARN         string   `json:"r"`
	PrincipalID string   `json:"p"`
	SourceARN   string   `json:"sa,omitempty"`
	SourceID    string   `json:"si,omitempty"`
	SessionName string   `json:"n,omitempty"`
	IssuedAt    int64    `json:"i"`
	Expiration  int64    `json:"e"`
	MFA         bool     `json:"m,omitempty"`
	MFAAuthTime int64    `json:"mt,omitempty"`
	SourceIdent string   `json:"sid,omitempty"`
	Tags        []Tag    `json:"t,omitempty"`
	Transitive  []string `json:"tt,omitempty"`
	Policy      string   `json:"pol,omitempty"`
	PolicyARNs  []string `json:"pa,omitempty"`
	RoleChained bool     `json:"rc,omitempty"`
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func timeOrZero(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

type sealKey struct {
	id   [keyIDSize]byte
	aead cipher.AEAD
}

// Sealer seals and opens session tokens. The first key seals; every key
// opens, so the key can be rotated without invalidating live sessions.
// A Sealer is safe for concurrent use.
type Sealer struct {
	keys    []sealKey
	writers sync.Pool // *flate.Writer
	readers sync.Pool // io.ReadCloser implementing flate.Resetter
}

// New returns a Sealer for the given 32-byte keys, newest first. Derive them
// from the master key ring, e.g. keyring.DeriveKeys("iamd/sts-token/v1").
func New(keys ...[]byte) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("no key: %w", ErrInvalidKey)
	}
	s := &Sealer{}
	for i, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("key %d has %d bytes, want %d: %w", i, len(k), KeySize, ErrInvalidKey)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		m := hmac.New(sha256.New, k)
		m.Write([]byte("iamd/sts-token/key-id/v1"))
		var id [keyIDSize]byte
		copy(id[:], m.Sum(nil))
		s.keys = append(s.keys, sealKey{id: id, aead: aead})
	}
	return s, nil
}

func associatedData(header []byte, accessKeyID string) []byte {
	ad := make([]byte, 0, len(adPrefix)+len(header)+len(accessKeyID))
	ad = append(ad, adPrefix...)
	ad = append(ad, header...)
	return append(ad, accessKeyID...)
}

// Seal returns the session token for sess.
func (s *Sealer) Seal(sess Session) (string, error) {
	switch {
	case sess.AccessKeyID == "":
		return "", fmt.Errorf("no access key ID: %w", ErrInvalidSession)
	case !sess.Kind.valid():
		return "", fmt.Errorf("kind %v: %w", sess.Kind, ErrInvalidSession)
	case !sess.Expiration.After(sess.IssuedAt):
		return "", fmt.Errorf("expiration %v not after issue time %v: %w", sess.Expiration, sess.IssuedAt, ErrInvalidSession)
	}
	js, err := json.Marshal(wire{
		Secret: sess.SecretAccessKey, Account: sess.Account, Kind: sess.Kind,
		ARN: sess.ARN, PrincipalID: sess.PrincipalID, SourceARN: sess.SourceARN, SourceID: sess.SourceID,
		SessionName: sess.SessionName, IssuedAt: sess.IssuedAt.Unix(), Expiration: sess.Expiration.Unix(),
		MFA: sess.MFAAuthenticated, MFAAuthTime: unixOrZero(sess.MFAAuthTime), SourceIdent: sess.SourceIdentity,
		Tags: sess.Tags, Transitive: sess.TransitiveTagKeys, Policy: sess.Policy, PolicyARNs: sess.PolicyARNs,
		RoleChained: sess.RoleChained,
	})
	if err != nil {
		return "", fmt.Errorf("encode session: %w", err)
	}
	payload := append([]byte{encJSON}, js...)
	if len(js) > compressAbove {
		if z := s.deflate(js); len(z) < len(js) {
			payload = z
		}
	}

	k := s.keys[0]
	raw := make([]byte, headerSize, headerSize+len(payload)+tagSize)
	raw[0] = version
	copy(raw[1:], k.id[:])
	nonce := raw[1+keyIDSize : headerSize]
	rand.Read(nonce)
	raw = k.aead.Seal(raw, nonce, payload, associatedData(raw[:1+keyIDSize], sess.AccessKeyID))
	if base64.StdEncoding.EncodedLen(len(raw)) > MaxTokenLen {
		return "", fmt.Errorf("token would be %d bytes, more than %d: %w",
			base64.StdEncoding.EncodedLen(len(raw)), MaxTokenLen, ErrInvalidSession)
	}
	return base64.StdEncoding.EncodeToString(raw), nil
}

// deflate returns encDeflate followed by js compressed.
func (s *Sealer) deflate(js []byte) []byte {
	var buf bytes.Buffer
	buf.WriteByte(encDeflate)
	w, _ := s.writers.Get().(*flate.Writer)
	if w == nil {
		w, _ = flate.NewWriter(&buf, flate.BestCompression) // level is valid: no error
	} else {
		w.Reset(&buf)
	}
	w.Write(js)
	w.Close()
	s.writers.Put(w)
	return buf.Bytes()
}

func (s *Sealer) inflate(z []byte) ([]byte, error) {
	src := bytes.NewReader(z)
	r, _ := s.readers.Get().(io.ReadCloser)
	if r == nil {
		r = flate.NewReader(src)
	} else if err := r.(flate.Resetter).Reset(src, nil); err != nil {
		return nil, err
	}
	defer s.readers.Put(r)
	out, err := io.ReadAll(io.LimitReader(r, maxPayload+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxPayload {
		return nil, errors.New("payload too large")
	}
	return out, nil
}

// Open authenticates and decodes a token presented with accessKeyID at now.
// It returns an error wrapping ErrInvalid if the token is not one this Sealer
// sealed for accessKeyID, and ErrExpired if the session has expired
// (now is at or after Expiration).
func (s *Sealer) Open(accessKeyID, token string, now time.Time) (Session, error) {
	sess, err := s.open(accessKeyID, token)
	if err != nil {
		return Session{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if !now.Before(sess.Expiration) {
		return Session{}, fmt.Errorf("expired at %v: %w", sess.Expiration, ErrExpired)
	}
	return sess, nil
}

func (s *Sealer) open(accessKeyID, token string) (Session, error) {
	if len(token) > MaxTokenLen {
		return Session{}, errors.New("too long")
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(token)
	if err != nil {
		return Session{}, errors.New("not base64")
	}
	if len(raw) < headerSize+tagSize+1 {
		return Session{}, errors.New("too short")
	}
	if raw[0] != version {
		return Session{}, fmt.Errorf("unknown version %d", raw[0])
	}
	id, nonce := raw[1:1+keyIDSize], raw[1+keyIDSize:headerSize]
	ad := associatedData(raw[:1+keyIDSize], accessKeyID)
	var payload []byte
	opened := false
	for _, k := range s.keys {
		if !bytes.Equal(k.id[:], id) {
			continue
		}
		if payload, err = k.aead.Open(nil, nonce, raw[headerSize:], ad); err == nil {
			opened = true
			break
		}
	}
	if !opened {
		return Session{}, errors.New("authentication failed")
	}
	if len(payload) == 0 {
		return Session{}, errors.New("empty payload")
	}
	js := payload[1:]
	switch payload[0] {
	case encJSON:
	case encDeflate:
		if js, err = s.inflate(js); err != nil {
			return Session{}, fmt.Errorf("inflate: %v", err)
		}
	default:
		return Session{}, fmt.Errorf("unknown encoding %d", payload[0])
	}
	var w wire
	if err := json.Unmarshal(js, &w); err != nil {
		return Session{}, fmt.Errorf("decode: %v", err)
	}
	if !w.Kind.valid() {
		return Session{}, fmt.Errorf("unknown kind %d", w.Kind)
	}
	return Session{
		AccessKeyID: accessKeyID, SecretAccessKey: w.Secret, Account: w.Account, Kind: w.Kind,
		ARN: w.ARN, PrincipalID: w.PrincipalID, SourceARN: w.SourceARN, SourceID: w.SourceID,
		SessionName: w.SessionName, IssuedAt: time.Unix(w.IssuedAt, 0).UTC(), Expiration: time.Unix(w.Expiration, 0).UTC(),
		MFAAuthenticated: w.MFA, MFAAuthTime: timeOrZero(w.MFAAuthTime), SourceIdentity: w.SourceIdent,
		Tags: w.Tags, TransitiveTagKeys: w.Transitive, Policy: w.Policy, PolicyARNs: w.PolicyARNs,
		RoleChained: w.RoleChained,
	}, nil
}
