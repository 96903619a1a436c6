package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/sigv4"
	"github.com/iamd/iamd/internal/uuid"
	"github.com/iamd/iamd/policy"
)

// The floor server (-floor ADDR) is a measuring tool, not iamd: a trivial
// net/http server that does what any SigV4 service must do for a GetUser
// and nothing more. It reads the body, verifies the signature with iamd's
// own verifier (internal/sigv4, derived keys cached), takes one policy
// decision with iamd's engine (a compiled IAMReadOnlyAccess-like policy),
// and answers a GetUser-shaped XML document in one write with a
// Content-Length. iamd's GetUser, measured against it in the same run,
// shows what iamd's request path costs above that floor (state, audit
// trail, metrics, the API codec). See docs/benchmarks.md.

// floorAccount is the account the floor's user belongs to.
const floorAccount = "111122223333"

// floorCreds is the floor's one credential.
type floorCreds struct {
	keyID  string
	secret []byte
	who    policy.Principal
}

func (c *floorCreds) Lookup(_ context.Context, keyID, token string) (sigv4.Credential, error) {
	if keyID != c.keyID || token != "" {
		return sigv4.Credential{}, sigv4.ErrInvalidClientTokenID
	}
	return sigv4.Credential{SecretAccessKey: c.secret, Principal: &c.who}, nil
}

type floorServer struct {
	verifier *sigv4.Verifier
	policy   *policy.Compiled
}

func newFloor(keyID, secret string) (*floorServer, error) {
	doc, err := policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
		"Action":["iam:Get*","iam:List*","iam:Generate*","iam:Simulate*"],"Resource":"*"}]}`), policy.Identity)
	if err != nil {
		return nil, err
	}
	c, err := policy.Compile(policy.PolicySet{Identity: []policy.NamedDocument{{Name: "IAMReadOnlyAccess", Doc: doc}}})
	if err != nil {
		return nil, err
	}
	creds := &floorCreds{keyID: keyID, secret: []byte(secret), who: policy.Principal{
		Type: policy.PrincipalUser, ARN: "arn:aws:iam::" + floorAccount + ":user/load-000001", Account: floorAccount,
	}}
	return &floorServer{
		verifier: sigv4.NewVerifier(sigv4.Config{Credentials: creds, Services: []string{"iam"}}),
		policy:   c,
	}, nil
}

func (f *floorServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		floorError(w, http.StatusBadRequest, "MalformedQueryString")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("Action") != "GetUser" {
		floorError(w, http.StatusBadRequest, "InvalidAction")
		return
	}
	res, err := f.verifier.Verify(r.Context(), sigv4.SharedFromHTTP(r, body))
	if err != nil {
		var se *sigv4.Error
		if errors.As(err, &se) {
			floorError(w, se.HTTPStatus, se.Code)
			return
		}
		floorError(w, http.StatusInternalServerError, "InternalFailure")
		return
	}
	name := form.Get("UserName")
	arn := "arn:aws:iam::" + floorAccount + ":user/" + name
	req := policy.Request{Action: "iam:GetUser", Resource: arn, Principal: *res.Principal.(*policy.Principal)}
	if f.policy.Decide(&req) != policy.Allowed {
		floorError(w, http.StatusForbidden, "AccessDenied")
		return
	}
	requestID := uuid.New()
	b := make([]byte, 0, 512)
	b = append(b, `<GetUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <GetUserResult>
    <User>
      <Path>/</Path>
      <UserName>`...)
	b = append(b, name...)
	b = append(b, `</UserName>
      <UserId>AIDAFLOOR0000000000001</UserId>
      <Arn>`...)
	b = append(b, arn...)
	b = append(b, `</Arn>
      <CreateDate>`...)
	b = time.Now().UTC().AppendFormat(b, "2006-01-02T15:04:05Z")
	b = append(b, `</CreateDate>
    </User>
  </GetUserResult>
  <ResponseMetadata>
    <RequestId>`...)
	b = append(b, requestID...)
	b = append(b, "</RequestId>\n  </ResponseMetadata>\n</GetUserResponse>\n"...)
	h := w.Header()
	h["Content-Type"] = []string{"text/xml"}
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	h["X-Amzn-Requestid"] = []string{requestID}
	_, _ = w.Write(b)
}

func floorError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code></Error></ErrorResponse>\n", code)
}

// serveFloor serves the floor on addr until the process is stopped.
func serveFloor(addr, keyID, secret string) error {
	f, err := newFloor(keyID, secret)
	if err != nil {
		return err
	}
	fmt.Printf("floor: serving GetUser for %s on http://%s/\n", keyID, strings.TrimPrefix(addr, "http://"))
	hs := &http.Server{Addr: addr, Handler: f, ReadHeaderTimeout: 10 * time.Second}
	return hs.ListenAndServe()
}
