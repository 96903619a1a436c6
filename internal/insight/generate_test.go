package insight

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/audit"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/sar"
	"github.com/iamd/iamd/policy"
)

const acct = "123456789012"

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// call describes one recorded API call.
type call struct {
	at        time.Duration // after t0
	user      string        // IAM user, or "role:NAME" for a role session
	name      string        // event name
	errorCode string
	decisions [][3]string // action, resource, decision
}

func (c call) event() *audit.Event {
	ev := &audit.Event{
		EventTime: audit.FormatTime(t0.Add(c.at)), EventSource: audit.SourceIAM, EventName: c.name,
		AWSRegion: "us-east-1", RecipientAccountID: acct, ErrorCode: c.errorCode,
		UserIdentity: audit.UserIdentity{Type: "IAMUser", AccountID: acct, UserName: c.user, ARN: "arn:aws:iam::" + acct + ":user/" + c.user},
		Username:     c.user,
	}
	if role, ok := strings.CutPrefix(c.user, "role:"); ok {
		ev.UserIdentity = audit.UserIdentity{Type: "AssumedRole", AccountID: acct, ARN: "arn:aws:sts::" + acct + ":assumed-role/" + role + "/s",
			SessionContext: &audit.SessionContext{SessionIssuer: &audit.SessionIssuer{Type: "Role", ARN: "arn:aws:iam::" + acct + ":role/" + role, AccountID: acct, UserName: role}}}
		ev.Username = "s"
	}
	if c.errorCode != "" {
		ev.ErrorMessage = "denied"
	}
	if len(c.decisions) > 0 {
		var ds []map[string]string
		for _, d := range c.decisions {
			ds = append(ds, map[string]string{"action": d[0], "resource": d[1], "decision": d[2]})
		}
		ev.AdditionalEventData, _ = json.Marshal(map[string]any{"authorizationDecisions": ds})
	}
	return ev
}

func userARN(n string) string { return "arn:aws:iam::" + acct + ":user/" + n }

// trail writes calls to a fresh audit log and returns the open log and its
// directory.
func trail(t *testing.T, calls []call) *audit.Log {
	t.Helper()
	dir := t.TempDir()
	l, err := audit.Open(audit.Options{Dir: dir, Keys: [][]byte{[]byte("test key for the insight trail!!")}, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	for _, c := range calls {
		if err := l.Record(context.Background(), c.event()); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func statements(t *testing.T, doc string) []policy.Statement {
	t.Helper()
	d, err := policy.ParseWithOptions([]byte(doc), policy.Identity, policy.ParseOptions{RequireVersion2012: true})
	if err != nil {
		t.Fatalf("generated policy does not parse: %v\n%s", err, doc)
	}
	return d.Statements
}

func TestGenerate(t *testing.T) {
	t.Parallel()
	var many []call
	for i := range 7 {
		n := fmt.Sprintf("u%d", i)
		many = append(many, call{at: time.Duration(i) * time.Minute, user: "alice", name: "GetUser", decisions: [][3]string{{"iam:GetUser", userARN(n), "Allow"}}})
	}
	calls := append(many,
		call{at: time.Hour, user: "alice", name: "CreateUser", decisions: [][3]string{{"iam:CreateUser", userARN("bob"), "Allow"}, {"iam:TagUser", userARN("bob"), "Allow"}}},
		call{at: time.Hour, user: "alice", name: "ListUsers", decisions: [][3]string{{"iam:ListUsers", "arn:aws:iam::" + acct + ":user/", "Allow"}}},
		call{at: time.Hour, user: "alice", name: "DeleteUser", errorCode: "AccessDenied", decisions: [][3]string{{"iam:DeleteUser", userARN("bob"), "Deny"}}},
		call{at: time.Hour, user: "alice", name: "GetAccountSummary", decisions: [][3]string{{"iam:GetAccountSummary", "", "Allow"}}},
		call{at: time.Hour, user: "alice", name: "GetCallerIdentity"},
		call{at: 2 * time.Hour, user: "mallory", name: "DeleteRole", decisions: [][3]string{{"iam:DeleteRole", "arn:aws:iam::" + acct + ":role/x", "Allow"}}},
		call{at: 48 * time.Hour, user: "alice", name: "DeleteUser", decisions: [][3]string{{"iam:DeleteUser", userARN("late"), "Allow"}}},
		call{at: time.Hour, user: "role:deployer", name: "GetRole", decisions: [][3]string{{"iam:GetRole", "arn:aws:iam::" + acct + ":role/app", "Allow"}}},
		call{at: time.Hour, user: "role:deployer", name: "PassRole", decisions: [][3]string{{"iam:PassRole", "arn:aws:iam::" + acct + ":role/app", "Allow"}, {"iam:GetRole", "arn:aws:iam::" + acct + ":role/app", "Allow"}}},
	)
	l := trail(t, calls)
	ref := reference(t)
	type want struct {
		action    string
		resources []string
	}
	tests := []struct {
		name     string
		opts     GenerateOptions
		want     []want
		counts   [4]int // events, calls, failed, unchecked
		noteWant string
	}{
		{name: "user over a day, many resources collapsed",
			opts: GenerateOptions{Account: acct, User: "alice", Start: t0, End: t0.Add(24 * time.Hour)},
			want: []want{
				{"iam:CreateUser", []string{userARN("bob")}},
				{"iam:GetAccountSummary", []string{"*"}},
				{"iam:GetUser", []string{"arn:aws:iam::" + acct + ":user/*"}},
				{"iam:ListUsers", []string{"arn:aws:iam::" + acct + ":user/"}},
				{"iam:TagUser", []string{userARN("bob")}},
			},
			counts: [4]int{12, 10, 1, 1}, noteWant: sar.NotAvailable},
		{name: "higher limit keeps every resource",
			opts: GenerateOptions{Account: acct, User: "alice", Start: t0, End: t0.Add(time.Minute * 30), MaxResources: 10},
			want: []want{{"iam:GetUser", []string{userARN("u0"), userARN("u1"), userARN("u2"), userARN("u3"), userARN("u4"), userARN("u5"), userARN("u6")}}},
		},
		{name: "the whole trail",
			opts: GenerateOptions{Account: acct, User: "alice", Catalog: ref},
			want: []want{
				{"iam:CreateUser", []string{userARN("bob")}},
				{"iam:DeleteUser", []string{userARN("late")}},
				{"iam:GetAccountSummary", []string{"*"}},
				{"iam:GetUser", []string{"arn:aws:iam::" + acct + ":user/*"}},
				{"iam:ListUsers", []string{"*"}}, // the reference says ListUsers takes only "*"
				{"iam:TagUser", []string{userARN("bob")}},
			},
			noteWant: "iam:GetAccountSummary is not in the service authorization reference"},
		{name: "role sessions",
			opts: GenerateOptions{Account: acct, Role: "deployer"},
			want: []want{
				{"iam:GetRole", []string{"arn:aws:iam::" + acct + ":role/app"}},
				{"iam:PassRole", []string{"arn:aws:iam::" + acct + ":role/app"}},
			},
			counts: [4]int{2, 2, 0, 0}},
		{name: "nobody", opts: GenerateOptions{Account: acct, User: "nobody"}, noteWant: "nothing to allow"},
	}
	for _, tc := range tests {
		for _, source := range []string{"dir", "log"} {
			t.Run(tc.name+"/"+source, func(t *testing.T) {
				t.Parallel()
				var g *Generated
				var err error
				if source == "dir" {
					g, err = GenerateFromDir(l.Dir(), tc.opts)
				} else {
					g, err = GenerateFromLog(l, tc.opts)
				}
				if err != nil {
					t.Fatal(err)
				}
				var got []want
				for _, a := range g.Actions {
					got = append(got, want{a.Action, a.Resources})
				}
				if !slices.EqualFunc(got, tc.want, func(a, b want) bool { return a.action == b.action && slices.Equal(a.resources, b.resources) }) {
					t.Fatalf("actions\n got %v\nwant %v", got, tc.want)
				}
				if tc.counts != ([4]int{}) {
					if c := [4]int{g.Events, g.Calls, g.Failed, g.Unchecked}; c != tc.counts {
						t.Errorf("events/calls/failed/unchecked %v, want %v", c, tc.counts)
					}
				}
				if tc.noteWant != "" && !strings.Contains(strings.Join(g.Notes, "\n"), tc.noteWant) {
					t.Errorf("notes %q lack %q", g.Notes, tc.noteWant)
				}
				if len(tc.want) == 0 {
					if g.Policy != "" {
						t.Fatalf("policy for no calls: %s", g.Policy)
					}
					return
				}
				// The policy allows exactly the used actions on their
				// resources.
				var granted []want
				for _, st := range statements(t, g.Policy) {
					if st.Effect != policy.Allow {
						t.Fatalf("statement %+v", st)
					}
					for _, a := range st.Action {
						granted = append(granted, want{a, st.Resource})
					}
				}
				slices.SortFunc(granted, func(a, b want) int { return strings.Compare(a.action, b.action) })
				if !slices.EqualFunc(granted, tc.want, func(a, b want) bool { return a.action == b.action && slices.Equal(a.resources, b.resources) }) {
					t.Fatalf("policy grants %v, want %v\n%s", granted, tc.want, g.Policy)
				}
			})
		}
	}
}

func TestGenerateOptions(t *testing.T) {
	t.Parallel()
	for _, o := range []GenerateOptions{{User: "a"}, {Account: acct}, {Account: acct, User: "a", Role: "b"}} {
		if _, err := NewGenerator(o); err == nil {
			t.Errorf("%+v: want an error", o)
		}
	}
}

func TestPattern(t *testing.T) {
	t.Parallel()
	ref := reference(t)
	getUser, _ := ref.Action("iam:GetUser")
	put, _ := ref.Action("fixturesvc:PutWidget")
	g := &Generator{}
	tests := []struct {
		arn  string
		act  *sar.Action
		want string
	}{
		{"arn:aws:iam::123456789012:user/dev/alice", nil, "arn:aws:iam::123456789012:user/*"},
		{"arn:aws:iam::123456789012:user/dev/alice", getUser, "arn:aws:iam::123456789012:user/*"},
		{"arn:aws:fixturesvc:eu-west-1:123456789012:widget/w-1", put, "arn:aws:fixturesvc:eu-west-1:123456789012:widget/*"},
		{"arn:aws:s3:::bucket/key/part", nil, "arn:aws:s3:::bucket/*"},
		{"arn:aws:lambda:us-east-1:123456789012:function:f", nil, "arn:aws:lambda:us-east-1:123456789012:function:*"},
		{"arn:aws:sqs:us-east-1:123456789012:queue", nil, "arn:aws:sqs:us-east-1:123456789012:*"},
		{"not-an-arn", nil, "*"},
	}
	for _, tc := range tests {
		if got := g.pattern(tc.arn, tc.act); got != tc.want {
			t.Errorf("pattern(%s) = %s, want %s", tc.arn, got, tc.want)
		}
	}
}

// TestGeneratePrincipalPartition: the generated policy's principal is in
// the partition of its events, or the one given, aws when neither says.
func TestGeneratePrincipalPartition(t *testing.T) {
	t.Parallel()
	cnEvent := `{"eventTime":"` + audit.FormatTime(t0) + `","eventSource":"iam.amazonaws.com","eventName":"GetUser","recipientAccountId":"` + acct +
		`","userIdentity":{"type":"IAMUser","accountId":"` + acct + `","userName":"alice","arn":"arn:aws-cn:iam::` + acct + `:user/alice"}}`
	tests := []struct {
		name   string
		opts   GenerateOptions
		events []string
		want   string
	}{
		{"no events", GenerateOptions{Account: acct, User: "alice"}, nil, "arn:aws:iam::" + acct + ":user/alice"},
		{"aws-cn events", GenerateOptions{Account: acct, User: "alice"}, []string{cnEvent}, "arn:aws-cn:iam::" + acct + ":user/alice"},
		{"given partition", GenerateOptions{Account: acct, Role: "deployer", Partition: iam.PartitionGovCloud}, nil, "arn:aws-us-gov:iam::" + acct + ":role/deployer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g, err := NewGenerator(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range tc.events {
				if err := g.Add([]byte(ev)); err != nil {
					t.Fatal(err)
				}
			}
			got, err := g.Result()
			if err != nil {
				t.Fatal(err)
			}
			if got.Principal != tc.want {
				t.Errorf("Principal = %s, want %s", got.Principal, tc.want)
			}
		})
	}
}
