package sar

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fixture loads the made-up AWS-format test fixture (see testdata/README.md).
func fixture(t *testing.T) *Catalog {
	t.Helper()
	c, _, err := LoadSources("testdata/aws-format")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLoadEmbedded(t *testing.T) {
	t.Parallel()
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	_, statErr := os.Stat(EmbeddedFile)
	if want := statErr == nil; c.Available() != want {
		t.Fatalf("Available() = %v, but generated file present = %v", c.Available(), want)
	}
	if !c.Available() {
		if len(c.Services()) != 0 || c.HasGlobalKeys() {
			t.Fatal("an empty catalogue must hold nothing")
		}
		if _, ok := c.Action("iam:GetUser"); ok {
			t.Fatal("an empty catalogue knows no action")
		}
		return
	}
	// A generated reference: whatever its source, it is AWS's, so it
	// knows IAM and says where it came from.
	if a, ok := c.Action("iam:GetUser"); !ok || a.Access != Read {
		t.Fatalf("the embedded reference lacks iam:GetUser (Read): %+v", a)
	}
	if len(c.Sources()) == 0 {
		t.Fatal("the embedded reference names no source")
	}
}

func TestLoadSourcesAWSFormat(t *testing.T) {
	t.Parallel()
	c, notes, err := LoadSources("testdata/aws-format")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Available() || !c.HasGlobalKeys() {
		t.Fatalf("fixture not loaded: available=%v global=%v", c.Available(), c.HasGlobalKeys())
	}
	joined := strings.Join(notes, "\n")
	for _, want := range []string{"skipped aws-format/not-a-reference.json", "skipped aws-format/service-list.json: an index", "read aws-format/iam.json (aws)", "read aws-format/global-condition-keys.json (global)"} {
		if !strings.Contains(joined, want) {
			t.Errorf("notes lack %q:\n%s", want, joined)
		}
	}
	tests := []struct {
		action string
		level  AccessLevel
		res    []string
		key    string // a key the action supports
	}{
		{"iam:ListUsers", List, nil, ""},
		{"iam:GetUser", Read, []string{"user"}, "aws:ResourceTag/team"},
		{"IAM:createuser", Write, []string{"user"}, "aws:RequestTag/team"},
		{"iam:AttachUserPolicy", PermissionsManagement, []string{"user"}, "iam:PolicyARN"},
		{"iam:TagUser", Tagging, []string{"user"}, "aws:TagKeys"},
		{"iam:PassRole", Write, []string{"role"}, "iam:PassedToService"},
	}
	for _, tc := range tests {
		t.Run(tc.action, func(t *testing.T) {
			a, ok := c.Action(tc.action)
			if !ok {
				t.Fatal("not found")
			}
			if a.Access != tc.level {
				t.Errorf("access %v, want %v", a.Access, tc.level)
			}
			var res []string
			for _, r := range a.Resources {
				res = append(res, r.Name)
			}
			if !slices.Equal(res, tc.res) {
				t.Errorf("resources %v, want %v", res, tc.res)
			}
			if tc.key != "" {
				found := false
				for _, k := range a.ConditionKeys {
					if templateMatch(k, tc.key) {
						found = true
					}
				}
				if !found {
					t.Errorf("keys %v lack %s", a.ConditionKeys, tc.key)
				}
			}
		})
	}
}

func TestLookups(t *testing.T) {
	t.Parallel()
	c := fixture(t)
	iam, _ := c.Service("iam")
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"unknown action", func() bool { _, ok := c.Action("iam:MakeCoffee"); return ok }(), false},
		{"unknown service", func() bool { _, ok := c.Service("nosuch"); return ok }(), false},
		{"templated service key", func() bool { _, ok := iam.ConditionKey("aws:RequestTag/CostCenter"); return ok }(), true},
		{"service key case-insensitive", func() bool { _, ok := iam.ConditionKey("IAM:passedtoservice"); return ok }(), true},
		{"unknown service key", func() bool { _, ok := iam.ConditionKey("iam:NoSuchKey"); return ok }(), false},
		{"global key", func() bool { _, ok := c.GlobalKey("aws:SourceIp"); return ok }(), true},
		{"templated global key", func() bool { _, ok := c.GlobalKey("aws:PrincipalTag/team"); return ok }(), true},
		{"unknown global key", func() bool { _, ok := c.GlobalKey("aws:NoSuchKey"); return ok }(), false},
		{"key found through services", func() bool { _, ok := c.ConditionKey("aws:TagKeys"); return ok }(), true},
		{"user ARN is a user", func() bool {
			r, _, ok := iam.ResourceTypeOf("arn:aws:iam::123456789012:user/dev/alice")
			return ok && r.Name == "user"
		}(), true},
		{"role ARN is not a user", func() bool {
			r, _ := iam.ResourceType("user")
			return r.MatchesARN("arn:aws:iam::123456789012:role/x")
		}(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

func TestMatchActions(t *testing.T) {
	t.Parallel()
	c := fixture(t)
	names := func(as []*Action) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.FullName())
		}
		return out
	}
	tests := []struct {
		pattern string
		want    []string
	}{
		{"iam:Get*", []string{"iam:GetRole", "iam:GetUser"}},
		{"IAM:list*", []string{"iam:ListRoles", "iam:ListUsers"}},
		{"iam:?etUser", []string{"iam:GetUser"}},
		{"fixturesvc:*", []string{"fixturesvc:DescribeWidget", "fixturesvc:ListWidgets", "fixturesvc:PutWidget"}},
		{"iam:GetUser", []string{"iam:GetUser"}},
		{"iam:Nope*", nil},
		{"nosuch:*", nil},
		{"notanaction", nil},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			if got := names(c.MatchActions(tc.pattern)); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	if n := len(c.MatchActions("*")); n != 13 {
		t.Fatalf("* matched %d actions, want all 13", n)
	}
}

func TestPolicySentryFormat(t *testing.T) {
	t.Parallel()
	c, _, err := LoadSources("testdata/policy-sentry.json")
	if err != nil {
		t.Fatal(err)
	}
	s, ok := c.Service("fixturesvc")
	if !ok || s.Name != "Fixture Service" {
		t.Fatalf("service: %+v %v", s, ok)
	}
	tests := []struct {
		action   string
		level    AccessLevel
		required bool
		key      string
	}{
		{"DescribeWidget", Read, true, ""},
		{"ListWidgets", List, false, ""},
		{"TagWidget", Tagging, true, "aws:TagKeys"},
		{"SetWidgetPolicy", PermissionsManagement, true, "fixturesvc:Color"},
	}
	for _, tc := range tests {
		t.Run(tc.action, func(t *testing.T) {
			a, ok := s.Action(tc.action)
			if !ok {
				t.Fatal("missing")
			}
			if a.Access != tc.level {
				t.Errorf("level %v, want %v", a.Access, tc.level)
			}
			if got := len(a.Resources) > 0 && a.Resources[0].Required; got != tc.required {
				t.Errorf("required %v, want %v", got, tc.required)
			}
			if tc.key != "" && !slices.Contains(a.ConditionKeys, tc.key) {
				t.Errorf("keys %v lack %s", a.ConditionKeys, tc.key)
			}
		})
	}
	if r, _, ok := s.ResourceTypeOf("arn:aws:fixturesvc:us-east-1:123456789012:widget/w-1"); !ok || r.Name != "widget" {
		t.Fatalf("widget ARN not recognized")
	}
	if k, ok := s.ConditionKey("aws:TagKeys"); !ok {
		t.Fatal("aws:TagKeys missing")
	} else if multi, ok := k.MultiValued(); !ok || !multi {
		t.Fatal("aws:TagKeys is multi-valued")
	}
}

// TestBundleRoundTrip builds the bundle gen-sar embeds from the fixture and
// decodes it back, compressed, as Load does.
func TestBundleRoundTrip(t *testing.T) {
	t.Parallel()
	raw, _, err := BuildBundle("testdata/aws-format")
	if err != nil || raw == nil {
		t.Fatalf("BuildBundle: %v (nil bundle %v)", err, raw == nil)
	}
	gz, err := Compress(raw)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Decode(gz)
	if err != nil {
		t.Fatal(err)
	}
	want := fixture(t)
	if len(c.Services()) != len(want.Services()) || !c.HasGlobalKeys() {
		t.Fatalf("round trip lost data: %d services", len(c.Services()))
	}
	if a, ok := c.Action("iam:AttachUserPolicy"); !ok || a.Access != PermissionsManagement {
		t.Fatal("round trip lost an access level")
	}
	// A bundle is itself an accepted source.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bundle.json.gz"), gz, 0o644); err != nil {
		t.Fatal(err)
	}
	c2, _, err := LoadSources(dir)
	if err != nil || len(c2.Services()) != len(want.Services()) || !c2.HasGlobalKeys() {
		t.Fatalf("bundle as source lost data: %v", err)
	}
}

func TestNoReference(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "aws-managed-policies.json"), []byte(`[{"PolicyName":"X"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	raw, notes, err := BuildBundle(dir)
	if err != nil || raw != nil {
		t.Fatalf("want nothing to write, got %d bytes, %v", len(raw), err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "skipped") {
		t.Fatalf("notes %v", notes)
	}
	c, _, err := LoadSources(dir)
	if err != nil || c.Available() {
		t.Fatalf("want an empty catalogue: %v", err)
	}
}

func TestGlob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"iam:*", "iam:GetUser", true},
		{"IAM:get*", "iam:GetUser", true},
		{"iam:Get?ser", "iam:GetUser", true},
		{"iam:Get?ser", "iam:GetUsers", false},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"arn:aws:iam::*:user/*", "arn:aws:iam::1:user/a/b", true},
	}
	for _, tc := range tests {
		if got := Glob(tc.pattern, tc.s); got != tc.want {
			t.Errorf("Glob(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}
