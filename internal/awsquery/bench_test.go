package awsquery_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/iamd/iamd/internal/awsquery/internal/testapi/iamapi"
)

// discardWriter is an http.ResponseWriter that keeps nothing, so the
// benchmark measures the codec rather than a recorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

type benchIAM struct {
	iamapi.UnimplementedServer
	user iamapi.User
}

func (b *benchIAM) GetUser(context.Context, *iamapi.GetUserRequest) (*iamapi.GetUserResponse, error) {
	return &iamapi.GetUserResponse{User: b.user}, nil
}

// BenchmarkGetUserRoundTrip measures one GetUser through the dispatcher:
// Action/Version checks, decode and validation, the call, XML encoding and
// the write.
func BenchmarkGetUserRoundTrip(b *testing.B) {
	impl := &benchIAM{user: iamapi.User{
		Path: "/", UserName: "alice", UserId: "AIDA0000000000000001", Arn: "arn:aws:iam::123456789012:user/alice",
		CreateDate: created, Tags: []iamapi.Tag{{Key: "team", Value: "blue"}},
	}}
	d := newIAM(b, impl)
	form := url.Values{"Action": {"GetUser"}, "Version": {"2010-05-08"}, "UserName": {"alice"}}
	w := &discardWriter{h: http.Header{}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := d.ServeOperation(ctx, w, form, "8f2c3a4e-0000-4000-8000-000000000001"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateUserDecode measures decoding a form with a list of tags.
func BenchmarkCreateUserDecode(b *testing.B) {
	d := newIAM(b, iamapi.UnimplementedServer{})
	form := url.Values{"UserName": {"alice"}, "Path": {"/eng/"},
		"Tags.member.1.Key": {"team"}, "Tags.member.1.Value": {"blue"},
		"Tags.member.2.Key": {"env"}, "Tags.member.2.Value": {"prod"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode("CreateUser", form); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListUsersEncode measures encoding 100 users.
func BenchmarkListUsersEncode(b *testing.B) {
	d := newIAM(b, iamapi.UnimplementedServer{})
	out := &iamapi.ListUsersResponse{}
	for i := 0; i < 100; i++ {
		out.Users = append(out.Users, iamapi.User{Path: "/", UserName: "user", UserId: "AIDA0000000000000001",
			Arn: "arn:aws:iam::123456789012:user/user", CreateDate: created})
	}
	buf := make([]byte, 0, 64<<10)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = d.AppendResponse(buf[:0], "ListUsers", out, "req"); err != nil {
			b.Fatal(err)
		}
	}
}
