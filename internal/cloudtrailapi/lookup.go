// Package cloudtrailapi serves CloudTrail's LookupEvents over the JSON 1.1
// protocol (POST, X-Amz-Target, application/x-amz-json-1.1), so that
// `aws cloudtrail lookup-events` and the SDKs query iamd's audit trail. It
// is not a CloudTrail: trails, event data stores and Lake queries are not
// served.
package cloudtrailapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/audit"
	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/awsquery"
)

// TargetPrefix is the X-Amz-Target prefix of CloudTrail's operations.
const TargetPrefix = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."

// Authorizer decides whether a caller may look up events.
type Authorizer interface {
	Authorize(ctx context.Context, c *authz.Caller, req *authz.Request) error
}

// Events answers event queries; *audit.Log implements it.
type Events interface {
	Lookup(q audit.Query) (*audit.Page, error)
}

// Handler serves the CloudTrail API.
type Handler struct {
	Events     Events
	Authorizer Authorizer
}

// Error is a JSON-protocol error.
type Error struct {
	Type    string
	Message string
	Status  int
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

func invalid(typ, msg string) *Error {
	return &Error{Type: typ, Message: msg, Status: http.StatusBadRequest}
}

// Serve answers one authenticated request (the caller is in ctx) for the
// operation named by target. It returns the error it wrote, if any.
func (h *Handler) Serve(ctx context.Context, w http.ResponseWriter, target string, body []byte, requestID string) error {
	var (
		out any
		err error
	)
	switch target {
	case TargetPrefix + "LookupEvents":
		out, err = h.lookupEvents(ctx, body)
	default:
		err = &Error{Type: "UnknownOperationException", Status: http.StatusBadRequest}
	}
	if err != nil {
		WriteError(w, err, requestID)
		return err
	}
	data, merr := json.Marshal(out)
	if merr != nil {
		WriteError(w, merr, requestID)
		return merr
	}
	writeJSON(w, http.StatusOK, data, requestID)
	return nil
}

// WriteError writes err as {"__type": ..., "message": ...}. An
// *awsquery.Error (from authentication) or an authorization's denial keeps
// its status; its code becomes the JSON protocol's (AccessDenied →
// AccessDeniedException, ...). Anything else is an InternalFailure.
func WriteError(w http.ResponseWriter, err error, requestID string) {
	var e *Error
	qe, isQuery := awsquery.As(err)
	switch {
	case errors.As(err, &e):
	case isQuery:
		e = &Error{Type: jsonCode(qe.Code), Message: qe.Message, Status: qe.HTTPStatus}
	default:
		e = &Error{Type: "InternalFailure", Message: "An internal error occurred.", Status: http.StatusInternalServerError}
	}
	doc := map[string]string{"__type": e.Type}
	if e.Message != "" {
		doc["message"] = e.Message
	}
	data, _ := json.Marshal(doc)
	writeJSON(w, e.Status, data, requestID)
}

// jsonCode maps an awsQuery error code to the JSON protocol's.
func jsonCode(code string) string {
	switch code {
	case "AccessDenied":
		return "AccessDeniedException"
	case "InvalidClientTokenId":
		return "UnrecognizedClientException"
	case "SignatureDoesNotMatch":
		return "InvalidSignatureException"
	case "IncompleteSignature", "MissingAuthenticationToken":
		return code + "Exception"
	}
	return code
}

func writeJSON(w http.ResponseWriter, status int, body []byte, requestID string) {
	h := w.Header()
	h["Content-Type"] = []string{"application/x-amz-json-1.1"}
	if requestID != "" {
		h["X-Amzn-Requestid"] = []string{requestID}
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

type lookupAttribute struct {
	AttributeKey   *string
	AttributeValue *string
}

type lookupEventsInput struct {
	LookupAttributes []lookupAttribute
	StartTime        *timestamp
	EndTime          *timestamp
	EventCategory    *string
	MaxResults       *int
	NextToken        *string
}

// timestamp accepts the JSON protocol's epoch seconds (a number, possibly
// fractional) and, leniently, an ISO 8601 string.
type timestamp struct{ time.Time }

func (t *timestamp) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			t.Time = epoch(f)
			return nil
		}
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return err
		}
		t.Time = v
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	t.Time = epoch(f)
	return nil
}

func epoch(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

type resource struct {
	ResourceType string `json:"ResourceType,omitempty"`
	ResourceName string `json:"ResourceName,omitempty"`
}

type event struct {
	EventID         string     `json:"EventId"`
	EventName       string     `json:"EventName"`
	ReadOnly        string     `json:"ReadOnly"`
	AccessKeyID     string     `json:"AccessKeyId,omitempty"`
	EventTime       int64      `json:"EventTime"`
	EventSource     string     `json:"EventSource"`
	Username        string     `json:"Username,omitempty"`
	Resources       []resource `json:"Resources"`
	CloudTrailEvent string     `json:"CloudTrailEvent"`
}

type lookupEventsOutput struct {
	Events    []event `json:"Events"`
	NextToken string  `json:"NextToken,omitempty"`
}

var attributeKeys = map[string]bool{
	audit.AttrEventID: true, audit.AttrEventName: true, audit.AttrReadOnly: true, audit.AttrUsername: true,
	audit.AttrResourceType: true, audit.AttrResourceName: true, audit.AttrEventSource: true, audit.AttrAccessKeyID: true,
}

func (h *Handler) lookupEvents(ctx context.Context, body []byte) (*lookupEventsOutput, error) {
	c := authz.CallerFrom(ctx)
	if c == nil {
		return nil, errors.New("cloudtrailapi: no caller in context")
	}
	if err := h.Authorizer.Authorize(ctx, c, &authz.Request{Action: "cloudtrail:LookupEvents", Resource: "*"}); err != nil {
		return nil, err
	}
	var in lookupEventsInput
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, invalid("SerializationException", "Unable to parse the request: "+err.Error())
		}
	}
	q := audit.Query{Account: c.Account, Max: 50}
	if len(in.LookupAttributes) > 1 {
		return nil, invalid("InvalidLookupAttributesException", "You cannot have more than 1 lookup attribute.")
	}
	if len(in.LookupAttributes) == 1 {
		a := in.LookupAttributes[0]
		if a.AttributeKey == nil || !attributeKeys[*a.AttributeKey] {
			key := ""
			if a.AttributeKey != nil {
				key = *a.AttributeKey
			}
			return nil, invalid("InvalidLookupAttributesException", fmt.Sprintf("Lookup attribute key %q is not valid. Valid keys: EventId, EventName, ReadOnly, Username, ResourceType, ResourceName, EventSource, AccessKeyId.", key))
		}
		if a.AttributeValue == nil || *a.AttributeValue == "" || len(*a.AttributeValue) > 2000 {
			return nil, invalid("InvalidLookupAttributesException", "The value of lookup attribute "+*a.AttributeKey+" must be 1 to 2000 characters long.")
		}
		q.Attribute, q.Value = *a.AttributeKey, *a.AttributeValue
		if q.Attribute == audit.AttrReadOnly && q.Value != "true" && q.Value != "false" {
			return nil, invalid("InvalidLookupAttributesException", "The value of lookup attribute ReadOnly must be true or false.")
		}
	}
	if in.StartTime != nil {
		q.Start = in.StartTime.Time
	}
	if in.EndTime != nil {
		q.End = in.EndTime.Time
	}
	if !q.Start.IsZero() && !q.End.IsZero() && q.Start.After(q.End) {
		return nil, invalid("InvalidTimeRangeException", "Start time must be before end time.")
	}
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 50 {
			return nil, invalid("InvalidMaxResultsException", "MaxResults must be between 1 and 50.")
		}
		q.Max = *in.MaxResults
	}
	if in.EventCategory != nil && *in.EventCategory != "insight" {
		return nil, invalid("InvalidEventCategoryException", "The event category "+*in.EventCategory+" is not valid. The only valid value is insight.")
	}
	if in.NextToken != nil {
		q.Token = *in.NextToken
	}
	out := &lookupEventsOutput{Events: []event{}}
	if in.EventCategory != nil {
		// No Insights events: iamd does not run CloudTrail Insights.
		if q.Token != "" {
			return nil, invalid("InvalidNextTokenException", "Invalid NextToken.")
		}
		return out, nil
	}
	page, err := h.Events.Lookup(q)
	if errors.Is(err, audit.ErrInvalidToken) {
		return nil, invalid("InvalidNextTokenException", "Invalid NextToken. The token must come from a previous call with the same parameters.")
	}
	if err != nil {
		return nil, err
	}
	for _, f := range page.Events {
		e := event{
			EventID: f.EventID, EventName: f.EventName, ReadOnly: strconv.FormatBool(f.ReadOnly),
			AccessKeyID: f.AccessKeyID, EventTime: f.Time.Unix(), EventSource: f.Source,
			Username: f.Username, Resources: []resource{}, CloudTrailEvent: string(f.JSON),
		}
		for _, r := range f.Resources {
			e.Resources = append(e.Resources, resource{ResourceType: r.Type, ResourceName: r.Name})
		}
		out.Events = append(out.Events, e)
	}
	out.NextToken = page.NextToken
	return out, nil
}

// IsJSONRequest reports whether r uses the JSON protocol (it names its
// operation in X-Amz-Target).
func IsJSONRequest(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
}
