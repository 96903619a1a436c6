package iamapi

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/iamd/iamd/internal/awsquery"
)

// TestInvalidPathMessages checks AWS's own sentences for a path or path
// prefix that breaks its pattern, over every IAM path shape (pathType,
// policyPathType, pathPrefixType), and that a well-formed but too long path
// and other members keep the model's violations.
func TestInvalidPathMessages(t *testing.T) {
	d, err := NewDispatcher(UnimplementedServer{})
	if err != nil {
		t.Fatal(err)
	}
	const (
		badPath   = "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters."
		badNew    = "The specified value for newPath is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters."
		badPrefix = "The specified value for pathPrefix is invalid. It must begin with the / character and contain only alphanumeric characters and/or / characters."
	)
	long := "/" + strings.Repeat("a", 511) + "/"
	arn := "arn:aws:iam::aws:policy/ReadOnlyAccess"
	tests := []struct {
		name   string
		action string
		form   url.Values
		want   string // "" when the form is valid
	}{
		{"CreateUser no slashes", "CreateUser", url.Values{"UserName": {"u"}, "Path": {"team"}}, badPath},
		{"CreateUser no trailing slash", "CreateUser", url.Values{"UserName": {"u"}, "Path": {"/team"}}, badPath},
		{"CreateUser empty", "CreateUser", url.Values{"UserName": {"u"}, "Path": {""}}, badPath},
		{"CreateUser with another violation", "CreateUser", url.Values{"UserName": {"a!"}, "Path": {"team"}}, badPath},
		{"CreateUser root path", "CreateUser", url.Values{"UserName": {"u"}, "Path": {"/"}}, ""},
		{"CreateRole", "CreateRole", url.Values{"RoleName": {"r"}, "AssumeRolePolicyDocument": {"{}"}, "Path": {"x/"}}, badPath},
		{"CreateGroup", "CreateGroup", url.Values{"GroupName": {"g"}, "Path": {"x"}}, badPath},
		{"CreatePolicy space", "CreatePolicy", url.Values{"PolicyName": {"p"}, "PolicyDocument": {"{}"}, "Path": {"/a b/"}}, badPath},
		{"UpdateUser NewPath", "UpdateUser", url.Values{"UserName": {"u"}, "NewPath": {"x"}}, badNew},
		{"ListUsers", "ListUsers", url.Values{"PathPrefix": {"team"}}, badPrefix},
		{"ListUsers no trailing slash is fine", "ListUsers", url.Values{"PathPrefix": {"/team"}}, ""},
		{"ListRoles empty", "ListRoles", url.Values{"PathPrefix": {""}}, badPrefix},
		{"ListPolicies", "ListPolicies", url.Values{"PathPrefix": {"team/"}}, badPrefix},
		{"ListEntitiesForPolicy", "ListEntitiesForPolicy", url.Values{"PolicyArn": {arn}, "PathPrefix": {"x"}}, badPrefix},
		{"ListAttachedUserPolicies", "ListAttachedUserPolicies", url.Values{"UserName": {"u"}, "PathPrefix": {"x"}}, badPrefix},
		{"CreateUser long path", "CreateUser", url.Values{"UserName": {"u"}, "Path": {long}},
			"1 validation error detected: Value '" + long + "' at 'path' failed to satisfy constraint: Member must have length less than or equal to 512"},
		{"CreateUser bad name keeps the model's message", "CreateUser", url.Values{"UserName": {"a!"}},
			`1 validation error detected: Value 'a!' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.Decode(tc.action, tc.form)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Decode = %v, want success", err)
				}
				return
			}
			var e *awsquery.Error
			if !errors.As(err, &e) {
				t.Fatalf("Decode = %v, want *awsquery.Error", err)
			}
			if e.Code != awsquery.CodeValidationError || e.HTTPStatus != 400 || e.Message != tc.want {
				t.Errorf("Decode = %s %d %q\nwant ValidationError 400 %q", e.Code, e.HTTPStatus, e.Message, tc.want)
			}
		})
	}
}
