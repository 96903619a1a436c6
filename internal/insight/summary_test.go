package insight

import (
	"slices"
	"testing"

	"github.com/iamd/iamd/internal/sar"
	"github.com/iamd/iamd/policy"
)

func TestSummarize(t *testing.T) {
	t.Parallel()
	ref := reference(t)
	doc := `{` + v12 + `"Statement":[
		{"Effect":"Allow","Action":["iam:Get*","iam:List*","iam:CreateUser","fixturesvc:*","nosuch:Thing"],"Resource":"*"},
		{"Effect":"Allow","Action":"iam:TagUser","Resource":["arn:aws:iam::123456789012:user/a","arn:aws:iam::123456789012:user/b"],
		 "Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}},
		{"Effect":"Deny","Action":"iam:DeleteUser","Resource":"*"}]}`
	type row struct{ service, access, resources, conditions string }
	tests := []struct {
		name  string
		cat   *sar.Catalog
		allow []row
		deny  []row
	}{
		{name: "with the reference", cat: ref,
			allow: []row{
				{"fixturesvc", "Full access", "All resources", "None"},
				{"iam", "Full: List, Read, Tagging Limited: Write", "Multiple", "Multiple"},
				{"nosuch", "None: the service is not in the service authorization reference", "All resources", "None"},
			},
			deny: []row{{"iam", "Limited: Write", "All resources", "None"}}},
		{name: "without the reference", cat: sar.Empty(),
			allow: []row{
				{"fixturesvc", UnknownAccess, "All resources", "None"},
				{"iam", UnknownAccess, "Multiple", "Multiple"},
				{"nosuch", UnknownAccess, "All resources", "None"},
			},
			deny: []row{{"iam", UnknownAccess, "All resources", "None"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := Summarize([]byte(doc), policy.Identity, tc.cat)
			if err != nil {
				t.Fatal(err)
			}
			rows := func(list []ServiceSummary) []row {
				var out []row
				for _, r := range list {
					out = append(out, row{r.Service, r.Access, r.ResourceSummary, r.ConditionSummary})
				}
				return out
			}
			if got := rows(s.Allow); !slices.Equal(got, tc.allow) {
				t.Errorf("allow rows\n got %v\nwant %v", got, tc.allow)
			}
			if got := rows(s.Deny); !slices.Equal(got, tc.deny) {
				t.Errorf("deny rows\n got %v\nwant %v", got, tc.deny)
			}
			if s.ReferenceAvailable != tc.cat.Available() || (s.Note == "") == !tc.cat.Available() {
				t.Errorf("reference %v, note %q", s.ReferenceAvailable, s.Note)
			}
		})
	}

	t.Run("action details", func(t *testing.T) {
		t.Parallel()
		s, err := Summarize([]byte(doc), policy.Identity, ref)
		if err != nil {
			t.Fatal(err)
		}
		iam := s.Allow[1]
		if !slices.Contains(iam.Unrecognized, "nosuch:Thing") && !slices.Contains(s.Allow[2].Unrecognized, "nosuch:Thing") {
			t.Errorf("nosuch:Thing not reported as unrecognized")
		}
		var tag *ActionDetail
		for i := range iam.Details {
			if iam.Details[i].Action == "iam:TagUser" {
				tag = &iam.Details[i]
			}
		}
		if tag == nil || tag.AccessLevel != "Tagging" || len(tag.Resources) != 2 ||
			!slices.Equal(tag.Conditions, []string{"StringEquals aws:RequestedRegion: us-east-1"}) {
			t.Fatalf("TagUser detail %+v", tag)
		}
		var write LevelSummary
		for _, l := range iam.AccessLevels {
			if l.Level == "Write" {
				write = l
			}
		}
		if write.Full || write.Granted != 1 || write.Total != 4 || !slices.Equal(write.Actions, []string{"iam:CreateUser"}) {
			t.Fatalf("write level %+v", write)
		}
	})

	t.Run("NotAction", func(t *testing.T) {
		t.Parallel()
		na := `{` + v12 + `"Statement":{"Effect":"Allow","NotAction":["iam:*"],"Resource":"*"}}`
		s, err := Summarize([]byte(na), policy.Identity, ref)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Allow) != 1 || s.Allow[0].Service != "fixturesvc" || s.Allow[0].Access != "Full access" {
			t.Fatalf("with the reference: %+v", s.Allow)
		}
		s, err = Summarize([]byte(na), policy.Identity, sar.Empty())
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Allow) != 1 || s.Allow[0].Service != "*" || !slices.Equal(s.Allow[0].ExceptActions, []string{"iam:*"}) {
			t.Fatalf("without the reference: %+v", s.Allow)
		}
	})

	t.Run("invalid policy", func(t *testing.T) {
		t.Parallel()
		if _, err := Summarize([]byte(`{"Statement":[]}`), policy.Identity, ref); err == nil {
			t.Fatal("want an error")
		}
	})
}
