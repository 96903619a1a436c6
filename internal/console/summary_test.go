package console

import (
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/iamd/iamd/internal/sar"
)

const summaryDoc = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["iam:ListUsers","iam:GetUser"],"Resource":"*"},
 {"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::*:user/x","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}},
 {"Effect":"Allow","Action":"nosuchservice:Do","Resource":"*"},
 {"Effect":"Deny","Action":"iam:DeleteUser","Resource":"*"}]}`

func TestSummarize(t *testing.T) {
	cat, err := sar.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !cat.Available() {
		t.Skip("this build carries no service authorization reference")
	}
	iam, _ := cat.Service("iam")
	total := len(iam.Actions)
	base := url.Values{"arn": {"arn:aws:iam::123456789012:policy/p"}}
	tests := []struct {
		name  string
		query url.Values
		check func(t *testing.T, v *summaryView)
	}{
		{"policy summary", url.Values{}, func(t *testing.T, v *summaryView) {
			if len(v.Allow) != 2 || len(v.Deny) != 1 {
				t.Fatalf("rows = %+v / %+v", v.Allow, v.Deny)
			}
			r := v.Allow[0]
			if r.Service != "iam" || !strings.HasPrefix(r.Access, "Limited:") || r.Count != "2 of "+itoa(total) || r.Resource != "Multiple" {
				t.Errorf("iam row = %+v", r)
			}
			if !strings.Contains(r.Link, "service=iam") || !strings.Contains(r.Link, "effect=Allow") || !strings.Contains(r.Link, "arn=") {
				t.Errorf("iam link = %q", r.Link)
			}
			if u := v.Allow[1]; u.Recognized || u.Count != "" || len(u.Unrecognized) != 1 {
				t.Errorf("unknown service row = %+v", u)
			}
			if len(v.Findings) == 0 {
				t.Errorf("no findings for an unknown service")
			}
			if v.Service != nil || v.JSON {
				t.Errorf("service = %+v, JSON = %v", v.Service, v.JSON)
			}
		}},
		{"service summary", url.Values{"service": {"iam"}}, func(t *testing.T, v *summaryView) {
			if v.Service == nil {
				t.Fatal("no service summary")
			}
			var actions []string
			for _, g := range v.Service.Groups {
				if !strings.Contains(g.Count, " of ") {
					t.Errorf("group %s count %q", g.Level, g.Count)
				}
				for _, a := range g.Actions {
					actions = append(actions, a.Action+"|"+a.Resource+"|"+a.Condition)
				}
			}
			want := "iam:GetUser|All resources|Multiple"
			if !strings.Contains(strings.Join(actions, ","), want) {
				t.Errorf("actions = %v, want %s", actions, want)
			}
		}},
		{"denied service", url.Values{"service": {"iam"}, "effect": {"Deny"}}, func(t *testing.T, v *summaryView) {
			if v.Service == nil || v.Service.Row.Effect != "Deny" || v.Service.Groups[0].Actions[0].Action != "iam:DeleteUser" {
				t.Errorf("deny service = %+v", v.Service)
			}
		}},
		{"action summary", url.Values{"service": {"iam"}, "action": {"iam:GetUser"}}, func(t *testing.T, v *summaryView) {
			if v.Action == nil || len(v.Action.Resources) != 2 || len(v.Action.Conditions) != 2 || v.Action.Access == "" {
				t.Errorf("action = %+v", v.Action)
			}
		}},
		{"json", url.Values{"view": {"json"}}, func(t *testing.T, v *summaryView) {
			if !v.JSON {
				t.Error("JSON view not chosen")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, summarize(summaryDoc, cat, base, tc.query)) })
	}
	if v := summarize("{", cat, base, url.Values{}); v.Err == "" {
		t.Error("a malformed document has no error")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
