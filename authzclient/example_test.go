package authzclient_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/iamd/iamd/authzclient"
)

// An S3-compatible store lets iamd authenticate and authorize every request:
// it maps the request to an action and a resource, and passes the bucket's
// policy and owner.
//
// Here an httptest server stands in for iamd's authorization API: it lets
// alice read the photos bucket and nothing else.
func ExampleClient_Middleware() {
	iamd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var call struct {
			Action   string `json:"action"`
			Resource string `json:"resource"`
		}
		if r.URL.Path != authzclient.Path || json.NewDecoder(r.Body).Decode(&call) != nil {
			http.Error(w, "bad call", http.StatusBadRequest)
			return
		}
		d := authzclient.Decision{
			Decision:  "ImplicitDeny",
			Principal: authzclient.Principal{ARN: "arn:aws:iam::111122223333:user/alice", Account: "111122223333", Type: "User"},
		}
		if call.Action == "s3:GetObject" && strings.HasPrefix(call.Resource, "arn:aws:s3:::photos/") {
			d.Decision = "Allow"
		} else {
			d.Message = "User: " + d.Principal.ARN + " is not authorized to perform: " + call.Action +
				" on resource: " + call.Resource + " because no identity-based policy allows the " + call.Action + " action"
		}
		_ = json.NewEncoder(w).Encode(&d)
	}))
	defer iamd.Close()

	client := authzclient.New(iamd.URL, authzclient.StaticCredentials{
		AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "...", // the store's own identity, allowed iamd:Authorize
	})
	bucketPolicies := map[string]string{"photos": `{"Version":"2012-10-17","Statement":[]}`}
	resolve := func(r *http.Request) (*authzclient.Input, error) {
		bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		in := &authzclient.Input{ResourceAccount: "111122223333", ResourcePolicy: bucketPolicies[bucket]}
		switch {
		case key == "":
			in.Action, in.Resource = "s3:ListBucket", "arn:aws:s3:::"+bucket
			in.Context = map[string][]string{"s3:prefix": {r.URL.Query().Get("prefix")}}
		case r.Method == http.MethodPut:
			in.Action, in.Resource = "s3:PutObject", "arn:aws:s3:::"+bucket+"/"+key
		default:
			in.Action, in.Resource = "s3:GetObject", "arn:aws:s3:::"+bucket+"/"+key
		}
		return in, nil
	}
	store := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := authzclient.FromContext(r.Context())
		fmt.Fprintf(w, "%s reads %s", d.Principal.ARN, r.URL.Path) // who is asking, e.g. for logs or object ownership
	})
	handler := client.Middleware(resolve, store)

	for _, r := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "/photos/cat.jpg", nil),
		httptest.NewRequest(http.MethodPut, "/photos/cat.jpg", strings.NewReader("meow")),
	} {
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		body, _ := io.ReadAll(w.Result().Body)
		fmt.Printf("%s %s: %d %s\n", r.Method, r.URL.Path, w.Code, body)
	}
	// Output:
	// GET /photos/cat.jpg: 200 arn:aws:iam::111122223333:user/alice reads /photos/cat.jpg
	// PUT /photos/cat.jpg: 403 <?xml version="1.0" encoding="UTF-8"?>
	// <Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>
}
