package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iamapi"
	"github.com/iamd/iamd/internal/insight"
)

// advisorData is the model of an Access Advisor tab: the services the
// entity's policies allow, when each was last used and by whom.
type advisorData struct {
	Title    string // "User alice"
	Back     string // the entity's page
	Self     string // this tab, without filter
	Arn      string
	Days     int // "not accessed in N days"; 0 shows every service
	Services []iamapi.ServiceLastAccessed
	Hidden   int    // services the filter hides
	Generate string // the least-privilege policy generator, for users and roles
	Next     string // the next page of services
}

// advisorPage is how many services a page of the tab lists.
const advisorPage = 100

// accessAdvisor shows the last-accessed report of an entity or managed
// policy, computed by the API's GenerateServiceLastAccessedDetails and
// read with GetServiceLastAccessedDetails (action level), so that it is
// authorized as they are.
func (h *Handler) accessAdvisor(q *req, d *advisorData, nav string) {
	qs := q.r.URL.Query()
	if n, err := strconv.Atoi(qs.Get("days")); err == nil && n > 0 {
		d.Days = n
	}
	v := q.view("Access Advisor · "+d.Title, nav, d)
	job, err := call(h, q.ctx, "GenerateServiceLastAccessedDetails", form("Arn", d.Arn, "Granularity", "ACTION_LEVEL"), h.iam.GenerateServiceLastAccessedDetails)
	if err != nil {
		v.Error = h.apiError(err)
		h.render(q.w, http.StatusOK, "advisor", v)
		return
	}
	out, err := call(h, q.ctx, "GetServiceLastAccessedDetails", form("JobId", job.JobId, "MaxItems", strconv.Itoa(advisorPage), "Marker", qs.Get("marker")), h.iam.GetServiceLastAccessedDetails)
	if err != nil {
		v.Error = h.apiError(err)
		h.render(q.w, http.StatusOK, "advisor", v)
		return
	}
	cutoff := h.now().Add(-time.Duration(d.Days) * 24 * time.Hour)
	for _, s := range out.ServicesLastAccessed {
		if d.Days > 0 && s.LastAuthenticated.After(cutoff) {
			d.Hidden++
			continue
		}
		d.Services = append(d.Services, s)
	}
	if out.IsTruncated {
		d.Next = d.Self + "?" + url.Values{"arn": {qs.Get("arn")}, "days": {qs.Get("days")}, "marker": {out.Marker}}.Encode()
	}
	h.render(q.w, http.StatusOK, "advisor", v)
}

// entityAdvisor is the Access Advisor tab of a user, group or role.
func (h *Handler) entityAdvisor(q *req, e *entity) {
	name := q.r.PathValue("name")
	back := Prefix + "/" + e.kind + "/" + url.PathEscape(name)
	d := &advisorData{Title: e.title + " " + name, Back: back, Self: back + "/access-advisor"}
	arn, err := e.arn(h, q.ctx, form(e.param, name))
	if err != nil {
		v := q.view("Access Advisor", e.kind, nil)
		v.Error = h.apiError(err)
		h.render(q.w, http.StatusOK, "error", v)
		return
	}
	d.Arn = arn
	if e.kind != "groups" {
		d.Generate = back + "/generate-policy"
	}
	h.accessAdvisor(q, d, e.kind)
}

// policyAdvisor is the Access Advisor tab of a managed policy.
func (h *Handler) policyAdvisor(q *req) {
	arn := q.r.URL.Query().Get("arn")
	back := Prefix + "/policy?arn=" + url.QueryEscape(arn)
	h.accessAdvisor(q, &advisorData{Title: "Policy " + arn[strings.LastIndex(arn, "/")+1:], Back: back, Self: Prefix + "/policy/access-advisor", Arn: arn}, "policies")
}

// generatePolicy opens the policy editor with a least-privilege policy
// made from the user's or role's activity in the audit trail (what
// `iamd policy generate` makes), to be reviewed before it is saved. It
// reads the trail, so it is authorized as cloudtrail:LookupEvents.
func (h *Handler) generatePolicy(q *req, e *entity) {
	name := q.r.PathValue("name")
	fail := func(err error) {
		v := q.view("Generate policy", e.kind, nil)
		v.Error = h.apiError(err)
		h.render(q.w, http.StatusOK, "error", v)
	}
	if _, err := e.arn(h, q.ctx, form(e.param, name)); err != nil {
		fail(err)
		return
	}
	if h.cfg.Authorizer != nil {
		c := authz.CallerFrom(q.ctx)
		if err := h.cfg.Authorizer.Authorize(q.ctx, c, &authz.Request{Action: "cloudtrail:LookupEvents", Resource: "*"}); err != nil {
			fail(err)
			return
		}
	}
	back := "/" + e.kind + "/" + url.PathEscape(name) + "/access-advisor"
	if h.cfg.Trail == nil {
		h.redirect(q, back, "This server keeps no audit trail, so there is no activity to generate a policy from.")
		return
	}
	opts := insight.GenerateOptions{Account: q.who.Account, Catalog: h.cfg.Catalog()}
	if e.kind == "users" {
		opts.User = name
	} else {
		opts.Role = name
	}
	gen, err := insight.GenerateFromLog(h.cfg.Trail, opts)
	if err != nil {
		fail(err)
		return
	}
	if gen.Policy == "" {
		h.redirect(q, back, e.title+" "+name+" has used no permission in the audit trail: there is no policy to generate.")
		return
	}
	ed := policyEditor
	ed.Name, ed.Document = name+"-least-privilege", gen.Policy
	v := q.view("Create policy", "policies", ed)
	v.Flash = "Generated from " + strconv.Itoa(gen.Calls) + " calls of " + e.title + " " + name + " in the audit trail. Review it before you save it."
	h.render(q.w, http.StatusOK, "editor", v)
}

// arnPage is the console page of a user, group or role ARN, or "".
func arnPage(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[2] != "iam" {
		return ""
	}
	kind, name, ok := strings.Cut(parts[5], "/")
	if !ok {
		return ""
	}
	name = name[strings.LastIndex(name, "/")+1:]
	switch kind {
	case "user", "group", "role":
		return Prefix + "/" + kind + "s/" + url.PathEscape(name)
	}
	return ""
}

// arnName is the last part of an ARN's resource: a user's, group's or
// role's name.
func arnName(arn string) string { return arn[strings.LastIndexAny(arn, "/:")+1:] }
