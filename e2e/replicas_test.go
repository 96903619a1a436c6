package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/iamd/iamd/internal/secrets"
	"github.com/iamd/iamd/internal/server"
	"github.com/iamd/iamd/internal/store/postgres/pgtest"
)

// propagation bounds how long a test waits for a change made through one
// replica to take effect on another. It is a liveness bound, generous so
// that a loaded machine does not fail the test; the propagation latency
// itself (well under a second) is measured and logged, and benchmarked in
// docs/benchmarks-scale.md, not asserted.
const propagation = 10 * time.Second

// postgresSchema creates a schema of its own for one test, drops it when the
// test ends, and returns a DSN whose search_path selects it.
func postgresSchema(tb testing.TB) string {
	tb.Helper()
	return pgtest.Schema(tb, "iamd_e2e_")
}

// newMasterKey returns a fresh master key in IAMD_MASTER_KEY's format.
func newMasterKey() string {
	k := make([]byte, secrets.KeySize)
	rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// startReplica runs an iamd on storeURL with its own data directory. Every
// replica of a deployment shares the master key and the bootstrap account.
// followInterval is long so that only the store's notifications can make a
// change visible within propagation.
func startReplica(t *testing.T, storeURL, masterKey string) *env {
	t.Helper()
	vars := map[string]string{
		server.EnvAccountID:     testAccount,
		server.EnvRootAccessKey: rootKeyID,
		server.EnvRootSecretKey: rootSecretKey,
		secrets.EnvMasterKey:    masterKey,
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, server.Config{
		DataDir:        t.TempDir(),
		StoreURL:       storeURL,
		Getenv:         func(k string) string { return vars[k] },
		FollowInterval: time.Minute,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		srv.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	return &env{
		t: t, url: "http://" + ln.Addr().String(), srv: srv, account: testAccount,
		root: aws.Credentials{AccessKeyID: rootKeyID, SecretAccessKey: rootSecretKey},
	}
}

// twoReplicas starts two replicas on one fresh PostgreSQL schema.
func twoReplicas(t *testing.T) (a, b *env) {
	t.Helper()
	dsn := postgresSchema(t)
	key := newMasterKey()
	return startReplica(t, dsn, key), startReplica(t, dsn, key)
}

// within polls check until it succeeds, failing the test if that takes
// longer than d. It returns how long it took.
func within(t *testing.T, d time.Duration, what string, check func() error) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(d)
	for {
		err := check()
		if err == nil {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not observed on the other replica within %s: %v", what, d, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wantErrCode returns nil if err is an API error with code, else an error
// describing what happened instead.
func wantErrCode(err error, code string) error {
	if got := errCode(err); got != code {
		return fmt.Errorf("got %v (code %q), want %s", err, got, code)
	}
	return nil
}

// TestReplicasPropagate writes through one replica and observes each change
// through the other with the SDK, within a second.
func TestReplicasPropagate(t *testing.T) {
	a, b := twoReplicas(t)
	ctx := context.Background()
	ra := a.rootIAM()
	rb := b.rootIAM()
	// Root's key, created by the first replica's bootstrap, opens on the
	// second: the master key is shared.
	_, err := rb.ListUsers(ctx, &iam.ListUsersInput{})
	must(t, err)

	// A user with one key, allowed GetUser on itself by an inline policy and
	// ListUsers by an attached managed policy.
	creds := newUserWithKey(t, a, "alice", "iam:GetUser")
	pol, err := ra.CreatePolicy(ctx, &iam.CreatePolicyInput{
		PolicyName: aws.String("list"), PolicyDocument: aws.String(allowDoc("iam:ListUsers")),
	})
	must(t, err)
	_, err = ra.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: pol.Policy.Arn})
	must(t, err)
	ub := b.iam(creds)
	getSelf := func() error {
		_, err := ub.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})
		return err
	}
	within(t, propagation, "new user, key and policies", func() error {
		if err := getSelf(); err != nil {
			return err
		}
		_, err := ub.ListUsers(ctx, &iam.ListUsersInput{})
		return err
	})

	tests := []struct {
		name    string
		write   func(t *testing.T)
		observe func() error
	}{
		{
			name: "new user is visible",
			write: func(t *testing.T) {
				_, err := ra.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob"), Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("x")}}})
				must(t, err)
			},
			observe: func() error {
				out, err := rb.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("bob")})
				if err != nil {
					return err
				}
				if len(out.User.Tags) != 1 {
					return fmt.Errorf("tags = %v", out.User.Tags)
				}
				return nil
			},
		},
		{
			name: "detached policy stops granting",
			write: func(t *testing.T) {
				_, err := ra.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: pol.Policy.Arn})
				must(t, err)
			},
			observe: func() error {
				_, err := ub.ListUsers(ctx, &iam.ListUsersInput{})
				return wantErrCode(err, "AccessDenied")
			},
		},
		{
			name: "new explicit deny takes effect",
			write: func(t *testing.T) {
				_, err := ra.PutUserPolicy(ctx, &iam.PutUserPolicyInput{
					UserName: aws.String("alice"), PolicyName: aws.String("deny"),
					PolicyDocument: aws.String(statementDoc("Deny", "iam:GetUser")),
				})
				must(t, err)
			},
			observe: func() error { return wantErrCode(getSelf(), "AccessDenied") },
		},
		{
			name: "removed deny lets the allow through again",
			write: func(t *testing.T) {
				_, err := ra.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("deny")})
				must(t, err)
			},
			observe: getSelf,
		},
		{
			name: "deactivated key fails",
			write: func(t *testing.T) {
				_, err := ra.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
					UserName: aws.String("alice"), AccessKeyId: aws.String(creds.AccessKeyID), Status: types.StatusTypeInactive,
				})
				must(t, err)
			},
			observe: func() error { return wantErrCode(getSelf(), "InvalidClientTokenId") },
		},
		{
			name: "reactivated key works",
			write: func(t *testing.T) {
				_, err := ra.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
					UserName: aws.String("alice"), AccessKeyId: aws.String(creds.AccessKeyID), Status: types.StatusTypeActive,
				})
				must(t, err)
			},
			observe: getSelf,
		},
		{
			name: "deleted access key stops authenticating",
			write: func(t *testing.T) {
				_, err := ra.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String(creds.AccessKeyID)})
				must(t, err)
			},
			observe: func() error { return wantErrCode(getSelf(), "InvalidClientTokenId") },
		},
		{
			name: "deleted user is gone",
			write: func(t *testing.T) {
				_, err := ra.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("bob")})
				must(t, err)
			},
			observe: func() error {
				_, err := rb.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("bob")})
				return wantErrCode(err, "NoSuchEntity")
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.write(t)
			d := within(t, propagation, tc.name, tc.observe)
			t.Logf("observed on the other replica after %s", d.Round(time.Millisecond))
		})
	}
}

// TestReplicasGroupPolicies changes what a user may do through its group's
// policies on one replica and checks the other's compiled-policy cache
// notices.
func TestReplicasGroupPolicies(t *testing.T) {
	a, b := twoReplicas(t)
	ctx := context.Background()
	ra := a.rootIAM()
	_, err := ra.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("devs")})
	must(t, err)
	creds := newUserWithKey(t, a, "carol")
	_, err = ra.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("devs"), UserName: aws.String("carol")})
	must(t, err)
	pol, err := ra.CreatePolicy(ctx, &iam.CreatePolicyInput{
		PolicyName: aws.String("list"), PolicyDocument: aws.String(allowDoc("iam:ListUsers")),
	})
	must(t, err)
	_, err = ra.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("devs"), PolicyArn: pol.Policy.Arn})
	must(t, err)
	ub := b.iam(creds)
	list := func() error { _, err := ub.ListUsers(ctx, &iam.ListUsersInput{}); return err }
	within(t, propagation, "group policy grants", list)

	steps := []struct {
		name    string
		write   func(t *testing.T)
		observe func() error
	}{
		{
			name: "new default policy version denies",
			write: func(t *testing.T) {
				_, err := ra.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{
					PolicyArn: pol.Policy.Arn, PolicyDocument: aws.String(allowDoc("iam:GetUser")), SetAsDefault: true,
				})
				must(t, err)
			},
			observe: func() error { return wantErrCode(list(), "AccessDenied") },
		},
		{
			name: "old version as default grants again",
			write: func(t *testing.T) {
				_, err := ra.SetDefaultPolicyVersion(ctx, &iam.SetDefaultPolicyVersionInput{PolicyArn: pol.Policy.Arn, VersionId: aws.String("v1")})
				must(t, err)
			},
			observe: list,
		},
		{
			name: "group inline deny",
			write: func(t *testing.T) {
				_, err := ra.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{
					GroupName: aws.String("devs"), PolicyName: aws.String("deny"), PolicyDocument: aws.String(statementDoc("Deny", "iam:*")),
				})
				must(t, err)
			},
			observe: func() error { return wantErrCode(list(), "AccessDenied") },
		},
		{
			name: "group inline deny removed",
			write: func(t *testing.T) {
				_, err := ra.DeleteGroupPolicy(ctx, &iam.DeleteGroupPolicyInput{GroupName: aws.String("devs"), PolicyName: aws.String("deny")})
				must(t, err)
			},
			observe: list,
		},
		{
			name: "removed from group",
			write: func(t *testing.T) {
				_, err := ra.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{GroupName: aws.String("devs"), UserName: aws.String("carol")})
				must(t, err)
			},
			observe: func() error { return wantErrCode(list(), "AccessDenied") },
		},
	}
	for _, tc := range steps {
		t.Run(tc.name, func(t *testing.T) {
			tc.write(t)
			d := within(t, propagation, tc.name, tc.observe)
			t.Logf("observed on the other replica after %s", d.Round(time.Millisecond))
		})
	}
}

// TestReplicasConcurrentCreate races CreateUser of one name on both
// replicas: exactly one succeeds, the other answers EntityAlreadyExists, and
// both replicas then agree on the user.
func TestReplicasConcurrentCreate(t *testing.T) {
	a, b := twoReplicas(t)
	ctx := context.Background()
	clients := []*iam.Client{a.rootIAM(), b.rootIAM()}
	const rounds, perReplica = 10, 4
	for round := range rounds {
		name := fmt.Sprintf("racer-%d", round)
		var (
			wg        sync.WaitGroup
			mu        sync.Mutex
			won, dupe int
			other     []error
		)
		for i := range 2 * perReplica {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := clients[i%2].CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errCode(err) == "EntityAlreadyExists":
					dupe++
				default:
					other = append(other, err)
				}
			}()
		}
		wg.Wait()
		if won != 1 || dupe != 2*perReplica-1 || len(other) > 0 {
			t.Fatalf("%s: %d succeeded, %d EntityAlreadyExists, other errors %v", name, won, dupe, other)
		}
		var ids [2]string
		for i, c := range clients {
			out, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(name)})
			must(t, err)
			ids[i] = aws.ToString(out.User.UserId)
		}
		if ids[0] != ids[1] {
			t.Fatalf("%s: replicas disagree on the user's ID: %s vs %s", name, ids[0], ids[1])
		}
	}
	// Both replicas list every user once.
	for i, c := range clients {
		out, err := c.ListUsers(ctx, &iam.ListUsersInput{})
		must(t, err)
		if len(out.Users) != rounds {
			t.Errorf("replica %d lists %d users, want %d", i, len(out.Users), rounds)
		}
	}
}

// TestReplicaJoinsLate starts the second replica after the first has
// written, then deletes on the second and observes on the first.
func TestReplicaJoinsLate(t *testing.T) {
	dsn := postgresSchema(t)
	key := newMasterKey()
	a := startReplica(t, dsn, key)
	ctx := context.Background()
	createUsers(t, a.rootIAM(), "u1", "u2", "u3")
	b := startReplica(t, dsn, key)
	out, err := b.rootIAM().ListUsers(ctx, &iam.ListUsersInput{})
	must(t, err)
	if len(out.Users) != 3 {
		t.Fatalf("late replica lists %d users, want 3", len(out.Users))
	}
	_, err = b.rootIAM().DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("u2")})
	must(t, err)
	within(t, propagation, "delete through the late replica", func() error {
		_, err := a.rootIAM().GetUser(ctx, &iam.GetUserInput{UserName: aws.String("u2")})
		return wantErrCode(err, "NoSuchEntity")
	})
	// A name freed on one replica can be taken again through the other.
	_, err = a.rootIAM().CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("u2")})
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("recreate u2: %v", err)
	}
	within(t, propagation, "recreated user", func() error {
		_, err := b.rootIAM().GetUser(ctx, &iam.GetUserInput{UserName: aws.String("u2")})
		return err
	})
}
