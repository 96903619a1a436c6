package console

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/stsapi"
)

// RoleAssumer is STS's AssumeRole; *stsapi.Service implements it. Switch
// role calls it with the signed-in user as the caller, so the user's
// policies (sts:AssumeRole) and the role's trust policy decide, with
// aws:MultiFactorAuthPresent true only when the user signed in with MFA.
type RoleAssumer interface {
	AssumeRole(ctx context.Context, in *stsapi.AssumeRoleRequest) (*stsapi.AssumeRoleResponse, error)
}

// switchDuration is how long a switched-role session lasts: one hour, as
// in AWS's console.
const switchDuration = 3600

// assumed is the role a user switched to, kept in the session cookie
// (sealed): the temporary credentials' key ID and session token, from
// which each request's caller is resolved, as the API resolves them.
type assumed struct {
	KeyID   string `json:"k"`
	Token   string `json:"t"`
	Role    string `json:"r"` // role name
	Account string `json:"a"`
	Display string `json:"d,omitempty"`
	// Federated marks a SAML sign-in's session: the role is all there is,
	// with no user to go back to.
	Federated bool `json:"f,omitempty"`
}

type switchData struct {
	Account, Role, Display string
	Unavailable            bool
}

var accountID = regexp.MustCompile(`^[0-9]{12}$`)

func (h *Handler) switchRoleGet(q *req) {
	d := &switchData{Account: q.r.URL.Query().Get("account"), Role: q.r.URL.Query().Get("roleName"), Unavailable: h.cfg.STS == nil}
	h.render(q.w, http.StatusOK, "switchrole", q.view("Switch role", "", d))
}

// switchRolePost assumes the role through STS's AssumeRole and keeps the
// credentials in the session.
func (h *Handler) switchRolePost(q *req) {
	r := q.r
	d := &switchData{Account: strings.TrimSpace(r.PostFormValue("account")), Role: strings.TrimSpace(r.PostFormValue("role")), Display: strings.TrimSpace(r.PostFormValue("display"))}
	v := q.view("Switch role", "", d)
	fail := func(err error) {
		v.Error = h.apiError(err)
		h.render(q.w, http.StatusOK, "switchrole", v)
	}
	switch {
	case h.cfg.STS == nil:
		d.Unavailable = true
		h.render(q.w, http.StatusOK, "switchrole", v)
		return
	case q.s.Root:
		fail(&awsquery.Error{Code: awsquery.CodeAccessDenied, Message: "The root user cannot switch roles. Sign in as an IAM user.", HTTPStatus: http.StatusForbidden, Sender: true})
		return
	case q.s.Role != nil:
		fail(&awsquery.Error{Code: "ValidationError", Message: "Go back to your user before you switch to another role.", HTTPStatus: http.StatusBadRequest, Sender: true})
		return
	case !accountID.MatchString(d.Account):
		fail(&awsquery.Error{Code: "ValidationError", Message: "The account must be a 12-digit account ID.", HTTPStatus: http.StatusBadRequest, Sender: true})
		return
	}
	f := form("RoleArn", h.cfg.Partition.Prefix("iam")+d.Account+":role/"+d.Role, "RoleSessionName", q.who.Name, "DurationSeconds", strconv.Itoa(switchDuration))
	// The AssumeRole is recorded in the audit trail as the API's is.
	rec := h.beginCall(q.ctx, "sts", stsAPIVersion, "AssumeRole", f)
	defer rec.Close()
	var out *stsapi.AssumeRoleResponse
	in, err := h.cfg.STSValidator.Decode("AssumeRole", f)
	if err == nil {
		ar, ok := in.(*stsapi.AssumeRoleRequest)
		if !ok {
			fail(awsquery.InternalFailure())
			return
		}
		out, err = h.cfg.STS.AssumeRole(q.ctx, ar)
	}
	codec, _ := h.cfg.STSValidator.(Codec)
	if ferr := h.finishCall(q.ctx, rec, codec, "AssumeRole", out, err); ferr != nil {
		fail(ferr)
		return
	}
	if err != nil {
		fail(withMFAHint(err, q.s.MFA))
		return
	}
	q.s.Role = &assumed{KeyID: out.Credentials.AccessKeyId, Token: out.Credentials.SessionToken, Role: d.Role, Account: d.Account, Display: d.Display}
	h.redirect(q, "/", "You are now working as role "+d.Role+" in account "+d.Account+".")
}

// withMFAHint adds to STS's refusal, for a user who signed in without MFA,
// what to do when the role's trust policy wants MFA: AWS's message does
// not say which condition failed, and MFA is the usual one.
func withMFAHint(err error, mfa bool) error {
	ae, ok := awsquery.As(err)
	if mfa || !ok || ae.Code != awsquery.CodeAccessDenied {
		return err
	}
	hinted := *ae
	hinted.Message = strings.TrimSuffix(hinted.Message, ".") + ". You signed in without MFA: if the role's trust policy requires MFA (aws:MultiFactorAuthPresent), sign in again with your MFA device, then switch role."
	return &hinted
}

// switchBack ends the role session: the user works as themself again.
func (h *Handler) switchBack(q *req) {
	q.s.Role = nil
	h.redirect(q, "/", "Back to "+q.s.UserName+".")
}

// roleCaller resolves the caller of a switched-role session from its
// credentials, as the API resolves a request signed with them. ok is
// false when they no longer hold (expired, or the role is gone).
func (h *Handler) roleCaller(ctx context.Context, s *session, who *identity) (*authz.Caller, bool) {
	if h.cfg.Sessions == nil {
		return nil, false
	}
	cred, err := h.cfg.Sessions.Lookup(ctx, s.Role.KeyID, s.Role.Token)
	if err != nil {
		return nil, false
	}
	p, ok := cred.Principal.(*authz.Caller)
	if !ok {
		return nil, false
	}
	c := *p
	who.User, who.Role, who.Account, who.Display, who.Federated = who.Name, s.Role.Role, s.Role.Account, s.Role.Display, s.Role.Federated
	who.Name, who.Alias, who.Root = s.Role.Role+"/"+who.User, "", false
	return &c, true
}
