package insight

import (
	"slices"
	"strings"
	"testing"

	"github.com/iamd/iamd/internal/sar"
	"github.com/iamd/iamd/policy"
)

// reference loads the made-up test fixture of internal/sar (not AWS's
// reference; see internal/sar/testdata/README.md).
func reference(t *testing.T) *sar.Catalog {
	t.Helper()
	c, _, err := sar.LoadSources("../sar/testdata/aws-format")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func codes(r *Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.FindingType+" "+f.IssueCode)
	}
	return out
}

const v12 = `"Version":"2012-10-17",`

func TestAnalyze(t *testing.T) {
	t.Parallel()
	ref := reference(t)
	tests := []struct {
		name    string
		doc     string
		kind    policy.Kind
		ref     bool
		want    []string // findings that must be present ("TYPE CODE")
		notWant []string
		exact   bool // want is the whole list
	}{
		{name: "clean policy", ref: true, exact: true,
			doc: `{` + v12 + `"Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::123456789012:user/bob"}]}`},
		{name: "clean policy without the reference notes the skipped checks", exact: true,
			doc:  `{` + v12 + `"Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}`,
			want: []string{"INFO REFERENCE_DATA_NOT_AVAILABLE"}},
		{name: "json syntax", exact: true, ref: true,
			doc: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",}]}`, want: []string{"ERROR JSON_SYNTAX_ERROR"}},
		{name: "missing version", ref: true,
			doc: `{"Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}`, want: []string{"WARNING MISSING_VERSION"}},
		{name: "invalid version", ref: true,
			doc: `{"Version":"2020-01-01","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}`, want: []string{"ERROR INVALID_VERSION"}},
		{name: "missing statement", ref: true, doc: `{` + v12 + `"Statement":[]}`, want: []string{"ERROR MISSING_STATEMENT"}},
		{name: "invalid elements", ref: true,
			doc:  `{` + v12 + `"Foo":1,"Statement":[{"Effect":"Permit","Actions":"iam:GetUser","Resource":"*"}]}`,
			want: []string{"ERROR INVALID_POLICY_ELEMENT", "ERROR INVALID_EFFECT", "ERROR MISSING_ACTION"}},
		{name: "missing effect and resource", ref: true,
			doc: `{` + v12 + `"Statement":{"Action":"iam:GetUser"}}`, want: []string{"ERROR MISSING_EFFECT", "ERROR MISSING_RESOURCE"}},
		{name: "action and notaction", ref: true,
			doc:  `{` + v12 + `"Statement":{"Effect":"Deny","Action":"iam:GetUser","NotAction":"iam:ListUsers","Resource":"*"}}`,
			want: []string{"ERROR UNSUPPORTED_ELEMENT_COMBINATION"}},
		{name: "principal in identity policy", ref: true,
			doc:  `{` + v12 + `"Statement":{"Effect":"Allow","Principal":"*","Action":"iam:GetUser","Resource":"*"}}`,
			want: []string{"ERROR UNSUPPORTED_PRINCIPAL"}},
		{name: "resource policy needs a principal", ref: true, kind: policy.Resource,
			doc: `{` + v12 + `"Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}}`, want: []string{"ERROR MISSING_PRINCIPAL"}},
		{name: "allow with NotPrincipal", ref: true, kind: policy.Resource,
			doc:  `{` + v12 + `"Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"iam:GetUser","Resource":"*"}}`,
			want: []string{"SECURITY_WARNING ALLOW_WITH_NOT_PRINCIPAL"}},
		{name: "empty arrays and sid", ref: true,
			doc:  `{` + v12 + `"Statement":[{"Sid":"","Effect":"Allow","Action":[],"Resource":"*"},{"Effect":"Allow","Action":"iam:GetUser","Resource":"*","Condition":{}}]}`,
			want: []string{"SUGGESTION EMPTY_SID_VALUE", "SUGGESTION EMPTY_ARRAY_ACTION", "SUGGESTION EMPTY_OBJECT_CONDITION"}},
		{name: "pass role on star", ref: true,
			doc:  `{` + v12 + `"Statement":{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}}`,
			want: []string{"SECURITY_WARNING PASS_ROLE_WITH_STAR_IN_RESOURCE"}},
		{name: "pass role on role/*", ref: false,
			doc:  `{` + v12 + `"Statement":{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::123456789012:role/*"}}`,
			want: []string{"SECURITY_WARNING PASS_ROLE_WITH_STAR_IN_RESOURCE"}},
		{name: "pass role on star with PassedToService", ref: true,
			doc:     `{` + v12 + `"Statement":{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"StringEquals":{"iam:PassedToService":"ec2.amazonaws.com"}}}}`,
			notWant: []string{"SECURITY_WARNING PASS_ROLE_WITH_STAR_IN_RESOURCE"}},
		{name: "pass role on a named role", ref: true, exact: true,
			doc: `{` + v12 + `"Statement":{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::123456789012:role/app"}}`},
		{name: "denying pass role on star is fine", ref: true, exact: true,
			doc: `{` + v12 + `"Statement":{"Effect":"Deny","Action":"iam:PassRole","Resource":"*"}}`},
		{name: "star action and resource", ref: true, exact: true,
			doc:  `{` + v12 + `"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`,
			want: []string{"SECURITY_WARNING PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE", "SECURITY_WARNING CREATE_SLR_WITH_STAR_IN_ACTION_AND_RESOURCE"}},
		{name: "iam:* on star", ref: true,
			doc:  `{` + v12 + `"Statement":{"Effect":"Allow","Action":"iam:*","Resource":"*"}}`,
			want: []string{"SECURITY_WARNING PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE"}},
		{name: "pass role with NotResource", ref: true,
			doc:  `{` + v12 + `"Statement":{"Effect":"Allow","Action":"iam:PassRole","NotResource":"arn:aws:iam::123456789012:role/admin"}}`,
			want: []string{"SECURITY_WARNING PASS_ROLE_WITH_NOT_RESOURCE", "WARNING ALLOW_WITH_NOT_RESOURCE"}},
		{name: "pass role with NotResource of every role, in aws-cn", ref: true,
			doc:     `{` + v12 + `"Statement":{"Effect":"Allow","Action":["iam:PassRole","iam:GetUser"],"NotResource":"arn:aws-cn:iam::*:role/*"}}`,
			notWant: []string{"SECURITY_WARNING PASS_ROLE_WITH_NOT_RESOURCE"}},
		{name: "NotAction with NotResource", ref: true,
			doc:  `{` + v12 + `"Statement":{"Effect":"Allow","NotAction":"s3:*","NotResource":"arn:aws:s3:::b"}}`,
			want: []string{"SECURITY_WARNING PASS_ROLE_WITH_NOT_ACTION_AND_NOT_RESOURCE", "SECURITY_WARNING ALLOW_WITH_NOT_ACTION"}},
		{name: "allow with NotAction", ref: false,
			doc:  `{` + v12 + `"Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}`,
			want: []string{"SECURITY_WARNING ALLOW_WITH_NOT_ACTION"}, notWant: []string{"SECURITY_WARNING PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE"}},
		{name: "deny with NotAction is fine", ref: true, exact: true,
			doc: `{` + v12 + `"Statement":{"Effect":"Deny","NotAction":"iam:*","Resource":"*"}}`},
		{name: "create SLR on star", ref: true,
			doc:  `{` + v12 + `"Statement":{"Effect":"Allow","Action":"iam:CreateServiceLinkedRole","Resource":"*"}}`,
			want: []string{"WARNING CREATE_SLR_WITH_STAR_IN_RESOURCE"}},
		{name: "unknown action and service", ref: true,
			doc:  `{` + v12 + `"Statement":{"Effect":"Allow","Action":["iam:MakeCoffee","nosuch:Get","iam:Nope*"],"Resource":"*"}}`,
			want: []string{"ERROR INVALID_ACTION", "ERROR INVALID_SERVICE"}},
		{name: "unknown action without the reference is not reported", ref: false,
			doc:     `{` + v12 + `"Statement":{"Effect":"Allow","Action":["iam:MakeCoffee","nosuch:Get"],"Resource":"*"}}`,
			want:    []string{"INFO REFERENCE_DATA_NOT_AVAILABLE"},
			notWant: []string{"ERROR INVALID_ACTION", "ERROR INVALID_SERVICE"}},
		{name: "malformed action", ref: false,
			doc: `{` + v12 + `"Statement":{"Effect":"Allow","Action":"GetUser","Resource":"*"}}`, want: []string{"ERROR INVALID_ACTION"}},
		{name: "condition keys", ref: true,
			doc: `{` + v12 + `"Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"*","Condition":{
				"StringEquals":{"iam:NoSuchKey":"x","aws:NoSuchKey":"x","aws:PrincipalTag/team":"a","aws:ResourceTag/team":"a","fixturesvc:Color":"red","nosuch:Key":"x","badkey":"x"},
				"Bool":{"aws:MultiFactorAuthPresent":"true"}}}}`,
			want: []string{"ERROR INVALID_SERVICE_CONDITION_KEY", "ERROR INVALID_GLOBAL_CONDITION_KEY", "ERROR INVALID_CONDITION_KEY_FORMAT"}},
		{name: "ForAllValues with a single-valued key", ref: true,
			doc:  `{` + v12 + `"Statement":{"Effect":"Allow","Action":"iam:TagUser","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:RequestedRegion":["us-east-1"],"aws:TagKeys":["a"]}}}}`,
			want: []string{"SECURITY_WARNING FORALLVALUES_WITH_SINGLE_VALUED_KEY"}},
		{name: "invalid operator and Null with IfExists", ref: true,
			doc:  `{` + v12 + `"Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"*","Condition":{"StringEqualz":{"aws:username":"a"},"NullIfExists":{"aws:username":"true"}}}}`,
			want: []string{"ERROR INVALID_CONDITION_OPERATOR", "ERROR NULL_WITH_IF_EXISTS"}},
		{name: "redundant action, resource and statement", ref: true,
			doc: `{` + v12 + `"Statement":[
				{"Effect":"Allow","Action":["iam:GetUser","iam:Get*"],"Resource":["arn:aws:iam::123456789012:user/a","arn:aws:iam::123456789012:user/*"]},
				{"Sid":"Again","Effect":"Allow","Action":["iam:GetUser","iam:Get*"],"Resource":["arn:aws:iam::123456789012:user/a","arn:aws:iam::123456789012:user/*"]}]}`,
			want: []string{"SUGGESTION REDUNDANT_ACTION", "SUGGESTION REDUNDANT_RESOURCE", "SUGGESTION REDUNDANT_STATEMENT"}},
		{name: "resources of another type", ref: true,
			doc:  `{` + v12 + `"Statement":{"Effect":"Allow","Action":["iam:GetUser","iam:GetRole","iam:ListUsers"],"Resource":"arn:aws:iam::123456789012:user/bob"}}`,
			want: []string{"WARNING RESOURCE_TYPE_MISMATCH"}},
		{name: "IAM would reject duplicate sids", ref: true,
			doc:  `{` + v12 + `"Statement":[{"Sid":"A","Effect":"Allow","Action":"iam:GetUser","Resource":"*"},{"Sid":"A","Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}]}`,
			want: []string{"ERROR MALFORMED_POLICY_DOCUMENT"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cat := sar.Empty()
			if tc.ref {
				cat = ref
			}
			rep := Analyze([]byte(tc.doc), tc.kind, cat)
			got := codes(rep)
			if tc.exact {
				w := tc.want
				if w == nil {
					w = []string{}
				}
				if got == nil {
					got = []string{}
				}
				if !slices.Equal(got, w) {
					t.Fatalf("findings %v, want exactly %v", got, w)
				}
				return
			}
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("missing %s in %v", w, got)
				}
			}
			for _, w := range tc.notWant {
				if slices.Contains(got, w) {
					t.Errorf("unexpected %s in %v", w, got)
				}
			}
			if rep.ReferenceAvailable != tc.ref {
				t.Errorf("ReferenceAvailable = %v", rep.ReferenceAvailable)
			}
		})
	}
}

func TestAnalyzeResourceMismatchDetail(t *testing.T) {
	t.Parallel()
	doc := `{` + v12 + `"Statement":{"Effect":"Allow","Action":["iam:GetUser","iam:GetRole","iam:ListUsers"],"Resource":"arn:aws:iam::123456789012:user/bob"}}`
	rep := Analyze([]byte(doc), policy.Identity, reference(t))
	var got []string
	for _, f := range rep.Findings {
		if f.IssueCode == CodeResourceMismatch {
			got = append(got, f.Locations[0].PathString())
		}
	}
	// GetUser fits the user ARN; GetRole wants a role; ListUsers only "*".
	if want := []string{"Statement.Action[1]", "Statement.Action[2]"}; !slices.Equal(got, want) {
		t.Fatalf("mismatch findings at %v, want %v", got, want)
	}
}

func TestAnalyzeLocations(t *testing.T) {
	t.Parallel()
	doc := "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\", \"Action\": \"s3:GetObject\", \"Resource\": \"*\"},\n    {\"Effect\": \"Allow\", \"Action\": \"iam:PassRole\", \"Resource\": \"*\"}\n  ]\n}\n"
	rep := Analyze([]byte(doc), policy.Identity, sar.Empty())
	var f *Finding
	for i := range rep.Findings {
		if rep.Findings[i].IssueCode == CodePassRoleStarRes {
			f = &rep.Findings[i]
		}
	}
	if f == nil {
		t.Fatalf("no PassRole finding: %v", codes(rep))
	}
	if f.LearnMoreLink != learnMoreBase+"#access-analyzer-reference-policy-checks-security-warning-pass-role-with-star-in-resource" {
		t.Errorf("link %s", f.LearnMoreLink)
	}
	loc := f.Locations[0]
	if loc.PathString() != "Statement[1].Resource" {
		t.Errorf("path %s", loc.PathString())
	}
	// Line 5: `    {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}`
	line5 := "    {\"Effect\": \"Allow\", \"Action\": \"iam:PassRole\", \"Resource\": "
	if loc.Span == nil || loc.Span.Start.Line != 5 || loc.Span.Start.Column != len(line5) || loc.Span.End.Column != len(line5)+3 {
		t.Fatalf("span %+v, want line 5 columns %d-%d", loc.Span, len(line5), len(line5)+3)
	}
	if got := doc[loc.Span.Start.Offset:loc.Span.End.Offset]; got != `"*"` {
		t.Fatalf("span covers %q", got)
	}
	// JSON syntax errors point at the offending character.
	rep = Analyze([]byte("{\n  \"Statement\": [,]\n}"), policy.Identity, sar.Empty())
	if rep.Findings[0].IssueCode != CodeJSONSyntax || rep.Findings[0].Locations[0].Span.Start.Line != 2 {
		t.Fatalf("syntax finding %+v", rep.Findings[0])
	}
	if !strings.Contains(rep.Findings[0].FindingDetails, "line 2") {
		t.Fatalf("details %q", rep.Findings[0].FindingDetails)
	}
}

func fuzzReference(f *testing.F) *sar.Catalog {
	c, _, err := sar.LoadSources("../sar/testdata/aws-format")
	if err != nil {
		f.Fatal(err)
	}
	return c
}

// TestAnalyzeFederationKeys checks, against the embedded reference, that
// the condition keys of identity providers in trust policies are not
// reported unknown: SAML keys, keys of providers the reference lists, and
// the claims of any OpenID Connect provider.
func TestAnalyzeFederationKeys(t *testing.T) {
	t.Parallel()
	ref, err := sar.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !ref.Available() {
		t.Skip("no embedded reference")
	}
	for _, tc := range []struct {
		name, principal, condition string
		want                       []string
	}{
		{"saml", `{"Federated":"arn:aws:iam::123456789012:saml-provider/corp"}`,
			`{"StringEquals":{"SAML:aud":"https://signin.aws.amazon.com/saml","saml:sub_type":"persistent"}}`, nil},
		{"github actions", `{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}`,
			`{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"},"StringLike":{"token.actions.githubusercontent.com:sub":"repo:octo/*"}}`, nil},
		{"eks", `{"Federated":"arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"}`,
			`{"StringEquals":{"oidc.eks.us-east-1.amazonaws.com/id/ABC:sub":"system:serviceaccount:ns:sa"}}`, nil},
		{"unknown service", `{"AWS":"arn:aws:iam::123456789012:root"}`,
			`{"StringEquals":{"nosuchservice:thing":"x"}}`, []string{"ERROR INVALID_SERVICE_CONDITION_KEY"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			action := "sts:AssumeRoleWithWebIdentity"
			if tc.name == "saml" {
				action = "sts:AssumeRoleWithSAML"
			}
			doc := `{` + v12 + `"Statement":{"Effect":"Allow","Principal":` + tc.principal + `,"Action":"` + action + `","Condition":` + tc.condition + `}}`
			got := codes(Analyze([]byte(doc), policy.Trust, ref))
			if tc.want == nil {
				tc.want = []string{}
			}
			if got == nil {
				got = []string{}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("findings %v, want %v", got, tc.want)
			}
		})
	}
}
