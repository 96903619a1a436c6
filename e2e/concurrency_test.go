package e2e

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// TestConcurrentCreateSameName races many CreateUser calls for one name:
// exactly one may succeed, every other gets EntityAlreadyExists.
func TestConcurrentCreateSameName(t *testing.T) {
	e := start(t)
	c := e.rootIAM()
	const n = 16
	for round := range 3 {
		name := []string{"racer", "Racer2", "RACER3"}[round]
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			ok, dupe int
			other    []error
		)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := c.CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String(name)})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errCode(err) == "EntityAlreadyExists":
					dupe++
				default:
					other = append(other, err)
				}
			}()
		}
		wg.Wait()
		if ok != 1 || dupe != n-1 || len(other) > 0 {
			t.Fatalf("%s: %d succeeded, %d EntityAlreadyExists, other errors %v", name, ok, dupe, other)
		}
	}
	list, err := c.ListUsers(context.Background(), &iam.ListUsersInput{})
	must(t, err)
	if len(list.Users) != 3 {
		t.Errorf("users = %d, want 3", len(list.Users))
	}
}
