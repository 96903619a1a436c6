package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/uuid"
)

// TestEventsReadAsRecorded records events stored in the positional form,
// the compact form and in full, and checks that every reader (lookups in the open and in sealed
// segments, Scan, Tail, ReadSealed) returns each as appendEvent writes it
// in full.
func TestEventsReadAsRecorded(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	l, err := Open(Options{Dir: dir, Keys: testKey, Now: func() time.Time { return t0 }, NoSync: true, SegmentBytes: 8192})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			l.Close()
		}
	}()
	const account = "111122223333"
	kinds := []struct {
		name  string
		form  string // as stored: positional, compact or full
		event func(i int) *Event
	}{
		{"API call", "positional", func(i int) *Event {
			return &Event{
				EventSource: SourceIAM, EventName: "GetUser", AWSRegion: "eu-west-1", SourceIPAddress: "10.0.0.1", UserAgent: "ua \"q\" é",
				RecipientAccountID: account, ReadOnly: true, RequestID: fmt.Sprintf("req-%d", i),
				UserIdentity:      UserIdentity{Type: "IAMUser", UserName: "alice", AccessKeyID: "AKIAALICE", AccountID: account},
				RequestParameters: json.RawMessage(`{"userName":"bob"}`), Username: "alice",
				Resources: []Resource{{Type: "AWS::IAM::User", Name: "bob"}},
				decisions: []decision{{Action: "iam:GetUser", Resource: "arn:aws:iam::111122223333:user/bob", Decision: "Allow"}, {Action: "iam:GetUser", Decision: "Deny"}},
			}
		}},
		{"failed write without request ID", "positional", func(int) *Event {
			return &Event{
				EventSource: SourceIAM, EventName: "DeleteUser", AWSRegion: "us-east-1", RecipientAccountID: account,
				ErrorCode: "DeleteConflict", ErrorMessage: "Cannot delete entity, must delete policies first.",
				UserIdentity: UserIdentity{Type: "Root", AccountID: account},
			}
		}},
		{"console sign-in", "full", func(int) *Event {
			return &Event{
				EventSource: SourceSignin, EventName: "ConsoleLogin", AWSRegion: "us-east-1", RecipientAccountID: account,
				EventType: TypeConsoleSignIn, UserIdentity: UserIdentity{Type: "IAMUser", UserName: "alice", AccountID: account},
				ResponseElements: json.RawMessage(`{"ConsoleLogin":"Success"}`),
			}
		}},
		{"event ID given", "full", func(i int) *Event {
			return &Event{
				EventSource: SourceSTS, EventName: "GetCallerIdentity", AWSRegion: "us-east-1", RecipientAccountID: account,
				EventID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), ReadOnly: true,
				UserIdentity: UserIdentity{Type: "AssumedRole", AccountID: account},
			}
		}},
		{"another account, not read-only", "positional", func(int) *Event {
			return &Event{
				EventSource: SourceIAM, EventName: "CreateUser", AWSRegion: "us-east-1", RecipientAccountID: "444455556666",
				UserIdentity: UserIdentity{Type: "AWSAccount", AccountID: "444455556666"},
			}
		}},
		{"assumed role with its session", "positional", func(i int) *Event {
			return &Event{
				EventSource: SourceSTS, EventName: "GetCallerIdentity", AWSRegion: "us-east-1", RecipientAccountID: account, ReadOnly: true,
				UserIdentity: UserIdentity{
					Type: "AssumedRole", PrincipalID: "AROAEXAMPLE:s", ARN: "arn:aws:sts::111122223333:assumed-role/r/s",
					AccountID: account, AccessKeyID: "ASIAEXAMPLE",
					SessionContext: &SessionContext{
						SessionIssuer:  &SessionIssuer{Type: "Role", PrincipalID: "AROAEXAMPLE", ARN: "arn:aws:iam::111122223333:role/r", AccountID: account, UserName: "r"},
						Attributes:     SessionAttributes{CreationDate: "2025-01-02T03:04:05Z", MFAAuthenticated: "true"},
						SourceIdentity: "alice",
					},
				},
				AdditionalEventData: json.RawMessage(`{"authorizationDecisions":[{"action":"sts:GetCallerIdentity","decision":"Allow"}]}`),
				RequestID:           fmt.Sprintf("req-%d", i),
			}
		}},
		{"federated, no issuer", "positional", func(int) *Event {
			return &Event{
				EventSource: SourceSTS, EventName: "AssumeRoleWithWebIdentity", AWSRegion: "us-east-1", RecipientAccountID: account,
				UserIdentity: UserIdentity{
					Type: "WebIdentityUser", PrincipalID: "accounts.example.com:sub", UserName: "sub",
					SessionContext:   &SessionContext{Attributes: SessionAttributes{MFAAuthenticated: "false"}},
					IdentityProvider: "accounts.example.com",
				},
				ResponseElements: json.RawMessage(`{"credentials":{"accessKeyId":"ASIAX"}}`),
			}
		}},
		{"service, invoked by", "positional", func(int) *Event {
			return &Event{
				EventSource: SourceSTS, EventName: "AssumeRole", AWSRegion: "us-east-1", RecipientAccountID: account,
				UserIdentity: UserIdentity{Type: "AWSService", InvokedBy: "workloads.iamd.internal"},
			}
		}},
		{"a name written with escapes", "compact", func(int) *Event {
			return &Event{
				EventSource: SourceIAM, EventName: "Get\u00e9User", AWSRegion: "us-east-1", RecipientAccountID: account,
				UserIdentity: UserIdentity{Type: "Root", AccountID: account},
			}
		}},
	}
	want := make(map[string]string) // event ID → the event in full
	for i := range 150 {
		k := kinds[i%len(kinds)]
		ev := k.event(i)
		ev.time = t0.Add(time.Duration(i) * time.Second)
		ev.EventTime = FormatTime(ev.time)
		if err := l.Record(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		want[ev.EventID] = string(appendEvent(nil, ev))
	}
	seen := make(map[string]map[string]bool) // reader → event IDs read
	check := func(reader string, event []byte) error {
		var ev struct {
			EventID string `json:"eventID"`
		}
		if err := json.Unmarshal(event, &ev); err != nil {
			return fmt.Errorf("%s: %v: %s", reader, err, event)
		}
		if w, ok := want[ev.EventID]; !ok || w != string(event) {
			return fmt.Errorf("%s: read\n%s\nwant\n%s", reader, event, w)
		}
		if seen[reader] == nil {
			seen[reader] = make(map[string]bool)
		}
		seen[reader][ev.EventID] = true
		return nil
	}

	for _, acct := range []string{account, "444455556666"} {
		q := Query{Account: acct, Max: 7}
		for {
			p, err := l.Lookup(q)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range p.Events {
				if err := check("Lookup", f.JSON); err != nil {
					t.Fatal(err)
				}
			}
			if p.NextToken == "" {
				break
			}
			q.Token = p.NextToken
		}
	}
	// The readers of files next, once every segment but the last is
	// sealed: Close waits for the sealing.
	chainDir := l.ChainDir()
	closed = true
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := Scan(dir, ScanFilter{}, func(ev []byte) error { return check("Scan", ev) }); err != nil {
		t.Fatal(err)
	}
	tl := NewTail(chainDir, 0)
	defer tl.Close()
	for {
		n, err := tl.Read(40, func(r *ChainRecord) error { return check("Tail", r.Event) })
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	segs, err := SealedSegments(dir, filepath.Base(chainDir), testKey, 0)
	if err != nil || len(segs) < 2 {
		t.Fatalf("%d sealed segments (%v), want several", len(segs), err)
	}
	for _, s := range segs {
		if err := ReadSealed(s, func(r *SealedRecord) error { return check("ReadSealed", r.Event) }); err != nil {
			t.Fatal(err)
		}
	}
	for _, reader := range []string{"Lookup", "Scan", "Tail"} {
		if len(seen[reader]) != len(want) {
			t.Errorf("%s read %d events, want %d", reader, len(seen[reader]), len(want))
		}
	}

	// The events are stored as their kinds say.
	for i, ev := range storedEvents(t, dir) {
		form := "full"
		switch {
		case len(ev) > 0 && ev[0] == '[':
			form = "positional"
		case bytes.HasPrefix(ev, compactEventStart):
			form = "compact"
		}
		if w := kinds[i%len(kinds)].form; form != w {
			t.Errorf("event %d (%s) stored %s, want %s: %s", i, kinds[i%len(kinds)].name, form, w, ev)
		}
	}
}

// storedEvents returns the events of every record in dir's chain, as
// stored, in order.
func storedEvents(t *testing.T, dir string) [][]byte {
	t.Helper()
	var out [][]byte
	chains, err := filepath.Glob(filepath.Join(dir, "*", lockFile))
	if err != nil || len(chains) != 1 {
		t.Fatalf("chains: %v %v", chains, err)
	}
	_, err = scanChain(filepath.Dir(chains[0]), filepath.Base(filepath.Dir(chains[0])), scanFrom{}, nil, func(_ string, _ int64, line []byte, _ *recordLine) {
		if s, e, ok := eventSpan(line); ok {
			out = append(out, bytes.Clone(line[s:e]))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// FuzzRenderEvent checks that rendering any stored event never panics,
// and that an event rendered from the positional or the compact form is
// appendEvent's.
func FuzzRenderEvent(f *testing.F) {
	f.Add([]byte(`{"userIdentity":{"type":"Root"},"requestID":"r"}`), "01a251b2-442f-73cc-90af-8a947cd482a1", true, "111122223333", "ua", "GetUser", "AKIA", `{"a":[1,"]"]}`, uint8(0))
	f.Add([]byte(`[["IAMUser","AIDA",null,"",""],"us-east-1","1.2.3.4","ua","","",{},null,0,"r"]`), "", false, "", "", "", "", "", uint8(255))
	f.Add([]byte(`[[""],"","","","","",null,null,0,""]`), "x", false, "a", "\x00", "\"", "k", "null", uint8(3))
	f.Add([]byte(`{"userIdentity":`), "", false, "", "", "", "", "", uint8(1))
	f.Add([]byte(`{"eventVersion":"1.08"}`), "x", false, "a", "\x00", "\"", "", "", uint8(2))
	f.Fuzz(func(t *testing.T, stored []byte, id string, readOnly bool, account, agent, name, key, extra string, shape uint8) {
		m := &recordMeta{Time: 1735787045, Account: account, Name: name, Source: SourceIAM, Key: key, ID: id, ReadOnly: readOnly}
		renderEvent(nil, stored, m)
		renderedEvent(stored, m)
		ev := &Event{
			EventVersion: EventVersion, EventType: TypeAPICall, ManagementEvent: true, EventCategory: categoryManagement,
			EventTime: FormatTime(time.Unix(m.Time, 0)), EventSource: m.Source, EventName: name,
			EventID: id, ReadOnly: readOnly, RecipientAccountID: account, UserAgent: agent, AWSRegion: extra,
			UserIdentity:      UserIdentity{Type: "IAMUser", UserName: name, AccessKeyID: key},
			RequestParameters: json.RawMessage("null"), ResponseElements: json.RawMessage("null"),
		}
		if json.Valid([]byte(extra)) {
			ev.RequestParameters = json.RawMessage(extra)
		}
		if shape&1 != 0 {
			ev.UserIdentity.PrincipalID, ev.UserIdentity.ARN, ev.ErrorCode = agent, extra, name
		}
		if shape&2 != 0 {
			ev.UserIdentity.SessionContext = &SessionContext{Attributes: SessionAttributes{CreationDate: agent, MFAAuthenticated: name}}
			if shape&4 != 0 {
				ev.UserIdentity.SessionContext.SessionIssuer = &SessionIssuer{Type: name, PrincipalID: agent, ARN: extra, AccountID: account}
			}
			if shape&8 != 0 {
				ev.UserIdentity.SessionContext.SourceIdentity = key
			}
		}
		if shape&16 != 0 {
			ev.UserIdentity.IdentityProvider = agent
		}
		if shape&32 != 0 {
			ev.UserIdentity.InvokedBy = extra
		}
		if shape&64 != 0 {
			ev.AdditionalEventData = json.RawMessage(`{"x":` + strconv.Quote(agent) + `}`)
			if !json.Valid(ev.AdditionalEventData) {
				ev.AdditionalEventData = nil
			}
		}
		if shape&64 == 0 && shape&1 != 0 {
			ev.decisions = []decision{{Action: name, Resource: extra, Decision: agent}, {Action: key, Decision: "Deny"}}
		}
		if shape&128 != 0 {
			ev.RequestID = agent
		}
		full := appendEvent(nil, ev)
		if got := renderEvent(nil, appendCompactEvent(nil, ev), m); !bytes.Equal(got, full) {
			t.Fatalf("rendered from the compact form\n%s\nwant\n%s", got, full)
		}
		if positional(ev, ev.EventTime) {
			if got := renderEvent(nil, appendPositionalEvent(nil, ev), m); !bytes.Equal(got, full) {
				t.Fatalf("rendered from the positional form %s\n%s\nwant\n%s", appendPositionalEvent(nil, ev), got, full)
			}
		}
		if !json.Valid(full) {
			t.Fatalf("invalid JSON: %s", full)
		}
	})
}

// TestTrustedEventID checks the event ID Record makes for a Call's event,
// which goes into the record without ever being a string on the event: a
// version 7 UUID of the event's time, read back by every lookup as the
// full encoding would hold it, and found by a lookup by event ID.
func TestTrustedEventID(t *testing.T) {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	l, err := Open(Options{Dir: t.TempDir(), Keys: testKey, Now: func() time.Time { return t0 }, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const account = "111122223333"
	ev := &Event{
		EventTime: FormatTime(t0), EventSource: SourceIAM, EventName: "GetUser", AWSRegion: "us-east-1",
		RecipientAccountID: account, ReadOnly: true, RequestID: "req-1",
		UserIdentity: UserIdentity{Type: "IAMUser", UserName: "alice", AccountID: account},
		time:         t0, trusted: true,
	}
	if err := l.Record(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if ev.EventID != "" {
		t.Errorf("EventID = %q, want it left empty for a trusted event", ev.EventID)
	}
	p, err := l.Lookup(Query{Account: account, Max: 10})
	if err != nil || len(p.Events) != 1 {
		t.Fatalf("Lookup: %v, %d events", err, len(p.Events))
	}
	id := p.Events[0].EventID
	b, ok := uuid.Parse(id)
	if !ok {
		t.Fatalf("event ID %q is not a UUID", id)
	}
	if at, ok := uuid.TimeV7(b); !ok || !at.Equal(t0) {
		t.Errorf("event ID %s: time %v, %v; want a version 7 UUID of %v", id, at, ok, t0)
	}
	ev.EventID = id
	if want := appendEvent(nil, ev); !bytes.Equal(p.Events[0].JSON, want) {
		t.Errorf("read\n%s\nwant\n%s", p.Events[0].JSON, want)
	}
	p, err = l.Lookup(Query{Account: account, Attribute: AttrEventID, Value: id, Max: 10})
	if err != nil || len(p.Events) != 1 || p.Events[0].EventID != id {
		t.Fatalf("Lookup by event ID: %v, %+v", err, p.Events)
	}
}
