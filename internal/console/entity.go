package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/iamapi"
)

// entity describes what the pages of users, groups and roles share: the
// name parameter the IAM API takes, the operations on their managed and
// inline policies, and the actions their pages post. The per-kind files
// (users.go, groups.go, roles.go) fill it in; the action switch, the
// delete cascade and the permission sections are written once, here.
type entity struct {
	kind  string // the URL segment and navigation tab: "users"
	title string // "User"
	param string // the API's name parameter: "UserName"

	arn          func(h *Handler, ctx context.Context, f url.Values) (string, error)
	listAttached func(h *Handler, ctx context.Context, f url.Values) ([]iamapi.AttachedPolicy, error)
	listInline   func(h *Handler, ctx context.Context, f url.Values) ([]string, error)
	getInline    func(h *Handler, ctx context.Context, f url.Values) (string, error)
	attach       func(h *Handler, ctx context.Context, f url.Values) error
	detach       func(h *Handler, ctx context.Context, f url.Values) error
	deleteInline func(h *Handler, ctx context.Context, f url.Values) error
	// deleteFirst removes what the kind's Delete operation requires gone
	// besides its policies (a user's keys, a group's members); del deletes
	// the entity itself.
	deleteFirst func(h *Handler, ctx context.Context, name string) error
	del         func(h *Handler, ctx context.Context, f url.Values) error

	// page renders the entity's page, with an error from an action.
	page func(h *Handler, q *req, name string, actionErr *awsquery.Error)
	// actions are the kind's own actions, besides the shared ones.
	actions map[string]entityAction
}

// entityAction performs a posted action on the named entity. It returns
// the message to show on the entity's page, or rendered when it has
// answered the request itself.
type entityAction func(h *Handler, q *req, name string) (msg string, rendered bool, err error)

// op adapts an IAM operation that answers nothing of interest.
// Its operation is a method expression, iamapi.Server.DeleteUser.
func op[In, Out any](action string, fn func(iamapi.Server, context.Context, *In) (*Out, error)) func(h *Handler, ctx context.Context, f url.Values) error {
	return func(h *Handler, ctx context.Context, f url.Values) error {
		_, err := call(h, ctx, action, f, func(ctx context.Context, in *In) (*Out, error) { return fn(h.iam, ctx, in) })
		return err
	}
}

// query adapts an IAM operation, answering what pick takes from its output.
func query[In, Out, T any](action string, fn func(iamapi.Server, context.Context, *In) (*Out, error), pick func(*Out) T) func(h *Handler, ctx context.Context, f url.Values) (T, error) {
	return func(h *Handler, ctx context.Context, f url.Values) (T, error) {
		out, err := call(h, ctx, action, f, func(ctx context.Context, in *In) (*Out, error) { return fn(h.iam, ctx, in) })
		if err != nil {
			var zero T
			return zero, err
		}
		return pick(out), nil
	}
}

// entities returns the table of users, groups and roles, by URL segment.
func entities() map[string]*entity {
	t := map[string]*entity{"users": userEntity(), "groups": groupEntity(), "roles": roleEntity()}
	for _, e := range t {
		for name, act := range sharedActions(e) {
			if _, ok := e.actions[name]; !ok {
				e.actions[name] = act
			}
		}
	}
	return t
}

// sharedActions are the actions every entity's page posts.
func sharedActions(e *entity) map[string]entityAction {
	return map[string]entityAction{
		"attach": func(h *Handler, q *req, name string) (string, bool, error) {
			return "Policy attached.", false, e.attach(h, q.ctx, form(e.param, name, "PolicyArn", strings.TrimSpace(q.r.PostFormValue("arn"))))
		},
		"detach": func(h *Handler, q *req, name string) (string, bool, error) {
			return "Policy detached.", false, e.detach(h, q.ctx, form(e.param, name, "PolicyArn", q.r.PostFormValue("arn")))
		},
		"inline-delete": func(h *Handler, q *req, name string) (string, bool, error) {
			return "Inline policy deleted.", false, e.deleteInline(h, q.ctx, form(e.param, name, "PolicyName", q.r.PostFormValue("policy")))
		},
		"delete": func(h *Handler, q *req, name string) (string, bool, error) {
			if err := h.deleteEntity(q.ctx, e, name); err != nil {
				return "", false, err
			}
			h.redirect(q, "/"+e.kind, e.title+" "+name+" deleted.")
			return "", true, nil
		},
	}
}

// entityAction runs a posted action on a user, group or role, and shows
// its page again: with the error, or redirected with the message.
func (h *Handler) entityAction(e *entity) func(q *req) {
	return func(q *req) {
		name := q.r.PathValue("name")
		act, ok := e.actions[q.r.PathValue("action")]
		if !ok {
			http.NotFound(q.w, q.r)
			return
		}
		msg, rendered, err := act(h, q, name)
		switch {
		case err != nil:
			e.page(h, q, name, h.apiError(err))
		case !rendered:
			h.redirect(q, "/"+e.kind+"/"+url.PathEscape(name), msg)
		}
	}
}

// deleteEntity removes what IAM's Delete operation requires gone first, as
// AWS's console does, each through the API (so each is authorized).
func (h *Handler) deleteEntity(ctx context.Context, e *entity, name string) error {
	if e.deleteFirst != nil {
		if err := e.deleteFirst(h, ctx, name); err != nil {
			return err
		}
	}
	f := form(e.param, name)
	if arns, err := e.listAttached(h, ctx, f); err == nil {
		for _, p := range arns {
			if err := e.detach(h, ctx, form(e.param, name, "PolicyArn", p.PolicyArn)); err != nil {
				return err
			}
		}
	}
	if names, err := e.listInline(h, ctx, f); err == nil {
		for _, p := range names {
			if err := e.deleteInline(h, ctx, form(e.param, name, "PolicyName", p)); err != nil {
				return err
			}
		}
	}
	return e.del(h, ctx, f)
}

// permissions is the permission section of an entity's page.
type permissions struct {
	Kind     string
	Name     string
	Attached []iamapi.AttachedPolicy
	Inline   []string
	Err      *awsquery.Error
}

// loadPermissions lists the policies attached to and embedded in an
// entity; an error is shown in the section.
func (h *Handler) loadPermissions(ctx context.Context, e *entity, name string) permissions {
	p := permissions{Kind: e.kind, Name: name}
	f := form(e.param, name)
	var err error
	if p.Attached, err = e.listAttached(h, ctx, f); err != nil {
		p.Err = h.apiError(err)
	}
	if p.Inline, err = e.listInline(h, ctx, f); err != nil {
		p.Err = h.apiError(err)
	}
	return p
}
