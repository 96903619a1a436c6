package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/cloudtrailapi"
)

// EventLookup answers CloudTrail's LookupEvents for the caller in ctx;
// *cloudtrailapi.Handler implements it. The event history calls it with
// the request body the API takes, so it is authorized
// (cloudtrail:LookupEvents), validated and paged as the API is.
type EventLookup interface {
	LookupEvents(ctx context.Context, body []byte) (*cloudtrailapi.LookupEventsOutput, error)
}

// lookupAttributes are LookupEvents' lookup attribute keys, in the order
// AWS's console lists them.
var lookupAttributes = []string{"EventName", "Username", "ResourceName", "ResourceType", "AccessKeyId", "EventSource", "ReadOnly", "EventId"}

// eventsPageSize is how many events a page shows (LookupEvents' maximum).
const eventsPageSize = 50

// rangeLayout is what a datetime-local input posts; it is read as UTC.
const rangeLayout = "2006-01-02T15:04"

type eventsData struct {
	Attributes  []string
	Attr, Value string
	Start, End  string
	Off         bool // no audit trail
	Events      []eventRow
	Next        string // the next page's URL
	First       string // the first page's URL, when not on it
}

// eventRow is one event, with links to what it concerns.
type eventRow struct {
	ID, Name, Source string
	Time             time.Time
	ReadOnly         string
	User             link2
	Key              link2
	Resources        []link2
	JSON             string
	Error            string // the call's error code, if it failed
	SessionName      string // an assume-role call's session name
}

// link2 is a text with an optional console link.
type link2 struct {
	Text, Href, Label string
}

func (h *Handler) events(q *req) {
	qs := q.r.URL.Query()
	d := &eventsData{Attributes: lookupAttributes, Attr: qs.Get("attr"), Value: qs.Get("value"), Start: qs.Get("start"), End: qs.Get("end")}
	if d.Attr == "" {
		d.Attr = "EventName"
	}
	v := q.view("Event history", "events", d)
	if h.cfg.Events == nil {
		d.Off = true
		h.render(q.w, http.StatusOK, "events", v)
		return
	}
	var start, end time.Time
	for _, r := range []struct {
		s string
		t *time.Time
	}{{d.Start, &start}, {d.End, &end}} {
		if r.s == "" {
			continue
		}
		t, err := time.Parse(rangeLayout, r.s)
		if err != nil {
			v.Error = &awsquery.Error{Code: "InvalidTimeRangeException", Message: "The time " + r.s + " is not a date and time (YYYY-MM-DDThh:mm, UTC).", HTTPStatus: http.StatusBadRequest, Sender: true}
			h.render(q.w, http.StatusOK, "events", v)
			return
		}
		*r.t = t
	}
	token := qs.Get("token")
	out, err := h.lookupEvents(q.ctx, d.Attr, d.Value, start, end, token)
	if err != nil {
		v.Error = h.lookupError(err)
		h.render(q.w, http.StatusOK, "events", v)
		return
	}
	for _, e := range out.Events {
		row := eventRowOf(e.EventID, e.EventName, e.EventSource, e.ReadOnly, e.Username, e.AccessKeyID, e.EventTime, e.CloudTrailEvent)
		for _, r := range e.Resources {
			row.Resources = append(row.Resources, resourceLink(r.ResourceType, r.ResourceName))
		}
		d.Events = append(d.Events, row)
	}
	page := url.Values{"attr": {d.Attr}, "value": {d.Value}, "start": {d.Start}, "end": {d.End}}
	if out.NextToken != "" {
		next := url.Values{"token": {out.NextToken}}
		for k, vs := range page {
			next[k] = vs
		}
		d.Next = Prefix + "/events?" + next.Encode()
	}
	if token != "" {
		d.First = Prefix + "/events?" + page.Encode()
	}
	h.render(q.w, http.StatusOK, "events", v)
}

// lookupEvents calls LookupEvents with a lookup attribute (none when value
// is empty), a time range (zero times are open) and a page token.
func (h *Handler) lookupEvents(ctx context.Context, attr, value string, start, end time.Time, token string) (*cloudtrailapi.LookupEventsOutput, error) {
	in := map[string]any{"MaxResults": eventsPageSize}
	if value != "" {
		in["LookupAttributes"] = []map[string]string{{"AttributeKey": attr, "AttributeValue": value}}
	}
	if !start.IsZero() {
		in["StartTime"] = start.Unix()
	}
	if !end.IsZero() {
		in["EndTime"] = end.Unix()
	}
	if token != "" {
		in["NextToken"] = token
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	return h.cfg.Events.LookupEvents(ctx, body)
}

// lookupError shows a LookupEvents error as the API names it.
func (h *Handler) lookupError(err error) *awsquery.Error {
	var ce *cloudtrailapi.Error
	if errors.As(err, &ce) {
		return &awsquery.Error{Code: ce.Type, Message: ce.Message, HTTPStatus: ce.Status, Sender: ce.Status < 500}
	}
	return h.apiError(err)
}

// eventRowOf builds a row from a LookupEvents event, linking its user (or
// the role of an assumed-role session) and access key to their console
// pages.
func eventRowOf(id, name, source, readOnly, user, key string, at int64, record string) eventRow {
	row := eventRow{ID: id, Name: name, Source: source, ReadOnly: readOnly, Time: time.Unix(at, 0).UTC(), JSON: prettyJSON(record)}
	var rec struct {
		ErrorCode         string `json:"errorCode"`
		RequestParameters struct {
			RoleSessionName string `json:"roleSessionName"`
		} `json:"requestParameters"`
		UserIdentity struct {
			Type           string `json:"type"`
			UserName       string `json:"userName"`
			SessionContext struct {
				SessionIssuer struct {
					Type     string `json:"type"`
					UserName string `json:"userName"`
				} `json:"sessionIssuer"`
			} `json:"sessionContext"`
		} `json:"userIdentity"`
	}
	_ = json.Unmarshal([]byte(record), &rec)
	row.Error, row.SessionName = rec.ErrorCode, rec.RequestParameters.RoleSessionName
	row.User = link2{Text: user}
	switch id := rec.UserIdentity; {
	case id.Type == "IAMUser" && id.UserName != "":
		row.User.Href, row.User.Label = Prefix+"/users/"+url.PathEscape(id.UserName), "user "+id.UserName
	case id.Type == "AssumedRole" && id.SessionContext.SessionIssuer.Type == "Role":
		r := id.SessionContext.SessionIssuer.UserName
		row.User.Href, row.User.Label = Prefix+"/roles/"+url.PathEscape(r), "role "+r
	}
	if key != "" {
		row.Key = link2{Text: key, Href: eventsBy("AccessKeyId", key), Label: "events of access key " + key}
	}
	return row
}

// resourceLink links a resource of an event to its console page, or to
// the events that concern it.
func resourceLink(typ, name string) link2 {
	l := link2{Text: name, Label: strings.TrimPrefix(typ, "AWS::IAM::") + " " + name}
	switch typ {
	case "AWS::IAM::User":
		l.Href = Prefix + "/users/" + url.PathEscape(name)
	case "AWS::IAM::Group":
		l.Href = Prefix + "/groups/" + url.PathEscape(name)
	case "AWS::IAM::Role":
		l.Href = Prefix + "/roles/" + url.PathEscape(name)
	case "AWS::IAM::Policy":
		l.Href = Prefix + "/policy?arn=" + url.QueryEscape(name)
	default:
		l.Href = eventsBy("ResourceName", name)
	}
	return l
}

func eventsBy(attr, value string) string {
	return Prefix + "/events?" + url.Values{"attr": {attr}, "value": {value}}.Encode()
}
