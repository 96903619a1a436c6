package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// namedDoc is one policy that applies to an identity, with where it comes
// from.
type namedDoc struct {
	Name     string
	From     string // "Managed", "Inline", "Group admins (managed)" ...
	Document string
}

// effectiveData is the model of an identity's permissions page: the
// summary of every policy that applies to it, as one.
type effectiveData struct {
	Kind     string
	Entity   string
	Back     string
	Policies []namedDoc
	Summary  *summaryView
}

// effective shows the policies of a user (with its groups'), a group or a
// role, summarized together.
func (h *Handler) effective(q *req, e *entity) {
	kind, entity := e.kind, q.r.PathValue("name")
	docs, err := h.identityPolicies(q.ctx, e, entity)
	if err != nil {
		v := q.view("Permissions of "+entity, kind, nil)
		v.Error = h.apiError(err)
		h.render(q.w, http.StatusOK, "error", v)
		return
	}
	d := &effectiveData{Kind: kind[:len(kind)-1], Entity: entity, Back: Prefix + "/" + kind + "/" + url.PathEscape(entity), Policies: docs}
	combined, err := combine(docs)
	switch {
	case len(docs) == 0 || err != nil:
		// No statements is not a policy, but it is an answer: no access.
		d.Summary = &summaryView{Base: link(nil), JSONLink: link(with(nil, "view", "json")), JSON: q.r.URL.Query().Get("view") == "json"}
		if err != nil {
			d.Summary.Err = err.Error()
		}
	default:
		d.Summary = summarize(combined, h.cfg.Catalog(), nil, q.r.URL.Query())
		// The analyzer's locations would point into the combined document,
		// which no one wrote: each policy's own page reports them.
		d.Summary.Findings = nil
	}
	h.render(q.w, http.StatusOK, "effective", q.view("Permissions of "+entity, kind, d))
}

// identityPolicies returns the documents of the policies attached to or
// embedded in an identity, and for a user those of its groups.
func (h *Handler) identityPolicies(ctx context.Context, e *entity, name string) ([]namedDoc, error) {
	out, err := h.ownPolicies(ctx, e, name, "")
	if err != nil || e.kind != "users" {
		return out, err
	}
	gs, err := call(h, ctx, "ListGroupsForUser", form("UserName", name), h.iam.ListGroupsForUser)
	if err != nil {
		return nil, err
	}
	for _, g := range gs.Groups {
		docs, err := h.ownPolicies(ctx, h.entities["groups"], g.GroupName, "group "+g.GroupName+", ")
		if err != nil {
			return nil, err
		}
		out = append(out, docs...)
	}
	return out, nil
}

// ownPolicies returns the documents of the managed policies attached to an
// entity and of its inline policies, their From prefixed with from.
func (h *Handler) ownPolicies(ctx context.Context, e *entity, name, from string) ([]namedDoc, error) {
	var out []namedDoc
	attached, err := e.listAttached(h, ctx, form(e.param, name))
	if err != nil {
		return nil, err
	}
	for _, a := range attached {
		p, err := call(h, ctx, "GetPolicy", form("PolicyArn", a.PolicyArn), h.iam.GetPolicy)
		if err != nil {
			return nil, fmt.Errorf("policy %s: %w", a.PolicyArn, err)
		}
		v, err := call(h, ctx, "GetPolicyVersion", form("PolicyArn", a.PolicyArn, "VersionId", p.Policy.DefaultVersionId), h.iam.GetPolicyVersion)
		if err != nil {
			return nil, fmt.Errorf("policy %s: %w", a.PolicyArn, err)
		}
		out = append(out, namedDoc{Name: p.Policy.PolicyName, From: from + "managed", Document: prettyJSON(decodeDocument(v.PolicyVersion.Document))})
	}
	inline, err := e.listInline(h, ctx, form(e.param, name))
	if err != nil {
		return nil, err
	}
	for _, p := range inline {
		doc, err := e.getInline(h, ctx, form(e.param, name, "PolicyName", p))
		if err != nil {
			return nil, err
		}
		out = append(out, namedDoc{Name: p, From: from + "inline", Document: prettyJSON(decodeDocument(doc))})
	}
	return out, nil
}

// combine joins the statements of several policies into one document, so
// that they are summarized together as the identity's permissions.
func combine(docs []namedDoc) (string, error) {
	stmts := []json.RawMessage{}
	for _, d := range docs {
		var doc struct {
			Statement json.RawMessage
		}
		if err := json.Unmarshal([]byte(d.Document), &doc); err != nil {
			return "", fmt.Errorf("policy %s: %w", d.Name, err)
		}
		var list []json.RawMessage
		if err := json.Unmarshal(doc.Statement, &list); err != nil {
			list = []json.RawMessage{doc.Statement}
		}
		stmts = append(stmts, list...)
	}
	out, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": stmts})
	return string(out), err
}
