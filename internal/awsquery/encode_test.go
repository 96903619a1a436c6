package awsquery_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/awsquery/internal/testapi/iamapi"
	"github.com/iamd/iamd/internal/awsquery/internal/testapi/stsapi"
)

func TestEncodeGolden(t *testing.T) {
	t.Parallel()
	iam := newIAM(t, iamapi.UnimplementedServer{})
	sts := newSTS(t, stsapi.UnimplementedServer{})
	tests := []struct {
		name   string
		d      *awsquery.Dispatcher
		action string
		out    any
	}{
		{"get_user", iam, "GetUser", &iamapi.GetUserResponse{User: iamapi.User{
			Path: "/", UserName: "alice", UserId: "AIDA0000000000000001", Arn: "arn:aws:iam::123456789012:user/alice",
			CreateDate: created, PermissionsBoundary: &iamapi.AttachedPermissionsBoundary{
				PermissionsBoundaryType: iamapi.PermissionsBoundaryAttachmentTypePermissionsBoundaryPolicy,
				PermissionsBoundaryArn:  "arn:aws:iam::aws:policy/PowerUserAccess"},
			Tags: []iamapi.Tag{{Key: "team", Value: "a<b & c>"}, {Key: "empty"}},
		}}},
		{"list_users_empty", iam, "ListUsers", &iamapi.ListUsersResponse{}},
		{"list_users_truncated", iam, "ListUsers", &iamapi.ListUsersResponse{
			Users:       []iamapi.User{{Path: "/", UserName: "a", UserId: "AIDA1", Arn: "arn:aws:iam::1:user/a", CreateDate: created}},
			IsTruncated: true, Marker: "b",
		}},
		{"get_account_summary", iam, "GetAccountSummary", &iamapi.GetAccountSummaryResponse{SummaryMap: map[string]int32{"Users": 2, "Groups": 0, "UsersQuota": 5000}}},
		{"get_role_policy_urlencoded", iam, "GetRole", &iamapi.GetRoleResponse{Role: iamapi.Role{
			Path: "/", RoleName: "r", RoleId: "AROA1", Arn: "arn:aws:iam::1:role/r", CreateDate: created,
			AssumeRolePolicyDocument: trustPolicy, MaxSessionDuration: ptr[int32](3600),
		}}},
		{"delete_user_no_output", iam, "DeleteUser", &iamapi.DeleteUserResponse{}},
		{"delete_user_nil_output", iam, "DeleteUser", nil},
		{"sts_get_caller_identity", sts, "GetCallerIdentity", &stsapi.GetCallerIdentityResponse{UserId: "AIDA1", Account: "123456789012", Arn: "arn:aws:iam::123456789012:user/alice"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.d.AppendResponse(nil, tc.action, tc.out, "8f2c3a4e-0000-4000-8000-000000000001")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".xml", got)
		})
	}
}

func TestAppendResponseWrongType(t *testing.T) {
	t.Parallel()
	iam := newIAM(t, iamapi.UnimplementedServer{})
	if _, err := iam.AppendResponse(nil, "GetUser", &iamapi.ListUsersResponse{}, "r"); err == nil {
		t.Fatal("want an error for a mismatched output type")
	}
}

func TestServeOperationErrors(t *testing.T) {
	t.Parallel()
	iam := newIAM(t, newFakeIAM())
	sts := newSTS(t, fakeSTS{})
	tests := []struct {
		name       string
		d          *awsquery.Dispatcher
		form       string
		wantStatus int
		golden     string
		wantCause  error
	}{
		{"missing_action", iam, "Version=2010-05-08", 400, "error_missing_action.xml", nil},
		{"unknown_action", iam, "Action=Frobnicate&Version=2010-05-08", 400, "error_invalid_action.xml", nil},
		{"missing_version", iam, "Action=GetUser", 400, "error_missing_version.xml", nil},
		{"wrong_version", iam, "Action=GetUser&Version=2011-06-15", 400, "error_wrong_version.xml", nil},
		{"validation", iam, "Action=GetUser&Version=2010-05-08&UserName=a+b", 400, "error_validation.xml", nil},
		{"no_such_entity", iam, "Action=GetUser&Version=2010-05-08&UserName=nobody", 404, "error_no_such_entity.xml", nil},
		{"not_implemented", iam, "Action=CreateGroup&Version=2010-05-08&GroupName=g", 501, "error_not_implemented.xml", nil},
		{"internal_failure", iam, "Action=GetRole&Version=2010-05-08&RoleName=boom", 500, "error_internal_failure.xml", nil},
		{"panic", iam, "Action=GetRole&Version=2010-05-08&RoleName=panic", 500, "error_internal_failure.xml", awsquery.ErrPanic},
		{"sts_not_implemented", sts, "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr&RoleSessionName=s1", 501, "error_sts_not_implemented.xml", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			form, err := url.ParseQuery(tc.form)
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			cause := tc.d.ServeOperation(context.Background(), rec, form, "req-1")
			if cause == nil {
				t.Fatal("ServeOperation returned nil for a failed request")
			}
			if tc.wantCause != nil && !errors.Is(cause, tc.wantCause) {
				t.Errorf("cause = %v, want %v", cause, tc.wantCause)
			}
			if rec.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tc.wantStatus)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/xml" {
				t.Errorf("Content-Type = %q", ct)
			}
			if strings.Contains(rec.Body.String(), "fire") || strings.Contains(rec.Body.String(), "handler bug") {
				t.Errorf("internal cause leaked: %s", rec.Body)
			}
			golden(t, tc.golden, rec.Body.Bytes())
		})
	}
}

func TestErrorIs(t *testing.T) {
	t.Parallel()
	err := error(iamapi.NoSuchEntityError("gone"))
	if !errors.Is(err, &awsquery.Error{Code: iamapi.CodeNoSuchEntity}) {
		t.Error("errors.Is by code failed")
	}
	if errors.Is(err, &awsquery.Error{Code: iamapi.CodeEntityAlreadyExists}) {
		t.Error("errors.Is matched another code")
	}
	m := newIAM(t, iamapi.UnimplementedServer{}).Model()
	if got := m.NewError("NoSuchEntity", "x"); got.HTTPStatus != 404 || !got.Sender {
		t.Errorf("model lookup = %+v", got)
	}
	if got := m.NewError("ServiceFailure", "x"); got.HTTPStatus != 500 || got.Sender {
		t.Errorf("model lookup = %+v", got)
	}
}

func TestParseForm(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, target, contentType, body string
		want                                    url.Values
		wantCode                                string
	}{
		{name: "post body", method: "POST", target: "/", contentType: "application/x-www-form-urlencoded; charset=utf-8",
			body: "Action=GetUser&Version=2010-05-08", want: url.Values{"Action": {"GetUser"}, "Version": {"2010-05-08"}}},
		{name: "get query", method: "GET", target: "/?Action=ListUsers&Version=2010-05-08",
			want: url.Values{"Action": {"ListUsers"}, "Version": {"2010-05-08"}}},
		{name: "post merges query", method: "POST", target: "/?Version=2010-05-08", contentType: "application/x-www-form-urlencoded",
			body: "Action=GetUser", want: url.Values{"Action": {"GetUser"}, "Version": {"2010-05-08"}}},
		{name: "bad method", method: "PUT", target: "/", wantCode: "MethodNotAllowed"},
		{name: "bad body", method: "POST", target: "/", contentType: "application/x-www-form-urlencoded", body: "Action=%zz", wantCode: "MalformedQueryString"},
		{name: "bad query", method: "GET", target: "/?Action=%zz", wantCode: "MalformedQueryString"},
		{name: "json body", method: "POST", target: "/", contentType: "application/json", body: "{}", wantCode: "MalformedQueryString"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			got, err := awsquery.ParseForm(r, []byte(tc.body))
			if tc.wantCode != "" {
				var e *awsquery.Error
				if !errors.As(err, &e) || e.Code != tc.wantCode {
					t.Fatalf("error = %v, want %s", err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Encode() != tc.want.Encode() {
				t.Errorf("form = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestServeOperationSuccessHeaders(t *testing.T) {
	t.Parallel()
	iam := newIAM(t, newFakeIAM())
	rec := httptest.NewRecorder()
	form := url.Values{"Action": {"CreateUser"}, "Version": {"2010-05-08"}, "UserName": {"alice"}}
	if err := iam.ServeOperation(context.Background(), rec, form, "req-9"); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusOK || rec.Header().Get("X-Amzn-Requestid") != "req-9" {
		t.Errorf("status %d headers %v", rec.Code, rec.Header())
	}
}

// TestServeOperationConcurrent runs requests in parallel so the race
// detector sees the shared plans and buffer pool.
func TestServeOperationConcurrent(t *testing.T) {
	t.Parallel()
	impl := newFakeIAM()
	iam := newIAM(t, impl)
	create := url.Values{"Action": {"CreateUser"}, "Version": {"2010-05-08"}, "UserName": {"alice"}}
	if err := iam.ServeOperation(context.Background(), httptest.NewRecorder(), create, "r"); err != nil {
		t.Fatal(err)
	}
	want, err := iam.AppendResponse(nil, "GetUser", &iamapi.GetUserResponse{User: impl.users["alice"]}, "r")
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"Action": {"GetUser"}, "Version": {"2010-05-08"}, "UserName": {"alice"}}
	done := make(chan string, 8)
	for i := 0; i < 8; i++ {
		go func() {
			for j := 0; j < 50; j++ {
				rec := httptest.NewRecorder()
				if err := iam.ServeOperation(context.Background(), rec, form, "r"); err != nil || rec.Body.String() != string(want) {
					done <- rec.Body.String()
					return
				}
			}
			done <- ""
		}()
	}
	for i := 0; i < 8; i++ {
		if got := <-done; got != "" {
			t.Errorf("concurrent response = %s", got)
		}
	}
}
