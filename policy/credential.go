package policy

import "strings"

// Credential says which kind of credentials signed a request, for the fixed
// limits AWS puts on some temporary credentials whatever the policies say.
type Credential uint8

// Credential kinds. The zero value, CredentialStandard, has no fixed limit:
// long-term access keys, role sessions and console sessions.
const (
	CredentialStandard Credential = iota
	// CredentialSessionToken: GetSessionToken. Without MFA it cannot call
	// IAM; of STS it can call only AssumeRole and GetCallerIdentity.
	CredentialSessionToken
	// CredentialFederationToken: GetFederationToken. It cannot call IAM,
	// nor STS but for GetCallerIdentity.
	CredentialFederationToken
)

var credentialNames = [...]string{"standard", "GetSessionToken", "GetFederationToken"}

// String names the STS call that issued the credentials.
func (c Credential) String() string {
	if int(c) < len(credentialNames) {
		return credentialNames[c]
	}
	return "unknown"
}

// AlwaysAllowed reports whether AWS allows action to every authenticated
// caller whatever the policies say: sts:GetCallerIdentity needs no
// permission and an explicit deny does not stop it.
func AlwaysAllowed(action string) bool {
	return strings.EqualFold(action, "sts:GetCallerIdentity")
}

// CredentialForbids reports whether credentials of kind k cannot be used
// for action at all, as AWS documents for GetSessionToken and
// GetFederationToken: mfa says whether the session was created with MFA.
// Policies cannot lift these limits.
func CredentialForbids(k Credential, mfa bool, action string) bool {
	if k == CredentialStandard || AlwaysAllowed(action) {
		return false
	}
	svc, op, _ := strings.Cut(action, ":")
	switch {
	case strings.EqualFold(svc, "iam"):
		return k == CredentialFederationToken || !mfa
	case strings.EqualFold(svc, "sts"):
		return k == CredentialFederationToken || !strings.EqualFold(op, "AssumeRole")
	}
	return false
}

// credentialLimit describes the limit of CredentialForbids that applies to
// action, for explanations.
func credentialLimit(k Credential, action string) string {
	svc, _, _ := strings.Cut(action, ":")
	switch {
	case k == CredentialFederationToken:
		return "temporary credentials from GetFederationToken cannot call IAM or STS (except GetCallerIdentity)"
	case strings.EqualFold(svc, "iam"):
		return "temporary credentials from GetSessionToken cannot call IAM unless the session was created with MFA"
	}
	return "temporary credentials from GetSessionToken cannot call STS except AssumeRole and GetCallerIdentity"
}
