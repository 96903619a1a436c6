package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iamd/iamd/internal/authz"
)

// Call collects the facts of one HTTP API request while it is served and
// buffers its response, so that the response is sent only once the
// request's event is durable. A nil *Call ignores every call, so that the
// server can run without an audit log.
type Call struct {
	callFacts // zeroed by Close

	// Memory reused with the Call: the response body, the decisions, the
	// event (Event overwrites it whole) and what the event refers to: its
	// identity's session context, the request's parameters, the event's
	// JSON fragments (requestParameters, additionalEventData) and its
	// resources.
	body      bytes.Buffer
	mu        sync.Mutex // guards decisions
	decisions []decision
	ev        Event
	session   sessionMemory
	params    []formParam
	json      []byte
	resources []Resource
}

// callFacts are what a Call learns of its request. They are apart from
// the memory a Call reuses so that Close can zero them alone: zeroing or
// copying a whole Call, event included, costs a write barrier per pointer
// while the garbage collector runs.
type callFacts struct {
	log       *Log
	w         http.ResponseWriter
	status    int
	time      time.Time
	requestID string
	sourceIP  string
	header    http.Header // the request's: User-Agent, and Authorization for failed authentication

	service, region string
	action          string
	form            url.Values
	jsonBody        []byte
	caller          *authz.Caller
	done            bool
}

// maxDecisions is the most authorization decisions a Call's event holds.
const maxDecisions = 32

type decision struct {
	Action, Resource, Decision string
}

// Begin starts recording a request; the handler must write its response to
// the returned Call and end with Finish.
func (l *Log) Begin(w http.ResponseWriter, r *http.Request, requestID string, now time.Time) *Call {
	if l == nil {
		return nil
	}
	c, _ := l.callPool.Get().(*Call)
	if c == nil {
		c = &Call{}
	}
	c.log, c.w, c.time, c.requestID, c.sourceIP, c.header = l, w, now, requestID, remoteIP(r.RemoteAddr), r.Header
	return c
}

// headerValue is h.Get(key) for a key in canonical form, which it need
// not canonicalize.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// RequestID returns the ID of the request being recorded.
func (c *Call) RequestID() string { return c.requestID }

// Header implements http.ResponseWriter.
func (c *Call) Header() http.Header { return c.w.Header() }

// WriteHeader implements http.ResponseWriter: it records the status.
func (c *Call) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}

// Write implements http.ResponseWriter: it buffers the body.
func (c *Call) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(p)
}

// SetForm records an awsQuery request's parameters.
func (c *Call) SetForm(form url.Values) {
	if c != nil {
		c.form = form
		c.action = form.Get("Action")
	}
}

// SetJSON records a JSON-protocol request: its operation and body.
func (c *Call) SetJSON(operation string, body []byte) {
	if c != nil {
		c.action, c.jsonBody = operation, body
	}
}

// SetService records the API a request was routed to (iam, sts,
// cloudtrail) and the region it was signed for.
func (c *Call) SetService(service, region string) {
	if c != nil {
		c.service, c.region = service, region
	}
}

// SetCaller records the authenticated caller; the decision-recording
// authorizer attributes decisions made for this caller to this request.
func (c *Call) SetCaller(caller *authz.Caller) {
	if c != nil {
		c.caller = caller
		caller.Decisions = c
	}
}

func (c *Call) addDecision(d decision) {
	c.mu.Lock()
	if len(c.decisions) < maxDecisions {
		c.decisions = append(c.decisions, d)
	}
	c.mu.Unlock()
}

// Finish records the request's event, waits until it is durable, and then
// sends the buffered response. If the event cannot be recorded, nothing
// was sent and the error is returned: the caller answers with a failure.
func (c *Call) Finish(ctx context.Context) error {
	c.end()
	err := c.log.Record(ctx, c.Event())
	if err != nil {
		return err
	}
	status := c.status
	if status == 0 {
		status = http.StatusOK
	}
	// One write with its length: net/http would chunk a response longer
	// than its 2 KiB buffer (ListUsers, GetAccountAuthorizationDetails).
	c.w.Header()["Content-Length"] = []string{strconv.Itoa(c.body.Len())}
	c.w.WriteHeader(status)
	_, _ = c.w.Write(c.body.Bytes())
	return nil
}

// Close ends the call, which must not be used afterwards. A request that
// did not reach Finish (the handler aborted with a panic) is abandoned:
// nothing is recorded or sent. Defer it after Begin.
func (c *Call) Close() {
	if c == nil {
		return
	}
	l := c.log
	if !c.done {
		c.end()
	}
	if c.body.Cap() > 64<<10 || cap(c.json) > 64<<10 || cap(c.params) > 1024 {
		return // let an unusually large request or response go
	}
	c.body.Reset()
	clear(c.params)
	clear(c.resources)
	c.decisions, c.params, c.json, c.resources = c.decisions[:0], c.params[:0], c.json[:0], c.resources[:0]
	c.callFacts = callFacts{}
	l.callPool.Put(c)
}

func (c *Call) end() {
	c.done = true
	if c.caller != nil && c.caller.Decisions == authz.DecisionRecorder(c) {
		c.caller.Decisions = nil
	}
}

// credentialIssuers are the STS calls whose responses CloudTrail records
// although they are read-only.
var credentialIssuers = map[string]bool{
	"AssumeRole": true, "AssumeRoleWithSAML": true, "AssumeRoleWithWebIdentity": true,
	"GetSessionToken": true, "GetFederationToken": true, "AssumeRoot": true,
}

// Event builds the request's CloudTrail event; it belongs to the Call and
// is valid until Close.
func (c *Call) Event() *Event {
	service, region, keyID := c.service, c.region, ""
	if c.caller == nil {
		s, r, k := CredentialScope(headerValue(c.header, "Authorization"))
		if service == "" {
			service = s
		}
		if region == "" {
			region = r
		}
		keyID = k
	}
	if region == "" {
		region = "us-east-1"
	}
	if service == "" {
		service = "iam"
	}
	ev := &c.ev
	*ev = Event{
		EventTime: c.log.formatTime(c.time), EventSource: SourceOf(service), EventName: c.action,
		AWSRegion: region, SourceIPAddress: c.sourceIP, UserAgent: headerValue(c.header, "User-Agent"), RequestID: c.requestID,
		UserIdentity: identityOf(c.caller, &c.session), Username: LookupUsername(c.caller),
		time: c.time, trusted: true,
	}
	if c.caller != nil {
		ev.RecipientAccountID = c.caller.Account
	} else {
		ev.UserIdentity.AccessKeyID = keyID
		if keyID != "" && c.log.opts.AccountOfKey != nil {
			if acct, ok := c.log.opts.AccountOfKey(keyID); ok {
				ev.UserIdentity.AccountID, ev.RecipientAccountID = acct, acct
			}
		}
	}
	ev.ReadOnly = ReadOnly(ev.EventSource, ev.EventName)
	body := c.body.Bytes()
	failed := c.status >= 400
	if failed {
		ev.ErrorCode, ev.ErrorMessage = ErrorOf(body)
	}
	if c.jsonBody != nil {
		ev.RequestParameters = JSONParameters(c.jsonBody)
	} else if c.form != nil {
		c.params = appendFormParams(c.params[:0], c.form)
		start := len(c.json)
		c.json = appendRequestParameters(c.json, c.params)
		ev.RequestParameters = c.fragment(start)
		if c.caller == nil {
			c.federated(ev, failed)
		}
	}
	if !failed && c.form != nil && (!ev.ReadOnly || (ev.EventSource == SourceSTS && credentialIssuers[ev.EventName])) {
		ev.ResponseElements = ResponseElements(body)
	}
	if ev.ResponseElements == nil {
		ev.ResponseElements = c.null() // as Record would, without allocating
	}
	if c.form != nil {
		var resp []byte
		if !failed {
			resp = body
		}
		c.resources = appendResourcesOf(c.resources[:0], ev.EventName, c.params, resp)
		ev.Resources = c.resources
	}
	c.mu.Lock()
	ev.decisions = c.decisions // written as additionalEventData (appendEventBody)
	c.mu.Unlock()
	return ev
}

// null returns JSON null, in c.json.
func (c *Call) null() json.RawMessage {
	start := len(c.json)
	c.json = append(c.json, "null"...)
	return c.fragment(start)
}

// fragment returns the JSON appended to c.json from start on.
func (c *Call) fragment(start int) json.RawMessage {
	return c.json[start:len(c.json):len(c.json)]
}

// appendDecisions appends the additionalEventData of authorization
// decisions.
func appendDecisions(b []byte, ds []decision) []byte {
	b = append(b, `{"authorizationDecisions":[`...)
	for i, d := range ds {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"action":`...)
		b = appendString(b, d.Action)
		b = appendOptional(b, "resource", d.Resource)
		b = appendField(b, "decision", d.Decision)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// federated describes the unsigned federation calls' principals
// (AssumeRoleWithWebIdentity, AssumeRoleWithSAML): the role's account
// receives the event.
func (c *Call) federated(ev *Event, failed bool) {
	roleARN := c.form.Get("RoleArn")
	if parts := strings.Split(roleARN, ":"); len(parts) >= 5 {
		ev.RecipientAccountID = parts[4]
	}
	switch ev.EventName {
	case "AssumeRoleWithWebIdentity":
		ev.UserIdentity = UserIdentity{Type: "WebIdentityUser"}
		if !failed {
			body := c.body.Bytes()
			ev.UserIdentity.UserName = xmlText(body, "SubjectFromWebIdentityToken")
			ev.UserIdentity.IdentityProvider = xmlText(body, "Provider")
			ev.UserIdentity.PrincipalID = ev.UserIdentity.IdentityProvider + ":" + xmlText(body, "Audience") + ":" + ev.UserIdentity.UserName
		}
	case "AssumeRoleWithSAML":
		ev.UserIdentity = UserIdentity{Type: "SAMLUser", IdentityProvider: c.form.Get("PrincipalArn")}
		if !failed {
			ev.UserIdentity.UserName = xmlText(c.body.Bytes(), "Subject")
			ev.UserIdentity.PrincipalID = xmlText(c.body.Bytes(), "NameQualifier") + ":" + ev.UserIdentity.UserName
		}
	}
	ev.Username = ev.UserIdentity.UserName
}

// CredentialScope reads the service, region and access key from a SigV4
// Authorization header; all are empty if it is not one.
func CredentialScope(h string) (service, region, keyID string) {
	i := strings.Index(h, "Credential=")
	if i < 0 {
		return "", "", ""
	}
	cred := h[i+len("Credential="):]
	if j := strings.IndexAny(cred, ", "); j >= 0 {
		cred = cred[:j]
	}
	parts := strings.Split(cred, "/")
	if len(parts) != 5 {
		return "", "", ""
	}
	return parts[3], parts[2], parts[0]
}

func remoteIP(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		addr = addr[:i]
	}
	addr = strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	return strings.TrimPrefix(addr, "::ffff:")
}

// Authorizer wraps the policy authorizer to record each decision in the
// event of the request it was made for (through the caller's Decisions,
// which Call.SetCaller sets).
type Authorizer struct {
	*authz.Authorizer
}

// Authorize decides and records the decision.
func (a Authorizer) Authorize(ctx context.Context, c *authz.Caller, req *authz.Request) error {
	err := a.Authorizer.Authorize(ctx, c, req)
	a.note(c, req.Action, req.Resource, err)
	return err
}

// AuthorizeTrust decides a role assumption and records the decision.
func (a Authorizer) AuthorizeTrust(ctx context.Context, c *authz.Caller, tr *authz.TrustRequest) error {
	err := a.Authorizer.AuthorizeTrust(ctx, c, tr)
	a.note(c, tr.Action, tr.RoleARN, err)
	return err
}

func (a Authorizer) note(c *authz.Caller, action, resource string, err error) {
	if c != nil && c.Decisions != nil {
		c.Decisions.RecordDecision(action, resource, err == nil)
	}
}

// RecordDecision implements authz.DecisionRecorder: the decision goes into
// the request's event.
func (c *Call) RecordDecision(action, resource string, allowed bool) {
	d := decision{Action: action, Resource: resource, Decision: "Allow"}
	if !allowed {
		d.Decision = "Deny"
	}
	c.addDecision(d)
}
