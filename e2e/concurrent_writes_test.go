package e2e

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/iamd/iamd/internal/server"
)

// TestConcurrentMixedWrites: up to 64 workers write at once on their own users
// and roles, sharing managed policies and groups (as Terraform does at
// -parallelism 10 and more). Operations on different entities must never
// conflict: every call succeeds, and the final state equals the
// sequential result.
func TestConcurrentMixedWrites(t *testing.T) {
	for _, workers := range []int{1, 8, 64} {
		t.Run(fmt.Sprintf("sqlite/%d", workers), func(t *testing.T) { mixedWrites(t, start(t), workers) })
		t.Run(fmt.Sprintf("postgres/%d", workers), func(t *testing.T) {
			dsn := postgresSchema(t)
			mixedWrites(t, startWith(t, func(c *server.Config) { c.StoreURL = dsn }), workers)
		})
	}
}

func mixedWrites(t *testing.T, e *env, workers int) {
	ctx := context.Background()
	c := e.rootIAM()
	const shared = 3
	policyARN := make([]string, shared)
	for i := range shared {
		out, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(fmt.Sprintf("shared-%d", i)),
			PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)})
		must(t, err)
		policyARN[i] = aws.ToString(out.Policy.Arn)
		_, err = c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String(fmt.Sprintf("team-%d", i))})
		must(t, err)
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	start := time.Now()
	calls := 0
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user, role, temp := fmt.Sprintf("u-%d", w), fmt.Sprintf("r-%d", w), fmt.Sprintf("tmp-%d", w)
			p, q := policyARN[w%shared], policyARN[(w+1)%shared]
			g, h := fmt.Sprintf("team-%d", w%shared), fmt.Sprintf("team-%d", (w+1)%shared)
			steps := []func() error{
				func() error { _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: &user}); return err },
				func() error {
					_, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: &user, PolicyArn: &p})
					return err
				},
				func() error {
					_, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: &user, PolicyArn: &q})
					return err
				},
				func() error {
					_, err := c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{UserName: &user, GroupName: &g})
					return err
				},
				func() error {
					_, err := c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{UserName: &user, GroupName: &h})
					return err
				},
				func() error {
					_, err := c.TagUser(ctx, &iam.TagUserInput{UserName: &user, Tags: []types.Tag{{Key: aws.String("worker"), Value: aws.String(user)}}})
					return err
				},
				func() error {
					_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: &role, AssumeRolePolicyDocument: &trust})
					return err
				},
				func() error {
					_, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: &role, PolicyArn: &q})
					return err
				},
				func() error {
					_, err := c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: &user, PolicyArn: &q})
					return err
				},
				func() error {
					_, err := c.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{UserName: &user, GroupName: &h})
					return err
				},
				func() error { _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: &temp}); return err },
				func() error {
					_, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: &temp, PolicyArn: &p})
					return err
				},
				func() error {
					_, err := c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: &temp, PolicyArn: &p})
					return err
				},
				func() error { _, err := c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: &temp}); return err },
			}
			for i, step := range steps {
				if err := step(); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("worker %d step %d: %w", w, i, err))
					mu.Unlock()
				}
			}
			mu.Lock()
			calls += len(steps)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("%d workers: %d writes in %v (%.0f/s)", workers, calls, elapsed, float64(calls)/elapsed.Seconds())
	for i, err := range errs {
		if i == 10 {
			t.Errorf("... and %d more", len(errs)-10)
			break
		}
		t.Error(err)
	}

	// The sequential result: policy i is attached to the users of workers
	// w%3 == i and the roles of workers (w+1)%3 == i; group i holds the
	// users of workers w%3 == i.
	wantAttach := make([]int32, shared)
	wantMembers := make([][]string, shared)
	for w := range workers {
		wantAttach[w%shared]++
		wantAttach[(w+1)%shared]++
		wantMembers[w%shared] = append(wantMembers[w%shared], fmt.Sprintf("u-%d", w))
	}
	for i := range shared {
		out, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: &policyARN[i]})
		must(t, err)
		if got := aws.ToInt32(out.Policy.AttachmentCount); got != wantAttach[i] {
			t.Errorf("policy shared-%d: AttachmentCount %d, want %d", i, got, wantAttach[i])
		}
		var members []string
		pg := iam.NewGetGroupPaginator(c, &iam.GetGroupInput{GroupName: aws.String(fmt.Sprintf("team-%d", i))})
		for pg.HasMorePages() {
			page, err := pg.NextPage(ctx)
			must(t, err)
			for _, u := range page.Users {
				members = append(members, aws.ToString(u.UserName))
			}
		}
		sort.Strings(members)
		sort.Strings(wantMembers[i])
		if fmt.Sprint(members) != fmt.Sprint(wantMembers[i]) {
			t.Errorf("group team-%d: %d members, want %d", i, len(members), len(wantMembers[i]))
		}
	}
}
