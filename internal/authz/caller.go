package authz

import (
	"context"
	"net/netip"
	"time"
)

// PrincipalType says what kind of identity made a request.
type PrincipalType uint8

// Principal types, named as aws:PrincipalType values.
const (
	Root          PrincipalType = iota + 1 // the account's root user ("Account")
	User                                   // an IAM user
	AssumedRole                            // a role session
	FederatedUser                          // GetFederationToken
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
	// Name is aws:username (IAM users only) or the role name for sessions.
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
