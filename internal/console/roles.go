package console

import (
	"net/http"
	"net/url"
	"strings"

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
			"trust": func(h *Handler, q *req, name string) (string, bool, error) {
				_, err := call(h, q.ctx, "UpdateAssumeRolePolicy", form("RoleName", name, "PolicyDocument", q.r.PostFormValue("document")), h.iam.UpdateAssumeRolePolicy)
				return "Trust policy updated.", false, err
			},
		},
	}
}

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
	Role  iamapi.Role
	Perms permissions
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
	v := q.view("Role "+name, "roles", d)
	v.Error = actionErr
	h.render(q.w, http.StatusOK, "role", v)
}
