package secrets

import (
	"crypto/rand"
	"encoding/base64"
)

// Prefixes of AWS identifiers, from the IAM User Guide's table of unique ID
// prefixes.
const (
	PrefixAccessKey          = "AKIA" // long-term access key ID
	PrefixTemporaryAccessKey = "ASIA" // STS temporary access key ID
	PrefixBearerToken        = "ABIA" // STS service bearer token
	PrefixContextCredential  = "ACCA" // context-specific credential
	PrefixGroup              = "AGPA"
	PrefixUser               = "AIDA"
	PrefixInstanceProfile    = "AIPA"
	PrefixManagedPolicy      = "ANPA"
	PrefixPolicyVersion      = "ANVA"
	PrefixPublicKey          = "APKA"
	PrefixRole               = "AROA"
	PrefixCertificate        = "ASCA"
)

const (
	// AccessKeyIDLen is the length of an access key ID (AKIA…, ASIA…).
	AccessKeyIDLen = 20
	// UniqueIDLen is the length of an IAM unique ID (AIDA…, AROA…).
	UniqueIDLen = 21
	// SecretAccessKeyLen is the length of a secret access key.
	SecretAccessKeyLen = 40
)

// base32 alphabet (RFC 4648), which is what AWS IDs use after the prefix.
const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// randomID returns prefix followed by random characters from idAlphabet up to
// n characters in all.
func randomID(prefix string, n int) string {
	if len(prefix) >= n {
		return prefix[:n]
	}
	b := make([]byte, n)
	copy(b, prefix)
	tail := b[len(prefix):]
	rand.Read(tail)
	for i, c := range tail {
		tail[i] = idAlphabet[c&31] // 256 is a multiple of 32: uniform
	}
	return string(b)
}

// NewAccessKeyID returns a random 20-character access key ID with the given
// prefix, such as PrefixAccessKey or PrefixTemporaryAccessKey, followed by
// upper-case base32 characters (A-Z, 2-7): 80 random bits after a 4-letter
// prefix.
func NewAccessKeyID(prefix string) string {
	return randomID(prefix, AccessKeyIDLen)
}

// NewUniqueID returns a random 21-character IAM unique ID with the given
// prefix, such as PrefixUser or PrefixRole, followed by upper-case base32
// characters: 85 random bits after a 4-letter prefix.
func NewUniqueID(prefix string) string {
	return randomID(prefix, UniqueIDLen)
}

// NewSecretAccessKey returns a random 40-character secret access key in the
// standard base64 alphabet (A-Z, a-z, 0-9, +, /), as AWS's look: 240 random
// bits.
func NewSecretAccessKey() string {
	b := make([]byte, 30)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
