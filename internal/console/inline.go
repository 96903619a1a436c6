package console

import (
	"net/http"
	"net/url"
)

// inlineData is the model of an inline policy's page.
type inlineData struct {
	Kind     string // "user", "group" or "role"
	Entity   string
	Name     string
	Back     string // the entity's page
	Document string
	Summary  *summaryView
}

// inlinePolicy shows an inline policy of a user, group or role: its
// summary, and its JSON one tab away.
func (h *Handler) inlinePolicy(q *req, kind string) {
	entity, name := q.r.PathValue("name"), q.r.PathValue("policy")
	var doc string
	var err error
	switch kind {
	case "users":
		out, e := call(h, q.ctx, "GetUserPolicy", form("UserName", entity, "PolicyName", name), h.iam.GetUserPolicy)
		if err = e; err == nil {
			doc = out.PolicyDocument
		}
	case "groups":
		out, e := call(h, q.ctx, "GetGroupPolicy", form("GroupName", entity, "PolicyName", name), h.iam.GetGroupPolicy)
		if err = e; err == nil {
			doc = out.PolicyDocument
		}
	case "roles":
		out, e := call(h, q.ctx, "GetRolePolicy", form("RoleName", entity, "PolicyName", name), h.iam.GetRolePolicy)
		if err = e; err == nil {
			doc = out.PolicyDocument
		}
	default:
		http.NotFound(q.w, q.r)
		return
	}
	if err != nil {
		v := q.view("Inline policy", kind, nil)
		v.Error = h.apiError(err)
		h.render(q.w, http.StatusOK, "error", v)
		return
	}
	d := &inlineData{Kind: kind[:len(kind)-1], Entity: entity, Name: name, Back: Prefix + "/" + kind + "/" + url.PathEscape(entity),
		Document: prettyJSON(decodeDocument(doc))}
	d.Summary = summarize(d.Document, h.cfg.Catalog(), nil, q.r.URL.Query())
	h.render(q.w, http.StatusOK, "inline", q.view("Inline policy "+name, kind, d))
}
