package awsquery_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/awsquery/internal/testapi/iamapi"
	"github.com/iamd/iamd/internal/awsquery/internal/testapi/stsapi"
)

var created = time.Date(2024, 5, 6, 7, 8, 9, 123e6, time.UTC)

// trustPolicy has spaces, newlines and characters that need escaping both in
// URLs and in XML.
const trustPolicy = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"Allow\", \"Principal\": {\"Service\": \"ec2.amazonaws.com\"}, \"Action\": \"sts:AssumeRole\", \"Condition\": {\"StringLike\": {\"aws:PrincipalTag/x\": \"a&b<c>*+~\"}}}]\n}"

// fakeIAM is the smallest IAM that exercises the codec.
type fakeIAM struct {
	iamapi.UnimplementedServer
	mu    sync.Mutex
	users map[string]iamapi.User
}

func newFakeIAM() *fakeIAM { return &fakeIAM{users: map[string]iamapi.User{}} }

func (f *fakeIAM) CreateUser(_ context.Context, in *iamapi.CreateUserRequest) (*iamapi.CreateUserResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.users[in.UserName]; ok {
		return nil, iamapi.EntityAlreadyExistsError(fmt.Sprintf("User with name %s already exists.", in.UserName))
	}
	path := in.Path
	if path == "" {
		path = "/"
	}
	u := iamapi.User{
		Path: path, UserName: in.UserName, UserId: "AIDA" + fmt.Sprintf("%016X", len(f.users)+1),
		Arn: "arn:aws:iam::123456789012:user" + path + in.UserName, CreateDate: created, Tags: in.Tags,
	}
	f.users[in.UserName] = u
	return &iamapi.CreateUserResponse{User: &u}, nil
}

func (f *fakeIAM) GetUser(_ context.Context, in *iamapi.GetUserRequest) (*iamapi.GetUserResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[in.UserName]
	if !ok {
		return nil, fmt.Errorf("get user %q: %w", in.UserName,
			iamapi.NoSuchEntityError(fmt.Sprintf("The user with name %s cannot be found.", in.UserName)))
	}
	return &iamapi.GetUserResponse{User: u}, nil
}

func (f *fakeIAM) ListUsers(_ context.Context, in *iamapi.ListUsersRequest) (*iamapi.ListUsersResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &iamapi.ListUsersResponse{Users: []iamapi.User{}}
	for _, u := range f.users {
		u.Tags = nil // ListUsers does not return tags
		out.Users = append(out.Users, u)
	}
	sort.Slice(out.Users, func(i, j int) bool { return out.Users[i].UserName < out.Users[j].UserName })
	if in.MaxItems != nil && int(*in.MaxItems) < len(out.Users) {
		out.Users, out.IsTruncated, out.Marker = out.Users[:*in.MaxItems], true, out.Users[*in.MaxItems].UserName
	}
	return out, nil
}

func (f *fakeIAM) GetAccountSummary(context.Context, *iamapi.GetAccountSummaryRequest) (*iamapi.GetAccountSummaryResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &iamapi.GetAccountSummaryResponse{SummaryMap: map[string]int32{"Users": int32(len(f.users)), "UsersQuota": 5000}}, nil
}

func (f *fakeIAM) GetRole(_ context.Context, in *iamapi.GetRoleRequest) (*iamapi.GetRoleResponse, error) {
	if in.RoleName == "boom" {
		return nil, errors.New("database on fire")
	}
	if in.RoleName == "panic" {
		panic("handler bug")
	}
	return &iamapi.GetRoleResponse{Role: iamapi.Role{
		Path: "/", RoleName: in.RoleName, RoleId: "AROA0000000000000001",
		Arn: "arn:aws:iam::123456789012:role/" + in.RoleName, CreateDate: created,
		AssumeRolePolicyDocument: trustPolicy, MaxSessionDuration: ptr[int32](3600),
		RoleLastUsed: &iamapi.RoleLastUsed{LastUsedDate: created.Add(time.Hour), Region: "us-east-1"},
	}}, nil
}

// DeleteUser returns a typed nil, which must still be an empty success.
func (f *fakeIAM) DeleteUser(_ context.Context, in *iamapi.DeleteUserRequest) (*iamapi.DeleteUserResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.users, in.UserName)
	return nil, nil
}

type fakeSTS struct{ stsapi.UnimplementedServer }

func (fakeSTS) GetCallerIdentity(context.Context, *stsapi.GetCallerIdentityRequest) (*stsapi.GetCallerIdentityResponse, error) {
	return &stsapi.GetCallerIdentityResponse{UserId: "AIDA0000000000000001", Account: "123456789012", Arn: "arn:aws:iam::123456789012:user/alice"}, nil
}

// queryHandler is what the real server does after authentication.
func queryHandler(d *awsquery.Dispatcher, errs chan<- error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := make([]byte, 0, 1024)
		buf := make([]byte, 1024)
		for {
			n, err := r.Body.Read(buf)
			body = append(body, buf[:n]...)
			if err != nil {
				break
			}
		}
		form, err := awsquery.ParseForm(r, body)
		if err != nil {
			d.WriteError(w, err, "req-1")
			return
		}
		if err := d.ServeOperation(r.Context(), w, form, "req-1"); err != nil && errs != nil {
			errs <- err
		}
	})
}
