package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// TestConsolePageTimes measures each console page's time, from request
// to the last byte on loopback (server time with a local round trip), on
// an account of 1,000 users, 1,000 customer managed policies, 100 groups
// (one of them with 100 members) and 100 roles, signed in as root, and
// logs the median and the slowest of 20 requests. It asserts nothing
// about time; it runs only when asked:
//
//	IAMD_CONSOLE_TIMES=1 go test -count=1 -v -run TestConsolePageTimes ./e2e/
func TestConsolePageTimes(t *testing.T) {
	if os.Getenv("IAMD_CONSOLE_TIMES") == "" {
		t.Skip("set IAMD_CONSOLE_TIMES=1 to measure the console's pages")
	}
	e := start(t)
	ctx := context.Background()
	setRootPassword(t, e)
	c := e.rootIAM()
	setupStart := time.Now()
	trust := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + e.account + `:root"},"Action":"sts:AssumeRole"}}`
	parallel := func(n int, each func(i int) error) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += 8 {
					if err := each(i); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	parallel(1000, func(i int) error {
		if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(fmt.Sprintf("user%04d", i))}); err != nil {
			return err
		}
		_, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(fmt.Sprintf("policy%04d", i)), PolicyDocument: aws.String(allowDoc("s3:GetObject", "iam:GetUser"))})
		return err
	})
	parallel(100, func(i int) error {
		if _, err := c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String(fmt.Sprintf("group%03d", i))}); err != nil {
			return err
		}
		_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(fmt.Sprintf("role%03d", i)), AssumeRolePolicyDocument: aws.String(trust)})
		return err
	})
	// group050 has 100 members (user0450 to user0549) and a policy;
	// role050 a managed and an inline policy.
	parallel(100, func(i int) error {
		_, err := c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("group050"), UserName: aws.String(fmt.Sprintf("user%04d", 450+i))})
		return err
	})
	pol := "arn:aws:iam::" + e.account + ":policy/policy0500"
	_, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("user0500"), PolicyArn: aws.String(pol)})
	must(t, err)
	_, err = c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("group050"), PolicyArn: aws.String("arn:aws:iam::" + e.account + ":policy/policy0050")})
	must(t, err)
	_, err = c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("role050"), PolicyArn: aws.String(pol)})
	must(t, err)
	_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("role050"), PolicyName: aws.String("ListUsers"), PolicyDocument: aws.String(allowDoc("iam:ListUsers"))})
	must(t, err)
	// The credential report covers every user.
	eventually(t, 30*time.Second, func() error {
		out, err := c.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		if err != nil {
			return err
		}
		if out.State != types.ReportStateTypeComplete {
			return fmt.Errorf("credential report %s", out.State)
		}
		return nil
	})
	t.Logf("setup: %d users, %d policies, %d groups, %d roles in %.1f s", 1000, 1000, 100, 100, time.Since(setupStart).Seconds())

	sc := newSigninClient(t, e.url)
	res, _ := sc.post("mode", "root", "email", consoleRootEmail, "password", consoleRootPassword)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("root sign-in: %s", res.Status)
	}
	qpol := url.QueryEscape(pol)
	service, action := "&service=s3&effect=Allow", "&action="+url.QueryEscape("s3:GetObject")
	for _, page := range []struct{ name, path, want string }{
		{"dashboard", "/console/", `id="tile-root-mfa"`},
		{"users", "/console/users", `id="users"`},
		{"a user", "/console/users/user0500", "user0500"},
		{"a user's permissions", "/console/users/user0500/permissions", `id="summary-Allow"`},
		{"  its service summary (s3)", "/console/users/user0500/permissions?service=s3&effect=Allow", `id="service-summary"`},
		{"  its action summary (s3:GetObject)", "/console/users/user0500/permissions?service=s3&effect=Allow" + action, `id="action-summary"`},
		{"a user's Access Advisor", "/console/users/user0500/access-advisor", "Access Advisor"},
		{"groups", "/console/groups", `id="groups"`},
		{"a group (100 members)", "/console/groups/group050", "user0549"},
		{"a group's permissions", "/console/groups/group050/permissions", `id="summary-Allow"`},
		{"roles", "/console/roles", `id="roles"`},
		{"a role", "/console/roles/role050", "Trust relationships"},
		{"a role's permissions", "/console/roles/role050/permissions", `id="summary-Allow"`},
		{"  its service summary (iam)", "/console/roles/role050/permissions?service=iam&effect=Allow", `id="service-summary"`},
		{"  its action summary (iam:GetUser)", "/console/roles/role050/permissions?service=iam&effect=Allow&action=" + url.QueryEscape("iam:GetUser"), `id="action-summary"`},
		{"policies, local", "/console/policies", "policy0099"},
		{"policies, AWS", "/console/policies?scope=AWS", "AdministratorAccess"},
		{"a policy", "/console/policy?arn=" + qpol, `id="summary-Allow"`},
		{"  its service summary (s3)", "/console/policy?arn=" + qpol + service, `id="service-summary"`},
		{"  its action summary (s3:GetObject)", "/console/policy?arn=" + qpol + service + action, `id="action-summary"`},
		{"a policy's Access Advisor", "/console/policy/access-advisor?arn=" + qpol, "Access Advisor"},
		{"event history", "/console/events", "Event history"},
		{"credential report", "/console/credential-report", "user0999"},
	} {
		var times []time.Duration
		for i := range 20 {
			start := time.Now()
			res, err := sc.c.Get(e.url + page.path)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			times = append(times, time.Since(start))
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != http.StatusOK {
				t.Fatalf("%s: %s", page.path, res.Status)
			}
			if i == 0 && !strings.Contains(string(body), page.want) {
				t.Fatalf("%s is not the page to measure: no %q in\n%.3000s", page.path, page.want, body)
			}
		}
		slices.Sort(times)
		t.Logf("%-36s median %6.1f ms   max %6.1f ms   %s", page.name, ms(times[len(times)/2]), ms(times[len(times)-1]), page.path)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
