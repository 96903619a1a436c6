package insight

import (
	"fmt"
	"slices"
	"strings"

	"github.com/iamd/iamd/internal/sar"
	"github.com/iamd/iamd/policy"
)

// UnknownAccess is the access level shown when the reference is missing.
const UnknownAccess = "unknown (" + sar.NotAvailable + ")"

// Summary is a policy summary in the manner of the IAM console's: per
// service, the access it allows (or denies), on which resources, under
// which request conditions.
type Summary struct {
	ReferenceAvailable bool             `json:"referenceAvailable"`
	Note               string           `json:"note,omitempty"`
	Allow              []ServiceSummary `json:"allow"`
	Deny               []ServiceSummary `json:"deny"`
}

// ServiceSummary is one service's row.
type ServiceSummary struct {
	// Service is the action prefix; "*" stands for every service (an
	// Action "*" or a NotAction, without the reference).
	Service string `json:"service"`
	Name    string `json:"name,omitempty"`
	// Recognized is false for a prefix the reference does not know (always
	// false without the reference).
	Recognized bool `json:"recognized"`
	// Access is the console's wording: "Full access", "Full: List, Read
	// Limited: Write", or UnknownAccess.
	Access       string         `json:"access"`
	AccessLevels []LevelSummary `json:"accessLevels,omitempty"`
	// Actions are the actions allowed (or denied): resolved from the
	// reference, or as written in the policy without it.
	Actions []string `json:"actions"`
	// ExceptActions lists, for NotAction statements summarized without the
	// reference, the actions excluded.
	ExceptActions []string `json:"exceptActions,omitempty"`
	// Unrecognized are action names the reference does not know.
	Unrecognized []string `json:"unrecognizedActions,omitempty"`
	// Resources are the Resource values ("*" for all), or "NotResource: ..."
	// entries; ResourceSummary is the console's wording.
	Resources       []string `json:"resources"`
	ResourceSummary string   `json:"resourceSummary"`
	// Conditions are the request conditions, one entry per statement that
	// has any ("Operator key: values", and-ed with " and "); ConditionSummary
	// is the console's wording ("None", the condition, or "Multiple").
	Conditions       []string `json:"requestConditions"`
	ConditionSummary string   `json:"requestConditionSummary"`
	// Details says, action by action, on which resources and under which
	// conditions it is allowed (or denied): rows merge statements, and
	// the details keep them apart.
	Details []ActionDetail `json:"actionDetails"`
}

// ActionDetail is one action (or, without the reference, one Action value)
// of a service row.
type ActionDetail struct {
	Action      string   `json:"action"`
	AccessLevel string   `json:"accessLevel"`
	Resources   []string `json:"resources"`
	// Conditions lists, for each statement granting the action, its
	// conditions ("None" for a statement without).
	Conditions []string `json:"requestConditions"`
}

// LevelSummary is how much of one access level a service row grants.
type LevelSummary struct {
	Level   string   `json:"level"`
	Full    bool     `json:"full"`
	Granted int      `json:"granted"`
	Total   int      `json:"total"`
	Actions []string `json:"actions"`
}

// Summarize summarizes a valid policy document of the given kind. cat may
// be empty: access levels are then reported as unknown and actions as
// written.
func Summarize(doc []byte, kind policy.Kind, cat *sar.Catalog) (*Summary, error) {
	d, err := policy.Parse(doc, kind)
	if err != nil {
		return nil, err
	}
	return SummarizeDocument(d, cat), nil
}

type rowKey struct {
	deny   bool
	prefix string
}

type row struct {
	actions, except, unrecognized, resources, conditions []string
	detail                                               map[string]*ActionDetail
}

func (r *row) grant(action string, res []string, cond string) {
	if r.detail == nil {
		r.detail = map[string]*ActionDetail{}
	}
	d, ok := r.detail[action]
	if !ok {
		d = &ActionDetail{Action: action}
		r.detail[action] = d
	}
	d.Resources = addUnique(d.Resources, res...)
	d.Conditions = addUnique(d.Conditions, cond)
}

func addUnique(list []string, vals ...string) []string {
	for _, v := range vals {
		if !slices.Contains(list, v) {
			list = append(list, v)
		}
	}
	return list
}

// SummarizeDocument summarizes a parsed document.
func SummarizeDocument(d *policy.Document, cat *sar.Catalog) *Summary {
	sum := &Summary{ReferenceAvailable: cat.Available(), Allow: []ServiceSummary{}, Deny: []ServiceSummary{}}
	if !sum.ReferenceAvailable {
		sum.Note = "Access levels are not known: " + sar.NotAvailable + ". Actions are listed as written."
	}
	rows := map[rowKey]*row{}
	get := func(deny bool, prefix string) *row {
		k := rowKey{deny, strings.ToLower(prefix)}
		r, ok := rows[k]
		if !ok {
			r = &row{}
			rows[k] = r
		}
		return r
	}
	for i := range d.Statements {
		st := &d.Statements[i]
		deny := st.Effect == policy.Deny
		res := slices.Clone(st.Resource)
		for _, r := range st.NotResource {
			res = append(res, "NotResource: "+r)
		}
		if st.Resource == nil && st.NotResource == nil {
			res = []string{"*"}
		}
		var conds []string
		for _, c := range st.Conditions {
			conds = append(conds, fmt.Sprintf("%s %s: %s", c.Operator, c.Key, strings.Join(c.Values, ", ")))
		}
		cond := "None"
		if len(conds) > 0 {
			cond = strings.Join(conds, " and ")
		}
		touched := map[string]*row{}
		granted := func(r *row, action string) { r.grant(action, res, cond) }
		switch {
		case st.Action != nil && sum.ReferenceAvailable:
			for _, pat := range st.Action {
				matched := cat.MatchActions(pat)
				if len(matched) == 0 {
					prefix, _, _ := strings.Cut(pat, ":")
					r := get(deny, prefix)
					r.unrecognized = addUnique(r.unrecognized, pat)
					touched[strings.ToLower(prefix)] = r
					continue
				}
				for _, a := range matched {
					r := get(deny, a.Service.Prefix)
					r.actions = addUnique(r.actions, a.FullName())
					granted(r, a.FullName())
					touched[strings.ToLower(a.Service.Prefix)] = r
				}
			}
		case st.Action != nil:
			for _, pat := range st.Action {
				prefix, _, ok := strings.Cut(pat, ":")
				if !ok {
					prefix = "*"
				}
				r := get(deny, prefix)
				r.actions = addUnique(r.actions, pat)
				granted(r, pat)
				touched[strings.ToLower(prefix)] = r
			}
		case sum.ReferenceAvailable:
			for _, s := range cat.Services() {
				for _, a := range s.Actions {
					if anyGlob(st.NotAction, a.FullName()) {
						continue
					}
					r := get(deny, s.Prefix)
					r.actions = addUnique(r.actions, a.FullName())
					granted(r, a.FullName())
					touched[strings.ToLower(s.Prefix)] = r
				}
			}
		default:
			r := get(deny, "*")
			r.actions = addUnique(r.actions, "*")
			r.except = addUnique(r.except, st.NotAction...)
			granted(r, "*")
			touched["*"] = r
		}
		for _, r := range touched {
			r.resources = addUnique(r.resources, res...)
			if len(conds) > 0 {
				r.conditions = addUnique(r.conditions, cond)
			}
		}
	}
	keys := make([]rowKey, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b rowKey) int { return strings.Compare(a.prefix, b.prefix) })
	for _, k := range keys {
		r := rows[k]
		ss := ServiceSummary{Service: k.prefix, Actions: r.actions, ExceptActions: r.except, Unrecognized: r.unrecognized,
			Resources: r.resources, Conditions: r.conditions}
		if ss.Actions == nil {
			ss.Actions = []string{}
		}
		if ss.Conditions == nil {
			ss.Conditions = []string{}
		}
		slices.Sort(ss.Actions)
		ss.Details = []ActionDetail{}
		for _, a := range ss.Actions {
			if d, ok := r.detail[a]; ok {
				ss.Details = append(ss.Details, *d)
			}
		}
		ss.ResourceSummary, ss.ConditionSummary = ResourceWords(r.resources), "None"
		if len(r.conditions) > 0 {
			ss.ConditionSummary = "Multiple"
		}
		if len(ss.Details) > 0 {
			sameRes, sameCond := true, true
			for _, d := range ss.Details[1:] {
				sameRes = sameRes && slices.Equal(d.Resources, ss.Details[0].Resources)
				sameCond = sameCond && slices.Equal(d.Conditions, ss.Details[0].Conditions)
			}
			if !sameRes {
				ss.ResourceSummary = "Multiple"
			}
			if sameCond && len(ss.Details[0].Conditions) == 1 {
				ss.ConditionSummary = ss.Details[0].Conditions[0]
			}
		}
		for i := range ss.Details {
			ss.Details[i].AccessLevel = UnknownAccess
			if a, ok := cat.Action(ss.Details[i].Action); ok {
				ss.Details[i].AccessLevel = a.Access.String()
			}
		}
		if svc, ok := cat.Service(k.prefix); ok {
			ss.Service, ss.Name, ss.Recognized = svc.Prefix, svc.Name, true
			ss.AccessLevels, ss.Access = levels(svc, r.actions)
		} else if sum.ReferenceAvailable {
			ss.Access = "None: the service is not in the service authorization reference"
			if k.prefix == "*" {
				ss.Access = "None: not an action"
			}
		} else {
			ss.Access = UnknownAccess
		}
		if k.deny {
			sum.Deny = append(sum.Deny, ss)
		} else {
			sum.Allow = append(sum.Allow, ss)
		}
	}
	return sum
}

// ResourceWords words the resources of a statement or action as AWS's
// policy summaries do: "All resources", the one resource, "None" or
// "Multiple".
func ResourceWords(res []string) string {
	switch {
	case slices.Contains(res, "*"):
		return "All resources"
	case len(res) == 1:
		return res[0]
	case len(res) == 0:
		return "None"
	}
	return "Multiple"
}

// levels counts the granted actions of each access level against the
// service's, and words it as the console does.
func levels(svc *sar.Service, granted []string) ([]LevelSummary, string) {
	var out []LevelSummary
	var full, limited []string
	complete := true
	for _, l := range append(slices.Clone(sar.Levels), sar.Unknown) {
		ls := LevelSummary{Level: l.String(), Actions: []string{}}
		for _, a := range svc.Actions {
			if a.Access != l {
				continue
			}
			ls.Total++
			if slices.Contains(granted, a.FullName()) {
				ls.Granted++
				ls.Actions = append(ls.Actions, a.FullName())
			}
		}
		if ls.Total == 0 {
			continue
		}
		ls.Full = ls.Granted == ls.Total
		if !ls.Full {
			complete = false
		}
		if ls.Granted == 0 {
			continue
		}
		out = append(out, ls)
		if ls.Full {
			full = append(full, ls.Level)
		} else {
			limited = append(limited, ls.Level)
		}
	}
	switch {
	case len(out) == 0:
		return out, "None"
	case complete:
		return out, "Full access"
	}
	var parts []string
	if len(full) > 0 {
		parts = append(parts, "Full: "+strings.Join(full, ", "))
	}
	if len(limited) > 0 {
		parts = append(parts, "Limited: "+strings.Join(limited, ", "))
	}
	return out, strings.Join(parts, " ")
}
