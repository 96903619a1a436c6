package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

var accessKeyIDPattern = regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`)

// newUserWithKey creates a user with an inline policy allowing actions on
// itself and returns its access key.
func newUserWithKey(t *testing.T, e *env, name string, actions ...string) aws.Credentials {
	t.Helper()
	ctx := context.Background()
	c := e.rootIAM()
	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)})
	must(t, err)
	if len(actions) > 0 {
		doc, _ := json.Marshal(map[string]any{
			"Version": "2012-10-17",
			"Statement": []map[string]any{{
				"Effect": "Allow", "Action": actions,
				"Resource": "arn:aws:iam::" + e.account + ":user/" + name,
			}},
		})
		_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{
			UserName: aws.String(name), PolicyName: aws.String("self"), PolicyDocument: aws.String(string(doc)),
		})
		must(t, err)
	}
	out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	must(t, err)
	return aws.Credentials{AccessKeyID: aws.ToString(out.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(out.AccessKey.SecretAccessKey)}
}

func TestAccessKeyLifecycle(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	_, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("kim")})
	must(t, err)
	_, err = root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{
		UserName: aws.String("kim"), PolicyName: aws.String("self"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::123456789012:user/kim"}]}`),
	})
	must(t, err)

	created, err := root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("kim")})
	must(t, err)
	k := created.AccessKey
	if !accessKeyIDPattern.MatchString(aws.ToString(k.AccessKeyId)) {
		t.Errorf("AccessKeyId = %q", aws.ToString(k.AccessKeyId))
	}
	if len(aws.ToString(k.SecretAccessKey)) != 40 || k.Status != types.StatusTypeActive || aws.ToString(k.UserName) != "kim" || k.CreateDate == nil {
		t.Errorf("AccessKey = %+v", k)
	}
	creds := aws.Credentials{AccessKeyID: aws.ToString(k.AccessKeyId), SecretAccessKey: aws.ToString(k.SecretAccessKey)}
	kim := e.iam(creds)

	// The key signs requests at once; GetUser without a name is the caller.
	id, err := e.sts(creds).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(t, err)
	if aws.ToString(id.Arn) != "arn:aws:iam::123456789012:user/kim" {
		t.Errorf("caller = %s", aws.ToString(id.Arn))
	}
	me, err := kim.GetUser(ctx, &iam.GetUserInput{})
	must(t, err)
	if aws.ToString(me.User.UserName) != "kim" {
		t.Errorf("GetUser() = %s", aws.ToString(me.User.UserName))
	}
	// No permission to list keys: authorization comes first.
	_, err = kim.ListAccessKeys(ctx, &iam.ListAccessKeysInput{})
	wantCode(t, err, "AccessDenied")

	list, err := root.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("kim")})
	must(t, err)
	if len(list.AccessKeyMetadata) != 1 || aws.ToString(list.AccessKeyMetadata[0].AccessKeyId) != creds.AccessKeyID ||
		aws.ToString(list.AccessKeyMetadata[0].UserName) != "kim" || list.AccessKeyMetadata[0].Status != types.StatusTypeActive {
		t.Errorf("ListAccessKeys = %+v", list.AccessKeyMetadata)
	}

	// Deactivation takes effect on the next request.
	_, err = root.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("kim"), AccessKeyId: aws.String(creds.AccessKeyID), Status: types.StatusTypeInactive})
	must(t, err)
	_, err = kim.GetUser(ctx, &iam.GetUserInput{})
	wantCode(t, err, "InvalidClientTokenId")
	_, err = e.sts(creds).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "InvalidClientTokenId")
	list, err = root.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("kim")})
	must(t, err)
	if list.AccessKeyMetadata[0].Status != types.StatusTypeInactive {
		t.Errorf("status after deactivation = %s", list.AccessKeyMetadata[0].Status)
	}
	_, err = root.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("kim"), AccessKeyId: aws.String(creds.AccessKeyID), Status: types.StatusTypeActive})
	must(t, err)
	_, err = kim.GetUser(ctx, &iam.GetUserInput{})
	must(t, err)

	// Two keys at most.
	second, err := root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("kim")})
	must(t, err)
	_, err = root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("kim")})
	wantCode(t, err, "LimitExceeded")
	wantAWSMessage(t, err, "Cannot exceed quota for AccessKeysPerUser: 2")

	// Last use: the first key was used, the second never.
	used, err := root.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(creds.AccessKeyID)})
	must(t, err)
	lu := used.AccessKeyLastUsed
	if aws.ToString(used.UserName) != "kim" || lu == nil || lu.LastUsedDate == nil || aws.ToString(lu.ServiceName) != "iam" || aws.ToString(lu.Region) != "us-east-1" {
		t.Errorf("GetAccessKeyLastUsed(used) = %+v %+v", used, lu)
	} else if d := time.Since(*lu.LastUsedDate); d < -time.Minute || d > time.Minute {
		t.Errorf("LastUsedDate = %v", lu.LastUsedDate)
	}
	unused, err := root.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: second.AccessKey.AccessKeyId})
	must(t, err)
	lu = unused.AccessKeyLastUsed
	if lu == nil || lu.LastUsedDate != nil || aws.ToString(lu.ServiceName) != "N/A" || aws.ToString(lu.Region) != "N/A" {
		t.Errorf("GetAccessKeyLastUsed(unused) = %+v", lu)
	}

	// A user with keys cannot be deleted.
	_, err = root.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("kim")})
	wantCode(t, err, "DeleteConflict")

	// Deleting a key ends it at once.
	_, err = root.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("kim"), AccessKeyId: aws.String(creds.AccessKeyID)})
	must(t, err)
	_, err = kim.GetUser(ctx, &iam.GetUserInput{})
	wantCode(t, err, "InvalidClientTokenId")
	_, err = root.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("kim"), AccessKeyId: aws.String(creds.AccessKeyID)})
	wantCode(t, err, "NoSuchEntity")
	wantAWSMessage(t, err, "The Access Key with id "+creds.AccessKeyID+" cannot be found.")
	_, err = root.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(creds.AccessKeyID)})
	wantCode(t, err, "NoSuchEntity")
}

func TestAccessKeyErrors(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	ann := newUserWithKey(t, e, "ann")
	_, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")})
	must(t, err)
	annKey := aws.String(ann.AccessKeyID)

	tests := []struct {
		name string
		call func() error
		code string
		msg  string
	}{
		{"update key of another user", func() error {
			_, err := root.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: annKey, Status: types.StatusTypeInactive})
			return err
		}, "NoSuchEntity", "The Access Key with id " + ann.AccessKeyID + " cannot be found."},
		{"delete key of another user", func() error {
			_, err := root.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: annKey})
			return err
		}, "NoSuchEntity", ""},
		{"root's own keys do not include a user's", func() error {
			_, err := root.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{AccessKeyId: annKey})
			return err
		}, "NoSuchEntity", ""},
		{"unknown user", func() error {
			_, err := root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("nobody")})
			return err
		}, "NoSuchEntity", "The user with name nobody cannot be found."},
		{"list for unknown user", func() error {
			_, err := root.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("nobody")})
			return err
		}, "NoSuchEntity", ""},
		{"unknown key last used", func() error {
			_, err := root.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String("AKIAAAAAAAAAAAAAAAAA")})
			return err
		}, "NoSuchEntity", "The Access Key with id AKIAAAAAAAAAAAAAAAAA cannot be found."},
		{"bad status", func() error {
			_, err := root.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("ann"), AccessKeyId: annKey, Status: "Paused"})
			return err
		}, "ValidationError", ""},
		{"user without permission on another user's key", func() error {
			_, err := e.iam(ann).GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(rootKeyID)})
			return err
		}, "AccessDenied", ""},
		{"user without permission to create keys", func() error {
			_, err := e.iam(ann).CreateAccessKey(ctx, &iam.CreateAccessKeyInput{})
			return err
		}, "AccessDenied", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			wantCode(t, err, tc.code)
			if tc.msg != "" {
				wantAWSMessage(t, err, tc.msg)
			}
		})
	}
}

func TestAccessKeySelfService(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	creds := newUserWithKey(t, e, "sam", "iam:CreateAccessKey", "iam:ListAccessKeys", "iam:UpdateAccessKey", "iam:DeleteAccessKey", "iam:GetAccessKeyLastUsed")
	sam := e.iam(creds)

	// Without UserName the operations act on the calling user.
	out, err := sam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{})
	must(t, err)
	if aws.ToString(out.AccessKey.UserName) != "sam" {
		t.Errorf("UserName = %s", aws.ToString(out.AccessKey.UserName))
	}
	list, err := sam.ListAccessKeys(ctx, &iam.ListAccessKeysInput{MaxItems: aws.Int32(1)})
	must(t, err)
	if len(list.AccessKeyMetadata) != 1 || !list.IsTruncated || aws.ToString(list.AccessKeyMetadata[0].AccessKeyId) != creds.AccessKeyID {
		t.Fatalf("page 1 = %+v truncated=%v", list.AccessKeyMetadata, list.IsTruncated)
	}
	list, err = sam.ListAccessKeys(ctx, &iam.ListAccessKeysInput{MaxItems: aws.Int32(1), Marker: list.Marker})
	must(t, err)
	if len(list.AccessKeyMetadata) != 1 || list.IsTruncated || aws.ToString(list.AccessKeyMetadata[0].AccessKeyId) != aws.ToString(out.AccessKey.AccessKeyId) {
		t.Fatalf("page 2 = %+v truncated=%v", list.AccessKeyMetadata, list.IsTruncated)
	}
	last, err := sam.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(creds.AccessKeyID)})
	must(t, err)
	if aws.ToString(last.UserName) != "sam" || last.AccessKeyLastUsed.LastUsedDate == nil {
		t.Errorf("GetAccessKeyLastUsed = %+v", last.AccessKeyLastUsed)
	}
	// A user may delete the very key it signs with.
	_, err = sam.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{AccessKeyId: aws.String(creds.AccessKeyID)})
	must(t, err)
	_, err = sam.ListAccessKeys(ctx, &iam.ListAccessKeysInput{})
	wantCode(t, err, "InvalidClientTokenId")
}

func TestRootAccessKeys(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	list, err := root.ListAccessKeys(ctx, &iam.ListAccessKeysInput{})
	must(t, err)
	if len(list.AccessKeyMetadata) != 1 || aws.ToString(list.AccessKeyMetadata[0].AccessKeyId) != rootKeyID {
		t.Fatalf("root keys = %+v", list.AccessKeyMetadata)
	}
	out, err := root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{})
	must(t, err)
	_, err = root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{})
	wantCode(t, err, "LimitExceeded")
	second := aws.Credentials{AccessKeyID: aws.ToString(out.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(out.AccessKey.SecretAccessKey)}
	id, err := e.sts(second).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(t, err)
	if aws.ToString(id.Arn) != "arn:aws:iam::123456789012:root" {
		t.Errorf("caller = %s", aws.ToString(id.Arn))
	}
	last, err := root.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(rootKeyID)})
	must(t, err)
	if last.AccessKeyLastUsed.LastUsedDate == nil {
		t.Errorf("root key last used = %+v", last.AccessKeyLastUsed)
	}
	_, err = e.iam(second).DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{AccessKeyId: aws.String(second.AccessKeyID)})
	must(t, err)
	_, err = e.sts(second).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "InvalidClientTokenId")
}

// TestAccessKeyLimitConcurrent races key creations for one user: the
// compare-and-swap on the user record lets exactly two through.
func TestAccessKeyLimitConcurrent(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	_, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("race")})
	must(t, err)
	const n = 6
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		ok     int
		others []error
	)
	for range n {
		wg.Go(func() {
			_, err := root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("race")})
			mu.Lock()
			defer mu.Unlock()
			switch code := errCode(err); {
			case err == nil:
				ok++
			case code == "LimitExceeded" || code == "ConcurrentModification":
			default:
				others = append(others, err)
			}
		})
	}
	wg.Wait()
	if ok != 2 || len(others) > 0 {
		t.Fatalf("%d creations succeeded (want 2); unexpected errors: %v", ok, others)
	}
	list, err := root.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("race")})
	must(t, err)
	if len(list.AccessKeyMetadata) != 2 {
		t.Fatalf("keys = %d", len(list.AccessKeyMetadata))
	}
}

func TestAccessKeysCLI(t *testing.T) {
	e := start(t)
	_, err := e.cli(e.root, "iam", "create-user", "--user-name", "cli-user")
	must(t, err)
	out, err := e.cli(e.root, "iam", "create-access-key", "--user-name", "cli-user")
	must(t, err)
	var created struct {
		AccessKey struct{ UserName, AccessKeyId, Status, SecretAccessKey, CreateDate string }
	}
	must(t, json.Unmarshal([]byte(out), &created))
	k := created.AccessKey
	if k.UserName != "cli-user" || !accessKeyIDPattern.MatchString(k.AccessKeyId) || k.Status != "Active" || len(k.SecretAccessKey) != 40 || k.CreateDate == "" {
		t.Fatalf("create-access-key = %s", out)
	}
	user := aws.Credentials{AccessKeyID: k.AccessKeyId, SecretAccessKey: k.SecretAccessKey}
	out, err = e.cli(user, "sts", "get-caller-identity")
	must(t, err)
	if !strings.Contains(out, "user/cli-user") {
		t.Errorf("get-caller-identity = %s", out)
	}
	out, err = e.cli(e.root, "iam", "list-access-keys", "--user-name", "cli-user")
	must(t, err)
	if !strings.Contains(out, k.AccessKeyId) || strings.Contains(out, k.SecretAccessKey) {
		t.Errorf("list-access-keys = %s", out)
	}
	_, err = e.cli(e.root, "iam", "update-access-key", "--user-name", "cli-user", "--access-key-id", k.AccessKeyId, "--status", "Inactive")
	must(t, err)
	_, err = e.cli(user, "sts", "get-caller-identity")
	if err == nil || !strings.Contains(err.Error(), "InvalidClientTokenId") {
		t.Errorf("inactive key: err = %v", err)
	}
	out, err = e.cli(e.root, "iam", "get-access-key-last-used", "--access-key-id", k.AccessKeyId)
	must(t, err)
	var last struct {
		UserName          string
		AccessKeyLastUsed struct{ LastUsedDate, ServiceName, Region string }
	}
	must(t, json.Unmarshal([]byte(out), &last))
	if last.UserName != "cli-user" || last.AccessKeyLastUsed.ServiceName != "sts" || last.AccessKeyLastUsed.LastUsedDate == "" {
		t.Errorf("get-access-key-last-used = %s", out)
	}
	_, err = e.cli(e.root, "iam", "delete-access-key", "--user-name", "cli-user", "--access-key-id", k.AccessKeyId)
	must(t, err)
	_, err = e.cli(e.root, "iam", "delete-access-key", "--user-name", "cli-user", "--access-key-id", k.AccessKeyId)
	if err == nil || !strings.Contains(err.Error(), "NoSuchEntity") {
		t.Errorf("second delete: err = %v", err)
	}
}

// wantAWSMessage fails the test unless err is an API error with message
// msg.
func wantAWSMessage(t *testing.T, err error, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorMessage() != msg {
		t.Fatalf("error = %v, want message %q", err, msg)
	}
}

// TestAccessKeyOtherAccount checks that one account cannot see or change
// another's keys: they look like keys that do not exist.
func TestAccessKeyOtherAccount(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	other := secondAccount(t, e, "210987654321")
	root := e.rootIAM()
	tests := []struct {
		name string
		call func() error
	}{
		{"last used", func() error {
			_, err := root.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(other.AccessKeyID)})
			return err
		}},
		{"update", func() error {
			_, err := root.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{AccessKeyId: aws.String(other.AccessKeyID), Status: types.StatusTypeInactive})
			return err
		}},
		{"delete", func() error {
			_, err := root.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{AccessKeyId: aws.String(other.AccessKeyID)})
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			wantCode(t, err, "NoSuchEntity")
			wantAWSMessage(t, err, "The Access Key with id "+other.AccessKeyID+" cannot be found.")
		})
	}
	id, err := e.sts(other).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(t, err)
	if aws.ToString(id.Account) != "210987654321" {
		t.Errorf("other account's key: caller %s", aws.ToString(id.Arn))
	}
}
