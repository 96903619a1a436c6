package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// TestConsoleCallsAudited: the IAM calls the console makes for a
// signed-in user are in the audit trail as the API's own are, as
// CloudTrail records the console's calls: by the user, with its request
// parameters, response elements and authorization decisions, a call the
// user may not make as a failed one (AccessDenied), and switching roles as
// STS's AssumeRole.
func TestConsoleCallsAudited(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	const pw = "Sup3r-Secret-Passw0rd!"
	for _, u := range []string{"dana", "eve"} {
		_, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(u)})
		must(t, err)
		_, err = root.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String(u), Password: aws.String(pw)})
		must(t, err)
	}
	_, err := root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("dana"), PolicyName: aws.String("Admin"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","sts:AssumeRole"],"Resource":"*"}]}`)})
	must(t, err)
	_, err = root.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("operator"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + e.account + `:root"},"Action":"sts:AssumeRole"}]}`)})
	must(t, err)

	createUser := func(who, name string) {
		b := newBrowserless(t)
		if res := b.signIn(e.url, e.account, who, pw); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s signs in: %d", who, res.StatusCode)
		}
		res, _ := b.post(e.url+"/console/users", url.Values{"csrf": {b.csrf(e.url + "/console/switch-role")}, "name": {name}})
		if res.StatusCode >= 500 {
			t.Fatalf("%s creates %s in the console: %d", who, name, res.StatusCode)
		}
	}
	createUser("dana", "made-in-console")
	createUser("eve", "not-allowed")
	b := newBrowserless(t)
	if res := b.signIn(e.url, e.account, "dana", pw); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("dana signs in: %d", res.StatusCode)
	}
	if res, body := b.post(e.url+"/console/switch-role", url.Values{"csrf": {b.csrf(e.url + "/console/switch-role")},
		"account": {e.account}, "role": {"operator"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("dana switches to operator: %d %s", res.StatusCode, body)
	}

	type event struct {
		UserIdentity struct {
			Type, UserName, AccessKeyID string
		} `json:"userIdentity"`
		EventSource         string         `json:"eventSource"`
		ErrorCode           string         `json:"errorCode"`
		RequestParameters   map[string]any `json:"requestParameters"`
		ResponseElements    map[string]any `json:"responseElements"`
		AdditionalEventData map[string]any `json:"additionalEventData"`
	}
	eventually(t, 10*time.Second, func() error {
		p := e.lookup(t, e.root, "--lookup-attributes", "AttributeKey=EventName,AttributeValue=CreateUser")
		byUser := make(map[string]event)
		for _, ev := range p.Events {
			var x event
			must(t, json.Unmarshal([]byte(ev.CloudTrailEvent), &x))
			if name, _ := x.RequestParameters["userName"].(string); name != "" {
				byUser[name] = x
			}
		}
		made, ok := byUser["made-in-console"]
		if !ok {
			return fmt.Errorf("no CreateUser event for the user dana made in the console among %d", len(p.Events))
		}
		if made.UserIdentity.Type != "IAMUser" || made.UserIdentity.UserName != "dana" || made.EventSource != "iam.amazonaws.com" ||
			made.ErrorCode != "" || made.ResponseElements["user"] == nil || made.AdditionalEventData["authorizationDecisions"] == nil {
			return fmt.Errorf("dana's CreateUser event: %+v", made)
		}
		denied, ok := byUser["not-allowed"]
		if !ok {
			return fmt.Errorf("no CreateUser event for eve's refused call")
		}
		if denied.UserIdentity.UserName != "eve" || denied.ErrorCode != "AccessDenied" || denied.ResponseElements != nil {
			return fmt.Errorf("eve's CreateUser event: %+v", denied)
		}
		return nil
	})
	// Switching roles is STS's AssumeRole, recorded as the API's.
	eventually(t, 10*time.Second, func() error {
		p := e.lookup(t, e.root, "--lookup-attributes", "AttributeKey=EventName,AttributeValue=AssumeRole")
		for _, ev := range p.Events {
			var x event
			must(t, json.Unmarshal([]byte(ev.CloudTrailEvent), &x))
			if x.UserIdentity.UserName == "dana" && x.EventSource == "sts.amazonaws.com" && x.ErrorCode == "" &&
				x.RequestParameters["roleArn"] == "arn:aws:iam::"+e.account+":role/operator" && x.ResponseElements["credentials"] != nil {
				return nil
			}
		}
		return fmt.Errorf("no AssumeRole event for dana's switch to operator among %d", len(p.Events))
	})
}
