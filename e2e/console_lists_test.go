package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/chromedp/chromedp"
)

// TestConsoleListPages checks that the lists of users and policies are
// paged (100 a page) by the API's Marker, keeping the policy scope.
func TestConsoleListPages(t *testing.T) {
	b := newBrowser(t)
	e := start(t)
	ctx := context.Background()
	setRootPassword(t, e)
	c := e.rootIAM()
	for i := range 105 {
		_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(fmt.Sprintf("u%03d", i))})
		must(t, err)
	}
	b.signInRoot(e.url)
	b.do("users", chromedp.Navigate(e.url+"/console/users"), chromedp.WaitVisible(chromedp.CSS("#next-page")))
	if n := b.count("#users tbody tr"); n != 100 {
		t.Errorf("first page: %d users", n)
	}
	b.shot("users-page-1")
	b.do("users next", chromedp.Click(chromedp.CSS("#next-page")), chromedp.WaitVisible(chromedp.CSS("#users")))
	if n, next := b.count("#users tbody tr"), b.count("#next-page"); n != 5 || next != 0 {
		t.Errorf("second page: %d users, %d next links", n, next)
	}
	if got := b.text("#users tbody"); !strings.Contains(got, "u104") {
		t.Errorf("second page = %q", got)
	}
	b.do("aws policies", chromedp.Navigate(e.url+"/console/policies?scope=AWS"), chromedp.WaitVisible(chromedp.CSS("#next-page")))
	b.do("aws policies next", chromedp.Click(chromedp.CSS("#next-page")), chromedp.WaitVisible(chromedp.CSS("main table")))
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	must(t, err)
	if !strings.Contains(loc, "scope=AWS") || b.count("main table tbody tr") == 0 {
		t.Errorf("AWS policies, page 2 (%s): %d rows", loc, b.count("main table tbody tr"))
	}
	b.shot("aws-policies-page-2")
}
