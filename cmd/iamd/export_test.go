package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/backup/authdetails"
	"github.com/iamd/iamd/internal/iamapi"
)

const (
	acctA = "111111111111"
	acctB = "222222222222"
)

// runCLI runs iamd with args and returns its exit code and output.
func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(""), &stdout, &stderr, func(k string) string { return env[k] })
	return code, stdout.String(), stderr.String()
}

// populate gives account acctA one of everything the export carries.
func populate(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	if code, _, stderr := runCLI(t, nil, "account", "create", "--data", dir, "--id", acctA); code != 0 {
		t.Fatalf("account create: %s", stderr)
	}
	st, svc, err := accountService(ctx, dir, "", iamapi.DefaultQuotas, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx = rootContext(ctx, svc, acctA)
	doc := func(action string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"` + action + `","Resource":"*"}]}`
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	pol, err := svc.CreatePolicy(ctx, &iamapi.CreatePolicyRequest{PolicyName: "Readers", Path: "/team/", PolicyDocument: doc("iam:Get*"), Description: "read things"})
	if err != nil {
		t.Fatal(err)
	}
	arn := pol.Policy.Arn
	yes, no := true, false
	mustOK(t)(svc.CreatePolicyVersion(ctx, &iamapi.CreatePolicyVersionRequest{PolicyArn: arn, PolicyDocument: doc("iam:List*"), SetAsDefault: &yes}))
	mustOK(t)(svc.CreatePolicyVersion(ctx, &iamapi.CreatePolicyVersionRequest{PolicyArn: arn, PolicyDocument: doc("iam:*"), SetAsDefault: &no}))
	bnd, err := svc.CreatePolicy(ctx, &iamapi.CreatePolicyRequest{PolicyName: "Boundary", PolicyDocument: doc("*")})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t)(svc.CreateGroup(ctx, &iamapi.CreateGroupRequest{GroupName: "devs", Path: "/eng/"}))
	mustOK(t)(svc.PutGroupPolicy(ctx, &iamapi.PutGroupPolicyRequest{GroupName: "devs", PolicyName: "inline", PolicyDocument: doc("sts:*")}))
	mustOK(t)(svc.AttachGroupPolicy(ctx, &iamapi.AttachGroupPolicyRequest{GroupName: "devs", PolicyArn: arn}))
	mustOK(t)(svc.AttachGroupPolicy(ctx, &iamapi.AttachGroupPolicyRequest{GroupName: "devs", PolicyArn: "arn:aws:iam::aws:policy/ReadOnlyAccess"}))
	mustOK(t)(svc.CreateUser(ctx, &iamapi.CreateUserRequest{UserName: "alice", Path: "/eng/", PermissionsBoundary: bnd.Policy.Arn,
		Tags: []iamapi.Tag{{Key: "team", Value: "core"}}}))
	mustOK(t)(svc.PutUserPolicy(ctx, &iamapi.PutUserPolicyRequest{UserName: "alice", PolicyName: "mine", PolicyDocument: doc("iam:GetUser")}))
	mustOK(t)(svc.AttachUserPolicy(ctx, &iamapi.AttachUserPolicyRequest{UserName: "alice", PolicyArn: arn}))
	mustOK(t)(svc.AddUserToGroup(ctx, &iamapi.AddUserToGroupRequest{GroupName: "devs", UserName: "alice"}))
	mustOK(t)(svc.CreateAccessKey(ctx, &iamapi.CreateAccessKeyRequest{UserName: "alice"}))
	mustOK(t)(svc.CreateUser(ctx, &iamapi.CreateUserRequest{UserName: "bob"}))
	msd := int32(7200)
	mustOK(t)(svc.CreateRole(ctx, &iamapi.CreateRoleRequest{RoleName: "web", AssumeRolePolicyDocument: trust, Description: "web servers",
		MaxSessionDuration: &msd, PermissionsBoundary: bnd.Policy.Arn, Tags: []iamapi.Tag{{Key: "tier", Value: "front"}}}))
	mustOK(t)(svc.PutRolePolicy(ctx, &iamapi.PutRolePolicyRequest{RoleName: "web", PolicyName: "s3", PolicyDocument: doc("s3:*")}))
	mustOK(t)(svc.AttachRolePolicy(ctx, &iamapi.AttachRolePolicyRequest{RoleName: "web", PolicyArn: arn}))
	mustOK(t)(svc.CreateInstanceProfile(ctx, &iamapi.CreateInstanceProfileRequest{InstanceProfileName: "web-ip", Tags: []iamapi.Tag{{Key: "k", Value: "v"}}}))
	mustOK(t)(svc.AddRoleToInstanceProfile(ctx, &iamapi.AddRoleToInstanceProfileRequest{InstanceProfileName: "web-ip", RoleName: "web"}))
}

// mustOK adapts a (response, error) pair to a fatal check.
func mustOK(t *testing.T) func(any, error) {
	return func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// normalise removes what an import cannot keep (IDs, dates, the account
// in ARNs, usage counts) so that two exports can be compared.
func normalise(t *testing.T, raw, account string) string {
	t.Helper()
	var d authdetails.Details
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		t.Fatal(err)
	}
	for i := range d.UserDetailList {
		u := &d.UserDetailList[i]
		u.UserID, u.CreateDate = "", time.Time{}
	}
	for i := range d.GroupDetailList {
		g := &d.GroupDetailList[i]
		g.GroupID, g.CreateDate = "", time.Time{}
	}
	for i := range d.RoleDetailList {
		r := &d.RoleDetailList[i]
		r.RoleID, r.CreateDate, r.RoleLastUsed = "", time.Time{}, nil
		for j := range r.InstanceProfileList {
			p := &r.InstanceProfileList[j]
			p.InstanceProfileID, p.CreateDate = "", time.Time{}
			for k := range p.Roles {
				p.Roles[k].RoleID, p.Roles[k].CreateDate = "", time.Time{}
			}
		}
	}
	for i := range d.Policies {
		p := &d.Policies[i]
		p.PolicyID, p.CreateDate, p.UpdateDate = "", time.Time{}, time.Time{}
		for j := range p.PolicyVersionList {
			p.PolicyVersionList[j].CreateDate = time.Time{}
		}
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), ":"+account+":", ":ACCOUNT:")
}

// TestAccountExportImport exports an account, imports it into a new one
// and expects the new account's export to match.
func TestAccountExportImport(t *testing.T) {
	dir := t.TempDir()
	populate(t, dir)
	code, exported, stderr := runCLI(t, nil, "account", "export", "--account", acctA, "--data", dir)
	if code != 0 {
		t.Fatalf("export: %s", stderr)
	}
	for _, want := range []string{`"UserDetailList"`, `"PolicyVersionList"`, `"team"`, `"arn:aws:iam::aws:policy/ReadOnlyAccess"`, `"PermissionsBoundaryArn"`, `"web-ip"`} {
		if !strings.Contains(exported, want) {
			t.Errorf("export lacks %s", want)
		}
	}
	if strings.Contains(exported, "AKIA") || strings.Contains(exported, "SecretAccessKey") {
		t.Error("export contains access keys")
	}
	// Documents are JSON objects, as the AWS CLI prints them.
	if !strings.Contains(exported, `"PolicyDocument": {`) {
		t.Error("policy documents are not JSON objects")
	}
	file := filepath.Join(t.TempDir(), "a.json")
	if err := os.WriteFile(file, []byte(exported), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLI(t, nil, "account", "import", "--account", acctB, "--data", dir, file)
	if code != 0 {
		t.Fatalf("import: %s%s", out, stderr)
	}
	if !strings.Contains(out, "account "+acctB+" created") || !strings.Contains(out, "2 policies (4 versions), 1 groups, 2 users, 1 roles, 1 instance profiles") {
		t.Errorf("import output: %s", out)
	}
	code, again, stderr := runCLI(t, nil, "account", "export", "--account", acctB, "--data", dir)
	if code != 0 {
		t.Fatalf("export B: %s", stderr)
	}
	if a, b := normalise(t, exported, acctA), normalise(t, again, acctB); a != b {
		t.Fatalf("re-export differs:\nA: %s\nB: %s", a, b)
	}
	// Importing again collides with what exists.
	code, _, stderr = runCLI(t, nil, "account", "import", "--account", acctB, "--data", dir, file)
	if code != 1 || !strings.Contains(stderr, "EntityAlreadyExists") && !strings.Contains(stderr, "already exists") {
		t.Errorf("second import: code %d, %s", code, stderr)
	}
}

// TestAccountImportValidates refuses a hand-edited file with a name the API
// would refuse.
func TestAccountImportValidates(t *testing.T) {
	dir := t.TempDir()
	// The file is not in the data directory, which must hold only iamd's.
	file := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(file, []byte(`{"UserDetailList":[{"UserName":"no spaces allowed","Path":"/","Arn":"arn:aws:iam::111111111111:user/x"}]}`), 0o600)
	code, _, stderr := runCLI(t, nil, "account", "import", "--account", acctB, "--data", dir, file)
	if code != 1 || !strings.Contains(stderr, "user no spaces allowed") || !strings.Contains(stderr, "userName") {
		t.Fatalf("code %d, %s", code, stderr)
	}
}

// TestAccountImportAWSFile imports a file as the AWS CLI prints it,
// documents as objects, from another account.
func TestAccountImportAWSFile(t *testing.T) {
	dir := t.TempDir()
	// The file is not in the data directory, which must hold only iamd's.
	file := filepath.Join(t.TempDir(), "aws.json")
	os.WriteFile(file, []byte(`{
    "UserDetailList": [{"Path": "/", "UserName": "carol", "UserId": "AIDAEXAMPLE", "Arn": "arn:aws:iam::999999999999:user/carol",
        "CreateDate": "2020-01-02T03:04:05+00:00", "GroupList": [],
        "AttachedManagedPolicies": [{"PolicyName": "p", "PolicyArn": "arn:aws:iam::999999999999:policy/p"}],
        "UserPolicyList": [{"PolicyName": "x", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}}]}],
    "GroupDetailList": [], "RoleDetailList": [],
    "Policies": [{"PolicyName": "p", "PolicyId": "ANPAEXAMPLE", "Arn": "arn:aws:iam::999999999999:policy/p", "Path": "/",
        "DefaultVersionId": "v3", "AttachmentCount": 1, "IsAttachable": true, "CreateDate": "2020-01-02T03:04:05+00:00",
        "PolicyVersionList": [
            {"Document": {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"}}, "VersionId": "v3", "IsDefaultVersion": true, "CreateDate": "2020-01-03T00:00:00+00:00"},
            {"Document": "%7B%22Version%22%3A%222012-10-17%22%7D", "VersionId": "v1", "IsDefaultVersion": false, "CreateDate": "2020-01-02T03:04:05+00:00"}
        ]}]
}`), 0o600)
	code, out, stderr := runCLI(t, nil, "account", "import", "--account", acctB, "--data", dir, file)
	// v1's document is URL-encoded text, which is not a policy: the import
	// names the policy and its version.
	if code != 1 || !strings.Contains(stderr, "policy p") {
		t.Fatalf("code %d: %s%s", code, out, stderr)
	}
	data := strings.Replace(mustRead(t, file), `"%7B%22Version%22%3A%222012-10-17%22%7D"`, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}`, 1)
	os.WriteFile(file, []byte(data), 0o600)
	dir2 := t.TempDir()
	code, out, stderr = runCLI(t, nil, "account", "import", "--account", acctB, "--data", dir2, file)
	if code != 0 {
		t.Fatalf("import: %s%s", out, stderr)
	}
	code, exported, _ := runCLI(t, nil, "account", "export", "--account", acctB, "--data", dir2)
	if code != 0 {
		t.Fatal("export failed")
	}
	var d authdetails.Details
	if err := json.Unmarshal([]byte(exported), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Policies) != 1 || d.Policies[0].DefaultVersionID != "v2" || len(d.Policies[0].PolicyVersionList) != 2 ||
		!strings.Contains(string(d.Policies[0].PolicyVersionList[0].Document), "iam:ListUsers") {
		t.Fatalf("policies = %+v", d.Policies)
	}
	if u := d.UserDetailList; len(u) != 1 || u[0].AttachedManagedPolicies[0].PolicyArn != "arn:aws:iam::"+acctB+":policy/p" || len(u[0].UserPolicyList) != 1 {
		t.Fatalf("users = %+v", u)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
