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
func (h *Handler) effective(q *req, kind string) {
	entity := q.r.PathValue("name")
	docs, err := h.identityPolicies(q.ctx, kind, entity)
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
func (h *Handler) identityPolicies(ctx context.Context, kind, name string) ([]namedDoc, error) {
	var out []namedDoc
	managed := func(arns []string, from string) error {
		for _, arn := range arns {
			p, err := call(h, ctx, "GetPolicy", form("PolicyArn", arn), h.iam.GetPolicy)
			if err != nil {
				return fmt.Errorf("policy %s: %w", arn, err)
			}
			v, err := call(h, ctx, "GetPolicyVersion", form("PolicyArn", arn, "VersionId", p.Policy.DefaultVersionId), h.iam.GetPolicyVersion)
			if err != nil {
				return fmt.Errorf("policy %s: %w", arn, err)
			}
			out = append(out, namedDoc{Name: p.Policy.PolicyName, From: from, Document: prettyJSON(decodeDocument(v.PolicyVersion.Document))})
		}
		return nil
	}
	group := func(g, from string) error {
		a, err := call(h, ctx, "ListAttachedGroupPolicies", form("GroupName", g), h.iam.ListAttachedGroupPolicies)
		if err != nil {
			return err
		}
		var arns []string
		for _, p := range a.AttachedPolicies {
			arns = append(arns, p.PolicyArn)
		}
		if err := managed(arns, from+"managed"); err != nil {
			return err
		}
		in, err := call(h, ctx, "ListGroupPolicies", form("GroupName", g), h.iam.ListGroupPolicies)
		if err != nil {
			return err
		}
		for _, p := range in.PolicyNames {
			d, err := call(h, ctx, "GetGroupPolicy", form("GroupName", g, "PolicyName", p), h.iam.GetGroupPolicy)
			if err != nil {
				return err
			}
			out = append(out, namedDoc{Name: p, From: from + "inline", Document: prettyJSON(decodeDocument(d.PolicyDocument))})
		}
		return nil
	}
	switch kind {
	case "groups":
		return out, group(name, "")
	case "users":
		a, err := call(h, ctx, "ListAttachedUserPolicies", form("UserName", name), h.iam.ListAttachedUserPolicies)
		if err != nil {
			return nil, err
		}
		var arns []string
		for _, p := range a.AttachedPolicies {
			arns = append(arns, p.PolicyArn)
		}
		if err := managed(arns, "managed"); err != nil {
			return nil, err
		}
		in, err := call(h, ctx, "ListUserPolicies", form("UserName", name), h.iam.ListUserPolicies)
		if err != nil {
			return nil, err
		}
		for _, p := range in.PolicyNames {
			d, err := call(h, ctx, "GetUserPolicy", form("UserName", name, "PolicyName", p), h.iam.GetUserPolicy)
			if err != nil {
				return nil, err
			}
			out = append(out, namedDoc{Name: p, From: "inline", Document: prettyJSON(decodeDocument(d.PolicyDocument))})
		}
		gs, err := call(h, ctx, "ListGroupsForUser", form("UserName", name), h.iam.ListGroupsForUser)
		if err != nil {
			return nil, err
		}
		for _, g := range gs.Groups {
			if err := group(g.GroupName, "group "+g.GroupName+", "); err != nil {
				return nil, err
			}
		}
	case "roles":
		a, err := call(h, ctx, "ListAttachedRolePolicies", form("RoleName", name), h.iam.ListAttachedRolePolicies)
		if err != nil {
			return nil, err
		}
		var arns []string
		for _, p := range a.AttachedPolicies {
			arns = append(arns, p.PolicyArn)
		}
		if err := managed(arns, "managed"); err != nil {
			return nil, err
		}
		in, err := call(h, ctx, "ListRolePolicies", form("RoleName", name), h.iam.ListRolePolicies)
		if err != nil {
			return nil, err
		}
		for _, p := range in.PolicyNames {
			d, err := call(h, ctx, "GetRolePolicy", form("RoleName", name, "PolicyName", p), h.iam.GetRolePolicy)
			if err != nil {
				return nil, err
			}
			out = append(out, namedDoc{Name: p, From: "inline", Document: prettyJSON(decodeDocument(d.PolicyDocument))})
		}
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
