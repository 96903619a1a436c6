// Package audit records what happens in iamd as CloudTrail-style events in
// a tamper-evident, append-only log, and answers queries over it.
//
// Every API call, console sign-in and (through the decision collector)
// authorization decision becomes one Event. Each request appends its own
// record to the current segment with one write before it is answered, so a
// killed process loses no answered request's event; by default records are
// fsynced in the background every 100 ms, and with fsync (Options.NoSync
// false) before the answer, requests sharing each fsync (group commit).
// Each record carries the SHA-256 hash of the previous record (a hash
// chain). A signed head (count and chain head, HMAC-SHA256 under a key
// derived from the master keyring) is kept in a separate file, rewritten
// within a millisecond of the records it covers (after their fsync, with
// fsync); every DigestEvery records or DigestInterval, and at shutdown, a
// signed digest chaining to the previous digest is appended to the digest
// file. Verify detects a changed, removed, reordered or truncated record,
// the newest included.
//
// The package is not a general log shipper: it keeps events on the local
// disk of each replica (one chain per replica) and indexes them in memory
// for LookupEvents. See Verify for what tamper evidence can and cannot
// establish.
package audit

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/authz"
)

// EventVersion is the CloudTrail record format version iamd writes.
const EventVersion = "1.09"

// Event sources.
const (
	SourceIAM        = "iam.amazonaws.com"
	SourceSTS        = "sts.amazonaws.com"
	SourceSignin     = "signin.amazonaws.com"
	SourceCloudTrail = "cloudtrail.amazonaws.com"
)

// Event types.
const (
	TypeAPICall       = "AwsApiCall"
	TypeConsoleSignIn = "AwsConsoleSignIn"
)

// categoryManagement is the eventCategory of management events, the
// only ones iamd records.
const categoryManagement = "Management"

// Hidden replaces secret values, as CloudTrail does.
const Hidden = "HIDDEN_DUE_TO_SECURITY_REASONS"

// Event is one CloudTrail record. Field order and names follow CloudTrail's
// record contents so that tools reading CloudTrail JSON read these.
type Event struct {
	EventVersion        string          `json:"eventVersion"`
	UserIdentity        UserIdentity    `json:"userIdentity"`
	EventTime           string          `json:"eventTime"`
	EventSource         string          `json:"eventSource"`
	EventName           string          `json:"eventName"`
	AWSRegion           string          `json:"awsRegion"`
	SourceIPAddress     string          `json:"sourceIPAddress"`
	UserAgent           string          `json:"userAgent"`
	ErrorCode           string          `json:"errorCode,omitempty"`
	ErrorMessage        string          `json:"errorMessage,omitempty"`
	RequestParameters   json.RawMessage `json:"requestParameters"`
	ResponseElements    json.RawMessage `json:"responseElements"`
	AdditionalEventData json.RawMessage `json:"additionalEventData,omitempty"`
	RequestID           string          `json:"requestID,omitempty"`
	EventID             string          `json:"eventID"`
	ReadOnly            bool            `json:"readOnly"`
	EventType           string          `json:"eventType"`
	ManagementEvent     bool            `json:"managementEvent"`
	RecipientAccountID  string          `json:"recipientAccountId"`
	EventCategory       string          `json:"eventCategory"`

	// Resources are the (type, name) pairs LookupEvents reports and
	// filters on, and Username the name it reports (see LookupUsername);
	// both are stored beside the event, not in it.
	Resources []Resource `json:"-"`
	Username  string     `json:"-"`

	// time is the parsed EventTime, when known; trusted marks events built
	// by Call, whose JSON fragments need no validation.
	time    time.Time
	trusted bool
	// decisions, of a Call's event, stand for AdditionalEventData
	// {"authorizationDecisions":[...]} while it is empty: the positional
	// form stores them without the members' names.
	decisions []decision
}

// Resource is a resource an event refers to, as LookupEvents shows it.
type Resource struct {
	Type string // e.g. AWS::IAM::User
	Name string // e.g. bob, or an ARN
}

// UserIdentity is CloudTrail's userIdentity element.
type UserIdentity struct {
	Type             string          `json:"type"`
	PrincipalID      string          `json:"principalId,omitempty"`
	ARN              string          `json:"arn,omitempty"`
	AccountID        string          `json:"accountId,omitempty"`
	AccessKeyID      string          `json:"accessKeyId,omitempty"`
	UserName         string          `json:"userName,omitempty"`
	SessionContext   *SessionContext `json:"sessionContext,omitempty"`
	IdentityProvider string          `json:"identityProvider,omitempty"`
	// InvokedBy names the AWS service of an AWSService identity.
	InvokedBy string `json:"invokedBy,omitempty"`
}

// SessionContext describes temporary credentials.
type SessionContext struct {
	SessionIssuer  *SessionIssuer    `json:"sessionIssuer,omitempty"`
	Attributes     SessionAttributes `json:"attributes"`
	SourceIdentity string            `json:"sourceIdentity,omitempty"`
}

// SessionIssuer is the principal that created a session.
type SessionIssuer struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId"`
	ARN         string `json:"arn,omitempty"`
	AccountID   string `json:"accountId"`
	UserName    string `json:"userName,omitempty"`
}

// SessionAttributes are a session's creation date and MFA state.
type SessionAttributes struct {
	CreationDate     string `json:"creationDate"`
	MFAAuthenticated string `json:"mfaAuthenticated"`
}

// TimeFormat is CloudTrail's eventTime format.
const TimeFormat = "2006-01-02T15:04:05Z"

// FormatTime formats t as CloudTrail does.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// IdentityOf describes an authenticated caller as CloudTrail's userIdentity.
func IdentityOf(c *authz.Caller) UserIdentity { return identityOf(c, nil) }

// sessionMemory holds the session context and issuer of an identity, for
// a caller that reuses them (Call); IdentityOf allocates its own.
type sessionMemory struct {
	context SessionContext
	issuer  SessionIssuer
}

// identityOf is IdentityOf with the session context in mem (when not
// nil), which the identity refers to.
func identityOf(c *authz.Caller, mem *sessionMemory) UserIdentity {
	if c == nil {
		return UserIdentity{Type: "Unknown"}
	}
	id := UserIdentity{PrincipalID: c.UserID, ARN: c.ARN, AccountID: c.Account, AccessKeyID: c.AccessKeyID}
	switch c.Type {
	case authz.Root:
		id.Type = "Root"
	case authz.User:
		id.Type = "IAMUser"
		id.UserName = c.Name
	case authz.AssumedRole:
		id.Type = "AssumedRole"
	case authz.FederatedUser:
		id.Type = "FederatedUser"
	case authz.ServicePrincipal:
		// As CloudTrail records a service acting on its own behalf.
		return UserIdentity{Type: "AWSService", InvokedBy: c.Name}
	default:
		id.Type = "Unknown"
	}
	if s := c.Session; s != nil {
		if mem == nil {
			mem = new(sessionMemory)
		}
		sc := &mem.context
		*sc = SessionContext{
			Attributes: SessionAttributes{
				CreationDate:     FormatTime(s.IssuedAt),
				MFAAuthenticated: boolString(s.MFA),
			},
			SourceIdentity: s.SourceIdentity,
		}
		si := &mem.issuer
		switch c.Type {
		case authz.AssumedRole:
			*si = SessionIssuer{Type: "Role", PrincipalID: c.EntityID, ARN: c.PrincipalARN, AccountID: c.Account, UserName: c.Name}
			sc.SessionIssuer = si
		case authz.FederatedUser:
			if c.EntityID == c.Account {
				*si = SessionIssuer{Type: "Root", PrincipalID: c.Account, ARN: strings.Replace(c.ARN[:strings.LastIndexByte(c.ARN, ':')+1], ":sts::", ":iam::", 1) + "root", AccountID: c.Account}
			} else {
				*si = SessionIssuer{Type: "IAMUser", PrincipalID: c.EntityID, AccountID: c.Account}
			}
			sc.SessionIssuer = si
		}
		id.SessionContext = sc
	}
	return id
}

// LookupUsername is the value LookupEvents matches for the Username
// attribute and reports as Username: the IAM user name, "root", or the
// session name of temporary credentials.
func LookupUsername(c *authz.Caller) string {
	if c == nil {
		return ""
	}
	switch c.Type {
	case authz.Root:
		return "root"
	case authz.User:
		return c.Name
	case authz.AssumedRole, authz.FederatedUser:
		if c.Session != nil {
			return c.Session.Name
		}
	}
	return c.Name
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// ReadOnly reports whether an operation of a service only reads, as
// CloudTrail classifies it.
func ReadOnly(source, name string) bool {
	switch source {
	case SourceSTS, SourceCloudTrail:
		return true
	}
	for _, p := range [...]string{"Get", "List", "Simulate", "Generate", "Describe", "Lookup"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// SourceOf maps a SigV4 service name to the event source.
func SourceOf(service string) string {
	switch service {
	case "iam":
		return SourceIAM
	case "sts":
		return SourceSTS
	case "cloudtrail":
		return SourceCloudTrail
	case "signin":
		return SourceSignin
	}
	return service + ".amazonaws.com"
}

// ConsoleSignIn builds the event of a console sign-in attempt (eventSource
// signin.amazonaws.com, eventName ConsoleLogin) for Log.Record. who is the
// principal that signed in, or nil if it is unknown (then userName names
// the attempted user); errMsg is empty on success.
func ConsoleSignIn(who *authz.Caller, account, userName string, mfaUsed bool, errMsg string, at time.Time) *Event {
	ev := &Event{
		EventTime: FormatTime(at), EventSource: SourceSignin, EventName: "ConsoleLogin",
		AWSRegion: "us-east-1", EventType: TypeConsoleSignIn, RecipientAccountID: account,
		UserIdentity: IdentityOf(who), Username: LookupUsername(who),
	}
	if who != nil {
		ev.SourceIPAddress, ev.UserAgent = who.SourceIP.String(), who.UserAgent
	} else {
		ev.UserIdentity = UserIdentity{Type: "IAMUser", AccountID: account, UserName: userName}
		ev.Username = userName
		if userName == "" || userName == "root" {
			ev.UserIdentity.Type = "Root"
		}
	}
	result := "Success"
	if errMsg != "" {
		result, ev.ErrorMessage = "Failure", errMsg
	}
	ev.ResponseElements, _ = json.Marshal(map[string]string{"ConsoleLogin": result})
	mfa := "No"
	if mfaUsed {
		mfa = "Yes"
	}
	ev.AdditionalEventData, _ = json.Marshal(map[string]string{"MFAUsed": mfa})
	return ev
}
