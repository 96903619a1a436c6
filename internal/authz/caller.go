package authz

import (
	"context"
	"net/netip"
	"time"

	"github.com/iamd/iamd/policy"
)

// PrincipalType says what kind of identity made a request.
type PrincipalType uint8

// Principal types, named as aws:PrincipalType values.
const (
	Root          PrincipalType = iota + 1 // the account's root user ("Account")
	User                                   // an IAM user
	AssumedRole                            // a role session
	FederatedUser                          // GetFederationToken
	// ServicePrincipal is an AWS service principal acting on its own
	// behalf (logging.s3.amazonaws.com writing access logs, say): it has
	// no account, ARN or identity-based policies, so only resource-based
	// policies can allow it. See ServiceCaller.
	ServicePrincipal
)

// String returns the aws:PrincipalType value.
func (t PrincipalType) String() string {
	switch t {
	case Root:
		return "Account"
	case User:
		return "User"
	case AssumedRole:
		return "AssumedRole"
	case FederatedUser:
		return "FederatedUser"
	case ServicePrincipal:
		// AWS sets no aws:PrincipalType for service principals; this is
		// policy.PrincipalService's name, for answers and logs.
		return "Service"
	}
	return "Unknown"
}

// Caller is an authenticated identity and the facts about its request that
// conditions may test. It is built once per request by the server and
// carried in the context.
type Caller struct {
	Account string
	Type    PrincipalType
	// ARN identifies the caller as AWS shows it: a user ARN, the account root
	// ARN, or arn:aws:sts::ACCT:assumed-role/ROLE/SESSION.
	ARN string
	// PrincipalARN is aws:PrincipalArn: for a role session, the role's ARN.
	PrincipalARN string
	// UserID is aws:userid: AIDA... for users, AROA...:session for role
	// sessions, the account ID for root.
	UserID string
	// Name is aws:username (IAM users only), the role name for sessions,
	// or the service principal's name (aws:PrincipalServiceName).
	Name string
	// EntityID is the unique ID of the user or role whose policies apply.
	EntityID string
	// AccessKeyID is the key that signed the request.
	AccessKeyID string
	// Session is set for temporary credentials.
	Session *Session

	SourceIP        netip.Addr
	SecureTransport bool
	UserAgent       string
	// Region is aws:RequestedRegion: us-east-1 for IAM (a global service
	// whose endpoint is there), the region a request was signed for on
	// STS. Set it with SetRequest.
	Region string
	// values holds Region, UserAgent and a service principal's name as
	// condition-key values, so that filling a request context does not
	// allocate.
	values [3]string
	// Time is the request time (aws:CurrentTime).
	Time time.Time

	// Decisions, when set, is told of the decisions made for the caller's
	// request (the audit trail records them in the request's event).
	Decisions DecisionRecorder
}

// DecisionRecorder learns the authorization decisions made for a request.
type DecisionRecorder interface {
	RecordDecision(action, resource string, allowed bool)
}

// Session describes temporary credentials.
type Session struct {
	Name           string
	IssuedAt       time.Time
	Expires        time.Time
	MFA            bool
	MFAAuthTime    time.Time
	SourceIdentity string
	Tags           map[string]string // session tags (aws:PrincipalTag)
	TransitiveKeys []string
	// Policy and PolicyARNs are the session policies.
	Policy     string
	PolicyARNs []string
	// Chained is set when a role session assumed this role.
	Chained bool
	// Federated marks a session from GetFederationToken or from web
	// identity / SAML federation with its provider.
	Provider string
	// Console marks a console sign-in session, which the limits of
	// temporary credentials do not apply to.
	Console bool
}

// SetRequest records the request's region (aws:RequestedRegion) and user
// agent (aws:UserAgent).
func (c *Caller) SetRequest(region, userAgent string) {
	c.Region, c.UserAgent = region, userAgent
	c.values[0], c.values[1] = region, userAgent
}

// ServiceCaller returns the caller of a request that the AWS service
// principal service (e.g. "logging.s3.amazonaws.com") makes on its own
// behalf at time t. Its requests carry aws:PrincipalServiceName and
// aws:PrincipalIsAWSService true; it has no identity-based policies, and
// service control policies do not limit it (resource control policies
// do). Nothing authenticates it: whoever builds it vouches for it.
func ServiceCaller(service string, t time.Time) *Caller {
	c := &Caller{Type: ServicePrincipal, Name: service, Time: t}
	c.values[2] = service
	return c
}

// Credential is the kind of credentials the caller signed with, for the
// fixed limits AWS puts on GetSessionToken and GetFederationToken
// credentials.
func (c *Caller) Credential() policy.Credential {
	if c.Session == nil || c.Session.Console {
		return policy.CredentialStandard
	}
	switch c.Type {
	case FederatedUser:
		return policy.CredentialFederationToken
	case User, Root:
		return policy.CredentialSessionToken
	}
	return policy.CredentialStandard
}

// CredentialForbids reports whether the caller's credentials can never be
// used for action (policy.CredentialForbids): GetFederationToken
// credentials on IAM and STS, GetSessionToken credentials without MFA on
// IAM and on STS but for AssumeRole.
func (c *Caller) CredentialForbids(action string) bool {
	return policy.CredentialForbids(c.Credential(), c.Session != nil && c.Session.MFA, action)
}

type callerKey struct{}

// WithCaller returns a context carrying the caller.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller carried by ctx, or nil.
func CallerFrom(ctx context.Context) *Caller {
	c, _ := ctx.Value(callerKey{}).(*Caller)
	return c
}
