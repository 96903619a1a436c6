package console

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/iamapi"
)

// Credential report and policy simulator: operations written elsewhere;
// until they answer, the pages say so.

type reportData struct {
	Unavailable bool
	State       string
	Rows        [][]string
	Header      []string
	Generated   time.Time
}

func (h *Handler) credentialReport(q *req) {
	d := &reportData{}
	v := q.view("Credential report", "report", d)
	if q.r.Method == http.MethodPost {
		out, err := call(h, q.ctx, "GenerateCredentialReport", nil, h.iam.GenerateCredentialReport)
		switch {
		case isCode(err, awsquery.CodeNotImplemented):
			d.Unavailable = true
		case err != nil:
			v.Error = h.apiError(err)
		default:
			d.State = out.State
		}
	}
	if !d.Unavailable && v.Error == nil {
		out, err := call(h, q.ctx, "GetCredentialReport", nil, h.iam.GetCredentialReport)
		switch {
		case isCode(err, awsquery.CodeNotImplemented):
			d.Unavailable = true
		case isCode(err, "ReportNotPresent"), isCode(err, "ReportInProgress"), isCode(err, "ReportExpired"):
			d.State = h.apiError(err).Message
		case err != nil:
			v.Error = h.apiError(err)
		default:
			d.Generated = out.GeneratedTime
			rows := parseCSV(string(out.Content))
			if len(rows) > 0 {
				d.Header, d.Rows = rows[0], rows[1:]
			}
		}
	}
	h.render(q.w, http.StatusOK, "report", v)
}

func parseCSV(s string) [][]string {
	var out [][]string
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line != "" {
			out = append(out, strings.Split(line, ","))
		}
	}
	return out
}

type simData struct {
	Unavailable bool
	Principal   string
	Actions     string
	Resources   string
	Results     []iamapi.EvaluationResult
}

func (h *Handler) simulator(q *req) {
	d := &simData{Principal: q.who.ARN, Resources: "*"}
	v := q.view("Policy simulator", "simulator", d)
	if q.r.Method == http.MethodPost {
		d.Principal = strings.TrimSpace(q.r.PostFormValue("principal"))
		d.Actions = q.r.PostFormValue("actions")
		d.Resources = q.r.PostFormValue("resources")
		f := form("PolicySourceArn", d.Principal)
		for i, a := range fieldsOf(d.Actions) {
			f.Set("ActionNames.member."+strconv.Itoa(i+1), a)
		}
		for i, r := range fieldsOf(d.Resources) {
			f.Set("ResourceArns.member."+strconv.Itoa(i+1), r)
		}
		out, err := call(h, q.ctx, "SimulatePrincipalPolicy", f, h.iam.SimulatePrincipalPolicy)
		switch {
		case isCode(err, awsquery.CodeNotImplemented):
			d.Unavailable = true
		case err != nil:
			v.Error = h.apiError(err)
		default:
			d.Results = out.EvaluationResults
			sort.SliceStable(d.Results, func(i, j int) bool { return d.Results[i].EvalActionName < d.Results[j].EvalActionName })
		}
	}
	h.render(q.w, http.StatusOK, "simulator", v)
}

func fieldsOf(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == ' ' || r == '\t' })
}
