package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/managedpolicies"
	"github.com/iamd/iamd/internal/server"
	"github.com/iamd/iamd/internal/store"
)

func TestReportUnused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	getenv := func(string) string { return "" }
	st, err := server.OpenState(ctx, dir, "", getenv)
	if err != nil {
		t.Fatal(err)
	}
	const acct = "111122223333"
	if _, err := server.CreateAccount(ctx, st, acct, "a@example.com", time.Now()); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	old := now.Add(-100 * 24 * time.Hour)
	allow := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:Get*","s3:GetObject"],"Resource":"*"}]}`
	active := &iam.User{Name: "active", Path: "/", ID: "AIDAACTIVE", Created: old, Inline: []iam.InlinePolicy{{Name: "p", Document: allow}}}
	idle := &iam.User{Name: "idle", Path: "/", ID: "AIDAIDLE", Created: old, Login: &iam.LoginProfile{Created: old}}
	fresh := &iam.User{Name: "fresh", Path: "/", ID: "AIDAFRESH", Created: now}
	role := &iam.Role{Name: "sleepy", Path: "/", ID: "AROASLEEPY", Created: old, TrustPolicy: `{}`}
	key := &iam.AccessKey{ID: "AKIAIDLEKEY", Account: acct, UserID: idle.ID, Status: "Active", Created: old}
	access := &iam.AccessRecord{Services: map[string]iam.ServiceAccess{"iam": {Last: now.Add(-time.Hour), Region: "us-east-1"}}}
	muts := []iam.Mutation{
		iam.Put(iam.KindUser, acct, "active", active, store.Absent),
		iam.Put(iam.KindUser, acct, "idle", idle, store.Absent),
		iam.Put(iam.KindUser, acct, "fresh", fresh, store.Absent),
		iam.Put(iam.KindRole, acct, "sleepy", role, store.Absent),
		iam.Put(iam.KindAccessKey, "", key.ID, key, store.Absent),
		iam.Put(iam.KindAccess, acct, active.ID, access, store.Any),
	}
	if err := st.Writer.Commit(ctx, muts...); err != nil {
		t.Fatal(err)
	}
	catalog, err := managedpolicies.Load()
	if err != nil {
		t.Fatal(err)
	}
	got := unusedAccess(st.View, catalog, "", acct, 90*24*time.Hour, now)
	var lines []string
	for _, f := range got {
		lines = append(lines, f.Type+" "+f.Resource+" "+f.Service)
	}
	want := []string{
		"UnusedUser arn:aws:iam::111122223333:user/idle ",
		"UnusedPassword arn:aws:iam::111122223333:user/idle ",
		"UnusedAccessKey AKIAIDLEKEY ",
		"UnusedRole arn:aws:iam::111122223333:role/sleepy ",
		"UnusedPermission arn:aws:iam::111122223333:user/active s3",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	st.Close()

	// The command reads the same records.
	var stdout, stderr strings.Builder
	if code := reportCmd(ctx, []string{"unused", "--days", "90", "--account", acct, "--data", dir, "--json"}, &stdout, &stderr, getenv); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var fs []finding
	if err := json.Unmarshal([]byte(stdout.String()), &fs); err != nil || len(fs) != len(want) {
		t.Errorf("json output %s (%v)", stdout.String(), err)
	}
	stdout.Reset()
	if code := reportCmd(ctx, []string{"unused", "--days", "90", "--data", dir}, &stdout, &stderr, getenv); code != 0 || !strings.Contains(stdout.String(), "UnusedRole") {
		t.Errorf("text output (%d): %s %s", code, stdout.String(), stderr.String())
	}
	if code := reportCmd(ctx, []string{"unused"}, &stdout, &stderr, getenv); code != 2 {
		t.Errorf("without --days: exit %d", code)
	}
}
