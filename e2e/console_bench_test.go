package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// TestConsolePageTimes measures each console page's time, from request
// to the last byte on loopback (server time with a local round trip), on
// an account of 1,000 users and 1,000 customer managed policies, signed in
// as root, and logs the median and the slowest of 20 requests. It asserts
// nothing about time; it runs only when asked:
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
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < 1000; i += 8 {
				if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(fmt.Sprintf("user%04d", i))}); err != nil {
					errs <- err
					return
				}
				if _, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(fmt.Sprintf("policy%04d", i)), PolicyDocument: aws.String(allowDoc("s3:GetObject", "iam:GetUser"))}); err != nil {
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
	_, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("user0500"), PolicyArn: aws.String("arn:aws:iam::" + e.account + ":policy/policy0500")})
	if err != nil {
		t.Fatal(err)
	}

	sc := newSigninClient(t, e.url)
	res, _ := sc.post("mode", "root", "email", consoleRootEmail, "password", consoleRootPassword)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("root sign-in: %s", res.Status)
	}
	pol := url.QueryEscape("arn:aws:iam::" + e.account + ":policy/policy0500")
	for _, page := range []string{
		"/console/", "/console/users", "/console/users/user0500", "/console/users/user0500/permissions",
		"/console/users/user0500/access-advisor", "/console/groups", "/console/roles", "/console/policies",
		"/console/policies?scope=AWS", "/console/policy?arn=" + pol, "/console/policy/access-advisor?arn=" + pol,
		"/console/events", "/console/credential-report",
	} {
		var times []time.Duration
		for range 20 {
			start := time.Now()
			res, err := sc.c.Get(e.url + page)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			times = append(times, time.Since(start))
			if res.StatusCode != http.StatusOK {
				t.Fatalf("%s: %s", page, res.Status)
			}
		}
		slices.Sort(times)
		t.Logf("%-48s median %7.1f ms   max %7.1f ms", page, ms(times[len(times)/2]), ms(times[len(times)-1]))
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
