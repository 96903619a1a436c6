// Package iam holds iamd's IAM state: the entity documents (accounts, users,
// groups, roles, policies, access keys ...) as they are stored, and the
// in-memory View of them that every request reads.
//
// Writes go through a Writer, which commits a batch of record operations to
// the durable store with compare-and-swap on each record's version and then
// applies the committed records to the View. A View is a pure projection of
// the stored records, so the same Apply serves start-up loading, local writes
// and following other replicas' commits.
//
// The package does not speak any protocol and does not authorize: that is
// internal/iamapi's job.
package iam

import (
	"strings"
	"time"
)

// Record kinds, as stored.
const (
	KindAccount         = "account"
	KindAlias           = "alias" // global: account alias → account ID
	KindUser            = "user"
	KindGroup           = "group"
	KindRole            = "role"
	KindInstanceProfile = "instanceprofile"
	KindPolicy          = "policy"
	KindAccessKey       = "accesskey" // global: access key ID → key
	KindKeyUsage        = "keyusage"  // global: access key ID → last used
	KindMFADevice       = "mfa"
	KindOIDCProvider    = "oidc"
	KindSAMLProvider    = "saml"
	KindRoleUsage       = "roleusage"
	KindWorkload        = "workload"
	KindSSHPublicKey    = "sshkey"      // SSH public key ID → key (credentials.go)
	KindSigningCert     = "signingcert" // certificate ID → signing certificate
	KindServiceCred     = "servicecred" // credential ID → service-specific credential
	KindServerCert      = "servercert"  // name → server certificate (servercerts.go)
)

// Tag is an IAM tag.
type Tag struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

// InlinePolicy is a policy embedded in a user, group or role.
type InlinePolicy struct {
	Name     string `json:"name"`
	Document string `json:"doc"`
}

// Account is one AWS-style account.
type Account struct {
	ID                   string          `json:"id"`
	Email                string          `json:"email,omitempty"`
	Name                 string          `json:"name,omitempty"`
	Created              time.Time       `json:"created"`
	Alias                string          `json:"alias,omitempty"`
	RootID               string          `json:"rootId,omitempty"`       // unique ID of the root user
	RootPassword         string          `json:"rootPassword,omitempty"` // argon2id hash
	RootPasswordLastUsed time.Time       `json:"rootPasswordLastUsed,omitzero"`
	PasswordPolicy       *PasswordPolicy `json:"passwordPolicy,omitempty"`
	// STSTokenVersion is the version of the tokens STS's global endpoint
	// issues (SetSecurityTokenServicePreferences): 0 or 1 for v1Token, 2
	// for v2Token.
	STSTokenVersion int `json:"stsTokenVersion,omitempty"`
	// Outbound is the account's outbound web identity federation (STS
	// GetWebIdentityToken), nil until first enabled.
	Outbound *OutboundFederation `json:"outbound,omitempty"`
}

// OutboundFederation is an account's outbound web identity federation: its
// issuer's ID (part of the issuer URL, kept when the feature is turned off
// and on again) and whether tokens are issued.
type OutboundFederation struct {
	IssuerID string `json:"issuer"`
	Enabled  bool   `json:"enabled"`
}

// PasswordPolicy is the account password policy.
type PasswordPolicy struct {
	MinimumPasswordLength      int  `json:"minLen"`
	RequireSymbols             bool `json:"symbols"`
	RequireNumbers             bool `json:"numbers"`
	RequireUppercaseCharacters bool `json:"upper"`
	RequireLowercaseCharacters bool `json:"lower"`
	AllowUsersToChangePassword bool `json:"allowChange"`
	MaxPasswordAge             int  `json:"maxAge,omitempty"`
	PasswordReusePrevention    int  `json:"reuse,omitempty"`
	HardExpiry                 bool `json:"hardExpiry,omitempty"`
}

// LoginProfile is a user's console password.
type LoginProfile struct {
	Created       time.Time `json:"created"`
	PasswordHash  string    `json:"hash"`
	ResetRequired bool      `json:"reset,omitempty"`
	// PasswordChanged is when the password was last set (for expiry).
	PasswordChanged time.Time `json:"changed"`
	// Previous holds earlier hashes, newest first, for reuse prevention.
	Previous []string `json:"prev,omitempty"`
}

// User is an IAM user.
type User struct {
	Name             string         `json:"name"`
	Path             string         `json:"path"`
	ID               string         `json:"id"`
	Created          time.Time      `json:"created"`
	Tags             []Tag          `json:"tags,omitempty"`
	Boundary         string         `json:"boundary,omitempty"`
	Attached         []string       `json:"attached,omitempty"` // managed policy ARNs
	Inline           []InlinePolicy `json:"inline,omitempty"`
	Groups           []string       `json:"groups,omitempty"` // group IDs
	PasswordLastUsed time.Time      `json:"pwdLastUsed,omitzero"`
	Login            *LoginProfile  `json:"login,omitempty"`
}

// Group is an IAM group. Its members are the users whose Groups name it.
type Group struct {
	Name     string         `json:"name"`
	Path     string         `json:"path"`
	ID       string         `json:"id"`
	Created  time.Time      `json:"created"`
	Attached []string       `json:"attached,omitempty"`
	Inline   []InlinePolicy `json:"inline,omitempty"`
}

// Role is an IAM role.
type Role struct {
	Name               string         `json:"name"`
	Path               string         `json:"path"`
	ID                 string         `json:"id"`
	Created            time.Time      `json:"created"`
	TrustPolicy        string         `json:"trust"`
	Description        string         `json:"description,omitempty"`
	MaxSessionDuration int            `json:"maxSession"`
	Tags               []Tag          `json:"tags,omitempty"`
	Boundary           string         `json:"boundary,omitempty"`
	Attached           []string       `json:"attached,omitempty"`
	Inline             []InlinePolicy `json:"inline,omitempty"`
	// ServiceLinked marks roles created by CreateServiceLinkedRole.
	ServiceLinked bool `json:"serviceLinked,omitempty"`
}

// InstanceProfile is an EC2-style instance profile holding at most one role.
type InstanceProfile struct {
	Name    string    `json:"name"`
	Path    string    `json:"path"`
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Tags    []Tag     `json:"tags,omitempty"`
	Roles   []string  `json:"roles,omitempty"` // role IDs
}

// PolicyVersion is one version of a managed policy.
type PolicyVersion struct {
	ID       string    `json:"id"` // "v1", "v2", ...
	Document string    `json:"doc"`
	Created  time.Time `json:"created"`
}

// Policy is a customer-managed policy.
type Policy struct {
	Name           string          `json:"name"`
	Path           string          `json:"path"`
	ID             string          `json:"id"`
	Created        time.Time       `json:"created"`
	Updated        time.Time       `json:"updated"`
	Description    string          `json:"description,omitempty"`
	Tags           []Tag           `json:"tags,omitempty"`
	DefaultVersion string          `json:"default"`
	Versions       []PolicyVersion `json:"versions"` // oldest first
	NextVersion    int             `json:"next"`
}

// Version returns the version with the given ID, or nil.
func (p *Policy) Version(id string) *PolicyVersion {
	for i := range p.Versions {
		if p.Versions[i].ID == id {
			return &p.Versions[i]
		}
	}
	return nil
}

// DefaultDocument returns the default version's document.
func (p *Policy) DefaultDocument() string {
	if v := p.Version(p.DefaultVersion); v != nil {
		return v.Document
	}
	return ""
}

// AccessKey is a long-term access key of an IAM user or of the root user.
type AccessKey struct {
	ID      string    `json:"id"`
	Account string    `json:"account"`
	UserID  string    `json:"userId"` // empty for the root user
	Status  string    `json:"status"` // Active or Inactive
	Created time.Time `json:"created"`
	// Secret is the secret access key sealed with the server's keyring,
	// bound to the key ID.
	Secret []byte `json:"secret"`
}

// KeyUsage records when an access key was last used.
type KeyUsage struct {
	LastUsed time.Time `json:"lastUsed"`
	Service  string    `json:"service"`
	Region   string    `json:"region"`
}

// MFADevice is a virtual MFA device (TOTP) or a security key.
type MFADevice struct {
	Serial  string    `json:"serial"` // ARN arn:aws:iam::ACCT:mfa/NAME
	Name    string    `json:"name"`
	Path    string    `json:"path"`
	Type    string    `json:"type"` // "virtual" or "webauthn"
	Created time.Time `json:"created"`
	Tags    []Tag     `json:"tags,omitempty"`
	// UserID is the user the device is enabled for; "root" for the root user;
	// empty while unassigned.
	UserID     string    `json:"userId,omitempty"`
	EnableDate time.Time `json:"enabled,omitzero"`
	Seed       []byte    `json:"seed,omitempty"` // sealed
	// LastStep is the last TOTP time step accepted (replay protection).
	LastStep int64 `json:"lastStep,omitempty"`
	// Credential holds a WebAuthn credential (JSON), sealed.
	Credential []byte `json:"cred,omitempty"`
}

// OIDCProvider is an OpenID Connect identity provider.
type OIDCProvider struct {
	URL         string    `json:"url"` // without https://
	ClientIDs   []string  `json:"clientIds,omitempty"`
	Thumbprints []string  `json:"thumbprints,omitempty"`
	Created     time.Time `json:"created"`
	Tags        []Tag     `json:"tags,omitempty"`
	// JWKS optionally pins the provider's keys (tests and offline use).
	JWKS string `json:"jwks,omitempty"`
}

// SAMLProvider is a SAML 2.0 identity provider.
type SAMLProvider struct {
	Name       string    `json:"name"`
	Metadata   string    `json:"metadata"`
	Created    time.Time `json:"created"`
	ValidUntil time.Time `json:"validUntil,omitzero"`
	Tags       []Tag     `json:"tags,omitempty"`
}

// RoleUsage records when a role was last assumed.
type RoleUsage struct {
	LastUsed time.Time `json:"lastUsed"`
	Region   string    `json:"region"`
}

// Key returns the stored key for an IAM entity name: IAM names are unique
// case-insensitively.
func Key(name string) string { return strings.ToLower(name) }

// Workload is a registered workload that may obtain a role's credentials
// through the container credentials endpoint without keys on disk.
type Workload struct {
	Name      string    `json:"name"`
	RoleName  string    `json:"role"`
	TokenHash string    `json:"tokenHash"` // SHA-256 of the authorization token
	Created   time.Time `json:"created"`
}
