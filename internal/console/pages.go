package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/iamapi"
	"github.com/iamd/iamd/policy"
)

func withCaller(ctx context.Context, c *authz.Caller) context.Context {
	return authz.WithCaller(ctx, c)
}

// form builds Query API parameters from name/value pairs, leaving out
// empty values.
func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	return v
}

func (h *Handler) routes() {
	m := http.NewServeMux()
	m.Handle("GET "+Prefix+"/static/", http.StripPrefix(Prefix+"/", http.FileServerFS(staticFS)))
	m.HandleFunc("GET "+Prefix, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix+"/", http.StatusMovedPermanently)
	})
	m.HandleFunc("GET "+Prefix+"/signin", h.signinGet)
	m.HandleFunc("POST "+Prefix+"/signin", h.signinPost)
	m.HandleFunc("GET "+Prefix+"/signin/mfa", h.mfaGet)
	m.HandleFunc("POST "+Prefix+"/signin/mfa", h.mfaPost)
	m.HandleFunc("POST "+Prefix+"/signin/webauthn/begin", h.webauthnLoginBegin)
	m.HandleFunc("POST "+Prefix+"/signin/webauthn/finish", h.webauthnLoginFinish)
	m.HandleFunc("GET "+Prefix+"/signin/password", h.forcedGet)
	m.HandleFunc("POST "+Prefix+"/signin/password", h.forcedPost)
	m.HandleFunc("POST "+Prefix+"/signout", h.signout)

	m.HandleFunc("GET "+Prefix+"/{$}", h.authed(h.dashboard))
	m.HandleFunc("GET "+Prefix+"/users", h.authed(h.users))
	m.HandleFunc("POST "+Prefix+"/users", h.authed(h.createUser))
	m.HandleFunc("GET "+Prefix+"/users/{name}", h.authed(h.user))
	m.HandleFunc("POST "+Prefix+"/users/{name}/{action}", h.authed(h.userAction))
	m.HandleFunc("GET "+Prefix+"/groups", h.authed(h.groups))
	m.HandleFunc("POST "+Prefix+"/groups", h.authed(h.createGroup))
	m.HandleFunc("GET "+Prefix+"/groups/{name}", h.authed(h.group))
	m.HandleFunc("POST "+Prefix+"/groups/{name}/{action}", h.authed(h.groupAction))
	m.HandleFunc("GET "+Prefix+"/roles", h.authed(h.roles))
	m.HandleFunc("GET "+Prefix+"/roles/new", h.authed(h.newRole))
	m.HandleFunc("POST "+Prefix+"/roles", h.authed(h.createRole))
	m.HandleFunc("GET "+Prefix+"/roles/{name}", h.authed(h.role))
	m.HandleFunc("POST "+Prefix+"/roles/{name}/{action}", h.authed(h.roleAction))
	for _, kind := range []string{"users", "groups", "roles"} {
		m.HandleFunc("GET "+Prefix+"/"+kind+"/{name}/inline/{policy}", h.authed(func(q *req) { h.inlinePolicy(q, kind) }))
		m.HandleFunc("GET "+Prefix+"/"+kind+"/{name}/permissions", h.authed(func(q *req) { h.effective(q, kind) }))
	}
	m.HandleFunc("GET "+Prefix+"/policies", h.authed(h.policies))
	m.HandleFunc("GET "+Prefix+"/policies/new", h.authed(h.newPolicy))
	m.HandleFunc("POST "+Prefix+"/policies", h.authed(h.createPolicy))
	m.HandleFunc("GET "+Prefix+"/policy", h.authed(h.policy))
	m.HandleFunc("POST "+Prefix+"/policy/{action}", h.authed(h.policyAction))
	m.HandleFunc("POST "+Prefix+"/api/validate-policy", h.authed(h.validatePolicy))
	m.HandleFunc("GET "+Prefix+"/security", h.authed(h.security))
	m.HandleFunc("POST "+Prefix+"/security/{action}", h.authed(h.securityAction))
	m.HandleFunc("POST "+Prefix+"/security/webauthn/begin", h.authed(h.webauthnRegisterBegin))
	m.HandleFunc("POST "+Prefix+"/security/webauthn/finish", h.authed(h.webauthnRegisterFinish))
	m.HandleFunc("GET "+Prefix+"/credential-report", h.authed(h.credentialReport))
	m.HandleFunc("POST "+Prefix+"/credential-report", h.authed(h.credentialReport))
	m.HandleFunc("GET "+Prefix+"/simulator", h.authed(h.simulator))
	m.HandleFunc("POST "+Prefix+"/simulator", h.authed(h.simulator))
	h.mux = m
}

// Dashboard.

type dashboard struct {
	Summary        map[string]int32
	SummaryErr     *awsquery.Error
	RootMFA        bool
	RootKeys       bool
	UsersErr       *awsquery.Error
	NoMFA          []userRow
	OldKeys        []keyRow
	Checked        int
	Truncated      bool
	PasswordPolicy bool
}

type userRow struct {
	Name     string
	Console  bool
	MFA      bool
	Keys     int
	Created  time.Time
	LastUsed time.Time
}

type keyRow struct {
	User    string
	ID      string
	Status  string
	Created time.Time
	AgeDays int
}

// dashboardUsers is how many users the dashboard inspects (three API calls
// each); the credential report covers every user.
const dashboardUsers = 200

func (h *Handler) dashboard(q *req) {
	d := &dashboard{}
	sum, err := call(h, q.ctx, "GetAccountSummary", nil, h.iam.GetAccountSummary)
	if err != nil {
		d.SummaryErr = h.apiError(err)
	} else {
		d.Summary = sum.SummaryMap
		d.RootMFA = sum.SummaryMap["AccountMFAEnabled"] > 0
		d.RootKeys = sum.SummaryMap["AccountAccessKeysPresent"] > 0
	}
	if _, err := call(h, q.ctx, "GetAccountPasswordPolicy", nil, h.iam.GetAccountPasswordPolicy); err == nil {
		d.PasswordPolicy = true
	}
	users, err := call(h, q.ctx, "ListUsers", form("MaxItems", strconv.Itoa(dashboardUsers)), h.iam.ListUsers)
	if err != nil {
		d.UsersErr = h.apiError(err)
	} else {
		d.Truncated = users.IsTruncated
		now := h.now()
		for _, u := range users.Users {
			d.Checked++
			row := userRow{Name: u.UserName, Created: u.CreateDate, LastUsed: u.PasswordLastUsed}
			if mfa, err := call(h, q.ctx, "ListMFADevices", form("UserName", u.UserName), h.iam.ListMFADevices); err == nil {
				row.MFA = len(mfa.MFADevices) > 0
			}
			if _, err := call(h, q.ctx, "GetLoginProfile", form("UserName", u.UserName), h.iam.GetLoginProfile); err == nil {
				row.Console = true
			}
			if !row.MFA {
				d.NoMFA = append(d.NoMFA, row)
			}
			if keys, err := call(h, q.ctx, "ListAccessKeys", form("UserName", u.UserName), h.iam.ListAccessKeys); err == nil {
				for _, k := range keys.AccessKeyMetadata {
					age := int(now.Sub(k.CreateDate) / (24 * time.Hour))
					if age >= 90 && k.Status == "Active" {
						d.OldKeys = append(d.OldKeys, keyRow{User: u.UserName, ID: k.AccessKeyId, Status: k.Status, Created: k.CreateDate, AgeDays: age})
					}
				}
			}
		}
	}
	h.render(q.w, http.StatusOK, "dashboard", q.view("Security dashboard", "home", d))
}

// Users.

type usersData struct {
	Users []iamapi.User
	Err   *awsquery.Error
}

func (h *Handler) users(q *req) { h.usersPage(q, nil) }

func (h *Handler) usersPage(q *req, actionErr *awsquery.Error) {
	d := usersData{}
	out, err := call(h, q.ctx, "ListUsers", form("MaxItems", "1000"), h.iam.ListUsers)
	if err != nil {
		d.Err = h.apiError(err)
	} else {
		d.Users = out.Users
	}
	v := q.view("Users", "users", d)
	v.Error = actionErr
	if actionErr == nil {
		v.Error = d.Err
	}
	h.render(q.w, http.StatusOK, "users", v)
}

// changePasswordPolicy is the AWS managed policy the console attaches when
// it requires a new user to reset the password, as AWS's console does.
const changePasswordPolicy = "arn:aws:iam::aws:policy/IAMUserChangePassword"

func (h *Handler) createUser(q *req) {
	r := q.r
	name := strings.TrimSpace(r.PostFormValue("name"))
	if _, err := call(h, q.ctx, "CreateUser", form("UserName", name, "Path", r.PostFormValue("path")), h.iam.CreateUser); err != nil {
		h.usersPage(q, h.apiError(err))
		return
	}
	msg := "User " + name + " created."
	if pw := r.PostFormValue("password"); pw != "" {
		reset := r.PostFormValue("reset") != ""
		if _, err := call(h, q.ctx, "CreateLoginProfile", form("UserName", name, "Password", pw, "PasswordResetRequired", strconv.FormatBool(reset)), h.iam.CreateLoginProfile); err != nil {
			e := h.apiError(err)
			h.redirect(q, "/users/"+url.PathEscape(name), msg+" Its console password was not set: "+e.Code+": "+e.Message)
			return
		}
		msg += " It can sign in to the console."
		if reset {
			if _, err := call(h, q.ctx, "AttachUserPolicy", form("UserName", name, "PolicyArn", changePasswordPolicy), h.iam.AttachUserPolicy); err != nil {
				e := h.apiError(err)
				msg += " IAMUserChangePassword was not attached (" + e.Code + "): the user may be unable to change the password."
			} else {
				msg += " IAMUserChangePassword was attached so that it can set a new password at first sign-in."
			}
		}
	}
	h.redirect(q, "/users/"+url.PathEscape(name), msg)
}

type userData struct {
	User       iamapi.User
	Console    bool
	Reset      bool
	Groups     []iamapi.Group
	AllGroups  []iamapi.Group
	Attached   []iamapi.AttachedPolicy
	Inline     []string
	Keys       []iamapi.AccessKeyMetadata
	MFA        []iamapi.MFADevice
	Errs       map[string]*awsquery.Error
	NewKey     *iamapi.AccessKey
	NewKeyCSV  []byte
	NewKeyFile string
}

func (h *Handler) loadUser(q *req, name string) (*userData, *awsquery.Error) {
	u, err := call(h, q.ctx, "GetUser", form("UserName", name), h.iam.GetUser)
	if err != nil {
		return nil, h.apiError(err)
	}
	d := &userData{User: u.User, Errs: map[string]*awsquery.Error{}}
	note := func(section string, err error) bool {
		if err != nil {
			var ae *awsquery.Error
			if errors.As(err, &ae) && ae.Code == "NoSuchEntity" && section == "login" {
				return false
			}
			d.Errs[section] = h.apiError(err)
			return false
		}
		return true
	}
	if lp, err := call(h, q.ctx, "GetLoginProfile", form("UserName", name), h.iam.GetLoginProfile); note("login", err) {
		d.Console = true
		d.Reset = lp.LoginProfile.PasswordResetRequired != nil && *lp.LoginProfile.PasswordResetRequired
	}
	if g, err := call(h, q.ctx, "ListGroupsForUser", form("UserName", name), h.iam.ListGroupsForUser); note("groups", err) {
		d.Groups = g.Groups
	}
	if g, err := call(h, q.ctx, "ListGroups", form("MaxItems", "1000"), h.iam.ListGroups); err == nil {
		in := map[string]bool{}
		for _, x := range d.Groups {
			in[x.GroupName] = true
		}
		for _, x := range g.Groups {
			if !in[x.GroupName] {
				d.AllGroups = append(d.AllGroups, x)
			}
		}
	}
	if a, err := call(h, q.ctx, "ListAttachedUserPolicies", form("UserName", name), h.iam.ListAttachedUserPolicies); note("policies", err) {
		d.Attached = a.AttachedPolicies
	}
	if p, err := call(h, q.ctx, "ListUserPolicies", form("UserName", name), h.iam.ListUserPolicies); note("policies", err) {
		d.Inline = p.PolicyNames
	}
	if k, err := call(h, q.ctx, "ListAccessKeys", form("UserName", name), h.iam.ListAccessKeys); note("keys", err) {
		d.Keys = k.AccessKeyMetadata
	}
	if m, err := call(h, q.ctx, "ListMFADevices", form("UserName", name), h.iam.ListMFADevices); note("mfa", err) {
		d.MFA = m.MFADevices
	}
	return d, nil
}

func (h *Handler) user(q *req) { h.userPage(q, q.r.PathValue("name"), nil, nil) }

func (h *Handler) userPage(q *req, name string, actionErr *awsquery.Error, newKey *iamapi.AccessKey) {
	d, err := h.loadUser(q, name)
	if err != nil {
		v := q.view("User "+name, "users", nil)
		v.Error = err
		h.render(q.w, http.StatusOK, "error", v)
		return
	}
	if newKey != nil {
		d.NewKey = newKey
		d.NewKeyCSV = accessKeyCSV(newKey)
		d.NewKeyFile = name + "_accessKeys.csv"
	}
	v := q.view("User "+name, "users", d)
	v.Error = actionErr
	h.render(q.w, http.StatusOK, "user", v)
}

// accessKeyCSV is the file AWS's console offers for a new access key.
func accessKeyCSV(k *iamapi.AccessKey) []byte {
	return []byte("Access key ID,Secret access key\n" + k.AccessKeyId + "," + k.SecretAccessKey + "\n")
}

func (h *Handler) userAction(q *req) {
	name, r := q.r.PathValue("name"), q.r
	var err error
	msg := ""
	switch q.r.PathValue("action") {
	case "delete":
		if err = h.deleteUser(q.ctx, name); err == nil {
			h.redirect(q, "/users", "User "+name+" deleted.")
			return
		}
	case "password":
		pw, reset := r.PostFormValue("password"), strconv.FormatBool(r.PostFormValue("reset") != "")
		if r.PostFormValue("exists") != "" {
			_, err = call(h, q.ctx, "UpdateLoginProfile", form("UserName", name, "Password", pw, "PasswordResetRequired", reset), h.iam.UpdateLoginProfile)
		} else {
			_, err = call(h, q.ctx, "CreateLoginProfile", form("UserName", name, "Password", pw, "PasswordResetRequired", reset), h.iam.CreateLoginProfile)
		}
		msg = "Console password set."
	case "password-delete":
		_, err = call(h, q.ctx, "DeleteLoginProfile", form("UserName", name), h.iam.DeleteLoginProfile)
		msg = "Console access removed."
	case "keys":
		var out *iamapi.CreateAccessKeyResponse
		if out, err = call(h, q.ctx, "CreateAccessKey", form("UserName", name), h.iam.CreateAccessKey); err == nil {
			h.userPage(q, name, nil, &out.AccessKey)
			return
		}
	case "key":
		id := r.PostFormValue("id")
		switch r.PostFormValue("op") {
		case "delete":
			_, err = call(h, q.ctx, "DeleteAccessKey", form("UserName", name, "AccessKeyId", id), h.iam.DeleteAccessKey)
			msg = "Access key " + id + " deleted."
		case "Active", "Inactive":
			_, err = call(h, q.ctx, "UpdateAccessKey", form("UserName", name, "AccessKeyId", id, "Status", r.PostFormValue("op")), h.iam.UpdateAccessKey)
			msg = "Access key " + id + " is now " + strings.ToLower(r.PostFormValue("op")) + "."
		}
	case "group-add":
		_, err = call(h, q.ctx, "AddUserToGroup", form("UserName", name, "GroupName", r.PostFormValue("group")), h.iam.AddUserToGroup)
		msg = "Added to group " + r.PostFormValue("group") + "."
	case "group-remove":
		_, err = call(h, q.ctx, "RemoveUserFromGroup", form("UserName", name, "GroupName", r.PostFormValue("group")), h.iam.RemoveUserFromGroup)
		msg = "Removed from group " + r.PostFormValue("group") + "."
	case "attach":
		_, err = call(h, q.ctx, "AttachUserPolicy", form("UserName", name, "PolicyArn", strings.TrimSpace(r.PostFormValue("arn"))), h.iam.AttachUserPolicy)
		msg = "Policy attached."
	case "detach":
		_, err = call(h, q.ctx, "DetachUserPolicy", form("UserName", name, "PolicyArn", r.PostFormValue("arn")), h.iam.DetachUserPolicy)
		msg = "Policy detached."
	case "inline-delete":
		_, err = call(h, q.ctx, "DeleteUserPolicy", form("UserName", name, "PolicyName", r.PostFormValue("policy")), h.iam.DeleteUserPolicy)
		msg = "Inline policy deleted."
	case "mfa-deactivate":
		_, err = call(h, q.ctx, "DeactivateMFADevice", form("UserName", name, "SerialNumber", r.PostFormValue("serial")), h.iam.DeactivateMFADevice)
		msg = "MFA device deactivated."
	default:
		http.NotFound(q.w, q.r)
		return
	}
	if err != nil {
		h.userPage(q, name, h.apiError(err), nil)
		return
	}
	h.redirect(q, "/users/"+url.PathEscape(name), msg)
}

// deleteUser removes what IAM's DeleteUser requires gone first, as AWS's
// console does, each through the API (so each is authorized).
func (h *Handler) deleteUser(ctx context.Context, name string) error {
	f := form("UserName", name)
	if _, err := call(h, ctx, "DeleteLoginProfile", f, h.iam.DeleteLoginProfile); err != nil && !isCode(err, "NoSuchEntity") {
		return err
	}
	if keys, err := call(h, ctx, "ListAccessKeys", f, h.iam.ListAccessKeys); err == nil {
		for _, k := range keys.AccessKeyMetadata {
			if _, err := call(h, ctx, "DeleteAccessKey", form("UserName", name, "AccessKeyId", k.AccessKeyId), h.iam.DeleteAccessKey); err != nil {
				return err
			}
		}
	}
	if groups, err := call(h, ctx, "ListGroupsForUser", f, h.iam.ListGroupsForUser); err == nil {
		for _, g := range groups.Groups {
			if _, err := call(h, ctx, "RemoveUserFromGroup", form("UserName", name, "GroupName", g.GroupName), h.iam.RemoveUserFromGroup); err != nil {
				return err
			}
		}
	}
	if att, err := call(h, ctx, "ListAttachedUserPolicies", f, h.iam.ListAttachedUserPolicies); err == nil {
		for _, p := range att.AttachedPolicies {
			if _, err := call(h, ctx, "DetachUserPolicy", form("UserName", name, "PolicyArn", p.PolicyArn), h.iam.DetachUserPolicy); err != nil {
				return err
			}
		}
	}
	if in, err := call(h, ctx, "ListUserPolicies", f, h.iam.ListUserPolicies); err == nil {
		for _, p := range in.PolicyNames {
			if _, err := call(h, ctx, "DeleteUserPolicy", form("UserName", name, "PolicyName", p), h.iam.DeleteUserPolicy); err != nil {
				return err
			}
		}
	}
	if mfa, err := call(h, ctx, "ListMFADevices", f, h.iam.ListMFADevices); err == nil {
		for _, d := range mfa.MFADevices {
			if _, err := call(h, ctx, "DeactivateMFADevice", form("UserName", name, "SerialNumber", d.SerialNumber), h.iam.DeactivateMFADevice); err != nil {
				return err
			}
		}
	}
	_, err := call(h, ctx, "DeleteUser", f, h.iam.DeleteUser)
	return err
}

func isCode(err error, code string) bool {
	var ae *awsquery.Error
	return errors.As(err, &ae) && ae.Code == code
}

// Groups.

type groupsData struct {
	Groups []iamapi.Group
}

func (h *Handler) groups(q *req) { h.groupsPage(q, nil) }

func (h *Handler) groupsPage(q *req, actionErr *awsquery.Error) {
	d := groupsData{}
	v := q.view("Groups", "groups", &d)
	out, err := call(h, q.ctx, "ListGroups", form("MaxItems", "1000"), h.iam.ListGroups)
	if err != nil {
		v.Error = h.apiError(err)
	} else {
		d.Groups = out.Groups
	}
	if actionErr != nil {
		v.Error = actionErr
	}
	h.render(q.w, http.StatusOK, "groups", v)
}

func (h *Handler) createGroup(q *req) {
	name := strings.TrimSpace(q.r.PostFormValue("name"))
	if _, err := call(h, q.ctx, "CreateGroup", form("GroupName", name, "Path", q.r.PostFormValue("path")), h.iam.CreateGroup); err != nil {
		h.groupsPage(q, h.apiError(err))
		return
	}
	h.redirect(q, "/groups/"+url.PathEscape(name), "Group "+name+" created.")
}

type groupData struct {
	Group    iamapi.Group
	Users    []iamapi.User
	Attached []iamapi.AttachedPolicy
	Inline   []string
}

func (h *Handler) group(q *req) { h.groupPage(q, q.r.PathValue("name"), nil) }

func (h *Handler) groupPage(q *req, name string, actionErr *awsquery.Error) {
	g, err := call(h, q.ctx, "GetGroup", form("GroupName", name), h.iam.GetGroup)
	if err != nil {
		v := q.view("Group "+name, "groups", nil)
		v.Error = h.apiError(err)
		h.render(q.w, http.StatusOK, "error", v)
		return
	}
	d := &groupData{Group: g.Group, Users: g.Users}
	if a, err := call(h, q.ctx, "ListAttachedGroupPolicies", form("GroupName", name), h.iam.ListAttachedGroupPolicies); err == nil {
		d.Attached = a.AttachedPolicies
	}
	if p, err := call(h, q.ctx, "ListGroupPolicies", form("GroupName", name), h.iam.ListGroupPolicies); err == nil {
		d.Inline = p.PolicyNames
	}
	v := q.view("Group "+name, "groups", d)
	v.Error = actionErr
	h.render(q.w, http.StatusOK, "group", v)
}

func (h *Handler) groupAction(q *req) {
	name, r := q.r.PathValue("name"), q.r
	var err error
	msg := ""
	switch r.PathValue("action") {
	case "delete":
		err = h.deleteGroup(q.ctx, name)
		if err == nil {
			h.redirect(q, "/groups", "Group "+name+" deleted.")
			return
		}
	case "attach":
		_, err = call(h, q.ctx, "AttachGroupPolicy", form("GroupName", name, "PolicyArn", strings.TrimSpace(r.PostFormValue("arn"))), h.iam.AttachGroupPolicy)
		msg = "Policy attached."
	case "detach":
		_, err = call(h, q.ctx, "DetachGroupPolicy", form("GroupName", name, "PolicyArn", r.PostFormValue("arn")), h.iam.DetachGroupPolicy)
		msg = "Policy detached."
	case "remove-user":
		_, err = call(h, q.ctx, "RemoveUserFromGroup", form("GroupName", name, "UserName", r.PostFormValue("user")), h.iam.RemoveUserFromGroup)
		msg = "User removed from the group."
	default:
		http.NotFound(q.w, q.r)
		return
	}
	if err != nil {
		h.groupPage(q, name, h.apiError(err))
		return
	}
	h.redirect(q, "/groups/"+url.PathEscape(name), msg)
}

func (h *Handler) deleteGroup(ctx context.Context, name string) error {
	f := form("GroupName", name)
	if g, err := call(h, ctx, "GetGroup", f, h.iam.GetGroup); err == nil {
		for _, u := range g.Users {
			if _, err := call(h, ctx, "RemoveUserFromGroup", form("GroupName", name, "UserName", u.UserName), h.iam.RemoveUserFromGroup); err != nil {
				return err
			}
		}
	}
	if a, err := call(h, ctx, "ListAttachedGroupPolicies", f, h.iam.ListAttachedGroupPolicies); err == nil {
		for _, p := range a.AttachedPolicies {
			if _, err := call(h, ctx, "DetachGroupPolicy", form("GroupName", name, "PolicyArn", p.PolicyArn), h.iam.DetachGroupPolicy); err != nil {
				return err
			}
		}
	}
	if in, err := call(h, ctx, "ListGroupPolicies", f, h.iam.ListGroupPolicies); err == nil {
		for _, p := range in.PolicyNames {
			if _, err := call(h, ctx, "DeleteGroupPolicy", form("GroupName", name, "PolicyName", p), h.iam.DeleteGroupPolicy); err != nil {
				return err
			}
		}
	}
	_, err := call(h, ctx, "DeleteGroup", f, h.iam.DeleteGroup)
	return err
}

// Roles.

type rolesData struct {
	Roles []iamapi.Role
}

func (h *Handler) roles(q *req) {
	d := rolesData{}
	v := q.view("Roles", "roles", &d)
	out, err := call(h, q.ctx, "ListRoles", form("MaxItems", "1000"), h.iam.ListRoles)
	if err != nil {
		v.Error = h.apiError(err)
	} else {
		d.Roles = out.Roles
	}
	h.render(q.w, http.StatusOK, "roles", v)
}

// editorData is the model of the policy editor page (new policy, new
// policy version, new role, trust policy).
type editorData struct {
	Action   string // form action, under the prefix
	Kind     string // identity or trust
	NameName string // name field's label; empty when editing
	Name     string
	Desc     bool
	Document string
	ARN      string
	Submit   string
}

const defaultTrust = `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Principal": {"Service": "ec2.amazonaws.com"},
      "Action": "sts:AssumeRole"
    }
  ]
}`

const defaultPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": "s3:ListAllMyBuckets",
      "Resource": "*"
    }
  ]
}`

func (h *Handler) newRole(q *req) {
	h.render(q.w, http.StatusOK, "editor", q.view("Create role", "roles", editorData{
		Action: "/roles", Kind: "trust", NameName: "Role name", Desc: true, Document: defaultTrust, Submit: "Create role",
	}))
}

func (h *Handler) createRole(q *req) {
	r := q.r
	name, doc := strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("document")
	_, err := call(h, q.ctx, "CreateRole", form("RoleName", name, "AssumeRolePolicyDocument", doc, "Description", r.PostFormValue("description")), h.iam.CreateRole)
	if err != nil {
		v := q.view("Create role", "roles", editorData{Action: "/roles", Kind: "trust", NameName: "Role name", Desc: true, Name: name, Document: doc, Submit: "Create role"})
		v.Error = h.apiError(err)
		h.render(q.w, http.StatusOK, "editor", v)
		return
	}
	h.redirect(q, "/roles/"+url.PathEscape(name), "Role "+name+" created.")
}

type roleData struct {
	Role     iamapi.Role
	Attached []iamapi.AttachedPolicy
	Inline   []string
}

func (h *Handler) role(q *req) { h.rolePage(q, q.r.PathValue("name"), nil) }

func (h *Handler) rolePage(q *req, name string, actionErr *awsquery.Error) {
	out, err := call(h, q.ctx, "GetRole", form("RoleName", name), h.iam.GetRole)
	if err != nil {
		v := q.view("Role "+name, "roles", nil)
		v.Error = h.apiError(err)
		h.render(q.w, http.StatusOK, "error", v)
		return
	}
	d := &roleData{Role: out.Role}
	d.Role.AssumeRolePolicyDocument = prettyJSON(d.Role.AssumeRolePolicyDocument)
	if a, err := call(h, q.ctx, "ListAttachedRolePolicies", form("RoleName", name), h.iam.ListAttachedRolePolicies); err == nil {
		d.Attached = a.AttachedPolicies
	}
	if p, err := call(h, q.ctx, "ListRolePolicies", form("RoleName", name), h.iam.ListRolePolicies); err == nil {
		d.Inline = p.PolicyNames
	}
	v := q.view("Role "+name, "roles", d)
	v.Error = actionErr
	h.render(q.w, http.StatusOK, "role", v)
}

func (h *Handler) roleAction(q *req) {
	name, r := q.r.PathValue("name"), q.r
	var err error
	msg := ""
	switch r.PathValue("action") {
	case "delete":
		if err = h.deleteRole(q.ctx, name); err == nil {
			h.redirect(q, "/roles", "Role "+name+" deleted.")
			return
		}
	case "trust":
		_, err = call(h, q.ctx, "UpdateAssumeRolePolicy", form("RoleName", name, "PolicyDocument", r.PostFormValue("document")), h.iam.UpdateAssumeRolePolicy)
		msg = "Trust policy updated."
	case "attach":
		_, err = call(h, q.ctx, "AttachRolePolicy", form("RoleName", name, "PolicyArn", strings.TrimSpace(r.PostFormValue("arn"))), h.iam.AttachRolePolicy)
		msg = "Policy attached."
	case "detach":
		_, err = call(h, q.ctx, "DetachRolePolicy", form("RoleName", name, "PolicyArn", r.PostFormValue("arn")), h.iam.DetachRolePolicy)
		msg = "Policy detached."
	default:
		http.NotFound(q.w, q.r)
		return
	}
	if err != nil {
		h.rolePage(q, name, h.apiError(err))
		return
	}
	h.redirect(q, "/roles/"+url.PathEscape(name), msg)
}

func (h *Handler) deleteRole(ctx context.Context, name string) error {
	f := form("RoleName", name)
	if a, err := call(h, ctx, "ListAttachedRolePolicies", f, h.iam.ListAttachedRolePolicies); err == nil {
		for _, p := range a.AttachedPolicies {
			if _, err := call(h, ctx, "DetachRolePolicy", form("RoleName", name, "PolicyArn", p.PolicyArn), h.iam.DetachRolePolicy); err != nil {
				return err
			}
		}
	}
	if in, err := call(h, ctx, "ListRolePolicies", f, h.iam.ListRolePolicies); err == nil {
		for _, p := range in.PolicyNames {
			if _, err := call(h, ctx, "DeleteRolePolicy", form("RoleName", name, "PolicyName", p), h.iam.DeleteRolePolicy); err != nil {
				return err
			}
		}
	}
	_, err := call(h, ctx, "DeleteRole", f, h.iam.DeleteRole)
	return err
}

// Policies.

type policiesData struct {
	Policies []iamapi.Policy
	Scope    string
}

func (h *Handler) policies(q *req) {
	scope := q.r.URL.Query().Get("scope")
	if scope != "AWS" && scope != "All" {
		scope = "Local"
	}
	d := policiesData{Scope: scope}
	v := q.view("Policies", "policies", &d)
	out, err := call(h, q.ctx, "ListPolicies", form("Scope", scope, "MaxItems", "1000"), h.iam.ListPolicies)
	if err != nil {
		v.Error = h.apiError(err)
	} else {
		d.Policies = out.Policies
	}
	h.render(q.w, http.StatusOK, "policies", v)
}

func (h *Handler) newPolicy(q *req) {
	h.render(q.w, http.StatusOK, "editor", q.view("Create policy", "policies", editorData{
		Action: "/policies", Kind: "identity", NameName: "Policy name", Desc: true, Document: defaultPolicy, Submit: "Create policy",
	}))
}

func (h *Handler) createPolicy(q *req) {
	r := q.r
	name, doc := strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("document")
	out, err := call(h, q.ctx, "CreatePolicy", form("PolicyName", name, "PolicyDocument", doc, "Description", r.PostFormValue("description")), h.iam.CreatePolicy)
	if err != nil {
		v := q.view("Create policy", "policies", editorData{Action: "/policies", Kind: "identity", NameName: "Policy name", Desc: true, Name: name, Document: doc, Submit: "Create policy"})
		v.Error = h.apiError(err)
		h.render(q.w, http.StatusOK, "editor", v)
		return
	}
	h.redirect(q, "/policy?arn="+url.QueryEscape(out.Policy.Arn), "Policy "+name+" created.")
}

type policyData struct {
	Policy   iamapi.Policy
	Document string
	Versions []iamapi.PolicyVersion
	AWS      bool
	Summary  *summaryView
}

func (h *Handler) policy(q *req) { h.policyPage(q, q.r.URL.Query().Get("arn"), nil, "") }

func (h *Handler) policyPage(q *req, arn string, actionErr *awsquery.Error, draft string) {
	out, err := call(h, q.ctx, "GetPolicy", form("PolicyArn", arn), h.iam.GetPolicy)
	if err != nil || out.Policy == nil {
		v := q.view("Policy", "policies", nil)
		v.Error = h.apiError(err)
		h.render(q.w, http.StatusOK, "error", v)
		return
	}
	d := &policyData{Policy: *out.Policy, AWS: strings.HasPrefix(arn, "arn:aws:iam::aws:")}
	if pv, err := call(h, q.ctx, "GetPolicyVersion", form("PolicyArn", arn, "VersionId", out.Policy.DefaultVersionId), h.iam.GetPolicyVersion); err == nil && pv.PolicyVersion != nil {
		d.Document = prettyJSON(decodeDocument(pv.PolicyVersion.Document))
	}
	if vs, err := call(h, q.ctx, "ListPolicyVersions", form("PolicyArn", arn), h.iam.ListPolicyVersions); err == nil {
		d.Versions = vs.Versions
	}
	d.Summary = summarize(d.Document, h.cfg.Catalog(), url.Values{"arn": {arn}}, q.r.URL.Query())
	if draft != "" {
		d.Document = draft
		d.Summary.JSON = true
	}
	v := q.view("Policy "+out.Policy.PolicyName, "policies", d)
	v.Error = actionErr
	h.render(q.w, http.StatusOK, "policy", v)
}

// decodeDocument undoes the URL-encoding some callers see; the service
// returns documents as stored, so this is usually the identity.
func decodeDocument(doc string) string {
	if strings.HasPrefix(doc, "%7B") {
		if d, err := url.QueryUnescape(doc); err == nil {
			return d
		}
	}
	return doc
}

func (h *Handler) policyAction(q *req) {
	r := q.r
	arn := r.PostFormValue("arn")
	var err error
	msg := ""
	switch r.PathValue("action") {
	case "delete":
		if err = h.deletePolicy(q.ctx, arn); err == nil {
			h.redirect(q, "/policies", "Policy deleted.")
			return
		}
	case "edit":
		doc := r.PostFormValue("document")
		err = h.newPolicyVersion(q.ctx, arn, doc)
		if err != nil {
			h.policyPage(q, arn, h.apiError(err), doc)
			return
		}
		msg = "A new default version of the policy was saved."
	case "default":
		_, err = call(h, q.ctx, "SetDefaultPolicyVersion", form("PolicyArn", arn, "VersionId", r.PostFormValue("version")), h.iam.SetDefaultPolicyVersion)
		msg = "Default version changed."
	default:
		http.NotFound(q.w, q.r)
		return
	}
	if err != nil {
		h.policyPage(q, arn, h.apiError(err), "")
		return
	}
	h.redirect(q, "/policy?arn="+url.QueryEscape(arn), msg)
}

// newPolicyVersion saves doc as the new default version, deleting the
// oldest non-default version first when five exist, as AWS's console
// offers.
func (h *Handler) newPolicyVersion(ctx context.Context, arn, doc string) error {
	vs, err := call(h, ctx, "ListPolicyVersions", form("PolicyArn", arn), h.iam.ListPolicyVersions)
	if err != nil {
		return err
	}
	if len(vs.Versions) >= 5 {
		oldest := ""
		var at time.Time
		for _, v := range vs.Versions {
			if v.IsDefaultVersion != nil && *v.IsDefaultVersion {
				continue
			}
			if oldest == "" || v.CreateDate.Before(at) {
				oldest, at = v.VersionId, v.CreateDate
			}
		}
		if oldest != "" {
			if _, err := call(h, ctx, "DeletePolicyVersion", form("PolicyArn", arn, "VersionId", oldest), h.iam.DeletePolicyVersion); err != nil {
				return err
			}
		}
	}
	_, err = call(h, ctx, "CreatePolicyVersion", form("PolicyArn", arn, "PolicyDocument", doc, "SetAsDefault", "true"), h.iam.CreatePolicyVersion)
	return err
}

func (h *Handler) deletePolicy(ctx context.Context, arn string) error {
	if vs, err := call(h, ctx, "ListPolicyVersions", form("PolicyArn", arn), h.iam.ListPolicyVersions); err == nil {
		for _, v := range vs.Versions {
			if v.IsDefaultVersion == nil || !*v.IsDefaultVersion {
				if _, err := call(h, ctx, "DeletePolicyVersion", form("PolicyArn", arn, "VersionId", v.VersionId), h.iam.DeletePolicyVersion); err != nil {
					return err
				}
			}
		}
	}
	_, err := call(h, ctx, "DeletePolicy", form("PolicyArn", arn), h.iam.DeletePolicy)
	return err
}

// validatePolicy answers the editor's checks as the user types:
// {"valid":true} or {"valid":false,"code":"MalformedPolicyDocument",
// "message":IAM's message}.
func (h *Handler) validatePolicy(q *req) {
	var in struct {
		Document string `json:"document"`
		Kind     string `json:"kind"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(q.w, q.r.Body, 256<<10)).Decode(&in); err != nil {
		writeJSON(q.w, http.StatusBadRequest, map[string]any{"valid": false, "message": "The request is not JSON."})
		return
	}
	writeJSON(q.w, http.StatusOK, checkDocument(in.Document, in.Kind))
}

// checkDocument validates a policy document as IAM does when it is stored.
func checkDocument(doc, kind string) map[string]any {
	k, limit, opts := policy.Identity, policy.ManagedPolicyMaxSize, policy.ParseOptions{RequireVersion2012: true}
	if kind == "trust" {
		k, limit, opts = policy.Trust, policy.TrustPolicyMaxSize, policy.ParseOptions{}
	}
	if _, err := policy.ParseWithOptions([]byte(doc), k, opts); err != nil {
		msg := "Syntax errors in policy."
		var ve *policy.ValidationError
		if errors.As(err, &ve) {
			msg = ve.Message
		}
		return map[string]any{"valid": false, "code": "MalformedPolicyDocument", "message": msg}
	}
	if err := policy.CheckSize([]byte(doc), limit); err != nil {
		return map[string]any{"valid": false, "code": "LimitExceeded", "message": "Cannot exceed quota for PolicySize: " + strconv.Itoa(limit)}
	}
	return map[string]any{"valid": true, "size": policy.Size([]byte(doc)), "limit": limit}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func prettyJSON(doc string) string {
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return doc
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return doc
	}
	return string(b)
}

// Credential report and policy simulator: operations written elsewhere;
// until they answer, the pages say so.

type reportData struct {
	Unavailable bool
	State       string
	Rows        [][]string
	Header      []string
	Generated   time.Time
}

func (h *Handler) credentialReport(q *req) {
	d := &reportData{}
	v := q.view("Credential report", "report", d)
	if q.r.Method == http.MethodPost {
		out, err := call(h, q.ctx, "GenerateCredentialReport", nil, h.iam.GenerateCredentialReport)
		switch {
		case isCode(err, awsquery.CodeNotImplemented):
			d.Unavailable = true
		case err != nil:
			v.Error = h.apiError(err)
		default:
			d.State = out.State
		}
	}
	if !d.Unavailable && v.Error == nil {
		out, err := call(h, q.ctx, "GetCredentialReport", nil, h.iam.GetCredentialReport)
		switch {
		case isCode(err, awsquery.CodeNotImplemented):
			d.Unavailable = true
		case isCode(err, "ReportNotPresent"), isCode(err, "ReportInProgress"), isCode(err, "ReportExpired"):
			d.State = h.apiError(err).Message
		case err != nil:
			v.Error = h.apiError(err)
		default:
			d.Generated = out.GeneratedTime
			rows := parseCSV(string(out.Content))
			if len(rows) > 0 {
				d.Header, d.Rows = rows[0], rows[1:]
			}
		}
	}
	h.render(q.w, http.StatusOK, "report", v)
}

func parseCSV(s string) [][]string {
	var out [][]string
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line != "" {
			out = append(out, strings.Split(line, ","))
		}
	}
	return out
}

type simData struct {
	Unavailable bool
	Principal   string
	Actions     string
	Resources   string
	Results     []iamapi.EvaluationResult
}

func (h *Handler) simulator(q *req) {
	d := &simData{Principal: q.who.ARN, Resources: "*"}
	v := q.view("Policy simulator", "simulator", d)
	if q.r.Method == http.MethodPost {
		d.Principal = strings.TrimSpace(q.r.PostFormValue("principal"))
		d.Actions = q.r.PostFormValue("actions")
		d.Resources = q.r.PostFormValue("resources")
		f := form("PolicySourceArn", d.Principal)
		for i, a := range fieldsOf(d.Actions) {
			f.Set("ActionNames.member."+strconv.Itoa(i+1), a)
		}
		for i, r := range fieldsOf(d.Resources) {
			f.Set("ResourceArns.member."+strconv.Itoa(i+1), r)
		}
		out, err := call(h, q.ctx, "SimulatePrincipalPolicy", f, h.iam.SimulatePrincipalPolicy)
		switch {
		case isCode(err, awsquery.CodeNotImplemented):
			d.Unavailable = true
		case err != nil:
			v.Error = h.apiError(err)
		default:
			d.Results = out.EvaluationResults
			sort.SliceStable(d.Results, func(i, j int) bool { return d.Results[i].EvalActionName < d.Results[j].EvalActionName })
		}
	}
	h.render(q.w, http.StatusOK, "simulator", v)
}

func fieldsOf(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == ' ' || r == '\t' })
}
