package audit

import (
	"bytes"
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
	b = append(b, ',')
	b = appendEventBody(b, ev)
	b = appendEventTail(b, ev.EventID, ev.ReadOnly, ev.EventType, ev.ManagementEvent, ev.RecipientAccountID, ev.EventCategory)
	return append(b, '}')
}

// A record stores the event of an API call in a compact form when its
// members after requestID hold nothing its meta does not (the event ID,
// read-only, the recipient account) and its constants are the usual ones:
// the event without eventVersion and without those members,
//
//	{"userIdentity":...,"requestID":"..."}
//
// which is some 200 bytes shorter, so cheaper to hash, write and
// compress. Readers render the CloudTrail event from it and the meta
// (renderEvent); an event in full starts with eventVersion.
var compactEventStart = []byte(`{"userIdentity":`)

// compactEventVersion is the eventVersion of every event stored in the
// compact form (should EventVersion change, compactable must keep events
// of the new version in full, or renderEvent tell the two apart).
const compactEventVersion = "1.09"

// compactable reports whether Record may store ev in the compact form:
// id is the event ID Record made for it (zero if it came with one).
func compactable(ev *Event, id [16]byte) bool {
	return id != [16]byte{} && ev.EventVersion == compactEventVersion && ev.EventType == TypeAPICall &&
		ev.ManagementEvent && ev.EventCategory == categoryManagement
}

// appendCompactEvent appends ev in the compact form.
func appendCompactEvent(b []byte, ev *Event) []byte {
	b = append(b, '{')
	b = appendEventBody(b, ev)
	return append(b, '}')
}

// renderEvent appends the CloudTrail event a record stores as stored:
// stored itself, unless it is in the compact form, whose missing members
// come from the record's meta (its event ID, read-only and account).
func renderEvent(b, stored []byte, id string, readOnly bool, account string) []byte {
	if !bytes.HasPrefix(stored, compactEventStart) || stored[len(stored)-1] != '}' {
		return append(b, stored...)
	}
	b = append(b, `{"eventVersion":"`+compactEventVersion+`",`...)
	b = append(b, stored[1:len(stored)-1]...)
	b = appendEventTail(b, id, readOnly, TypeAPICall, true, account, categoryManagement)
	return append(b, '}')
}

// renderedEvent is renderEvent into a new slice, or stored itself when
// it is in full.
func renderedEvent(stored []byte, id string, readOnly bool, account string) []byte {
	if !bytes.HasPrefix(stored, compactEventStart) {
		return stored
	}
	return renderEvent(make([]byte, 0, len(stored)+compactEventExtra+len(id)+len(account)), stored, id, readOnly, account)
}

// compactEventExtra is about what renderEvent adds to a compact event,
// besides its ID and account.
const compactEventExtra = 160

// appendEventBody appends ev's members from userIdentity to requestID.
func appendEventBody(b []byte, ev *Event) []byte {
	b = append(b, `"userIdentity":`...)
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
	return b
}

// appendEventTail appends an event's members after requestID.
func appendEventTail(b []byte, id string, readOnly bool, eventType string, management bool, account, category string) []byte {
	b = appendField(b, "eventID", id)
	b = append(b, `,"readOnly":`...)
	b = strconv.AppendBool(b, readOnly)
	b = appendField(b, "eventType", eventType)
	b = append(b, `,"managementEvent":`...)
	b = strconv.AppendBool(b, management)
	b = appendField(b, "recipientAccountId", account)
	return appendField(b, "eventCategory", category)
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
