package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/iamapi"
)

// groupEntity is the groups' row of the entity table.
func groupEntity() *entity {
	return &entity{
		kind: "groups", title: "Group", param: "GroupName",
		arn:          query("GetGroup", iamapi.Server.GetGroup, func(o *iamapi.GetGroupResponse) string { return o.Group.Arn }),
		listAttached: query("ListAttachedGroupPolicies", iamapi.Server.ListAttachedGroupPolicies, func(o *iamapi.ListAttachedGroupPoliciesResponse) []iamapi.AttachedPolicy { return o.AttachedPolicies }),
		listInline:   query("ListGroupPolicies", iamapi.Server.ListGroupPolicies, func(o *iamapi.ListGroupPoliciesResponse) []string { return o.PolicyNames }),
		getInline:    query("GetGroupPolicy", iamapi.Server.GetGroupPolicy, func(o *iamapi.GetGroupPolicyResponse) string { return o.PolicyDocument }),
		attach:       op("AttachGroupPolicy", iamapi.Server.AttachGroupPolicy),
		detach:       op("DetachGroupPolicy", iamapi.Server.DetachGroupPolicy),
		deleteInline: op("DeleteGroupPolicy", iamapi.Server.DeleteGroupPolicy),
		del:          op("DeleteGroup", iamapi.Server.DeleteGroup),
		deleteFirst:  (*Handler).deleteGroupMembers,
		page:         (*Handler).groupPage,
		actions: map[string]entityAction{
			"remove-user": func(h *Handler, q *req, name string) (string, bool, error) {
				_, err := call(h, q.ctx, "RemoveUserFromGroup", form("GroupName", name, "UserName", q.r.PostFormValue("user")), h.iam.RemoveUserFromGroup)
				return "User removed from the group.", false, err
			},
		},
	}
}

type groupsData struct {
	Groups []iamapi.Group
	Next   string
}

func (h *Handler) groups(q *req) { h.groupsPage(q, nil) }

func (h *Handler) groupsPage(q *req, actionErr *awsquery.Error) {
	d := groupsData{}
	v := q.view("Groups", "groups", &d)
	out, err := call(h, q.ctx, "ListGroups", form("MaxItems", listPage, "Marker", q.r.URL.Query().Get("marker")), h.iam.ListGroups)
	if err != nil {
		v.Error = h.apiError(err)
	} else {
		d.Groups, d.Next = out.Groups, nextPage("/groups", out.IsTruncated, out.Marker, nil)
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
	Group iamapi.Group
	Users []iamapi.User
	Perms permissions
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
	d := &groupData{Group: g.Group, Users: g.Users, Perms: h.loadPermissions(q.ctx, h.entities["groups"], name)}
	v := q.view("Group "+name, "groups", d)
	v.Error = actionErr
	h.render(q.w, http.StatusOK, "group", v)
}

// deleteGroupMembers removes a group's users, which DeleteGroup requires.
func (h *Handler) deleteGroupMembers(ctx context.Context, name string) error {
	// Without the group, DeleteGroup says so.
	if g, err := call(h, ctx, "GetGroup", form("GroupName", name), h.iam.GetGroup); err == nil {
		for _, u := range g.Users {
			if _, err := call(h, ctx, "RemoveUserFromGroup", form("GroupName", name, "UserName", u.UserName), h.iam.RemoveUserFromGroup); err != nil {
				return err
			}
		}
	}
	return nil
}
