package policy

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
)

// Kind is the kind of policy a document is parsed as. The kind decides which
// elements are required or forbidden.
type Kind int

// Policy kinds.
const (
	// Identity is an identity-based policy: a managed policy or an inline
	// user, group or role policy. Principal is forbidden.
	Identity Kind = iota
	// Resource is a resource-based policy (bucket policy, key policy, ...).
	// Principal or NotPrincipal is required.
	Resource
	// Trust is a role's trust (assume-role) policy: Principal required,
	// Resource forbidden, only sts:AssumeRole* style actions.
	Trust
	// Boundary is a managed policy used as a permissions boundary.
	Boundary
	// Session is a session policy passed to AssumeRole*/GetFederationToken.
	Session
	// SCP is an AWS Organizations service control policy. Resource may be
	// omitted (it means "*").
	SCP
)

var kindNames = [...]string{"identity", "resource", "trust", "boundary", "session", "scp"}

// String returns the kind's lower-case name.
func (k Kind) String() string {
	if int(k) >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Effect is a statement's Effect element.
type Effect int

// Effects.
const (
	Allow Effect = iota
	Deny
)

// String returns "Allow" or "Deny".
func (e Effect) String() string {
	if e == Deny {
		return "Deny"
	}
	return "Allow"
}

// Policy language versions.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Document is a parsed and validated policy document. It is immutable once
// returned by Parse; compile it with Compile or CompileResource to evaluate.
type Document struct {
	// Kind is the kind the document was validated as.
	Kind Kind
	// Version is the Version element, "" when absent (which IAM treats as
	// 2008-10-17: no policy variables).
	Version string
	// ID is the Id element.
	ID string
	// Statements in document order.
	Statements []Statement
}

// Variables reports whether policy variables are interpreted in the
// document (Version 2012-10-17 only).
func (d *Document) Variables() bool { return d.Version == Version2012 }

// Statement is one statement of a document. Exactly one of Action and
// NotAction is non-nil; Resource and NotResource are both nil only in trust
// policies and SCPs that omit them.
type Statement struct {
	Sid          string
	Effect       Effect
	Principal    *Principals
	NotPrincipal *Principals
	Action       []string
	NotAction    []string
	Resource     []string
	NotResource  []string
	// Conditions in the order operator then key, sorted, for stable output.
	Conditions []Condition
}

// Principals is the value of a Principal or NotPrincipal element.
type Principals struct {
	// Wildcard is true for "Principal": "*".
	Wildcard      bool
	AWS           []string
	Service       []string
	Federated     []string
	CanonicalUser []string
}

// Condition is one operator/key pair of a Condition element.
type Condition struct {
	// Operator as written, e.g. "ForAnyValue:StringLikeIfExists".
	Operator string
	// Key as written, e.g. "aws:PrincipalTag/team".
	Key string
	// Values as strings (JSON numbers and booleans are converted).
	Values []string
}

// ParseOptions adjusts validation to where the document will be stored.
type ParseOptions struct {
	// RequireVersion2012 rejects documents whose Version is absent or
	// 2008-10-17, as CreatePolicy and CreatePolicyVersion do for managed
	// policies.
	RequireVersion2012 bool
	// AllowTrailingData ignores bytes after the document, as Parse did
	// before it refused them. It is for documents stored then, so that
	// they are evaluated as they were when written (a stored Deny with
	// trailing bytes keeps denying); never use it for a document received.
	AllowTrailingData bool
	// Partition, if set, is the only partition ARNs in Resource,
	// NotResource and AWS principals may name, as IAM accepts in its own
	// partition ("Partition \"aws\" is not valid for resource ..." in
	// aws-cn); empty accepts every partition.
	Partition string
}

// Parse parses and validates doc as a policy of the given kind, the way IAM
// validates it. On rejection the error is a *ValidationError carrying IAM's
// MalformedPolicyDocument message.
func Parse(doc []byte, kind Kind) (*Document, error) {
	return ParseWithOptions(doc, kind, ParseOptions{})
}

// ParseWithOptions is Parse with storage-specific options.
func ParseWithOptions(doc []byte, kind Kind, opts ParseOptions) (*Document, error) {
	p := parser{kind: kind, partition: opts.Partition}
	d, err := p.parse(doc, opts)
	if err != nil {
		return nil, err
	}
	return d, nil
}

type parser struct {
	kind      Kind
	partition string // ParseOptions.Partition
}

// validPartition reports whether an ARN may name partition part.
func (p *parser) validPartition(part string) bool {
	if p.partition != "" {
		return part == p.partition
	}
	return validPartition(part)
}

// rawStmt keeps what validation needs about a statement beyond Statement.
type rawStmt struct {
	st                         Statement
	effectRaw                  string
	hasAction, hasNotAction    bool
	hasResource, hasNotResourc bool
	hasPrincipal, hasNotPrinc  bool
	principalRaw               any
	notPrincipalRaw            any
	hasSid                     bool
}

var validStatementKeys = map[string]bool{
	"Sid": true, "Effect": true, "Principal": true, "NotPrincipal": true,
	"Action": true, "NotAction": true, "Resource": true, "NotResource": true,
	"Condition": true,
}

func (p *parser) parse(doc []byte, opts ParseOptions) (*Document, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var top any
	if err := dec.Decode(&top); err != nil {
		return nil, malformed(msgSyntax)
	}
	if !opts.AllowTrailingData && !onlyWhitespace(doc[dec.InputOffset():]) {
		// Bytes after the document, even ones that do not start a JSON
		// value ("{...}xyz"), make it malformed: IAM would otherwise store
		// and later return a document that is not JSON.
		return nil, malformed(msgSyntax)
	}
	obj, ok := top.(map[string]any)
	if !ok {
		return nil, malformed(msgSyntax)
	}
	d := &Document{Kind: p.kind}
	for k, v := range obj {
		switch k {
		case "Version":
			s, ok := v.(string)
			if !ok || (s != Version2012 && s != Version2008) {
				return nil, malformed(msgSyntax)
			}
			d.Version = s
		case "Id":
			s, ok := v.(string)
			if !ok {
				return nil, malformed(msgSyntax)
			}
			d.ID = s
		case "Statement":
		default:
			return nil, malformed(msgSyntax)
		}
	}
	stv, ok := obj["Statement"]
	if !ok {
		return nil, malformed(msgSyntax)
	}
	var list []any
	switch s := stv.(type) {
	case map[string]any:
		list = []any{s}
	case []any:
		list = s
	default:
		return nil, malformed(msgSyntax)
	}
	if len(list) == 0 {
		return nil, malformed(msgSyntax)
	}
	raws := make([]rawStmt, 0, len(list))
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, malformed(msgSyntax)
		}
		rs, err := p.syntaxStatement(m)
		if err != nil {
			return nil, err
		}
		raws = append(raws, rs)
	}

	if opts.RequireVersion2012 && d.Version != Version2012 {
		return nil, malformed(msgVersion2012)
	}

	// Legacy parsing: case-sensitive Effect and date condition values.
	for i := range raws {
		if raws[i].effectRaw != "Allow" && raws[i].effectRaw != "Deny" {
			return nil, malformed(msgLegacy)
		}
		for _, c := range raws[i].st.Conditions {
			op, ok := parseOperator(c.Operator)
			if ok && op.family == famDate {
				for _, v := range c.Values {
					if !legacyDateOK(v) {
						return nil, malformed(msgLegacy)
					}
				}
			}
		}
	}
	// Resource formats: legacy failures stop here, other errors wait.
	resErr := ""
	for i := range raws {
		for _, key := range [2][]string{raws[i].st.Resource, raws[i].st.NotResource} {
			if key == nil {
				continue
			}
			sorted := append([]string(nil), key...)
			sort.Sort(sort.Reverse(sort.StringSlice(sorted)))
			for _, r := range sorted {
				if msg := p.resourceFormatError(r); msg != "" {
					resErr = msg
				}
			}
			if resErr == "" {
				for _, r := range key {
					if !legacyResourceOK(r) {
						return nil, malformed(msgLegacy)
					}
				}
			}
		}
	}

	// Principal rules per kind.
	for i := range raws {
		if err := p.checkPrincipals(&raws[i]); err != nil {
			return nil, err
		}
	}

	seen := map[string]bool{}
	for i := range raws {
		sid := raws[i].st.Sid
		if sid == "" {
			continue
		}
		if seen[sid] {
			return nil, malformed(msgDuplicateSid)
		}
		seen[sid] = true
	}
	for i := range raws {
		if !raws[i].hasAction && !raws[i].hasNotAction {
			return nil, malformed(msgNoActions)
		}
		if raws[i].hasAction && len(raws[i].st.Action) == 0 || raws[i].hasNotAction && len(raws[i].st.NotAction) == 0 {
			return nil, malformed(msgNoActions)
		}
	}
	if resErr != "" {
		return nil, malformed(resErr)
	}
	for i := range raws {
		for _, a := range raws[i].st.Action {
			if err := checkAction(a); err != nil {
				return nil, err
			}
		}
		for _, a := range raws[i].st.NotAction {
			if err := checkAction(a); err != nil {
				return nil, err
			}
		}
	}
	for i := range raws {
		r := &raws[i]
		switch p.kind {
		case Trust:
			if r.hasResource {
				return nil, malformed("Has prohibited field Resource")
			}
			if r.hasNotResourc {
				return nil, malformed("Has prohibited field NotResource")
			}
			continue
		case SCP:
			if !r.hasResource && !r.hasNotResourc {
				continue
			}
		}
		if !r.hasResource && !r.hasNotResourc {
			return nil, malformed(msgNoResources)
		}
		if r.hasResource && len(r.st.Resource) == 0 || r.hasNotResourc && len(r.st.NotResource) == 0 {
			return nil, malformed(msgNoResources)
		}
	}
	if p.kind == Trust {
		for i := range raws {
			for _, a := range raws[i].st.Action {
				if !trustAction(a) {
					return nil, malformed(msgTrustActions)
				}
			}
			for _, a := range raws[i].st.NotAction {
				if !trustAction(a) {
					return nil, malformed(msgTrustActions)
				}
			}
		}
	}
	if p.kind == Identity || p.kind == Boundary || p.kind == Session {
		for i := range raws {
			if !sidAlnum(raws[i].st.Sid) {
				return nil, malformed(msgSidAlnum)
			}
		}
	}
	d.Statements = make([]Statement, len(raws))
	for i := range raws {
		d.Statements[i] = raws[i].st
	}
	return d, nil
}

// onlyWhitespace reports whether b holds nothing but JSON's whitespace
// (space, tab, line feed, carriage return). IAM's policy parameters allow
// only tab, line feed and carriage return below U+0020, and no-break space
// (U+00A0), though allowed, is not whitespace to a JSON parser, so this is
// the whole set that may follow a document.
func onlyWhitespace(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
		default:
			return false
		}
	}
	return true
}

func (p *parser) syntaxStatement(m map[string]any) (rawStmt, error) {
	var rs rawStmt
	for k := range m {
		if !validStatementKeys[k] {
			return rs, malformed(msgSyntax)
		}
	}
	_, rs.hasAction = m["Action"]
	_, rs.hasNotAction = m["NotAction"]
	_, rs.hasResource = m["Resource"]
	_, rs.hasNotResourc = m["NotResource"]
	_, rs.hasPrincipal = m["Principal"]
	_, rs.hasNotPrinc = m["NotPrincipal"]
	if rs.hasAction && rs.hasNotAction || rs.hasResource && rs.hasNotResourc || rs.hasPrincipal && rs.hasNotPrinc {
		return rs, malformed(msgSyntax)
	}
	ev, ok := m["Effect"]
	if !ok {
		return rs, malformed(msgSyntax)
	}
	es, ok := ev.(string)
	if !ok || (!strings.EqualFold(es, "Allow") && !strings.EqualFold(es, "Deny")) {
		return rs, malformed(msgSyntax)
	}
	rs.effectRaw = es
	if strings.EqualFold(es, "Deny") {
		rs.st.Effect = Deny
	}
	var err error
	if rs.hasAction {
		if rs.st.Action, err = stringList(m["Action"]); err != nil {
			return rs, err
		}
	}
	if rs.hasNotAction {
		if rs.st.NotAction, err = stringList(m["NotAction"]); err != nil {
			return rs, err
		}
	}
	if rs.hasResource {
		if rs.st.Resource, err = stringList(m["Resource"]); err != nil {
			return rs, err
		}
	}
	if rs.hasNotResourc {
		if rs.st.NotResource, err = stringList(m["NotResource"]); err != nil {
			return rs, err
		}
	}
	if rs.hasPrincipal {
		rs.principalRaw = m["Principal"]
		if rs.st.Principal, err = principalsOf(m["Principal"]); err != nil {
			return rs, err
		}
	}
	if rs.hasNotPrinc {
		rs.notPrincipalRaw = m["NotPrincipal"]
		if rs.st.NotPrincipal, err = principalsOf(m["NotPrincipal"]); err != nil {
			return rs, err
		}
	}
	if v, ok := m["Sid"]; ok {
		s, ok := v.(string)
		if !ok {
			return rs, malformed(msgSyntax)
		}
		rs.st.Sid = s
		rs.hasSid = true
	}
	if v, ok := m["Condition"]; ok {
		if rs.st.Conditions, err = conditionsOf(v); err != nil {
			return rs, err
		}
	}
	return rs, nil
}

// stringList accepts a string or an array of strings.
func stringList(v any) ([]string, error) {
	switch t := v.(type) {
	case string:
		return []string{t}, nil
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, malformed(msgSyntax)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, malformed(msgSyntax)
}

// scalarString converts a condition value scalar to its string form.
func scalarString(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case json.Number:
		return t.String(), true
	case bool:
		if t {
			return "true", true
		}
		return "false", true
	}
	return "", false
}

func principalsOf(v any) (*Principals, error) {
	switch t := v.(type) {
	case string:
		if t != "*" {
			return nil, malformedf("Invalid principal in policy: %q", t)
		}
		return &Principals{Wildcard: true}, nil
	case map[string]any:
		p := &Principals{}
		for k, val := range t {
			list, err := stringList(val)
			if err != nil {
				return nil, err
			}
			switch k {
			case "AWS":
				p.AWS = list
			case "Service":
				p.Service = list
			case "Federated":
				p.Federated = list
			case "CanonicalUser":
				p.CanonicalUser = list
			default:
				s := ""
				if len(list) > 0 {
					s = list[0]
				}
				return nil, malformedf("Invalid principal in policy: %q:%q", k, s)
			}
		}
		return p, nil
	}
	return nil, malformed(msgSyntax)
}

func conditionsOf(v any) ([]Condition, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, malformed(msgSyntax)
	}
	var out []Condition
	ops := make([]string, 0, len(m))
	for op := range m {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		block, ok := m[op].(map[string]any)
		if !ok {
			return nil, malformed(msgSyntax)
		}
		if len(block) == 0 {
			// IAM accepts (and ignores) an empty block, even under an
			// unknown operator: it constrains nothing.
			continue
		}
		if _, known := parseOperator(op); !known {
			return nil, malformed(msgSyntax)
		}
		keys := make([]string, 0, len(block))
		for k := range block {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			var vals []string
			switch t := block[k].(type) {
			case []any:
				vals = make([]string, 0, len(t))
				for _, e := range t {
					s, ok := scalarString(e)
					if !ok {
						return nil, malformed(msgSyntax)
					}
					vals = append(vals, s)
				}
			default:
				s, ok := scalarString(t)
				if !ok {
					return nil, malformed(msgSyntax)
				}
				vals = []string{s}
			}
			out = append(out, Condition{Operator: op, Key: k, Values: vals})
		}
	}
	return out, nil
}

func (p *parser) checkPrincipals(r *rawStmt) error {
	switch p.kind {
	case Identity, Boundary, Session, SCP:
		if r.hasPrincipal || r.hasNotPrinc {
			return malformed(msgNoPrincipalHere)
		}
		return nil
	}
	if !r.hasPrincipal && !r.hasNotPrinc {
		return malformed(msgMissingPrinc)
	}
	if p.kind == Trust && r.hasNotPrinc {
		return malformed("AssumeRole policy must not contain NotPrincipal field.")
	}
	for _, pr := range []*Principals{r.st.Principal, r.st.NotPrincipal} {
		if pr == nil || pr.Wildcard {
			continue
		}
		if len(pr.AWS)+len(pr.Service)+len(pr.Federated)+len(pr.CanonicalUser) == 0 {
			return malformed(msgMissingPrinc)
		}
		for _, a := range pr.AWS {
			if !p.validAWSPrincipal(a) {
				return malformedf("Invalid principal in policy: \"AWS\":%q", a)
			}
		}
		for _, s := range pr.Service {
			if s == "" || strings.ContainsAny(s, " *?") {
				return malformedf("Invalid principal in policy: \"SERVICE\":%q", s)
			}
		}
		for _, f := range pr.Federated {
			if f == "" || strings.ContainsAny(f, " *?") {
				return malformedf("Invalid principal in policy: \"FEDERATED\":%q", f)
			}
		}
		for _, c := range pr.CanonicalUser {
			if c == "" || strings.ContainsAny(c, " *?") {
				return malformedf("Invalid principal in policy: \"CANONICAL_USER\":%q", c)
			}
		}
	}
	return nil
}

// validAWSPrincipal accepts "*", a 12-digit account ID, or an IAM/STS ARN
// naming an account root, user, role, assumed-role session or federated
// user, with no wildcards.
func (p *parser) validAWSPrincipal(s string) bool {
	if s == "*" {
		return true
	}
	if ValidAccountID(s) {
		return true
	}
	a, ok := splitARN(s)
	if !ok || !p.validPartition(a.partition) || a.region != "" {
		return false
	}
	if strings.ContainsAny(s, "*?") {
		return false
	}
	if !ValidAccountID(a.account) {
		return false
	}
	switch a.service {
	case "iam":
		return a.resource == "root" || hasAnyPrefix(a.resource, "user/", "role/", "federated-user/")
	case "sts":
		return hasAnyPrefix(a.resource, "assumed-role/", "federated-user/")
	}
	return false
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) && len(s) > len(p) {
			return true
		}
	}
	return false
}

// ValidAccountID reports whether s is an AWS account ID: 12 decimal digits.
func ValidAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func sidAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func checkAction(a string) error {
	if a == "*" {
		return nil
	}
	parts := strings.Split(a, ":")
	if len(parts) == 1 {
		return malformed(msgVendor)
	}
	if len(parts) > 2 {
		return malformed(msgOneColon)
	}
	v := parts[0]
	if v == "*" {
		return nil
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '.') {
			return malformedf("Vendor %s is not valid", v)
		}
	}
	if v == "" {
		return malformed(msgVendor)
	}
	return nil
}

var trustActions = []string{
	"sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity",
	"sts:tagsession", "sts:setsourceidentity", "sts:setcontext",
}

// trustAction reports whether a may appear in a trust policy: one of the
// STS actions that act on a role being assumed. IAM rejects wildcards,
// "*" and "sts:*" included.
func trustAction(a string) bool {
	la := strings.ToLower(a)
	for _, t := range trustActions {
		if la == t {
			return true
		}
	}
	return false
}

var partitions = map[string]bool{
	"aws": true, "aws-cn": true, "aws-us-gov": true, "aws-iso": true,
	"aws-iso-b": true, "aws-iso-e": true, "aws-iso-f": true, "aws-eusc": true,
}

func validPartition(p string) bool { return partitions[p] }

var iamResourcePrefixes = []string{
	"user/", "federated-user/", "role/", "group/", "instance-profile/", "mfa/",
	"server-certificate/", "policy/", "sms-mfa/", "saml-provider/", "oidc-provider/",
	"report/", "access-report/",
}

// resourceFormatError returns IAM's message for a Resource value that is
// not "*" or a usable ARN, or "" when the value is acceptable.
func (p *parser) resourceFormatError(r string) string {
	if r == "*" {
		return ""
	}
	i := strings.IndexByte(r, ':')
	if i < 0 {
		return "Resource " + r + " must be in ARN format or \"*\"."
	}
	rest := r[i+1:]
	partition, after, hasColon := strings.Cut(rest, ":")
	if !p.validPartition(partition) && !strings.ContainsAny(partition, "*?$") {
		parts := strings.Split(after, ":")
		seg := func(n int) string {
			if n < len(parts) {
				if n == 0 && parts[0] == "" && len(parts) == 1 {
					return "*"
				}
				if n == 3 {
					return strings.Join(parts[3:], ":")
				}
				return parts[n]
			}
			return "*"
		}
		if !hasColon {
			parts = []string{""}
		}
		return "Partition \"" + partition + "\" is not valid for resource \"arn:" + partition + ":" +
			seg(0) + ":" + seg(1) + ":" + seg(2) + ":" + seg(3) + "\"."
	}
	if !hasColon {
		return msgVendorQualified
	}
	service, after2, _ := strings.Cut(after, ":")
	if service == "iam" && !strings.HasPrefix(after2, ":") {
		return "IAM resource " + r + " cannot contain region information."
	}
	if service == "s3" && !strings.HasPrefix(after2, ":") {
		// Buckets and objects (no account) have no region; access
		// points, batch jobs, Storage Lens and access grants
		// (arn:aws:s3:REGION:ACCOUNT:...) do.
		_, acctRest, _ := strings.Cut(after2, ":")
		if strings.HasPrefix(acctRest, ":") || !strings.Contains(acctRest, ":") {
			return "Resource " + r + " can not contain region information."
		}
	}
	if service == "iam" {
		// skip region and account
		_, acctRest, _ := strings.Cut(after2, ":")
		_, res, _ := strings.Cut(acctRest, ":")
		if res == "*" || strings.HasPrefix(res, "*") || strings.HasPrefix(res, "${") || res == "root" {
			return ""
		}
		for _, p := range iamResourcePrefixes {
			if strings.HasPrefix(res, p) {
				return ""
			}
		}
		return "IAM resource path must either be \"*\" or start with " + strings.Join(iamResourcePrefixes, ", ") + "."
	}
	return ""
}

// legacyResourceOK mirrors IAM's legacy parser: an ARN with an empty
// service, or with "::" but fewer than six segments, is rejected.
func legacyResourceOK(r string) bool {
	if r == "*" {
		return true
	}
	if strings.Count(r, ":") < 5 && strings.Contains(r, "::") {
		return false
	}
	parts := strings.Split(r, ":")
	if len(parts) > 2 && parts[2] == "" {
		return false
	}
	return true
}

// legacyDateOK accepts what IAM's legacy parser accepts for a date
// condition value: an ISO 8601 date/time or a non-negative epoch integer.
func legacyDateOK(v string) bool {
	lv := strings.ToLower(v)
	if !strings.Contains(lv, "t") && !strings.Contains(lv, "-") {
		return parseDecimalInt(lv, 0, 9223372036854775807)
	}
	date, tm, _ := strings.Cut(lv, "t")
	neg := strings.HasPrefix(date, "-")
	if neg {
		date = date[1:]
	}
	dp := strings.Split(date, "-")
	if len(dp) > 3 {
		return false
	}
	year := dp[0]
	if neg {
		year = "-" + year
	}
	if !parseDecimalInt(year, -292275054, 292278993) {
		return false
	}
	if len(dp) > 1 && !parseDecimalInt(dp[1], 1, 12) {
		return false
	}
	if len(dp) > 2 && !parseDecimalInt(dp[2], 1, 31) {
		return false
	}
	tp := strings.Split(tm, ":")
	if tp[0] != "" && !parseDecimalInt(tp[0], 0, 23) {
		return false
	}
	if len(tp) > 1 && !parseDecimalInt(tp[1], 0, 59) {
		return false
	}
	if len(tp) > 2 {
		secs := tp[2]
		if z := strings.IndexByte(secs, 'z'); z >= 0 {
			if z != len(secs)-1 {
				return false
			}
			secs = secs[:z]
		} else if p := strings.IndexByte(secs, '+'); p >= 0 {
			tz := secs[p+1:]
			secs = secs[:p]
			tzh, tzm, hasM := strings.Cut(tz, ":")
			if len(tzh) != 2 || !parseDecimalInt(tzh, 0, 23) {
				return false
			}
			if hasM && (len(tzm) != 2 || !parseDecimalInt(tzm, 0, 59)) {
				return false
			}
		} else if len(tp) > 3 {
			// "-hh:mm" offsets split into a fourth part
			if !parseDecimalInt(tp[3], 0, 59) {
				return false
			}
		}
		if m := strings.IndexByte(secs, '-'); m >= 0 {
			secs = secs[:m]
		}
		whole, frac, hasFrac := strings.Cut(secs, ".")
		if !parseDecimalInt(whole, 0, 59) {
			return false
		}
		if hasFrac && !parseDecimalInt(frac, 0, 999999999) {
			return false
		}
	}
	return true
}

// parseDecimalInt reports whether s is a decimal integer within [lo, hi].
func parseDecimalInt(s string, lo, hi int64) bool {
	if s == "" {
		return false
	}
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
		if s == "" {
			return false
		}
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			return false
		}
		n = n*10 + d
	}
	if neg {
		n = -n
	}
	return n >= lo && n <= hi
}
