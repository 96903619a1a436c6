package audit

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

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
// stored itself, unless it is in the positional or the compact form, whose
// missing members come from the record's meta m.
func renderEvent(b, stored []byte, m *recordMeta) []byte {
	if len(stored) > 0 && stored[0] == '[' {
		if out, ok := renderPositional(b, stored, m); ok {
			return out
		}
		return append(b, stored...) // damaged: verify tells
	}
	if !bytes.HasPrefix(stored, compactEventStart) || stored[len(stored)-1] != '}' {
		return append(b, stored...)
	}
	b = append(b, `{"eventVersion":"`+compactEventVersion+`",`...)
	b = append(b, stored[1:len(stored)-1]...)
	b = appendEventTail(b, m.ID, m.ReadOnly, TypeAPICall, true, m.Account, categoryManagement)
	return append(b, '}')
}

// renderedEvent is renderEvent into a new slice, or stored itself when
// it is in full.
func renderedEvent(stored []byte, m *recordMeta) []byte {
	if !bytes.HasPrefix(stored, compactEventStart) && (len(stored) == 0 || stored[0] != '[') {
		return stored
	}
	extra := compactEventExtra + len(m.ID) + len(m.Account) + len(m.Name) + len(m.Source) + len(m.Key)
	return renderEvent(make([]byte, 0, len(stored)+extra), stored, m)
}

// compactEventExtra is about what renderEvent adds to a positional event
// (the members' names), besides the meta's strings.
const compactEventExtra = 400

// A record stores the event of an API call in the positional form when
// the meta holds its time, source, name and access key as the event does
// (see positional): a JSON array of the event's members in CloudTrail's
// order, without their names and without what the compact form leaves
// out or the meta holds (eventTime, eventSource, eventName,
// userIdentity.accessKeyId):
//
//	[identity,awsRegion,sourceIPAddress,userAgent,errorCode,errorMessage,
//	 requestParameters,responseElements,additionalEventData,requestID]
//
// where identity is [type,principalId,arn,accountId,userName,
// sessionContext,identityProvider,invokedBy], sessionContext is null or
// [sessionIssuer,creationDate,mfaAuthenticated,sourceIdentity], and
// sessionIssuer is null or [type,principalId,arn,accountId,userName]; the
// members an identity, context or issuer ends with may be left out when
// empty. An empty string is a member the full form leaves out (or writes
// empty, where it always writes it). additionalEventData is 0 when there
// is none, and a Call's authorization decisions are
// [[action,resource,decision],...]. A GetUser's record is 40 % shorter
// than with the compact form (567 bytes against 926): cheaper to hash,
// write and compress. Readers render the CloudTrail event from it and the
// meta (renderEvent).
const positionalMembers = 10

// positional reports whether Record may store ev in the positional form:
// it must be compactable, the strings its meta holds for it (copied from
// ev by metaOfEvent) must read back as they were written, so that an event
// rendered from them is the one recorded, and eventTime, the meta's time
// formatted, must be ev's.
func positional(ev *Event, eventTime string) bool {
	return (len(ev.AdditionalEventData) == 0 || ev.AdditionalEventData[0] == '{') && len(ev.decisions) <= maxDecisions &&
		ev.EventTime == eventTime && plain(ev.EventName) && plain(ev.EventSource) && plain(ev.UserIdentity.AccessKeyID)
}

// plain reports whether s is written in JSON as it is, between quotes.
func plain(s string) bool { return jsontext.Plain(s) }

// appendStoredEvent appends ev as a record stores it: in the positional
// form if it can be, else in the compact form if compact (see
// compactable), else in full. eventTime is the time of ev's meta,
// formatted.
func appendStoredEvent(b []byte, ev *Event, compact bool, eventTime string) []byte {
	switch {
	case compact && positional(ev, eventTime):
		return appendPositionalEvent(b, ev)
	case compact:
		return appendCompactEvent(b, ev)
	default:
		return appendEvent(b, ev)
	}
}

// appendPositionalEvent appends ev in the positional form.
func appendPositionalEvent(b []byte, ev *Event) []byte {
	b = append(b, '[')
	b = appendPositionalIdentity(b, &ev.UserIdentity)
	for _, s := range [...]string{ev.AWSRegion, ev.SourceIPAddress, ev.UserAgent, ev.ErrorCode, ev.ErrorMessage} {
		b = append(b, ',')
		b = appendString(b, s)
	}
	b = append(b, ',')
	b = appendRaw(b, ev.RequestParameters)
	b = append(b, ',')
	b = appendRaw(b, ev.ResponseElements)
	b = append(b, ',')
	switch {
	case len(ev.AdditionalEventData) > 0:
		b = append(b, ev.AdditionalEventData...)
	case len(ev.decisions) > 0:
		b = append(b, '[')
		for i, d := range ev.decisions {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendStrings(b, d.Action, d.Resource, d.Decision)
		}
		b = append(b, ']')
	default:
		b = append(b, '0')
	}
	b = append(b, ',')
	b = appendString(b, ev.RequestID)
	return append(b, ']')
}

// appendPositionalIdentity appends id in the positional form, without its
// access key ID.
func appendPositionalIdentity(b []byte, id *UserIdentity) []byte {
	b = append(b, '[')
	b = appendString(b, id.Type)
	keep := len(b) // the end of the last member that is not empty
	for _, s := range [...]string{id.PrincipalID, id.ARN, id.AccountID, id.UserName} {
		b = append(b, ',')
		b = appendString(b, s)
		if s != "" {
			keep = len(b)
		}
	}
	b = append(b, ',')
	if sc := id.SessionContext; sc != nil {
		b = append(b, '[')
		if si := sc.SessionIssuer; si != nil {
			b = appendStrings(b, si.Type, si.PrincipalID, si.ARN, si.AccountID, si.UserName)
		} else {
			b = append(b, "null"...)
		}
		b = append(b, ',')
		b = appendString(b, sc.Attributes.CreationDate)
		b = append(b, ',')
		b = appendString(b, sc.Attributes.MFAAuthenticated)
		if sc.SourceIdentity != "" {
			b = append(b, ',')
			b = appendString(b, sc.SourceIdentity)
		}
		b = append(b, ']')
		keep = len(b)
	} else {
		b = append(b, "null"...)
	}
	for _, s := range [...]string{id.IdentityProvider, id.InvokedBy} {
		b = append(b, ',')
		b = appendString(b, s)
		if s != "" {
			keep = len(b)
		}
	}
	return append(b[:keep], ']')
}

// appendStrings appends ss as a JSON array, without the empty strings it
// ends with (but the first).
func appendStrings(b []byte, ss ...string) []byte {
	b = append(b, '[')
	keep := len(b)
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
		if s != "" || i == 0 {
			keep = len(b)
		}
	}
	return append(b[:keep], ']')
}

// renderPositional appends the CloudTrail event stored in the positional
// form, with the members the meta m holds; ok is false, and b as it was,
// if stored is not in that form.
func renderPositional(b, stored []byte, m *recordMeta) (_ []byte, ok bool) {
	var ev [positionalMembers][]byte
	var id [8][]byte
	if n, ok := splitArray(stored, ev[:]); !ok || n != positionalMembers {
		return b, false
	}
	if n, ok := splitArray(ev[0], id[:]); !ok || n == 0 {
		return b, false
	}
	var sc, si [5][]byte
	var hasSC, hasSI bool
	if !isNull(id[5]) {
		n, ok := splitArray(id[5], sc[:4])
		if !ok || n < 3 {
			return b, false
		}
		hasSC = true
		if !isNull(sc[0]) {
			if n, ok := splitArray(sc[0], si[:]); !ok || n == 0 {
				return b, false
			}
			hasSI = true
		}
	}
	start := len(b)
	b = append(b, `{"eventVersion":"`+compactEventVersion+`","userIdentity":{"type":`...)
	b = append(b, id[0]...)
	b = optionalMember(b, "principalId", id[1])
	b = optionalMember(b, "arn", id[2])
	b = optionalMember(b, "accountId", id[3])
	b = appendOptional(b, "accessKeyId", m.Key)
	b = optionalMember(b, "userName", id[4])
	if hasSC {
		b = append(b, `,"sessionContext":{`...)
		if hasSI {
			b = append(b, `"sessionIssuer":{"type":`...)
			b = append(b, si[0]...)
			b = member(b, "principalId", si[1])
			b = optionalMember(b, "arn", si[2])
			b = member(b, "accountId", si[3])
			b = optionalMember(b, "userName", si[4])
			b = append(b, "},"...)
		}
		b = append(b, `"attributes":{"creationDate":`...)
		b = append(b, sc[1]...)
		b = member(b, "mfaAuthenticated", sc[2])
		b = append(b, '}')
		b = optionalMember(b, "sourceIdentity", sc[3])
		b = append(b, '}')
	}
	b = optionalMember(b, "identityProvider", id[6])
	b = optionalMember(b, "invokedBy", id[7])
	b = append(b, `},"eventTime":"`...)
	b = time.Unix(m.Time, 0).UTC().AppendFormat(b, TimeFormat)
	b = append(b, '"')
	b = appendField(b, "eventSource", m.Source)
	b = appendField(b, "eventName", m.Name)
	b = member(b, "awsRegion", ev[1])
	b = member(b, "sourceIPAddress", ev[2])
	b = member(b, "userAgent", ev[3])
	b = optionalMember(b, "errorCode", ev[4])
	b = optionalMember(b, "errorMessage", ev[5])
	b = member(b, "requestParameters", ev[6])
	b = member(b, "responseElements", ev[7])
	switch data := ev[8]; {
	case len(data) > 0 && data[0] == '[':
		var ok bool
		if b, ok = renderDecisions(append(b, `,"additionalEventData":`...), data); !ok {
			return b[:start], false
		}
	case string(data) != "0":
		b = member(b, "additionalEventData", data)
	}
	b = optionalMember(b, "requestID", ev[9])
	if len(id[0]) == 0 || len(ev[6]) == 0 || len(ev[7]) == 0 || len(ev[8]) == 0 || hasSC && len(sc[1]) == 0 {
		return b[:start], false
	}
	b = appendEventTail(b, m.ID, m.ReadOnly, TypeAPICall, true, m.Account, categoryManagement)
	return append(b, '}'), true
}

// renderDecisions appends the authorization decisions stored in the
// positional form, [[action,resource,decision],...], as appendDecisions
// writes them.
func renderDecisions(b, stored []byte) (_ []byte, ok bool) {
	var ds [maxDecisions][]byte
	n, ok := splitArray(stored, ds[:])
	if !ok {
		return b, false
	}
	b = append(b, `{"authorizationDecisions":[`...)
	for i, d := range ds[:n] {
		var m [3][]byte
		if k, ok := splitArray(d, m[:]); !ok || k == 0 {
			return b, false
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"action":`...)
		b = append(b, m[0]...)
		b = optionalMember(b, "resource", m[1])
		b = member(b, "decision", m[2])
		b = append(b, '}')
	}
	return append(b, "]}"...), true
}

// member appends "name": and v, a JSON value as stored (an empty string
// if v is missing).
func member(b []byte, name string, v []byte) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	if len(v) == 0 {
		return append(b, `""`...)
	}
	return append(b, v...)
}

// optionalMember is member, but for a missing or empty string, which it
// leaves out.
func optionalMember(b []byte, name string, v []byte) []byte {
	if len(v) == 0 || string(v) == `""` {
		return b
	}
	return member(b, name, v)
}

func isNull(v []byte) bool { return len(v) == 0 || string(v) == "null" }

// splitArray splits the JSON array v into its members, as they are
// written, into out; n is their number. ok is false if v is not an array
// whose members are well nested, or has more members than out holds.
func splitArray(v []byte, out [][]byte) (n int, ok bool) {
	if len(v) < 2 || v[0] != '[' || v[len(v)-1] != ']' {
		return 0, false
	}
	clear(out)
	body := v[1 : len(v)-1]
	if len(body) == 0 {
		return 0, true
	}
	depth, inString, start := 0, false, 0
	for i := 0; i < len(body); i++ {
		c := body[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
		case ']', '}':
			if depth--; depth < 0 {
				return 0, false
			}
		case ',':
			if depth == 0 {
				if n == len(out) {
					return 0, false
				}
				out[n] = body[start:i]
				n++
				start = i + 1
			}
		}
	}
	if inString || depth != 0 || n == len(out) {
		return 0, false
	}
	out[n] = body[start:]
	return n + 1, true
}

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
	} else if len(ev.decisions) > 0 {
		b = append(b, `,"additionalEventData":`...)
		b = appendDecisions(b, ev.decisions)
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
