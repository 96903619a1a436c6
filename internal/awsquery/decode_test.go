package awsquery_test

import (
	"errors"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/awsquery/internal/testapi/iamapi"
	"github.com/iamd/iamd/internal/awsquery/internal/testapi/stsapi"
)

func TestDecode(t *testing.T) {
	t.Parallel()
	iam := newIAM(t, iamapi.UnimplementedServer{})
	sts := newSTS(t, stsapi.UnimplementedServer{})
	long := strings.Repeat("a", 65)
	tests := []struct {
		name    string
		d       *awsquery.Dispatcher
		action  string
		form    string
		want    any
		wantErr string
	}{
		{
			name: "scalars", d: iam, action: "CreateUser",
			form: "UserName=alice&Path=%2Fdev%2F",
			want: &iamapi.CreateUserRequest{UserName: "alice", Path: "/dev/"},
		},
		{
			name: "list of structures", d: iam, action: "CreateUser",
			form: "UserName=alice&Tags.member.1.Key=team&Tags.member.1.Value=blue&Tags.member.2.Key=env&Tags.member.2.Value=",
			want: &iamapi.CreateUserRequest{UserName: "alice", Tags: []iamapi.Tag{{Key: "team", Value: "blue"}, {Key: "env"}}},
		},
		{
			name: "empty list", d: iam, action: "CreateUser",
			form: "UserName=alice&Tags=",
			want: &iamapi.CreateUserRequest{UserName: "alice", Tags: []iamapi.Tag{}},
		},
		{
			name: "list stops at the first gap", d: iam, action: "CreateUser",
			form: "UserName=alice&Tags.member.1.Key=a&Tags.member.1.Value=1&Tags.member.3.Key=c&Tags.member.3.Value=3",
			want: &iamapi.CreateUserRequest{UserName: "alice", Tags: []iamapi.Tag{{Key: "a", Value: "1"}}},
		},
		{
			name: "list of strings", d: iam, action: "CreateOpenIDConnectProvider",
			form: "Url=https%3A%2F%2Fexample.com&ClientIDList.member.1=a&ClientIDList.member.2=b&ThumbprintList.member.1=" + strings.Repeat("f", 40),
			want: &iamapi.CreateOpenIDConnectProviderRequest{Url: "https://example.com", ClientIDList: []string{"a", "b"}, ThumbprintList: []string{strings.Repeat("f", 40)}},
		},
		{
			name: "optional integers and booleans", d: iam, action: "UpdateAccountPasswordPolicy",
			form: "MinimumPasswordLength=12&RequireSymbols=true&RequireNumbers=false&MaxPasswordAge=90",
			want: &iamapi.UpdateAccountPasswordPolicyRequest{MinimumPasswordLength: ptr[int32](12), RequireSymbols: ptr(true), RequireNumbers: ptr(false), MaxPasswordAge: ptr[int32](90)},
		},
		{
			name: "unknown parameters are ignored", d: iam, action: "GetUser",
			form: "UserName=bob&Bogus=1&UserName.member.1=x",
			want: &iamapi.GetUserRequest{UserName: "bob"},
		},
		{
			name: "no parameters for an optional-only input", d: iam, action: "GetUser",
			form: "", want: &iamapi.GetUserRequest{},
		},
		{
			name: "operation without input", d: iam, action: "GetAccountSummary",
			form: "Anything=1", want: &iamapi.GetAccountSummaryRequest{},
		},
		{
			name: "missing required", d: iam, action: "CreateUser",
			form:    "Path=%2F",
			wantErr: "1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null",
		},
		{
			name: "pattern", d: iam, action: "CreateUser",
			form:    "UserName=a+b",
			wantErr: `1 validation error detected: Value 'a b' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+`,
		},
		{
			name: "too long", d: iam, action: "CreateUser",
			form:    "UserName=" + long,
			wantErr: "1 validation error detected: Value '" + long + "' at 'userName' failed to satisfy constraint: Member must have length less than or equal to 64",
		},
		{
			name: "empty is not null", d: iam, action: "CreateUser",
			form:    "UserName=",
			wantErr: `2 validation errors detected: Value '' at 'userName' failed to satisfy constraint: Member must have length greater than or equal to 1; Value '' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+`,
		},
		{
			name: "nested list member path", d: iam, action: "CreateUser",
			form:    "UserName=alice&Tags.member.1.Key=ok&Tags.member.1.Value=fine&Tags.member.2.Key=team&Tags.member.2.Value=D%26T",
			wantErr: `1 validation error detected: Value 'D&T' at 'tags.2.member.value' failed to satisfy constraint: Member must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]*`,
		},
		{
			name: "errors in member order", d: iam, action: "CreateUser",
			form:    "PermissionsBoundary=arn&UserName=a%21",
			wantErr: `2 validation errors detected: Value 'a!' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+; Value 'arn' at 'permissionsBoundary' failed to satisfy constraint: Member must have length greater than or equal to 20`,
		},
		{
			name: "invalid path is AWS's sentence alone", d: iam, action: "CreateUser",
			form:    "Path=nopath&UserName=a%21",
			wantErr: "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.",
		},
		{
			name: "invalid path prefix", d: iam, action: "ListUsers",
			form:    "PathPrefix=team",
			wantErr: "The specified value for pathPrefix is invalid. It must begin with the / character and contain only alphanumeric characters and/or / characters.",
		},
		{
			name: "well-formed path too long", d: iam, action: "CreateUser",
			form:    "UserName=alice&Path=%2F" + strings.Repeat("a", 511) + "%2F",
			wantErr: "1 validation error detected: Value '/" + strings.Repeat("a", 511) + "/' at 'path' failed to satisfy constraint: Member must have length less than or equal to 512",
		},
		{
			name: "integer above max", d: iam, action: "ListUsers",
			form:    "MaxItems=1001",
			wantErr: "1 validation error detected: Value '1001' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 1000",
		},
		{
			name: "integer below min", d: iam, action: "ListUsers",
			form:    "MaxItems=0",
			wantErr: "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1",
		},
		{
			name: "not an integer", d: iam, action: "ListUsers",
			form:    "MaxItems=ten",
			wantErr: "1 validation error detected: Value 'ten' at 'maxItems' failed to satisfy constraint: Member must be a number",
		},
		{
			name: "integer overflow", d: iam, action: "ListUsers",
			form:    "MaxItems=99999999999",
			wantErr: "1 validation error detected: Value '99999999999' at 'maxItems' failed to satisfy constraint: Member must be a number",
		},
		{
			name: "not a boolean", d: iam, action: "UpdateAccountPasswordPolicy",
			form:    "RequireSymbols=yes",
			wantErr: "1 validation error detected: Value 'yes' at 'requireSymbols' failed to satisfy constraint: Member must be a boolean",
		},
		{
			name: "enum", d: iam, action: "UpdateAccessKey",
			form:    "AccessKeyId=AKIAIOSFODNN7EXAMPLE&Status=On",
			wantErr: "1 validation error detected: Value 'On' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive, Expired]",
		},
		{
			name: "sensitive values are not echoed", d: iam, action: "ChangePassword",
			form:    "OldPassword=&NewPassword=x",
			wantErr: `2 validation errors detected: Value at 'oldPassword' failed to satisfy constraint: Member must have length greater than or equal to 1; Value at 'oldPassword' failed to satisfy constraint: Member must satisfy regular expression pattern: [\u0009\u000A\u000D\u0020-\u00FF]+`,
		},
		{
			name: "empty list of strings", d: iam, action: "UntagUser",
			form: "UserName=alice&TagKeys=",
			want: &iamapi.UntagUserRequest{UserName: "alice", TagKeys: []string{}},
		},
		{
			name: "sts assume role", d: sts, action: "AssumeRole",
			form: "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr&RoleSessionName=s1&DurationSeconds=3600&PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FReadOnlyAccess&Tags.member.1.Key=k&Tags.member.1.Value=v",
			want: &stsapi.AssumeRoleRequest{
				RoleArn: "arn:aws:iam::123456789012:role/r", RoleSessionName: "s1", DurationSeconds: ptr[int32](3600),
				PolicyArns: []stsapi.PolicyDescriptorType{{Arn: "arn:aws:iam::aws:policy/ReadOnlyAccess"}},
				Tags:       []stsapi.Tag{{Key: "k", Value: "v"}},
			},
		},
		{
			name: "sts several violations", d: sts, action: "AssumeRole",
			form:    "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr&RoleSessionName=a+b&DurationSeconds=60",
			wantErr: `2 validation errors detected: Value 'a b' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*; Value '60' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900`,
		},
		{
			name: "supplementary characters in an arn", d: sts, action: "AssumeRole",
			form: "RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2F%F0%9F%98%80&RoleSessionName=s1",
			want: &stsapi.AssumeRoleRequest{RoleArn: "arn:aws:iam::1:role/\U0001F600", RoleSessionName: "s1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			form, err := url.ParseQuery(tc.form)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tc.d.Decode(tc.action, form)
			if tc.wantErr != "" {
				var e *awsquery.Error
				if !errors.As(err, &e) {
					t.Fatalf("error = %v, want *awsquery.Error", err)
				}
				if e.Code != "ValidationError" || e.HTTPStatus != 400 || !e.Sender {
					t.Errorf("error = %+v, want ValidationError 400 Sender", e)
				}
				if e.Message != tc.wantErr {
					t.Errorf("message\n got: %s\nwant: %s", e.Message, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestDecodeListLength(t *testing.T) {
	t.Parallel()
	iam := newIAM(t, iamapi.UnimplementedServer{})
	form := url.Values{"UserName": {"alice"}}
	for i := 1; i <= 51; i++ {
		n := strconv.Itoa(i)
		form.Set("Tags.member."+n+".Key", "k"+n)
		form.Set("Tags.member."+n+".Value", "v")
	}
	_, err := iam.Decode("CreateUser", form)
	var e *awsquery.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v", err)
	}
	wantPrefix := "1 validation error detected: Value '[{key=k1, value=v}, {key=k2, value=v}"
	wantSuffix := "' at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50"
	if !strings.HasPrefix(e.Message, wantPrefix) || !strings.HasSuffix(e.Message, wantSuffix) {
		t.Errorf("message = %s", e.Message)
	}
}
