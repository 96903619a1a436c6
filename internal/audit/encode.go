package audit

import (
	"encoding/json"
	"strconv"

	"github.com/iamd/iamd/internal/jsontext"
)

// appendEvent appends ev as JSON, in CloudTrail's field order. It is the
// per-request hot path, so it avoids reflection; RawMessage fields are
// appended as they are (Record checks those it did not build).
func appendEvent(b []byte, ev *Event) []byte {
	b = append(b, `{"eventVersion":`...)
	b = appendString(b, ev.EventVersion)
	b = append(b, `,"userIdentity":`...)
	b = appendIdentity(b, &ev.UserIdentity)
	b = appendField(b, "eventTime", ev.EventTime)
	b = appendField(b, "eventSource", ev.EventSource)
	b = appendField(b, "eventName", ev.EventName)
	b = appendField(b, "awsRegion", ev.AWSRegion)
	b = appendField(b, "sourceIPAddress", ev.SourceIPAddress)
	b = appendField(b, "userAgent", ev.UserAgent)
	if ev.ErrorCode != "" {
		b = appendField(b, "errorCode", ev.ErrorCode)
	}
	if ev.ErrorMessage != "" {
		b = appendField(b, "errorMessage", ev.ErrorMessage)
	}
	b = append(b, `,"requestParameters":`...)
	b = appendRaw(b, ev.RequestParameters)
	b = append(b, `,"responseElements":`...)
	b = appendRaw(b, ev.ResponseElements)
	if len(ev.AdditionalEventData) > 0 {
		b = append(b, `,"additionalEventData":`...)
		b = append(b, ev.AdditionalEventData...)
	}
	if ev.RequestID != "" {
		b = appendField(b, "requestID", ev.RequestID)
	}
	b = appendField(b, "eventID", ev.EventID)
	b = append(b, `,"readOnly":`...)
	b = strconv.AppendBool(b, ev.ReadOnly)
	b = appendField(b, "eventType", ev.EventType)
	b = append(b, `,"managementEvent":`...)
	b = strconv.AppendBool(b, ev.ManagementEvent)
	b = appendField(b, "recipientAccountId", ev.RecipientAccountID)
	b = appendField(b, "eventCategory", ev.EventCategory)
	return append(b, '}')
}

func appendRaw(b []byte, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

func appendIdentity(b []byte, id *UserIdentity) []byte {
	b = append(b, `{"type":`...)
	b = appendString(b, id.Type)
	b = appendOptional(b, "principalId", id.PrincipalID)
	b = appendOptional(b, "arn", id.ARN)
	b = appendOptional(b, "accountId", id.AccountID)
	b = appendOptional(b, "accessKeyId", id.AccessKeyID)
	b = appendOptional(b, "userName", id.UserName)
	if sc := id.SessionContext; sc != nil {
		b = append(b, `,"sessionContext":{`...)
		if si := sc.SessionIssuer; si != nil {
			b = append(b, `"sessionIssuer":{"type":`...)
			b = appendString(b, si.Type)
			b = appendField(b, "principalId", si.PrincipalID)
			b = appendOptional(b, "arn", si.ARN)
			b = appendField(b, "accountId", si.AccountID)
			b = appendOptional(b, "userName", si.UserName)
			b = append(b, "},"...)
		}
		b = append(b, `"attributes":{"creationDate":`...)
		b = appendString(b, sc.Attributes.CreationDate)
		b = appendField(b, "mfaAuthenticated", sc.Attributes.MFAAuthenticated)
		b = append(b, '}')
		b = appendOptional(b, "sourceIdentity", sc.SourceIdentity)
		b = append(b, '}')
	}
	b = appendOptional(b, "identityProvider", id.IdentityProvider)
	b = appendOptional(b, "invokedBy", id.InvokedBy)
	return append(b, '}')
}

func appendField(b []byte, name, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, value)
}

func appendOptional(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	return appendField(b, name, value)
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte { return jsontext.AppendString(b, s) }
