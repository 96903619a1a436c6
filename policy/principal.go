package policy

import (
	"fmt"
	"slices"
	"strings"
)

// PrincipalType is the kind of identity making a request.
type PrincipalType uint8

// Principal types.
const (
	// PrincipalUser is an IAM user (long-term or GetSessionToken keys).
	PrincipalUser PrincipalType = iota
	// PrincipalAssumedRole is a role session (arn:aws:sts::A:assumed-role/R/S).
	PrincipalAssumedRole
	// PrincipalRoot is the account's root user: identity policies and
	// boundaries do not apply; it may do anything in its own account that
	// no SCP or explicit deny forbids.
	PrincipalRoot
	// PrincipalFederatedUser is a GetFederationToken session
	// (arn:aws:sts::A:federated-user/N).
	PrincipalFederatedUser
	// PrincipalAnonymous is an unauthenticated caller: only resource-based
	// policies that allow "*" can grant it anything.
	PrincipalAnonymous
	// PrincipalService is an AWS service principal (Service field set).
	PrincipalService
	// PrincipalWebIdentity is an OIDC or SAML identity provider principal,
	// as evaluated against trust policies for AssumeRoleWithWebIdentity /
	// AssumeRoleWithSAML (Federated field set).
	PrincipalWebIdentity
)

var principalTypeNames = [...]string{"User", "AssumedRole", "Account", "FederatedUser", "Anonymous", "Service", "WebIdentity"}

// String returns the aws:PrincipalType style name.
func (t PrincipalType) String() string {
	if int(t) < len(principalTypeNames) {
		return principalTypeNames[t]
	}
	return "Unknown"
}

// isIAM reports whether identity-based policies apply to the type.
func (t PrincipalType) isIAM() bool {
	return t == PrincipalUser || t == PrincipalAssumedRole || t == PrincipalFederatedUser
}

// Principal identifies the caller of a request.
type Principal struct {
	Type PrincipalType
	// ARN is the caller's ARN: the user ARN, the role session ARN, the
	// federated user ARN or "arn:aws:iam::A:root".
	ARN string
	// Account is the caller's account ID.
	Account string
	// RoleARN is, for a role session, the IAM ARN of the role (with its
	// path), which resource-based policies may name instead of the session.
	RoleARN string
	// Service is the service principal name, e.g. "ec2.amazonaws.com".
	Service string
	// Federated is the identity provider, e.g.
	// "arn:aws:iam::A:saml-provider/X" or "accounts.google.com".
	Federated string
	// CanonicalUser is the S3 canonical user ID, if known.
	CanonicalUser string
	// Credential is the kind of credentials that signed the request, for
	// the fixed limits of GetSessionToken and GetFederationToken
	// credentials (CredentialForbids).
	Credential Credential
}

// PrincipalFromARN derives a Principal from an IAM or STS ARN. For a role
// session the role ARN is reconstructed without path; set RoleARN
// explicitly when the role has a path.
func PrincipalFromARN(arn string) (Principal, error) {
	a, ok := splitARN(arn)
	if !ok {
		return Principal{}, fmt.Errorf("principal %q is not an ARN", arn)
	}
	p := Principal{ARN: arn, Account: a.account}
	switch {
	case a.service == "iam" && a.resource == "root":
		p.Type = PrincipalRoot
	case a.service == "iam" && strings.HasPrefix(a.resource, "user/"):
		p.Type = PrincipalUser
	case a.service == "sts" && strings.HasPrefix(a.resource, "assumed-role/"):
		p.Type = PrincipalAssumedRole
		rest := strings.TrimPrefix(a.resource, "assumed-role/")
		role, _, ok := strings.Cut(rest, "/")
		if !ok {
			return Principal{}, fmt.Errorf("principal %q: assumed-role ARN without session name", arn)
		}
		p.RoleARN = "arn:" + a.partition + ":iam::" + a.account + ":role/" + role
	case a.service == "sts" && strings.HasPrefix(a.resource, "federated-user/"):
		p.Type = PrincipalFederatedUser
	default:
		return Principal{}, fmt.Errorf("principal %q is not a user, role session, federated user or root ARN", arn)
	}
	return p, nil
}

// matchKind says how a resource-based policy statement's principal
// matched the caller; it decides whether the grant stands on its own in
// the caller's account.
type matchKind uint8

const (
	mNone matchKind = iota
	// mAccount: the account (root ARN or ID) was named; identity policies
	// of the caller must still allow.
	mAccount
	// mRole: the role ARN or a federated user session was named: the grant
	// stands without identity policies but boundaries and session policies
	// still limit it.
	mRole
	// mDirect: the user ARN, the role session ARN, "*" or a service /
	// federated provider was named: the grant stands on its own.
	mDirect
)

var matchKindNames = [...]string{"none", "account", "role", "direct"}

func (m matchKind) String() string { return matchKindNames[m] }

type principalMatcher struct {
	wildcard  bool
	accounts  []string
	arns      []string
	services  []string
	federated []string
	canonical []string
}

func compilePrincipals(p *Principals) *principalMatcher {
	if p == nil {
		return nil
	}
	pm := &principalMatcher{wildcard: p.Wildcard, services: p.Service, federated: p.Federated, canonical: p.CanonicalUser}
	for _, a := range p.AWS {
		switch {
		case a == "*":
			pm.wildcard = true
		case ValidAccountID(a):
			pm.accounts = append(pm.accounts, a)
		default:
			if ap, ok := splitARN(a); ok && ap.service == "iam" && ap.resource == "root" {
				pm.accounts = append(pm.accounts, ap.account)
			} else {
				pm.arns = append(pm.arns, a)
			}
		}
	}
	return pm
}

// wildcardKind is what "*" grants the principal type in its own account.
func wildcardKind(p *Principal) matchKind {
	if p.Type == PrincipalFederatedUser {
		return mRole
	}
	return mDirect
}

// match returns how the caller matches the principal list.
func (pm *principalMatcher) match(p *Principal) matchKind {
	if pm.wildcard {
		return wildcardKind(p)
	}
	best := mNone
	switch p.Type {
	case PrincipalService:
		for _, s := range pm.services {
			if s == p.Service {
				return mDirect
			}
		}
		return mNone
	case PrincipalWebIdentity:
		for _, f := range pm.federated {
			if f == p.Federated {
				return mDirect
			}
		}
		return mNone
	case PrincipalAnonymous:
		return mNone
	}
	if p.CanonicalUser != "" {
		for _, c := range pm.canonical {
			if c == p.CanonicalUser {
				return mDirect
			}
		}
	}
	for _, a := range pm.arns {
		switch {
		case a == p.ARN && p.ARN != "":
			if p.Type == PrincipalFederatedUser {
				best = max(best, mRole)
			} else {
				return mDirect
			}
		case p.RoleARN != "" && a == p.RoleARN:
			best = max(best, mRole)
		}
	}
	if best == mNone && p.Account != "" {
		for _, acct := range pm.accounts {
			if acct == p.Account {
				if p.Type == PrincipalRoot {
					return mDirect
				}
				return mAccount
			}
		}
	}
	return best
}

// excludes reports whether a NotPrincipal list takes the caller out of a
// statement with the given effect. The two effects need opposite
// readings to be safe:
//
//   - Allow: the statement must never grant to anything the list names, so
//     the caller is excluded when the list names it in any form: its own
//     ARN, its role (for a session), its account (ID or root ARN), its
//     service or identity provider, its canonical user, or "*".
//   - Deny: AWS documents that it checks each identity in the caller's
//     chain, so the caller escapes the deny only when every one of them is
//     listed: the account and the user (or federated user); the account,
//     the role and the session for a role session (AWS's own example lists
//     all three; without the role "the policy might deny access to the
//     role"); the account for the root user; the service or the provider
//     for those principals.
func (pm *principalMatcher) excludes(p *Principal, effect Effect) bool {
	if pm.wildcard {
		return true
	}
	if effect == Allow {
		return pm.names(p)
	}
	return pm.exempts(p)
}

// names reports whether the list names the caller in any form.
func (pm *principalMatcher) names(p *Principal) bool {
	if p.Account != "" && slices.Contains(pm.accounts, p.Account) {
		return true
	}
	for _, a := range pm.arns {
		if (p.ARN != "" && a == p.ARN) || (p.RoleARN != "" && a == p.RoleARN) {
			return true
		}
	}
	return (p.Service != "" && slices.Contains(pm.services, p.Service)) ||
		(p.Federated != "" && slices.Contains(pm.federated, p.Federated)) ||
		(p.CanonicalUser != "" && slices.Contains(pm.canonical, p.CanonicalUser))
}

// exempts reports whether the list names every identity in the caller's
// chain, which is what takes it out of a Deny.
func (pm *principalMatcher) exempts(p *Principal) bool {
	switch p.Type {
	case PrincipalService:
		return p.Service != "" && slices.Contains(pm.services, p.Service)
	case PrincipalWebIdentity:
		return p.Federated != "" && slices.Contains(pm.federated, p.Federated)
	case PrincipalAnonymous:
		return false
	}
	if p.Account == "" || !slices.Contains(pm.accounts, p.Account) {
		return false
	}
	switch p.Type {
	case PrincipalRoot:
		return true
	case PrincipalAssumedRole:
		if p.RoleARN != "" && !slices.Contains(pm.arns, p.RoleARN) {
			return false
		}
	}
	return p.ARN != "" && slices.Contains(pm.arns, p.ARN)
}

// serviceLinked reports whether the caller is a session of a service-linked
// role (path /aws-service-role/), which organization policies do not limit.
// It needs RoleARN with its path.
func (p *Principal) serviceLinked() bool {
	return p.Type == PrincipalAssumedRole && strings.Contains(p.RoleARN, ":role/aws-service-role/")
}
