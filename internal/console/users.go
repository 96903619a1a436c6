package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/iamapi"
)

// userEntity is the users' row of the entity table.
func userEntity() *entity {
	return &entity{
		kind: "users", title: "User", param: "UserName",
		arn:          query("GetUser", iamapi.Server.GetUser, func(o *iamapi.GetUserResponse) string { return o.User.Arn }),
		listAttached: query("ListAttachedUserPolicies", iamapi.Server.ListAttachedUserPolicies, func(o *iamapi.ListAttachedUserPoliciesResponse) []iamapi.AttachedPolicy { return o.AttachedPolicies }),
		listInline:   query("ListUserPolicies", iamapi.Server.ListUserPolicies, func(o *iamapi.ListUserPoliciesResponse) []string { return o.PolicyNames }),
		getInline:    query("GetUserPolicy", iamapi.Server.GetUserPolicy, func(o *iamapi.GetUserPolicyResponse) string { return o.PolicyDocument }),
		attach:       op("AttachUserPolicy", iamapi.Server.AttachUserPolicy),
		detach:       op("DetachUserPolicy", iamapi.Server.DetachUserPolicy),
		deleteInline: op("DeleteUserPolicy", iamapi.Server.DeleteUserPolicy),
		del:          op("DeleteUser", iamapi.Server.DeleteUser),
		deleteFirst:  (*Handler).deleteUserFirst,
		page: func(h *Handler, q *req, name string, actionErr *awsquery.Error) {
			h.userPage(q, name, actionErr, nil)
		},
		actions: map[string]entityAction{
			"password": (*Handler).userPassword,
			"password-delete": func(h *Handler, q *req, name string) (string, bool, error) {
				_, err := call(h, q.ctx, "DeleteLoginProfile", form("UserName", name), h.iam.DeleteLoginProfile)
				return "Console access removed.", false, err
			},
			"keys": (*Handler).userCreateKey,
			"key":  (*Handler).userKey,
			"group-add": func(h *Handler, q *req, name string) (string, bool, error) {
				g := q.r.PostFormValue("group")
				_, err := call(h, q.ctx, "AddUserToGroup", form("UserName", name, "GroupName", g), h.iam.AddUserToGroup)
				return "Added to group " + g + ".", false, err
			},
			"group-remove": func(h *Handler, q *req, name string) (string, bool, error) {
				g := q.r.PostFormValue("group")
				_, err := call(h, q.ctx, "RemoveUserFromGroup", form("UserName", name, "GroupName", g), h.iam.RemoveUserFromGroup)
				return "Removed from group " + g + ".", false, err
			},
			"mfa-deactivate": func(h *Handler, q *req, name string) (string, bool, error) {
				_, err := call(h, q.ctx, "DeactivateMFADevice", form("UserName", name, "SerialNumber", q.r.PostFormValue("serial")), h.iam.DeactivateMFADevice)
				return "MFA device deactivated.", false, err
			},
		},
	}
}

// Users.

type usersData struct {
	Users []iamapi.User
	Next  string // the next page's URL
	Err   *awsquery.Error
}

func (h *Handler) users(q *req) { h.usersPage(q, nil) }

func (h *Handler) usersPage(q *req, actionErr *awsquery.Error) {
	d := usersData{}
	out, err := call(h, q.ctx, "ListUsers", form("MaxItems", listPage, "Marker", q.r.URL.Query().Get("marker")), h.iam.ListUsers)
	if err != nil {
		d.Err = h.apiError(err)
	} else {
		d.Users, d.Next = out.Users, nextPage("/users", out.IsTruncated, out.Marker, nil)
	}
	v := q.view("Users", "users", d)
	v.Error = actionErr
	if actionErr == nil {
		v.Error = d.Err
	}
	h.render(q.w, http.StatusOK, "users", v)
}

// changePasswordPolicy names the AWS managed policy the console attaches
// when it requires a new user to reset the password, as AWS's console does.
const changePasswordPolicy = "IAMUserChangePassword"

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
			if _, err := call(h, q.ctx, "AttachUserPolicy", form("UserName", name, "PolicyArn", h.cfg.Partition.AWSPolicyARN("/", changePasswordPolicy)), h.iam.AttachUserPolicy); err != nil {
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
	Perms      permissions
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
	d.Perms = h.loadPermissions(q.ctx, h.entities["users"], name)
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

func (h *Handler) userPassword(q *req, name string) (string, bool, error) {
	r := q.r
	pw, reset := r.PostFormValue("password"), strconv.FormatBool(r.PostFormValue("reset") != "")
	var err error
	if r.PostFormValue("exists") != "" {
		_, err = call(h, q.ctx, "UpdateLoginProfile", form("UserName", name, "Password", pw, "PasswordResetRequired", reset), h.iam.UpdateLoginProfile)
	} else {
		_, err = call(h, q.ctx, "CreateLoginProfile", form("UserName", name, "Password", pw, "PasswordResetRequired", reset), h.iam.CreateLoginProfile)
	}
	return "Console password set.", false, err
}

// userCreateKey creates an access key and shows its secret, once.
func (h *Handler) userCreateKey(q *req, name string) (string, bool, error) {
	out, err := call(h, q.ctx, "CreateAccessKey", form("UserName", name), h.iam.CreateAccessKey)
	if err != nil {
		return "", false, err
	}
	h.userPage(q, name, nil, &out.AccessKey)
	return "", true, nil
}

func (h *Handler) userKey(q *req, name string) (string, bool, error) {
	id, st := q.r.PostFormValue("id"), q.r.PostFormValue("op")
	switch st {
	case "delete":
		_, err := call(h, q.ctx, "DeleteAccessKey", form("UserName", name, "AccessKeyId", id), h.iam.DeleteAccessKey)
		return "Access key " + id + " deleted.", false, err
	case "Active", "Inactive":
		_, err := call(h, q.ctx, "UpdateAccessKey", form("UserName", name, "AccessKeyId", id, "Status", st), h.iam.UpdateAccessKey)
		return "Access key " + id + " is now " + strings.ToLower(st) + ".", false, err
	}
	return "", false, nil
}

// deleteUserFirst removes a user's password, access keys, group
// memberships and MFA devices, which DeleteUser requires gone.
func (h *Handler) deleteUserFirst(ctx context.Context, name string) error {
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
	if mfa, err := call(h, ctx, "ListMFADevices", f, h.iam.ListMFADevices); err == nil {
		for _, d := range mfa.MFADevices {
			if _, err := call(h, ctx, "DeactivateMFADevice", form("UserName", name, "SerialNumber", d.SerialNumber), h.iam.DeactivateMFADevice); err != nil {
				return err
			}
		}
	}
	return nil
}

func isCode(err error, code string) bool {
	ae, ok := awsquery.As(err)
	return ok && ae.Code == code
}
