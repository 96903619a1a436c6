package sigv4_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/iamd/iamd/internal/sigv4"
)

// keys is a CredentialSource over a map of long-term keys.
type keys map[string]string

func (k keys) Lookup(_ context.Context, akid, token string) (sigv4.Credential, error) {
	secret, ok := k[akid]
	if !ok || token != "" {
		return sigv4.Credential{}, sigv4.ErrInvalidClientTokenID
	}
	return sigv4.Credential{SecretAccessKey: []byte(secret), Principal: "user/" + akid}, nil
}

// Example shows an IAM/STS endpoint authenticating each request and routing
// by the SigV4 service name.
func Example() {
	v := sigv4.NewVerifier(sigv4.Config{
		Credentials: keys{"AKIAEXAMPLE": "secret"},
		Services:    []string{"iam", "sts"},
	})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		res, err := v.Verify(r.Context(), sigv4.FromHTTP(r, body))
		if e, ok := errors.AsType[*sigv4.Error](err); ok {
			http.Error(w, e.Code, e.HTTPStatus) // an awsQuery ErrorResponse in iamd
			return
		} else if err != nil {
			http.Error(w, "InternalFailure", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%s %s", res.Service, res.Principal)
	})
	srv := httptest.NewServer(handler)
	defer srv.Close()

	const form = "Action=GetCallerIdentity&Version=2011-06-15"
	req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	signer := &sigv4.Signer{
		Credentials: sigv4.Credentials{AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "secret"},
		Region:      "us-east-1",
		Service:     "sts",
	}
	if err := signer.Sign(req, []byte(form)); err != nil {
		fmt.Println(err)
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	fmt.Println(string(out))
	// Output: sts user/AKIAEXAMPLE
}
