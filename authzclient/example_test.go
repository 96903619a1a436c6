package authzclient_test

import (
	"net/http"
	"strings"

	"github.com/iamd/iamd/authzclient"
)

// An S3-compatible store lets iamd authenticate and authorize every request:
// it maps the request to an action and a resource, and passes the bucket's
// policy and owner.
func ExampleClient_Middleware() {
	client := authzclient.New("https://iamd.internal:8080", authzclient.StaticCredentials{
		AccessKeyID: "AKIA...", SecretAccessKey: "...", // the store's own identity, allowed iamd:Authorize
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
		_ = d.Principal.ARN // who is asking, e.g. for logs or object ownership
	})
	http.Handle("/", client.Middleware(resolve, store))
}
