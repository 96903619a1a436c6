package authz

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/policy"
)

// TestDeniedOnTheWire checks that a refusal (Authorize's, AuthorizeTrust's)
// is a *Denied that the protocol edge answers exactly as AWS's
// AccessDenied: 403, Sender, the message of the decision.
func TestDeniedOnTheWire(t *testing.T) {
	t.Parallel()
	v := newTestView(t)
	v.put(iam.KindUser, "alice", iam.User{Name: "alice", Path: "/", ID: "AIDAALICE"})
	alice := &Caller{Account: testAccount, Type: User, ARN: "arn:aws:iam::" + testAccount + ":user/alice",
		PrincipalARN: "arn:aws:iam::" + testAccount + ":user/alice", UserID: "AIDAALICE", Name: "alice", EntityID: "AIDAALICE", Time: time.Now()}
	a := New(v.View, nil)
	ctx := context.Background()

	req := &Request{Action: "iam:ListUsers", Resource: "*"}
	ex, err := a.Explain(alice, req)
	if err != nil {
		t.Fatal(err)
	}
	roleARN := "arn:aws:iam::" + testAccount + ":role/deploy"
	tests := []struct {
		name     string
		err      error
		message  string
		implicit bool
	}{
		{"identity", a.Authorize(ctx, alice, req), ex.Message(), true},
		{"trust", a.AuthorizeTrust(ctx, alice, &TrustRequest{Action: "sts:AssumeRole", RoleARN: roleARN, RoleAccount: testAccount,
			TrustPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999999999999:root"},"Action":"sts:AssumeRole"}]}`}),
			"User: " + alice.ARN + " is not authorized to perform: sts:AssumeRole on resource: " + roleARN, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, ok := tc.err.(*Denied)
			if !ok {
				t.Fatalf("err = %T %v, want *Denied", tc.err, tc.err)
			}
			if d.DenialMessage() != tc.message || d.Error() != "AccessDenied: "+tc.message {
				t.Errorf("message %q, error %q; want %q", d.DenialMessage(), d.Error(), tc.message)
			}
			if ImplicitlyDenied(tc.err) != tc.implicit {
				t.Errorf("ImplicitlyDenied = %v", !tc.implicit)
			}
			want := &awsquery.Error{Code: "AccessDenied", Message: tc.message, HTTPStatus: http.StatusForbidden, Sender: true}
			if got, ok := awsquery.As(tc.err); !ok || *got != *want {
				t.Fatalf("awsquery.As = %+v, %v; want %+v", got, ok, want)
			}
			gotW, wantW := httptest.NewRecorder(), httptest.NewRecorder()
			awsquery.WriteError(gotW, "https://iam.amazonaws.com/doc/2010-05-08/", tc.err, "req-1")
			awsquery.WriteError(wantW, "https://iam.amazonaws.com/doc/2010-05-08/", want, "req-1")
			if gotW.Code != wantW.Code || gotW.Body.String() != wantW.Body.String() {
				t.Fatalf("wire: %d %s\nwant %d %s", gotW.Code, gotW.Body, wantW.Code, wantW.Body)
			}
		})
	}
	if ex.Decision != policy.ImplicitDeny {
		t.Fatalf("decision %v", ex.Decision)
	}
}
