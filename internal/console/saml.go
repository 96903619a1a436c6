package console

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/stsapi"
)

// SAMLAssumer is STS's SAML federation; *stsapi.Service implements it. The
// console's SAML sign-in (AWS's https://signin.aws.amazon.com/saml) has no
// verifier of its own: SAMLRoles verifies the response as
// AssumeRoleWithSAML does, to offer its roles, and AssumeRoleWithSAML then
// assumes the chosen one, so the signature, audience, validity window,
// role attribute, session name and duration, replay check and the role's
// trust policy all decide as they do for the API.
type SAMLAssumer interface {
	SAMLRoles(ctx context.Context, assertion string) ([]stsapi.SAMLRole, error)
	AssumeRoleWithSAML(ctx context.Context, in *stsapi.AssumeRoleWithSAMLRequest) (*stsapi.AssumeRoleWithSAMLResponse, error)
	// ClaimedSAMLRoles reads the roles a response names without verifying
	// it: the accounts a refused sign-in is recorded in.
	ClaimedSAMLRoles(assertion string) []stsapi.SAMLRole
}

// SAML sign-in paths: AWS's /saml at the server's root, and the console's.
const (
	samlPath       = "/saml"
	samlChoosePath = Prefix + "/saml/choose"
)

// samlChoicePurpose seals the response into the role chooser's form.
const samlChoicePurpose = "iamd/console-saml-choice/v1"

// samlChoiceTTL is how long the role chooser may be left open.
const samlChoiceTTL = 5 * time.Minute

// maxSAMLForm bounds a SAML sign-in's form body.
const maxSAMLForm = 256 << 10

// samlChoice is what the role chooser's form carries, sealed: the response
// (used only once a role is chosen), the verified roles it offers, and
// the RelayState.
type samlChoice struct {
	Response string            `json:"r"`
	Roles    []stsapi.SAMLRole `json:"o"`
	Relay    string            `json:"s,omitempty"`
	Expires  time.Time         `json:"e"`
}

type samlData struct {
	Sealed string
	Roles  []samlRoleOption
}

type samlRoleOption struct {
	Index         int
	Account, Name string
	RoleARN       string
}

// samlPost is the assertion consumer service: an IdP posts SAMLResponse
// (and RelayState) here, from the user's browser.
func (h *Handler) samlPost(w http.ResponseWriter, r *http.Request) {
	if h.cfg.SAML == nil || h.cfg.STSValidator == nil {
		h.samlRefuse(w, r, nil, &awsquery.Error{Code: "NotFound", Message: "This server does not offer SAML sign-in.", HTTPStatus: http.StatusNotFound, Sender: true})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxSAMLForm)
	resp := strings.TrimSpace(r.PostFormValue("SAMLResponse"))
	if resp == "" {
		h.samlRefuse(w, r, nil, &awsquery.Error{Code: "InvalidIdentityToken", Message: "The request has no SAMLResponse: sign in through your identity provider.", HTTPStatus: http.StatusBadRequest, Sender: true})
		return
	}
	roles, err := h.cfg.SAML.SAMLRoles(r.Context(), resp)
	if err != nil {
		h.samlRefuse(w, r, h.cfg.SAML.ClaimedSAMLRoles(resp), err)
		return
	}
	relay := safeNext(r.PostFormValue("RelayState"))
	if len(roles) == 1 {
		h.samlSignIn(w, r, resp, roles[0], relay)
		return
	}
	sealed, err := h.sealChoice(&samlChoice{Response: resp, Roles: roles, Relay: relay, Expires: h.now().Add(samlChoiceTTL)})
	if err != nil {
		h.samlRefuse(w, r, roles, err)
		return
	}
	d := &samlData{Sealed: sealed}
	for i, ro := range roles {
		acct, name := roleARNParts(ro.RoleARN)
		d.Roles = append(d.Roles, samlRoleOption{Index: i, Account: acct, Name: name, RoleARN: ro.RoleARN})
	}
	h.render(w, http.StatusOK, "saml", &view{Title: "Select a role", Data: d})
}

// samlChoose signs in as the role chosen on the chooser page.
func (h *Handler) samlChoose(w http.ResponseWriter, r *http.Request) {
	if h.cfg.SAML == nil || h.cfg.STSValidator == nil {
		h.samlRefuse(w, r, nil, &awsquery.Error{Code: "NotFound", Message: "This server does not offer SAML sign-in.", HTTPStatus: http.StatusNotFound, Sender: true})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxSAMLForm)
	c, ok := h.openChoice(r.PostFormValue("choice"))
	if !ok {
		h.samlRefuse(w, r, nil, &awsquery.Error{Code: "ExpiredTokenException", Message: "The role selection has expired or is not valid: sign in through your identity provider again.", HTTPStatus: http.StatusBadRequest, Sender: true})
		return
	}
	i, err := strconv.Atoi(r.PostFormValue("role"))
	if err != nil || i < 0 || i >= len(c.Roles) {
		h.samlRefuse(w, r, c.Roles, &awsquery.Error{Code: "ValidationError", Message: "Select one of the roles offered.", HTTPStatus: http.StatusBadRequest, Sender: true})
		return
	}
	h.samlSignIn(w, r, c.Response, c.Roles[i], c.Relay)
}

// samlSignIn assumes role with the response through AssumeRoleWithSAML and
// starts a console session of the role.
func (h *Handler) samlSignIn(w http.ResponseWriter, r *http.Request, resp string, role stsapi.SAMLRole, relay string) {
	refuse := func(err error) { h.samlRefuse(w, r, []stsapi.SAMLRole{role}, err) }
	in, err := h.cfg.STSValidator.Decode("AssumeRoleWithSAML", form("RoleArn", role.RoleARN, "PrincipalArn", role.PrincipalARN, "SAMLAssertion", resp))
	if err != nil {
		refuse(err)
		return
	}
	req, ok := in.(*stsapi.AssumeRoleWithSAMLRequest)
	if !ok {
		refuse(awsquery.InternalFailure())
		return
	}
	out, err := h.cfg.SAML.AssumeRoleWithSAML(r.Context(), req)
	if err != nil {
		refuse(err)
		return
	}
	h.startFederatedSession(w, r, role.RoleARN, out.Credentials, out.AssumedRoleUser.Arn, relay, "SAML")
}

// samlRefuse shows why a SAML sign-in was refused, and records it as a
// failed ConsoleLogin in the accounts of the roles the response named
// (verified or not), as a failed password sign-in is recorded in the
// account its form named. Neither the response nor anything from it is
// logged.
func (h *Handler) samlRefuse(w http.ResponseWriter, r *http.Request, roles []stsapi.SAMLRole, err error) {
	e := h.apiError(err)
	if e.Code == awsquery.CodeAccessDenied {
		e = &awsquery.Error{Code: e.Code, HTTPStatus: http.StatusForbidden, Sender: true,
			Message: e.Message + ": the role does not exist, or its trust policy does not allow this SAML provider (sts:AssumeRoleWithSAML)."}
	}
	h.log.Info("console SAML sign-in refused", "code", e.Code, "source_ip", sourceIP(r))
	seen := map[string]bool{}
	for _, ro := range roles {
		if acct, _ := roleARNParts(ro.RoleARN); !seen[acct] {
			seen[acct] = true
			h.auditFederatedRefusal(r, acct, "SAMLUser", ro.PrincipalARN, e.Message)
		}
	}
	h.render(w, http.StatusOK, "saml", &view{Title: "Sign-in refused", Error: e, Data: &samlData{}})
}

func (h *Handler) sealChoice(c *samlChoice) (string, error) {
	plain, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	sealed, err := h.sessions.seal.Seal(plain, []byte(samlChoicePurpose))
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// openChoice opens the chooser's sealed form field; ok is false when it
// does not open or has expired.
func (h *Handler) openChoice(v string) (*samlChoice, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(raw) == 0 {
		return nil, false
	}
	plain, err := h.sessions.seal.Open(raw, []byte(samlChoicePurpose))
	if err != nil {
		return nil, false
	}
	c := &samlChoice{}
	if err := json.Unmarshal(plain, c); err != nil || !h.now().Before(c.Expires) || len(c.Roles) == 0 {
		return nil, false
	}
	return c, true
}

// roleARNParts returns a role ARN's account and role name.
func roleARNParts(arn string) (account, name string) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) == 6 {
		account = parts[4]
	}
	return account, arn[strings.LastIndexByte(arn, '/')+1:]
}
