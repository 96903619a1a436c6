package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/iamapi"
)

// roleEntity is the roles' row of the entity table.
func roleEntity() *entity {
	return &entity{
		kind: "roles", title: "Role", param: "RoleName",
		arn:          query("GetRole", iamapi.Server.GetRole, func(o *iamapi.GetRoleResponse) string { return o.Role.Arn }),
		listAttached: query("ListAttachedRolePolicies", iamapi.Server.ListAttachedRolePolicies, func(o *iamapi.ListAttachedRolePoliciesResponse) []iamapi.AttachedPolicy { return o.AttachedPolicies }),
		listInline:   query("ListRolePolicies", iamapi.Server.ListRolePolicies, func(o *iamapi.ListRolePoliciesResponse) []string { return o.PolicyNames }),
		getInline:    query("GetRolePolicy", iamapi.Server.GetRolePolicy, func(o *iamapi.GetRolePolicyResponse) string { return o.PolicyDocument }),
		attach:       op("AttachRolePolicy", iamapi.Server.AttachRolePolicy),
		detach:       op("DetachRolePolicy", iamapi.Server.DetachRolePolicy),
		deleteInline: op("DeleteRolePolicy", iamapi.Server.DeleteRolePolicy),
		del:          op("DeleteRole", iamapi.Server.DeleteRole),
		page:         (*Handler).rolePage,
		actions: map[string]entityAction{
			"max-session": func(h *Handler, q *req, name string) (string, bool, error) {
				_, err := call(h, q.ctx, "UpdateRole", form("RoleName", name, "MaxSessionDuration", strconv.Itoa(3600*atoi(q.r.PostFormValue("hours")))), h.iam.UpdateRole)
				return "Maximum session duration updated.", false, err
			},
			"boundary": func(h *Handler, q *req, name string) (string, bool, error) {
				_, err := call(h, q.ctx, "PutRolePermissionsBoundary", form("RoleName", name, "PermissionsBoundary", strings.TrimSpace(q.r.PostFormValue("arn"))), h.iam.PutRolePermissionsBoundary)
				return "Permissions boundary set.", false, err
			},
			"boundary-delete": func(h *Handler, q *req, name string) (string, bool, error) {
				_, err := call(h, q.ctx, "DeleteRolePermissionsBoundary", form("RoleName", name), h.iam.DeleteRolePermissionsBoundary)
				return "Permissions boundary removed.", false, err
			},
			"trust": func(h *Handler, q *req, name string) (string, bool, error) {
				_, err := call(h, q.ctx, "UpdateAssumeRolePolicy", form("RoleName", name, "PolicyDocument", q.r.PostFormValue("document")), h.iam.UpdateAssumeRolePolicy)
				return "Trust policy updated.", false, err
			},
		},
	}
}

type rolesData struct {
	Roles []iamapi.Role
	Next  string
}

func (h *Handler) roles(q *req) {
	d := rolesData{}
	v := q.view("Roles", "roles", &d)
	out, err := call(h, q.ctx, "ListRoles", form("MaxItems", listPage, "Marker", q.r.URL.Query().Get("marker")), h.iam.ListRoles)
	if err != nil {
		v.Error = h.apiError(err)
	} else {
		d.Roles, d.Next = out.Roles, nextPage("/roles", out.IsTruncated, out.Marker, nil)
	}
	h.render(q.w, http.StatusOK, "roles", v)
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

// roleEditor is the editor of a new role's trust policy.
var roleEditor = editorData{Action: "/roles", Kind: "trust", NameName: "Role name", Desc: true, Document: defaultTrust, Submit: "Create role"}

func (h *Handler) newRole(q *req) {
	h.render(q.w, http.StatusOK, "editor", q.view("Create role", "roles", roleEditor))
}

func (h *Handler) createRole(q *req) {
	h.createFromEditor(q, "Create role", "roles", roleEditor, func(name, doc, desc string) (string, string, error) {
		_, err := call(h, q.ctx, "CreateRole", form("RoleName", name, "AssumeRolePolicyDocument", doc, "Description", desc), h.iam.CreateRole)
		return "/roles/" + url.PathEscape(name), "Role " + name + " created.", err
	})
}

type roleData struct {
	Role        iamapi.Role
	Perms       permissions
	MaxHours    int
	Sessions    []eventRow // recent AssumeRole* calls, newest first
	SessionsOff bool       // no audit trail
	SessionsErr *awsquery.Error
	AllEvents   string // the event history of the role
}

// roleSessionsShown is how many recent sessions a role's page lists.
const roleSessionsShown = 10

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
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
	d := &roleData{Role: out.Role, Perms: h.loadPermissions(q.ctx, h.entities["roles"], name)}
	d.Role.AssumeRolePolicyDocument = prettyJSON(d.Role.AssumeRolePolicyDocument)
	d.MaxHours = 1
	if m := out.Role.MaxSessionDuration; m != nil {
		d.MaxHours = int(*m) / 3600
	}
	d.AllEvents = eventsBy("ResourceName", out.Role.Arn)
	h.recentSessions(q.ctx, d)
	v := q.view("Role "+name, "roles", d)
	v.Error = actionErr
	h.render(q.w, http.StatusOK, "role", v)
}

// recentSessions lists the sessions recently issued for a role: the
// AssumeRole, AssumeRoleWithSAML and AssumeRoleWithWebIdentity calls that
// name it in the trail, through LookupEvents.
func (h *Handler) recentSessions(ctx context.Context, d *roleData) {
	if h.cfg.Events == nil {
		d.SessionsOff = true
		return
	}
	out, err := h.lookupEvents(ctx, "ResourceName", d.Role.Arn, time.Time{}, time.Time{}, "")
	if err != nil {
		d.SessionsErr = h.lookupError(err)
		return
	}
	for _, e := range out.Events {
		if !strings.HasPrefix(e.EventName, "AssumeRole") || len(d.Sessions) == roleSessionsShown {
			continue
		}
		d.Sessions = append(d.Sessions, eventRowOf(e.EventID, e.EventName, e.EventSource, e.ReadOnly, e.Username, e.AccessKeyID, e.EventTime, e.CloudTrailEvent))
	}
}
