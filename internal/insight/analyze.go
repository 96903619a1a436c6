// Package insight explains and improves IAM policies: validation findings
// in the manner of IAM Access Analyzer's ValidatePolicy (Analyze), policy
// summaries like the IAM console's (Summarize), and least-privilege
// policies generated from the audit trail (Generate). It has no HTTP in it:
// the command line (iamd policy analyze|summarize|generate) and, later, the
// console call these functions.
//
// Much of it needs AWS's service authorization reference (package sar).
// Without it each function still does what it can and says plainly what it
// could not do: Analyze adds one INFO finding naming the skipped checks,
// Summarize reports access levels as unknown, and Generate notes that
// action names and resource types were not checked.
package insight

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/sar"
	"github.com/iamd/iamd/policy"
)

// Finding types, as Access Analyzer names them, plus INFO for iamd's notes
// about the analysis itself.
const (
	Error           = "ERROR"
	SecurityWarning = "SECURITY_WARNING"
	Warning         = "WARNING"
	Suggestion      = "SUGGESTION"
	Info            = "INFO"
)

// Issue codes. Most are Access Analyzer's; the ones marked iamd are iamd's
// own, for conditions Access Analyzer has no code for.
const (
	CodeJSONSyntax          = "JSON_SYNTAX_ERROR"
	CodeDataTypeMismatch    = "DATA_TYPE_MISMATCH"
	CodeInvalidElement      = "INVALID_POLICY_ELEMENT"
	CodeInvalidVersion      = "INVALID_VERSION"
	CodeMissingVersion      = "MISSING_VERSION"
	CodeMissingStatement    = "MISSING_STATEMENT"
	CodeMissingEffect       = "MISSING_EFFECT"
	CodeInvalidEffect       = "INVALID_EFFECT"
	CodeMissingAction       = "MISSING_ACTION"
	CodeMissingResource     = "MISSING_RESOURCE"
	CodeMissingPrincipal    = "MISSING_PRINCIPAL"
	CodeUnsupportedPrinc    = "UNSUPPORTED_PRINCIPAL"
	CodeElementCombination  = "UNSUPPORTED_ELEMENT_COMBINATION"
	CodeInvalidAction       = "INVALID_ACTION"
	CodeInvalidService      = "INVALID_SERVICE"
	CodeInvalidOperator     = "INVALID_CONDITION_OPERATOR"
	CodeInvalidKeyFormat    = "INVALID_CONDITION_KEY_FORMAT"
	CodeInvalidServiceKey   = "INVALID_SERVICE_CONDITION_KEY"
	CodeInvalidGlobalKey    = "INVALID_GLOBAL_CONDITION_KEY"
	CodeNullWithIfExists    = "NULL_WITH_IF_EXISTS"
	CodeAllowNotPrincipal   = "ALLOW_WITH_NOT_PRINCIPAL"
	CodeForAllValuesSingle  = "FORALLVALUES_WITH_SINGLE_VALUED_KEY"
	CodePassRoleStarRes     = "PASS_ROLE_WITH_STAR_IN_RESOURCE"
	CodePassRoleStarBoth    = "PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE"
	CodePassRoleNotRes      = "PASS_ROLE_WITH_NOT_RESOURCE"
	CodePassRoleNotBoth     = "PASS_ROLE_WITH_NOT_ACTION_AND_NOT_RESOURCE"
	CodeSLRStarRes          = "CREATE_SLR_WITH_STAR_IN_RESOURCE"
	CodeSLRStarBoth         = "CREATE_SLR_WITH_STAR_IN_ACTION_AND_RESOURCE"
	CodeSLRNotRes           = "CREATE_SLR_WITH_NOT_RESOURCE"
	CodeSLRNotBoth          = "CREATE_SLR_WITH_NOT_ACTION_AND_NOT_RESOURCE"
	CodeEmptyArrayAction    = "EMPTY_ARRAY_ACTION"
	CodeEmptyArrayNotAction = "EMPTY_ARRAY_NOT_ACTION"
	CodeEmptyArrayResource  = "EMPTY_ARRAY_RESOURCE"
	CodeEmptyArrayNotRes    = "EMPTY_ARRAY_NOT_RESOURCE"
	CodeEmptyArrayPrincipal = "EMPTY_ARRAY_PRINCIPAL"
	CodeEmptyObjectPrinc    = "EMPTY_OBJECT_PRINCIPAL"
	CodeEmptyArrayCondition = "EMPTY_ARRAY_CONDITION"
	CodeEmptyObjectCond     = "EMPTY_OBJECT_CONDITION"
	CodeEmptySid            = "EMPTY_SID_VALUE"
	CodeRedundantAction     = "REDUNDANT_ACTION"
	CodeRedundantResource   = "REDUNDANT_RESOURCE"
	CodeRedundantStatement  = "REDUNDANT_STATEMENT"

	// iamd's own codes.
	CodeAllowNotAction     = "ALLOW_WITH_NOT_ACTION"     // iamd
	CodeAllowNotResource   = "ALLOW_WITH_NOT_RESOURCE"   // iamd
	CodeResourceMismatch   = "RESOURCE_TYPE_MISMATCH"    // iamd
	CodeMalformed          = "MALFORMED_POLICY_DOCUMENT" // iamd: IAM would reject the document
	CodeReferenceMissing   = "REFERENCE_DATA_NOT_AVAILABLE"
	learnMoreBase          = "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html"
	referenceSkippedChecks = "unknown services, actions and condition keys; ForAllValues with single-valued keys; resources that do not fit the action"
)

// iamdCodes are the codes Access Analyzer does not have: their findings
// carry no link to its reference.
var iamdCodes = map[string]bool{
	CodeAllowNotAction: true, CodeAllowNotResource: true, CodeResourceMismatch: true,
	CodeMalformed: true, CodeReferenceMissing: true,
}

// Finding is one validation finding, shaped as Access Analyzer's
// ValidatePolicyFinding.
type Finding struct {
	FindingType    string     `json:"findingType"`
	IssueCode      string     `json:"issueCode"`
	FindingDetails string     `json:"findingDetails"`
	LearnMoreLink  string     `json:"learnMoreLink,omitempty"`
	Locations      []Location `json:"locations"`
}

// Location is a place in the document: a path of elements and the span of
// its text.
type Location struct {
	Path []PathElement `json:"path"`
	Span *Span         `json:"span,omitempty"`
}

// PathElement is one step of a path: an array index or a member name.
type PathElement struct {
	Index *int   `json:"index,omitempty"`
	Value string `json:"value,omitempty"`
}

// String renders the element as in Statement[0].Action.
func (e PathElement) String() string {
	if e.Index != nil {
		return fmt.Sprintf("[%d]", *e.Index)
	}
	return e.Value
}

// Span is a range of text: Start inclusive, End exclusive.
type Span struct {
	Start Position `json:"start"`
	End   Position `json:"end"`
}

// Position is a place in the text: Line from 1, Column and Offset (from the
// start of the document) in characters from 0.
type Position struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Offset int `json:"offset"`
}

// PathString renders a location's path (Statement[1].Condition.StringEquals).
func (l Location) PathString() string {
	var b strings.Builder
	for i, e := range l.Path {
		if i > 0 && e.Index == nil {
			b.WriteByte('.')
		}
		b.WriteString(e.String())
	}
	return b.String()
}

// Report is the result of Analyze.
type Report struct {
	PolicyType string `json:"policyType"`
	// ReferenceAvailable tells whether the checks that need the service
	// authorization reference ran.
	ReferenceAvailable bool      `json:"referenceAvailable"`
	Findings           []Finding `json:"findings"`
}

// Blocking reports whether any finding is an ERROR or a SECURITY_WARNING.
func (r *Report) Blocking() bool {
	for _, f := range r.Findings {
		if f.FindingType == Error || f.FindingType == SecurityWarning {
			return true
		}
	}
	return false
}

// PolicyType is Access Analyzer's name for the kind of document.
func PolicyType(k policy.Kind) string {
	switch k {
	case policy.Resource, policy.Trust:
		return "RESOURCE_POLICY"
	case policy.SCP:
		return "SERVICE_CONTROL_POLICY"
	}
	return "IDENTITY_POLICY"
}

// Analyze validates a policy document of the given kind and returns its
// findings in document order. cat may be empty (or nil): the checks that
// need the reference are then skipped and one INFO finding says so.
func Analyze(doc []byte, kind policy.Kind, cat *sar.Catalog) *Report {
	a := &analysis{doc: doc, kind: kind, cat: cat, pos: newPositions(doc), ops: map[string]bool{}}
	a.rep = &Report{PolicyType: PolicyType(kind), ReferenceAvailable: cat.Available(), Findings: []Finding{}}
	a.run()
	if !a.rep.ReferenceAvailable {
		a.add(Info, CodeReferenceMissing, nil, nil,
			"Checks that need the service authorization reference were skipped (%s): %s. Run scripts/gen-sar.sh once the reference is in the shared data set, or pass --reference.",
			sar.NotAvailable, referenceSkippedChecks)
	}
	return a.rep
}

type analysis struct {
	doc  []byte
	kind policy.Kind
	cat  *sar.Catalog
	pos  *positions
	rep  *Report
	ops  map[string]bool // condition operators already checked
}

func (a *analysis) add(typ, code string, path []PathElement, n *node, format string, args ...any) {
	f := Finding{FindingType: typ, IssueCode: code, FindingDetails: fmt.Sprintf(format, args...), Locations: []Location{}}
	if !iamdCodes[code] {
		f.LearnMoreLink = learnMoreBase + "#access-analyzer-reference-policy-checks-" + anchorWord(typ) + "-" +
			strings.ReplaceAll(strings.ToLower(code), "_", "-")
	}
	if path != nil || n != nil {
		f.Locations = append(f.Locations, Location{Path: slices.Clone(path), Span: a.pos.span(n)})
	}
	a.rep.Findings = append(a.rep.Findings, f)
}

func anchorWord(typ string) string {
	switch typ {
	case SecurityWarning:
		return "security-warning"
	case Warning:
		return "general-warning"
	case Suggestion:
		return "suggestion"
	}
	return "error"
}

func idx(i int) PathElement    { return PathElement{Index: &i} }
func key(k string) PathElement { return PathElement{Value: k} }

// with returns path extended by more, without sharing the backing array.
func with(path []PathElement, more ...PathElement) []PathElement {
	return append(slices.Clone(path), more...)
}

var topLevel = map[string]bool{"Version": true, "Id": true, "Statement": true}

var statementLevel = map[string]bool{
	"Sid": true, "Effect": true, "Principal": true, "NotPrincipal": true,
	"Action": true, "NotAction": true, "Resource": true, "NotResource": true, "Condition": true,
}

func (a *analysis) run() {
	root, err := parseTree(a.doc)
	if err != nil {
		var se *syntaxError
		off := 0
		if errors.As(err, &se) {
			off = se.off
		}
		p := a.pos.at(off)
		n := &node{start: off, end: off}
		a.add(Error, CodeJSONSyntax, []PathElement{}, n,
			"Fix the JSON syntax error at index %d line %d column %d.", p.Offset, p.Line, p.Column)
		return
	}
	if root.kind != 'o' {
		a.add(Error, CodeDataTypeMismatch, []PathElement{}, root, "The text does not match the expected JSON data type Object.")
		return
	}
	errorsBefore := a.count(Error)
	for i, k := range root.keys {
		if !topLevel[k] {
			a.add(Error, CodeInvalidElement, []PathElement{key(k)}, root.vals[i], "The policy element %s is not valid.", k)
		}
	}
	if v := root.get("Version"); v == nil {
		a.add(Warning, CodeMissingVersion, []PathElement{}, root,
			"We recommend that you specify the Version element to help you with debugging permission issues.")
	} else if v.kind != 's' || (v.str != policy.Version2012 && v.str != policy.Version2008) {
		a.add(Error, CodeInvalidVersion, []PathElement{key("Version")}, v,
			"The %s version is not valid. Use one of the following versions: %s, %s.", v.str, policy.Version2012, policy.Version2008)
	}
	st := root.get("Statement")
	var stmts []*statement
	switch {
	case st == nil || (st.kind == 'a' && len(st.items) == 0):
		a.add(Error, CodeMissingStatement, []PathElement{}, root, "Add a statement to the policy.")
	case st.kind == 'o':
		stmts = append(stmts, &statement{n: st, index: 0, path: []PathElement{key("Statement")}})
	case st.kind == 'a':
		for i, it := range st.items {
			p := []PathElement{key("Statement"), idx(i)}
			if it.kind != 'o' {
				a.add(Error, CodeDataTypeMismatch, p, it, "The text does not match the expected JSON data type Object.")
				continue
			}
			stmts = append(stmts, &statement{n: it, index: i, path: p})
		}
	default:
		a.add(Error, CodeDataTypeMismatch, []PathElement{key("Statement")}, st, "The text does not match the expected JSON data type Array.")
	}
	for _, s := range stmts {
		a.statement(s)
	}
	a.redundantStatements(stmts)
	// Anything IAM itself would reject that the checks above did not name.
	if a.count(Error) == errorsBefore {
		_, err := policy.Parse(a.doc, a.kind)
		var ve *policy.ValidationError
		if errors.As(err, &ve) {
			a.add(Error, CodeMalformed, []PathElement{}, root, "IAM rejects this document: %s", ve.Message)
		} else if err != nil {
			a.add(Error, CodeMalformed, []PathElement{}, root, "IAM rejects this document: %v", err)
		}
	}
}

func (a *analysis) count(typ string) int {
	n := 0
	for _, f := range a.rep.Findings {
		if f.FindingType == typ {
			n++
		}
	}
	return n
}

// statement is one statement with the values of its elements.
type statement struct {
	n     *node
	index int
	path  []PathElement

	allow                   bool
	actions, notActions     []string
	actionNodes, notActNods []*node
	resources, notResources []string
	resNodes                []*node
	hasAction, hasNotAction bool
	hasRes, hasNotRes       bool
	conditions              []condition
}

type condition struct {
	op, key string
	values  []string
	path    []PathElement
	n       *node
}

func (a *analysis) statement(s *statement) {
	n := s.n
	for i, k := range n.keys {
		if !statementLevel[k] {
			a.add(Error, CodeInvalidElement, with(s.path, key(k)), n.vals[i], "The policy element %s is not valid.", k)
		}
	}
	if v := n.get("Sid"); v != nil {
		switch {
		case v.kind != 's':
			a.add(Error, CodeDataTypeMismatch, with(s.path, key("Sid")), v, "The text does not match the expected JSON data type String.")
		case v.str == "":
			a.add(Suggestion, CodeEmptySid, with(s.path, key("Sid")), v, "Add a value to the empty string in the Sid element.")
		}
	}
	switch v := n.get("Effect"); {
	case v == nil:
		a.add(Error, CodeMissingEffect, s.path, n, "Add an Effect element to the policy statement with a value of Allow or Deny.")
	case v.kind != 's' || (v.str != "Allow" && v.str != "Deny"):
		a.add(Error, CodeInvalidEffect, with(s.path, key("Effect")), v, "The effect %s is not valid. Use Allow or Deny.", v.str)
	default:
		s.allow = v.str == "Allow"
	}

	s.actions, s.actionNodes, s.hasAction = a.list(s, "Action", CodeEmptyArrayAction)
	s.notActions, s.notActNods, s.hasNotAction = a.list(s, "NotAction", CodeEmptyArrayNotAction)
	switch {
	case s.hasAction && s.hasNotAction:
		a.add(Error, CodeElementCombination, s.path, n, "The policy elements Action and NotAction can not be used in the same statement. Use one of them.")
	case !s.hasAction && !s.hasNotAction:
		a.add(Error, CodeMissingAction, s.path, n, "Add an Action or NotAction element to the policy statement.")
	}
	s.resources, s.resNodes, s.hasRes = a.list(s, "Resource", CodeEmptyArrayResource)
	s.notResources, _, s.hasNotRes = a.list(s, "NotResource", CodeEmptyArrayNotRes)
	switch {
	case s.hasRes && s.hasNotRes:
		a.add(Error, CodeElementCombination, s.path, n, "The policy elements Resource and NotResource can not be used in the same statement. Use one of them.")
	case !s.hasRes && !s.hasNotRes && a.kind != policy.SCP && a.kind != policy.Trust:
		a.add(Error, CodeMissingResource, s.path, n, "Add a Resource or NotResource element to the policy statement.")
	}
	a.principals(s)
	a.conditions(s)
	for i, v := range s.actions {
		a.action(s, v, with(s.path, key("Action")), s.actionNodes[i], len(s.actionNodes) > 1, i)
	}
	for i, v := range s.notActions {
		a.action(s, v, with(s.path, key("NotAction")), s.notActNods[i], len(s.notActNods) > 1, i)
	}
	if s.allow {
		a.security(s)
		a.resourceTypes(s)
	}
	a.redundant(s, "Action", s.actions, s.actionNodes, CodeRedundantAction, "action")
	a.redundant(s, "Resource", s.resources, s.resNodes, CodeRedundantResource, "resource ARN")
}

// list reads a string-or-array element; present reports whether the
// element is in the statement at all.
func (a *analysis) list(s *statement, name, emptyCode string) (vals []string, nodes []*node, present bool) {
	v := s.n.get(name)
	if v == nil {
		return nil, nil, false
	}
	p := with(s.path, key(name))
	if v.kind == 'a' && len(v.items) == 0 {
		a.add(Suggestion, emptyCode, p, v, "Add a value to the empty array in the %s element.", name)
		return nil, nil, true
	}
	vals, nodes, ok := v.strings()
	if !ok {
		a.add(Error, CodeDataTypeMismatch, p, v, "The text does not match the expected JSON data type String or Array of String.")
	}
	return vals, nodes, true
}

func (a *analysis) principals(s *statement) {
	pr, np := s.n.get("Principal"), s.n.get("NotPrincipal")
	resourceLike := a.kind == policy.Resource || a.kind == policy.Trust
	switch {
	case !resourceLike && (pr != nil || np != nil):
		el := "Principal"
		if pr == nil {
			el, pr = "NotPrincipal", np
		}
		a.add(Error, CodeUnsupportedPrinc, with(s.path, key(el)), pr,
			"Policies with this type do not support the %s element. Remove the %s element.", el, el)
		return
	case resourceLike && pr == nil && np == nil:
		a.add(Error, CodeMissingPrincipal, s.path, s.n, "Add a Principal or NotPrincipal element to the policy statement.")
		return
	case pr != nil && np != nil:
		a.add(Error, CodeElementCombination, s.path, s.n, "The policy elements Principal and NotPrincipal can not be used in the same statement. Use one of them.")
	}
	for _, el := range []string{"Principal", "NotPrincipal"} {
		v := s.n.get(el)
		if v == nil {
			continue
		}
		p := with(s.path, key(el))
		if v.kind == 'o' && len(v.keys) == 0 {
			a.add(Suggestion, CodeEmptyObjectPrinc, p, v, "Add a value to the empty object in the %s element.", el)
		}
		if v.kind == 'o' {
			for i, k := range v.keys {
				if it := v.vals[i]; it.kind == 'a' && len(it.items) == 0 {
					a.add(Suggestion, CodeEmptyArrayPrincipal, with(p, key(k)), it, "Add a value to the empty array in the %s element.", el)
				}
			}
		}
	}
	if np != nil && s.n.get("Effect") != nil && s.n.get("Effect").str == "Allow" {
		a.add(SecurityWarning, CodeAllowNotPrincipal, with(s.path, key("NotPrincipal")), np,
			"Using Allow with NotPrincipal can be overly permissive. We recommend that you use Principal instead.")
	}
}

func (a *analysis) conditions(s *statement) {
	c := s.n.get("Condition")
	if c == nil {
		return
	}
	cp := with(s.path, key("Condition"))
	if c.kind != 'o' {
		a.add(Error, CodeDataTypeMismatch, cp, c, "The text does not match the expected JSON data type Object.")
		return
	}
	if len(c.keys) == 0 {
		a.add(Suggestion, CodeEmptyObjectCond, cp, c, "Add a value to the empty object in the Condition element.")
		return
	}
	for i, op := range c.keys {
		block := c.vals[i]
		opPath := with(cp, key(op))
		if !a.validOperator(op) {
			a.add(Error, CodeInvalidOperator, opPath, block, "The condition operator %s is not valid. Use a valid condition operator.", op)
			continue
		}
		if block.kind != 'o' {
			a.add(Error, CodeDataTypeMismatch, opPath, block, "The text does not match the expected JSON data type Object.")
			continue
		}
		if len(block.keys) == 0 {
			a.add(Suggestion, CodeEmptyObjectCond, opPath, block, "Add a value to the empty object in the Condition element.")
		}
		base := op
		if i := strings.IndexByte(base, ':'); i >= 0 {
			base = base[i+1:]
		}
		if strings.HasPrefix(base, "Null") && strings.HasSuffix(base, "IfExists") {
			a.add(Error, CodeNullWithIfExists, opPath, block, "The Null condition operator cannot be used with the IfExists suffix. Update the operator or the suffix.")
		}
		for j, k := range block.keys {
			v := block.vals[j]
			kp := with(opPath, key(k))
			var vals []string
			switch v.kind {
			case 'a':
				if len(v.items) == 0 {
					a.add(Suggestion, CodeEmptyArrayCondition, kp, v, "Add a value to the empty array in the Condition element.")
				}
				for _, it := range v.items {
					vals = append(vals, it.str)
				}
			case 's', 'l':
				vals = []string{v.str}
			default:
				a.add(Error, CodeDataTypeMismatch, kp, v, "The text does not match the expected JSON data type String or Array.")
			}
			s.conditions = append(s.conditions, condition{op: op, key: k, values: vals, path: kp, n: v})
			a.conditionKey(op, k, kp, v)
		}
	}
}

// validOperator asks the policy engine whether op is a condition operator,
// so that the two never disagree.
func (a *analysis) validOperator(op string) bool {
	if ok, seen := a.ops[op]; seen {
		return ok
	}
	doc := fmt.Sprintf(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"*","Condition":{%q:{"aws:username":"x"}}}}`, op)
	_, err := policy.Parse([]byte(doc), policy.Identity)
	ok := err == nil
	if !ok && strings.HasPrefix(strings.TrimSuffix(op, "IfExists"), "Null") {
		ok = true // Null...IfExists is reported on its own
	}
	a.ops[op] = ok
	return ok
}

func (a *analysis) conditionKey(op, k string, path []PathElement, n *node) {
	prefix, _, ok := strings.Cut(k, ":")
	if !ok || prefix == "" {
		a.add(Error, CodeInvalidKeyFormat, path, n, "The condition key format is not valid. Use the format service:keyname.")
		return
	}
	if !a.cat.Available() {
		return
	}
	var found *sar.ConditionKey
	if strings.EqualFold(prefix, "aws") {
		if fk, ok := a.cat.ConditionKey(k); ok {
			found = fk
		} else if a.cat.HasGlobalKeys() {
			a.add(Error, CodeInvalidGlobalKey, path, n, "The condition key %s does not exist. Use a valid condition key.", k)
			return
		}
	} else {
		svc, ok := a.cat.Service(prefix)
		switch {
		case ok:
			fk, ok := svc.ConditionKey(k)
			if !ok {
				a.add(Error, CodeInvalidServiceKey, path, n, "The condition key %s does not exist in the service %s. Use a valid condition key.", k, svc.Prefix)
				return
			}
			found = fk
		default:
			// Keys of identity providers (saml:aud, accounts.google.com:sub,
			// token.actions.githubusercontent.com:repository) and a few
			// others (catalog:ChangeType) belong to the services that
			// read them, sts above all.
			if fk, ok := a.cat.ConditionKey(k); ok {
				found = fk
			} else if !identityProviderKey(prefix) {
				a.add(Error, CodeInvalidServiceKey, path, n, "The condition key %s refers to the service %s, which does not exist. Use a valid condition key.", k, prefix)
				return
			}
		}
	}
	if found != nil && strings.HasPrefix(op, "ForAllValues:") {
		if multi, known := found.MultiValued(); known && !multi {
			a.add(SecurityWarning, CodeForAllValuesSingle, path, n,
				"Using ForAllValues qualifier with the single-valued condition key %s can be overly permissive. We recommend that you remove ForAllValues:.", k)
		}
	}
}

// identityProviderKey reports whether prefix names an OpenID Connect
// provider (its URL without https://: oidc.eks.us-east-1.amazonaws.com/id/X,
// token.actions.githubusercontent.com), whose condition keys are the
// claims of its tokens: any claim may be one, so none is reported unknown.
func identityProviderKey(prefix string) bool {
	return strings.ContainsAny(prefix, "./")
}

// action checks one Action or NotAction value.
func (a *analysis) action(s *statement, v string, elPath []PathElement, n *node, isList bool, i int) {
	p := elPath
	if isList {
		p = with(elPath, idx(i))
	}
	if v == "*" {
		return
	}
	prefix, name, ok := strings.Cut(v, ":")
	if !ok || prefix == "" || name == "" {
		a.add(Error, CodeInvalidAction, p, n, "The action %s is not valid: use the format service:action.", v)
		return
	}
	if !a.cat.Available() || strings.ContainsAny(prefix, "*?") {
		return
	}
	svc, ok := a.cat.Service(prefix)
	if !ok {
		a.add(Error, CodeInvalidService, p, n, "The service %s does not exist.", prefix)
		return
	}
	if len(a.cat.MatchActions(v)) > 0 {
		return
	}
	if strings.ContainsAny(name, "*?") {
		a.add(Error, CodeInvalidAction, p, n, "The action %s does not match any action of the service %s.", v, svc.Prefix)
		return
	}
	a.add(Error, CodeInvalidAction, p, n, "The action %s does not exist.", v)
}

// security checks an Allow statement for overly permissive forms.
func (a *analysis) security(s *statement) {
	p := func(el string) ([]PathElement, *node) { return with(s.path, key(el)), s.n.get(el) }
	if s.hasNotAction {
		path, n := p("NotAction")
		a.add(SecurityWarning, CodeAllowNotAction, path, n,
			"Using Allow with NotAction allows every action that is not listed, including actions added to AWS later. We recommend that you list the allowed actions in Action instead.")
	}
	if s.hasNotRes {
		path, n := p("NotResource")
		a.add(Warning, CodeAllowNotResource, path, n,
			"Using Allow with NotResource allows the actions on every resource that is not listed, including resources created later. We recommend that you list the resources in Resource instead.")
	}
	starRes := false
	for _, r := range s.resources {
		if broadResource(r) {
			starRes = true
		}
	}
	for _, c := range []struct {
		action                     string
		explicitStar, wildStar     string
		explicitType               string
		notRes, notBoth            string
		explicitMsg, wildMsg       string
		notResMsg, notBothMsg      string
		suppressedByConditionKeyed string
	}{
		{
			action: "iam:PassRole", explicitStar: CodePassRoleStarRes, wildStar: CodePassRoleStarBoth, explicitType: SecurityWarning,
			notRes: CodePassRoleNotRes, notBoth: CodePassRoleNotBoth,
			explicitMsg:                "Using the iam:PassRole action with wildcards (*) in the resource can be overly permissive because it allows iam:PassRole permissions on multiple resources. We recommend that you specify resource ARNs or add the iam:PassedToService condition key to your statement.",
			wildMsg:                    "Using wildcards (*) in the action and the resource can be overly permissive because it allows iam:PassRole permissions on all resources. We recommend that you specify resource ARNs or add the iam:PassedToService condition key to your statement.",
			notResMsg:                  "Using the iam:PassRole action with NotResource can be overly permissive because it can allow iam:PassRole permissions on multiple resources. We recommend that you specify resource ARNs instead.",
			notBothMsg:                 "Using NotAction with NotResource can be overly permissive because it can allow iam:PassRole permissions on multiple resources. We recommend that you specify resource ARNs instead.",
			suppressedByConditionKeyed: "iam:PassedToService",
		},
		{
			action: "iam:CreateServiceLinkedRole", explicitStar: CodeSLRStarRes, wildStar: CodeSLRStarBoth, explicitType: Warning,
			notRes: CodeSLRNotRes, notBoth: CodeSLRNotBoth,
			explicitMsg:                "Using the iam:CreateServiceLinkedRole action with wildcards (*) in the resource can allow creation of unintended service-linked roles because it allows AWS services to create roles in your account. We recommend that you specify the service-linked role ARNs or add the iam:AWSServiceName condition key to your statement.",
			wildMsg:                    "Using wildcards (*) in the action and the resource can allow creation of unintended service-linked roles because it allows iam:CreateServiceLinkedRole permissions on all resources. We recommend that you specify resource ARNs instead.",
			notResMsg:                  "Using the iam:CreateServiceLinkedRole action with NotResource can allow creation of unintended service-linked roles for multiple resources. We recommend that you specify resource ARNs instead.",
			notBothMsg:                 "Using NotAction with NotResource can allow creation of unintended service-linked roles because it allows iam:CreateServiceLinkedRole permissions on multiple resources. We recommend that you specify resource ARNs instead.",
			suppressedByConditionKeyed: "iam:AWSServiceName",
		},
	} {
		explicit, wild := false, false
		for _, v := range s.actions {
			switch {
			case strings.EqualFold(v, c.action):
				explicit = true
			case strings.ContainsAny(v, "*?") && sar.Glob(v, c.action):
				wild = true
			}
		}
		notActionAllows := s.hasNotAction && !anyGlob(s.notActions, c.action)
		conditioned := false
		for _, cond := range s.conditions {
			if strings.EqualFold(cond.key, c.suppressedByConditionKeyed) {
				conditioned = true
			}
		}
		rp, rn := p("Resource")
		np, nn := p("NotResource")
		switch {
		case explicit && starRes && !conditioned:
			a.add(c.explicitType, c.explicitStar, rp, rn, "%s", c.explicitMsg)
		case !explicit && wild && starRes && !conditioned:
			a.add(SecurityWarning, c.wildStar, rp, rn, "%s", c.wildMsg)
		case (explicit || wild) && s.hasNotRes && !excludesAllRoles(s.notResources):
			a.add(SecurityWarning, c.notRes, np, nn, "%s", c.notResMsg)
		case notActionAllows && s.hasNotRes:
			a.add(SecurityWarning, c.notBoth, np, nn, "%s", c.notBothMsg)
		}
	}
}

// broadResource reports whether a Resource value has a wildcard in its
// resource part (or is "*"), so that it covers many IAM roles.
func broadResource(r string) bool {
	if r == "*" {
		return true
	}
	parts := strings.SplitN(r, ":", 6)
	if len(parts) < 6 {
		return strings.Contains(r, "*")
	}
	svc := parts[2]
	return (svc == "iam" || strings.ContainsAny(svc, "*?")) && strings.Contains(parts[5], "*")
}

// excludesAllRoles reports whether NotResource patterns leave out every
// role, in whichever partition the policy is written for.
func excludesAllRoles(notResources []string) bool {
	for _, p := range []iam.Partition{iam.PartitionAWS, iam.PartitionChina, iam.PartitionGovCloud, iam.PartitionISO, iam.PartitionISOB} {
		if anyGlob(notResources, p.Prefix("iam")+"*:role/*") {
			return true
		}
	}
	return false
}

func anyGlob(patterns []string, s string) bool {
	for _, p := range patterns {
		if sar.Glob(p, s) {
			return true
		}
	}
	return false
}

// resourceTypes reports literal actions whose resource types fit none of
// the statement's literal resource ARNs: the statement does not allow them.
func (a *analysis) resourceTypes(s *statement) {
	if !a.cat.Available() || !s.hasRes || len(s.resources) == 0 {
		return
	}
	for _, r := range s.resources {
		if strings.ContainsAny(r, "*?") || strings.Contains(r, "${") {
			return // patterns may match anything; only literal ARNs are checked
		}
	}
	for i, v := range s.actions {
		if strings.ContainsAny(v, "*?") {
			continue
		}
		act, ok := a.cat.Action(v)
		if !ok {
			continue
		}
		path := with(s.path, key("Action"))
		if len(s.actionNodes) > 1 {
			path = append(path, idx(i))
		}
		if len(act.Resources) == 0 {
			a.add(Warning, CodeResourceMismatch, path, s.actionNodes[i],
				"The action %s does not support resource-level permissions: it applies only with Resource \"*\", so this statement does not allow it.", v)
			continue
		}
		fits := false
		var types []string
		for _, ar := range act.Resources {
			types = append(types, ar.Name)
			rt, ok := act.Service.ResourceType(ar.Name)
			if !ok {
				fits = true // the reference does not describe the type: do not guess
				continue
			}
			for _, r := range s.resources {
				if rt.MatchesARN(r) {
					fits = true
				}
			}
		}
		if !fits {
			a.add(Warning, CodeResourceMismatch, path, s.actionNodes[i],
				"The action %s acts on resources of type %s; none of the resources of this statement is of that type, so this statement does not allow it.", v, strings.Join(types, ", "))
		}
	}
}

// redundant reports list values covered by another value of the same list.
func (a *analysis) redundant(s *statement, el string, vals []string, nodes []*node, code, what string) {
	if len(vals) < 2 {
		return
	}
	for i, v := range vals {
		if el == "Resource" && strings.Contains(v, "${") {
			continue
		}
		for j, w := range vals {
			if i == j || (el == "Resource" && strings.Contains(w, "${")) {
				continue
			}
			same := strings.EqualFold(v, w)
			if el == "Resource" {
				same = v == w
			}
			covered := same && j < i
			if !same && strings.ContainsAny(w, "*?") {
				if el == "Resource" {
					covered = globCase(w, v)
				} else {
					covered = sar.Glob(w, v)
				}
			}
			if covered {
				a.add(Suggestion, code, with(s.path, key(el), idx(i)), nodes[i],
					"The %s %s is redundant because it provides similar permissions to the following %s: %s.", what, v, what, w)
				break
			}
		}
	}
}

// globCase is Glob with case-sensitive comparison, as Resource values
// compare.
func globCase(pattern, s string) bool {
	// Glob folds ASCII case; resources are case-sensitive, so compare the
	// literal parts exactly as well.
	if !sar.Glob(pattern, s) {
		return false
	}
	lit := strings.FieldsFunc(pattern, func(r rune) bool { return r == '*' || r == '?' })
	rest := s
	for _, l := range lit {
		i := strings.Index(rest, l)
		if i < 0 {
			return false
		}
		rest = rest[i+len(l):]
	}
	return true
}

// redundantStatements reports statements identical to an earlier one.
func (a *analysis) redundantStatements(stmts []*statement) {
	seen := map[string]int{}
	for _, s := range stmts {
		sig := canonical(s.n, "Sid")
		if j, ok := seen[sig]; ok {
			a.add(Suggestion, CodeRedundantStatement, s.path, s.n,
				"The statement is redundant because it provides identical permissions to statement %d. Remove the redundant statement.", j)
			continue
		}
		seen[sig] = s.index
	}
}

// canonical renders a node with members sorted and without its top-level
// member skip, to compare statements.
func canonical(n *node, skip string) string {
	var b strings.Builder
	var walk func(n *node, top bool)
	walk = func(n *node, top bool) {
		switch n.kind {
		case 'o':
			type kv struct {
				k string
				v *node
			}
			var kvs []kv
			for i, k := range n.keys {
				if !top || k != skip {
					kvs = append(kvs, kv{k, n.vals[i]})
				}
			}
			slices.SortFunc(kvs, func(x, y kv) int { return strings.Compare(x.k, y.k) })
			b.WriteByte('{')
			for _, e := range kvs {
				fmt.Fprintf(&b, "%q:", e.k)
				walk(e.v, false)
				b.WriteByte(',')
			}
			b.WriteByte('}')
		case 'a':
			b.WriteByte('[')
			for _, it := range n.items {
				walk(it, false)
				b.WriteByte(',')
			}
			b.WriteByte(']')
		case 's':
			fmt.Fprintf(&b, "%q", n.str)
		default:
			b.WriteString(n.str)
		}
	}
	walk(n, true)
	return b.String()
}
