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
func (h *Handler) inlinePolicy(q *req, e *entity) {
	entity, name := q.r.PathValue("name"), q.r.PathValue("policy")
	doc, err := e.getInline(h, q.ctx, form(e.param, entity, "PolicyName", name))
	if err != nil {
		v := q.view("Inline policy", e.kind, nil)
		v.Error = h.apiError(err)
		h.render(q.w, http.StatusOK, "error", v)
		return
	}
	d := &inlineData{Kind: e.kind[:len(e.kind)-1], Entity: entity, Name: name, Back: Prefix + "/" + e.kind + "/" + url.PathEscape(entity),
		Document: prettyJSON(decodeDocument(doc))}
	d.Summary = summarize(d.Document, h.cfg.Catalog(), nil, q.r.URL.Query())
	h.render(q.w, http.StatusOK, "inline", q.view("Inline policy "+name, e.kind, d))
}
