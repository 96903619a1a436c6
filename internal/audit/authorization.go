package audit

import (
	"strings"
	"time"

	"github.com/iamd/iamd/internal/authz"
)

// SourceIamd is the event source of calls to iamd's own APIs that AWS does
// not have, such as the authorization API.
const SourceIamd = "iamd.amazonaws.com"

// Authorization is one call of the authorization API (POST
// /_iamd/authorize), as much of it as was established before it was
// answered.
type Authorization struct {
	Time      time.Time
	RequestID string

	// The calling service: Caller once its signature verified, else the
	// access key its call was signed with; its address and user agent.
	Caller           *authz.Caller
	CallerKeyID      string
	CallerIP         string
	CallerUserAgent  string
	ForwardedReached bool // the call got as far as the forwarded request

	// The forwarded request: Principal once its signature verified, else
	// the access key it was signed with; the service and region it was
	// signed for; what it asks; where it came from.
	Principal      *authz.Caller
	PrincipalKeyID string
	Service        string
	Region         string
	Action         string
	Resource       string
	SourceIP       string
	UserAgent      string
	// Account is the account owning the resource.
	Account string

	// Decision is "Allow", "ExplicitDeny" or "ImplicitDeny" once decided.
	Decision string
	// ErrorCode and ErrorMessage say why the call failed, or why the
	// request was denied.
	ErrorCode, ErrorMessage string
}

// Event describes the call for the audit trail. A call that reached the
// forwarded request is recorded as that request: a data event of its
// service (s3.amazonaws.com GetObject, say) by its principal, denied
// requests with errorCode AccessDenied, and the calling service named in
// additionalEventData. A call refused before (the caller's signature or
// permission) is recorded as iamd.amazonaws.com Authorize by the caller.
func (a *Authorization) Event() *Event {
	ev := &Event{
		EventTime: FormatTime(a.Time), RequestID: a.RequestID,
		ErrorCode: a.ErrorCode, ErrorMessage: a.ErrorMessage,
		time: a.Time, trusted: true,
	}
	if !a.ForwardedReached {
		ev.EventSource, ev.EventName, ev.AWSRegion = SourceIamd, "Authorize", "us-east-1"
		ev.SourceIPAddress, ev.UserAgent = a.CallerIP, a.CallerUserAgent
		ev.UserIdentity, ev.Username = IdentityOf(a.Caller), LookupUsername(a.Caller)
		if a.Caller == nil {
			ev.UserIdentity.AccessKeyID = a.CallerKeyID
		} else {
			ev.RecipientAccountID = a.Caller.Account
		}
		ev.ReadOnly = true
		ev.RequestParameters = a.parameters()
		return ev
	}
	service, name, _ := strings.Cut(a.Action, ":")
	if a.Service != "" {
		service = a.Service
	}
	ev.EventSource, ev.EventName, ev.AWSRegion = SourceOf(service), name, a.Region
	if ev.AWSRegion == "" {
		ev.AWSRegion = "us-east-1"
	}
	ev.SourceIPAddress, ev.UserAgent = a.SourceIP, a.UserAgent
	if ev.SourceIPAddress == "" {
		ev.SourceIPAddress = a.CallerIP
	}
	ev.UserIdentity, ev.Username = IdentityOf(a.Principal), LookupUsername(a.Principal)
	if a.Principal == nil {
		ev.UserIdentity.AccessKeyID = a.PrincipalKeyID
	}
	ev.RecipientAccountID = a.Account
	if ev.RecipientAccountID == "" && a.Principal != nil {
		ev.RecipientAccountID = a.Principal.Account
	}
	ev.ReadOnly = ReadOnly(ev.EventSource, name)
	ev.EventCategory = "Data"
	ev.RequestParameters = a.parameters()
	if a.Resource != "" {
		ev.Resources = []Resource{{Type: resourceType(a.Resource), Name: a.Resource}}
	}
	b := append(make([]byte, 0, 256), `{"authorizationDecisions":[{"action":`...)
	b = appendString(b, a.Action)
	b = appendOptional(b, "resource", a.Resource)
	b = appendOptional(b, "decision", a.Decision)
	b = append(b, `}],"authorizedBy":{"type":`...)
	id := IdentityOf(a.Caller)
	b = appendString(b, id.Type)
	b = appendOptional(b, "arn", id.ARN)
	b = appendOptional(b, "accessKeyId", id.AccessKeyID)
	b = appendOptional(b, "sourceIPAddress", a.CallerIP)
	ev.AdditionalEventData = append(b, "}}"...)
	return ev
}

func (a *Authorization) parameters() []byte {
	if a.Action == "" && a.Resource == "" {
		return nil
	}
	b := append(make([]byte, 0, 128), `{"action":`...)
	b = appendString(b, a.Action)
	b = appendOptional(b, "resource", a.Resource)
	return append(b, '}')
}

// resourceType names an ARN's resource type the way CloudTrail's
// LookupEvents does (AWS::S3::Object, AWS::IAM::User), from its service
// and the first segment of its resource; "" if it is not an ARN.
func resourceType(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	service, res := parts[2], parts[5]
	if service == "s3" {
		if strings.Contains(res, "/") {
			return "AWS::S3::Object"
		}
		return "AWS::S3::Bucket"
	}
	kind, _, found := strings.Cut(res, "/")
	if !found {
		kind, _, _ = strings.Cut(res, ":")
	}
	return "AWS::" + upperService(service) + "::" + upperFirst(kind)
}

func upperService(s string) string {
	switch s {
	case "iam", "sts", "sqs", "sns", "ec2", "kms", "s3":
		return strings.ToUpper(s)
	case "dynamodb":
		return "DynamoDB"
	}
	return upperFirst(s)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
