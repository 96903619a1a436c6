package console

import (
	"fmt"
	"net/url"
	"slices"

	"github.com/iamd/iamd/internal/insight"
	"github.com/iamd/iamd/internal/sar"
	"github.com/iamd/iamd/policy"
)

// summaryView is the model of a policy's permissions, in the three levels
// of AWS's console: the policy summary (a row per service), a service's
// summary (a row per action) and an action's summary (its resources and
// conditions). Links keep the page's own query (base) and add the level.
type summaryView struct {
	Base      string
	JSONLink  string
	JSON      bool
	Reference bool
	Note      string
	Err       string
	Allow     []serviceRow
	Deny      []serviceRow
	Service   *serviceView
	Action    *actionView
	Findings  []insight.Finding
}

// serviceRow is one row of the policy summary.
type serviceRow struct {
	Effect       string
	Service      string
	Name         string
	Recognized   bool
	Access       string
	Count        string // "1 of 66" actions, when the reference knows the service
	Resource     string
	Condition    string
	Unrecognized []string
	Link         string
}

// serviceView is a service's summary: its actions grouped by access level.
type serviceView struct {
	Row    serviceRow
	Groups []levelGroup
}

type levelGroup struct {
	Level   string
	Count   string // "1 of 37"
	Actions []actionRow
}

type actionRow struct {
	Action    string
	Access    string
	Resource  string
	Condition string
	Link      string
}

// actionView is an action's summary.
type actionView struct {
	Action     string
	Service    string
	Access     string
	Resources  []string
	Conditions []string
	Back       string
}

// summarize builds the view of doc for the page whose query is base,
// at the level the query q asks for (service, effect, action, view=json).
func summarize(doc string, cat *sar.Catalog, base url.Values, q url.Values) *summaryView {
	v := &summaryView{Base: link(base), JSONLink: link(with(base, "view", "json")), JSON: q.Get("view") == "json", Reference: cat.Available()}
	rep := insight.Analyze([]byte(doc), policy.Identity, cat)
	v.Findings = rep.Findings
	sum, err := insight.Summarize([]byte(doc), policy.Identity, cat)
	if err != nil {
		v.Err = err.Error()
		return v
	}
	v.Note = sum.Note
	rows := func(effect string, list []insight.ServiceSummary) []serviceRow {
		var out []serviceRow
		for i := range list {
			out = append(out, serviceRowOf(effect, &list[i], cat, base))
		}
		return out
	}
	v.Allow, v.Deny = rows("Allow", sum.Allow), rows("Deny", sum.Deny)
	want, effect := q.Get("service"), "Allow"
	list := sum.Allow
	if q.Get("effect") == "Deny" {
		effect, list = "Deny", sum.Deny
	}
	if want == "" {
		return v
	}
	for i := range list {
		if list[i].Service != want {
			continue
		}
		ss := &list[i]
		v.Service = serviceViewOf(serviceRowOf(effect, ss, cat, base), ss, base)
		if a := q.Get("action"); a != "" {
			for _, d := range ss.Details {
				if d.Action == a {
					v.Action = &actionView{Action: d.Action, Service: ss.Service, Access: d.AccessLevel,
						Resources: d.Resources, Conditions: d.Conditions, Back: v.Service.Row.Link}
				}
			}
		}
	}
	return v
}

func link(vals url.Values) string { return "?" + vals.Encode() }

func with(base url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, v := range base {
		out[k] = slices.Clone(v)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

func serviceRowOf(effect string, ss *insight.ServiceSummary, cat *sar.Catalog, base url.Values) serviceRow {
	r := serviceRow{Effect: effect, Service: ss.Service, Name: ss.Name, Recognized: ss.Recognized, Access: ss.Access,
		Resource: ss.ResourceSummary, Condition: ss.ConditionSummary, Unrecognized: ss.Unrecognized,
		Link: link(with(base, "service", ss.Service, "effect", effect))}
	if r.Name == "" {
		r.Name = ss.Service
	}
	if svc, ok := cat.Service(ss.Service); ok {
		granted := 0
		for _, l := range ss.AccessLevels {
			granted += l.Granted
		}
		r.Count = fmt.Sprintf("%d of %d", granted, len(svc.Actions))
	}
	return r
}

func serviceViewOf(row serviceRow, ss *insight.ServiceSummary, base url.Values) *serviceView {
	sv := &serviceView{Row: row}
	details := map[string]insight.ActionDetail{}
	for _, d := range ss.Details {
		details[d.Action] = d
	}
	actionOf := func(d insight.ActionDetail) actionRow {
		return actionRow{Action: d.Action, Access: d.AccessLevel, Resource: insight.ResourceWords(d.Resources),
			Condition: conditionWords(d.Conditions),
			Link:      link(with(base, "service", ss.Service, "effect", row.Effect, "action", d.Action))}
	}
	if len(ss.AccessLevels) == 0 {
		g := levelGroup{Level: "Actions"}
		for _, d := range ss.Details {
			g.Actions = append(g.Actions, actionOf(d))
		}
		if len(g.Actions) > 0 {
			sv.Groups = append(sv.Groups, g)
		}
		return sv
	}
	for _, l := range ss.AccessLevels {
		g := levelGroup{Level: l.Level, Count: fmt.Sprintf("%d of %d", l.Granted, l.Total)}
		for _, a := range l.Actions {
			if d, ok := details[a]; ok {
				g.Actions = append(g.Actions, actionOf(d))
			}
		}
		sv.Groups = append(sv.Groups, g)
	}
	return sv
}

// conditionWords words an action's conditions as the console's service
// summary does.
func conditionWords(conds []string) string {
	switch len(conds) {
	case 0:
		return "None"
	case 1:
		return conds[0]
	}
	return "Multiple"
}
