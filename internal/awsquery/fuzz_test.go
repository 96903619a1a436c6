package awsquery_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/awsquery/internal/testapi/iamapi"
	"github.com/iamd/iamd/internal/awsquery/internal/testapi/stsapi"
)

// FuzzDecodeForm feeds arbitrary query strings to the decoder of operations
// with lists, nested structures, integers, booleans and enums: it must
// never panic, and must either decode or answer ValidationError; a decoded
// input must encode back without error where the operation shares types.
func FuzzDecodeForm(f *testing.F) {
	iam := newIAM(f, iamapi.UnimplementedServer{})
	sts := newSTS(f, stsapi.UnimplementedServer{})
	for _, s := range []string{
		"UserName=alice&Tags.member.1.Key=k&Tags.member.1.Value=v",
		"Tags=&UserName=",
		"MaxItems=1001&Marker=x",
		"RequireSymbols=true&MaxPasswordAge=0",
		"Tags.member.1.Key=a&Tags.member.2.Value=b&Tags.member.3=c",
		"RoleArn=arn&RoleSessionName=s%20s&PolicyArns.member.1.arn=x&DurationSeconds=-1",
		"PolicyArns.member.1=&TransitiveTagKeys.member.1=",
	} {
		f.Add(s)
	}
	actions := []struct {
		d      *awsquery.Dispatcher
		action string
	}{
		{iam, "CreateUser"}, {iam, "ListUsers"}, {iam, "UpdateAccountPasswordPolicy"}, {iam, "UpdateAccessKey"},
		{iam, "CreateOpenIDConnectProvider"}, {iam, "SimulateCustomPolicy"}, {sts, "AssumeRole"},
	}
	f.Fuzz(func(t *testing.T, query string) {
		form, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		for _, a := range actions {
			_, err := a.d.Decode(a.action, form)
			var e *awsquery.Error
			if err != nil && (!errors.As(err, &e) || e.Code != "ValidationError" || !strings.Contains(e.Message, "validation error")) {
				t.Fatalf("%s: unexpected error %v", a.action, err)
			}
		}
	})
}

// FuzzParseModel checks the model parser never panics on arbitrary JSON.
func FuzzParseModel(f *testing.F) {
	f.Add(`{"metadata":{"protocol":"query"},"shapes":{"S":{"type":"string","pattern":"[a-z]+","min":1}},"operations":{}}`)
	f.Add(`{"metadata":{"protocol":"query"},"shapes":{"L":{"type":"list","member":{"shape":"L"}}},"operations":{"Op":{"input":{"shape":"L"}}}}`)
	f.Add(`{"metadata":{"protocol":"query"},"shapes":{"M":{"type":"structure","members":{"a":{"shape":"M"}},"required":["a"]}}}`)
	f.Fuzz(func(t *testing.T, doc string) {
		_, _ = awsquery.ParseModel(strings.NewReader(doc))
	})
}
