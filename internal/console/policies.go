package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/iamapi"
	"github.com/iamd/iamd/policy"
)

// editorData is the model of the policy editor page (new policy, new
// policy version, new role, trust policy).
type editorData struct {
	Action   string // form action, under the prefix
	Kind     string // identity or trust
	NameName string // name field's label; empty when editing
	Name     string
	Desc     bool
	Document string
	ARN      string
	Submit   string
}

const defaultPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": "s3:ListAllMyBuckets",
      "Resource": "*"
    }
  ]
}`

// Policies.

type policiesData struct {
	Policies []iamapi.Policy
	Next     string
	Scope    string
}

func (h *Handler) policies(q *req) {
	scope := q.r.URL.Query().Get("scope")
	if scope != "AWS" && scope != "All" {
		scope = "Local"
	}
	d := policiesData{Scope: scope}
	v := q.view("Policies", "policies", &d)
	out, err := call(h, q.ctx, "ListPolicies", form("Scope", scope, "MaxItems", listPage, "Marker", q.r.URL.Query().Get("marker")), h.iam.ListPolicies)
	if err != nil {
		v.Error = h.apiError(err)
	} else {
		d.Policies, d.Next = out.Policies, nextPage("/policies", out.IsTruncated, out.Marker, url.Values{"scope": {scope}})
	}
	h.render(q.w, http.StatusOK, "policies", v)
}

// policyEditor is the editor of a new managed policy.
var policyEditor = editorData{Action: "/policies", Kind: "identity", NameName: "Policy name", Desc: true, Document: defaultPolicy, Submit: "Create policy"}

func (h *Handler) newPolicy(q *req) {
	h.render(q.w, http.StatusOK, "editor", q.view("Create policy", "policies", policyEditor))
}

func (h *Handler) createPolicy(q *req) {
	h.createFromEditor(q, "Create policy", "policies", policyEditor, func(name, doc, desc string) (string, string, error) {
		out, err := call(h, q.ctx, "CreatePolicy", form("PolicyName", name, "PolicyDocument", doc, "Description", desc), h.iam.CreatePolicy)
		if err != nil {
			return "", "", err
		}
		return "/policy?arn=" + url.QueryEscape(out.Policy.Arn), "Policy " + name + " created.", nil
	})
}

// createFromEditor saves what the editor posts with create, which answers
// where to go and what to say; on an error the editor shows it, with what
// was typed.
func (h *Handler) createFromEditor(q *req, title, nav string, ed editorData, create func(name, doc, desc string) (to, msg string, err error)) {
	name, doc := strings.TrimSpace(q.r.PostFormValue("name")), q.r.PostFormValue("document")
	to, msg, err := create(name, doc, q.r.PostFormValue("description"))
	if err != nil {
		ed.Name, ed.Document = name, doc
		v := q.view(title, nav, ed)
		v.Error = h.apiError(err)
		h.render(q.w, http.StatusOK, "editor", v)
		return
	}
	h.redirect(q, to, msg)
}

type policyData struct {
	Policy   iamapi.Policy
	Document string
	Versions []iamapi.PolicyVersion
	AWS      bool
	Summary  *summaryView
}

func (h *Handler) policy(q *req) { h.policyPage(q, q.r.URL.Query().Get("arn"), nil, "") }

func (h *Handler) policyPage(q *req, arn string, actionErr *awsquery.Error, draft string) {
	out, err := call(h, q.ctx, "GetPolicy", form("PolicyArn", arn), h.iam.GetPolicy)
	if err != nil || out.Policy == nil {
		v := q.view("Policy", "policies", nil)
		v.Error = h.apiError(err)
		h.render(q.w, http.StatusOK, "error", v)
		return
	}
	d := &policyData{Policy: *out.Policy, AWS: strings.HasPrefix(arn, h.cfg.Partition.Prefix("iam")+"aws:")}
	if pv, err := call(h, q.ctx, "GetPolicyVersion", form("PolicyArn", arn, "VersionId", out.Policy.DefaultVersionId), h.iam.GetPolicyVersion); err == nil && pv.PolicyVersion != nil {
		d.Document = prettyJSON(decodeDocument(pv.PolicyVersion.Document))
	}
	if vs, err := call(h, q.ctx, "ListPolicyVersions", form("PolicyArn", arn), h.iam.ListPolicyVersions); err == nil {
		d.Versions = vs.Versions
	}
	d.Summary = summarize(d.Document, h.cfg.Catalog(), url.Values{"arn": {arn}}, q.r.URL.Query())
	if draft != "" {
		d.Document = draft
		d.Summary.JSON = true
	}
	v := q.view("Policy "+out.Policy.PolicyName, "policies", d)
	v.Error = actionErr
	h.render(q.w, http.StatusOK, "policy", v)
}

// decodeDocument undoes the URL-encoding some callers see; the service
// returns documents as stored, so this is usually the identity.
func decodeDocument(doc string) string {
	if strings.HasPrefix(doc, "%7B") {
		if d, err := url.QueryUnescape(doc); err == nil {
			return d
		}
	}
	return doc
}

func (h *Handler) policyAction(q *req) {
	r := q.r
	arn := r.PostFormValue("arn")
	var err error
	msg := ""
	switch r.PathValue("action") {
	case "delete":
		if err = h.deletePolicy(q.ctx, arn); err == nil {
			h.redirect(q, "/policies", "Policy deleted.")
			return
		}
	case "edit":
		doc := r.PostFormValue("document")
		err = h.newPolicyVersion(q.ctx, arn, doc)
		if err != nil {
			h.policyPage(q, arn, h.apiError(err), doc)
			return
		}
		msg = "A new default version of the policy was saved."
	case "default":
		_, err = call(h, q.ctx, "SetDefaultPolicyVersion", form("PolicyArn", arn, "VersionId", r.PostFormValue("version")), h.iam.SetDefaultPolicyVersion)
		msg = "Default version changed."
	default:
		http.NotFound(q.w, q.r)
		return
	}
	if err != nil {
		h.policyPage(q, arn, h.apiError(err), "")
		return
	}
	h.redirect(q, "/policy?arn="+url.QueryEscape(arn), msg)
}

// newPolicyVersion saves doc as the new default version, deleting the
// oldest non-default version first when five exist, as AWS's console
// offers.
func (h *Handler) newPolicyVersion(ctx context.Context, arn, doc string) error {
	vs, err := call(h, ctx, "ListPolicyVersions", form("PolicyArn", arn), h.iam.ListPolicyVersions)
	if err != nil {
		return err
	}
	if len(vs.Versions) >= 5 {
		oldest := ""
		var at time.Time
		for _, v := range vs.Versions {
			if v.IsDefaultVersion != nil && *v.IsDefaultVersion {
				continue
			}
			if oldest == "" || v.CreateDate.Before(at) {
				oldest, at = v.VersionId, v.CreateDate
			}
		}
		if oldest != "" {
			if _, err := call(h, ctx, "DeletePolicyVersion", form("PolicyArn", arn, "VersionId", oldest), h.iam.DeletePolicyVersion); err != nil {
				return err
			}
		}
	}
	_, err = call(h, ctx, "CreatePolicyVersion", form("PolicyArn", arn, "PolicyDocument", doc, "SetAsDefault", "true"), h.iam.CreatePolicyVersion)
	return err
}

func (h *Handler) deletePolicy(ctx context.Context, arn string) error {
	if vs, err := call(h, ctx, "ListPolicyVersions", form("PolicyArn", arn), h.iam.ListPolicyVersions); err == nil {
		for _, v := range vs.Versions {
			if v.IsDefaultVersion == nil || !*v.IsDefaultVersion {
				if _, err := call(h, ctx, "DeletePolicyVersion", form("PolicyArn", arn, "VersionId", v.VersionId), h.iam.DeletePolicyVersion); err != nil {
					return err
				}
			}
		}
	}
	_, err := call(h, ctx, "DeletePolicy", form("PolicyArn", arn), h.iam.DeletePolicy)
	return err
}

// validatePolicy answers the editor's checks as the user types:
// {"valid":true} or {"valid":false,"code":"MalformedPolicyDocument",
// "message":IAM's message}.
func (h *Handler) validatePolicy(q *req) {
	var in struct {
		Document string `json:"document"`
		Kind     string `json:"kind"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(q.w, q.r.Body, 256<<10)).Decode(&in); err != nil {
		writeJSON(q.w, http.StatusBadRequest, map[string]any{"valid": false, "message": "The request is not JSON."})
		return
	}
	writeJSON(q.w, http.StatusOK, checkDocument(in.Document, in.Kind))
}

// checkDocument validates a policy document as IAM does when it is stored.
func checkDocument(doc, kind string) map[string]any {
	k, limit, opts := policy.Identity, policy.ManagedPolicyMaxSize, policy.ParseOptions{RequireVersion2012: true}
	if kind == "trust" {
		k, limit, opts = policy.Trust, policy.TrustPolicyMaxSize, policy.ParseOptions{}
	}
	if _, err := policy.ParseWithOptions([]byte(doc), k, opts); err != nil {
		msg := "Syntax errors in policy."
		var ve *policy.ValidationError
		if errors.As(err, &ve) {
			msg = ve.Message
		}
		return map[string]any{"valid": false, "code": "MalformedPolicyDocument", "message": msg}
	}
	if err := policy.CheckSize([]byte(doc), limit); err != nil {
		return map[string]any{"valid": false, "code": "LimitExceeded", "message": "Cannot exceed quota for PolicySize: " + strconv.Itoa(limit)}
	}
	return map[string]any{"valid": true, "size": policy.Size([]byte(doc)), "limit": limit}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func prettyJSON(doc string) string {
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return doc
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return doc
	}
	return string(b)
}
