package audit

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Secret reports whether a parameter or response element holds a secret
// that must never reach the audit log: passwords, secret access keys,
// session tokens, SAML assertions, web identity tokens, MFA codes and
// seeds, private keys.
func Secret(name string) bool {
	var buf [48]byte
	if lower, ok := appendLowerASCII(buf[:0], name); ok {
		return secretLower(lower)
	}
	// Unicode case folding can turn a non-ASCII letter into an ASCII one
	// (the Kelvin sign into k).
	return secretLower([]byte(strings.ToLower(name)))
}

// appendLowerASCII appends s in lower case; ok is false if s is not ASCII.
func appendLowerASCII(b []byte, s string) (lower []byte, ok bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return b, false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b, true
}

// secretLower is Secret of a name in lower case.
func secretLower(n []byte) bool {
	switch string(n) {
	case "secretaccesskey", "sessiontoken", "samlassertion", "webidentitytoken",
		"authenticationcode1", "authenticationcode2", "tokencode", "privatekey",
		"base32stringseed", "qrcodepng", "servicepassword", "servicecredentialsecret", "password",
		"oldpassword", "newpassword", "clientsecret", "credential", "assertion":
		return true
	}
	// Names such as PasswordResetRequired or NextToken are not secrets;
	// only these suffixes are.
	return bytes.HasSuffix(n, []byte("secretaccesskey")) || bytes.HasSuffix(n, []byte("sessiontoken")) ||
		bytes.HasSuffix(n, []byte("privatekey"))
}

// lowerFirst turns an AWS member name into CloudTrail's key: the first
// letter lowered (UserName → userName, SAMLAssertion → sAMLAssertion).
func lowerFirst(s string) string {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return s
	}
	return string(s[0]+('a'-'A')) + s[1:]
}

// paramNode is one level of a flattened awsQuery parameter tree.
type paramNode struct {
	value  string
	leaf   bool
	fields map[string]*paramNode
	order  []string
	items  map[int]*paramNode // "member.N" lists and "entry.N" maps
	isMap  bool
}

func (n *paramNode) child(name string) *paramNode {
	if n.fields == nil {
		n.fields = make(map[string]*paramNode)
	}
	c, ok := n.fields[name]
	if !ok {
		c = &paramNode{}
		n.fields[name] = c
		n.order = append(n.order, name)
	}
	return c
}

func (n *paramNode) item(i int, isMap bool) *paramNode {
	if n.items == nil {
		n.items = make(map[int]*paramNode)
	}
	n.isMap = n.isMap || isMap
	c, ok := n.items[i]
	if !ok {
		c = &paramNode{}
		n.items[i] = c
	}
	return c
}

// formParam is a request parameter: its name and first value.
type formParam struct{ name, value string }

// appendFormParams appends the parameters of an awsQuery form that
// requestParameters records (all but Action, Version and the
// authentication parameters of a presigned request), sorted by name.
func appendFormParams(ps []formParam, form url.Values) []formParam {
	start := len(ps)
	for k, v := range form {
		switch k {
		case "Action", "Version", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",
			"X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token":
			continue
		}
		p := formParam{name: k}
		if len(v) > 0 {
			p.value = v[0]
		}
		ps = append(ps, p)
	}
	slices.SortFunc(ps[start:], func(a, b formParam) int { return strings.Compare(a.name, b.name) })
	return ps
}

// RequestParameters turns an awsQuery form (without Action, Version and
// authentication parameters) into CloudTrail's requestParameters object:
// camelCase keys, lists for "member.N", objects for "entry.N", secrets
// replaced by HIDDEN_DUE_TO_SECURITY_REASONS. It returns JSON null when
// there are no parameters.
func RequestParameters(form url.Values) json.RawMessage {
	return appendRequestParameters(nil, appendFormParams(nil, form))
}

// appendRequestParameters appends the requestParameters of parameters
// sorted by name (appendFormParams).
func appendRequestParameters(b []byte, ps []formParam) []byte {
	if len(ps) == 0 {
		return append(b, "null"...)
	}
	if !flat(ps) {
		return appendParamTree(b, ps)
	}
	b = append(b, '{')
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendKey(b, p.name)
		b = append(b, ':')
		v := p.value
		if Secret(p.name) {
			v = Hidden
		}
		b = appendString(b, v)
	}
	return append(b, '}')
}

// appendKey appends an AWS member name as CloudTrail's key, a JSON string
// of lowerFirst(name).
func appendKey(b []byte, name string) []byte {
	start := len(b)
	b = appendString(b, name)
	if name != "" && 'A' <= name[0] && name[0] <= 'Z' {
		b[start+1] += 'a' - 'A' // an ASCII letter is copied as it is
	}
	return b
}

// appendParamTree appends the requestParameters of nested parameters
// ("Tags.member.1.Key").
func appendParamTree(b []byte, ps []formParam) []byte {
	root := &paramNode{}
	for _, p := range ps {
		n := root
		parts := strings.Split(p.name, ".")
		for i := 0; i < len(parts); i++ {
			part := parts[i]
			if (part == "member" || part == "entry") && i+1 < len(parts) {
				if idx, err := strconv.Atoi(parts[i+1]); err == nil {
					n = n.item(idx, part == "entry")
					i++
					continue
				}
			}
			n = n.child(part)
		}
		n.leaf = true
		n.value = p.value
		if Secret(parts[0]) || Secret(parts[len(parts)-1]) {
			n.value = Hidden
		}
	}
	buf := bytes.NewBuffer(b)
	writeParam(buf, root)
	return buf.Bytes()
}

func flat(ps []formParam) bool {
	for _, p := range ps {
		if strings.IndexByte(p.name, '.') >= 0 {
			return false
		}
	}
	return true
}

func writeParam(b *bytes.Buffer, n *paramNode) {
	switch {
	case n.items != nil && n.isMap:
		idx := sortedKeys(n.items)
		b.WriteByte('{')
		for i, k := range idx {
			e := n.items[k]
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, fieldValue(e, "key"))
			b.WriteByte(':')
			writeString(b, fieldValue(e, "value"))
		}
		b.WriteByte('}')
	case n.items != nil:
		idx := sortedKeys(n.items)
		b.WriteByte('[')
		for i, k := range idx {
			if i > 0 {
				b.WriteByte(',')
			}
			writeParam(b, n.items[k])
		}
		b.WriteByte(']')
	case n.fields != nil:
		b.WriteByte('{')
		for i, name := range n.order {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, lowerFirst(name))
			b.WriteByte(':')
			writeParam(b, n.fields[name])
		}
		b.WriteByte('}')
	default:
		writeString(b, n.value)
	}
}

func fieldValue(n *paramNode, name string) string {
	for k, c := range n.fields {
		if strings.EqualFold(k, name) {
			return c.value
		}
	}
	return ""
}

func sortedKeys(m map[int]*paramNode) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func writeString(b *bytes.Buffer, s string) {
	b.Write(appendString(b.AvailableBuffer(), s))
}

// xmlNode is an element of an awsQuery response.
type xmlNode struct {
	name     string
	text     strings.Builder
	children []*xmlNode
}

// ResponseElements turns an awsQuery XML response into CloudTrail's
// responseElements: the contents of the result wrapper with camelCase keys,
// "member" lists as arrays, secrets hidden. It returns JSON null for an
// empty result or a document it cannot read.
func ResponseElements(body []byte) json.RawMessage {
	root := xmlTree(body)
	if root == nil {
		return json.RawMessage("null")
	}
	var result *xmlNode
	for _, c := range root.children {
		if strings.HasSuffix(c.name, "Result") {
			result = c
		}
	}
	if result == nil || len(result.children) == 0 {
		return json.RawMessage("null")
	}
	var b bytes.Buffer
	writeXMLNode(&b, result, false)
	return b.Bytes()
}

func writeXMLNode(b *bytes.Buffer, n *xmlNode, hidden bool) {
	if len(n.children) == 0 {
		if hidden {
			writeString(b, Hidden)
			return
		}
		writeString(b, strings.TrimSpace(n.text.String()))
		return
	}
	if n.children[0].name == "member" {
		b.WriteByte('[')
		for i, c := range n.children {
			if i > 0 {
				b.WriteByte(',')
			}
			writeXMLNode(b, c, hidden)
		}
		b.WriteByte(']')
		return
	}
	if n.children[0].name == "entry" {
		b.WriteByte('{')
		for i, e := range n.children {
			if i > 0 {
				b.WriteByte(',')
			}
			var k, v string
			for _, c := range e.children {
				switch c.name {
				case "key":
					k = c.text.String()
				case "value":
					v = c.text.String()
				}
			}
			writeString(b, k)
			b.WriteByte(':')
			writeString(b, v)
		}
		b.WriteByte('}')
		return
	}
	b.WriteByte('{')
	for i, c := range n.children {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(b, lowerFirst(c.name))
		b.WriteByte(':')
		writeXMLNode(b, c, hidden || Secret(c.name))
	}
	b.WriteByte('}')
}

// resourceParams maps request parameters to the resource types
// LookupEvents reports.
var resourceParams = [...]struct{ param, typ string }{
	{"UserName", "AWS::IAM::User"},
	{"GroupName", "AWS::IAM::Group"},
	{"RoleName", "AWS::IAM::Role"},
	{"PolicyArn", "AWS::IAM::Policy"},
	{"InstanceProfileName", "AWS::IAM::InstanceProfile"},
	{"AccessKeyId", "AWS::IAM::AccessKey"},
	{"SerialNumber", "AWS::IAM::MFADevice"},
	{"RoleArn", "AWS::IAM::Role"},
	{"OpenIDConnectProviderArn", "AWS::IAM::OIDCProvider"},
	{"SAMLProviderArn", "AWS::IAM::SAMLProvider"},
	{"PolicyName", "AWS::IAM::Policy"},
}

// ResourcesOf derives the resources of a call from its parameters and,
// for calls that create them, its response (an access key's ID).
func ResourcesOf(action string, form url.Values, response []byte) []Resource {
	return appendResourcesOf(nil, action, appendFormParams(nil, form), response)
}

// appendResourcesOf appends ResourcesOf for the parameters of a form
// (appendFormParams).
func appendResourcesOf(out []Resource, action string, ps []formParam, response []byte) []Resource {
	var names [len(resourceParams)]string
	for _, p := range ps {
		if p.value == "" {
			continue
		}
		for i := range resourceParams {
			if resourceParams[i].param == p.name {
				names[i] = p.value
			}
		}
	}
	for i, rp := range resourceParams {
		if names[i] == "" || rp.param == "PolicyName" && action != "CreatePolicy" {
			continue // inline policy names are not resources
		}
		out = append(out, Resource{Type: rp.typ, Name: names[i]})
	}
	if action == "CreateAccessKey" && len(response) > 0 {
		if i := bytes.Index(response, []byte("<AccessKeyId>")); i >= 0 {
			rest := response[i+len("<AccessKeyId>"):]
			if j := bytes.IndexByte(rest, '<'); j > 0 {
				out = append(out, Resource{Type: "AWS::IAM::AccessKey", Name: string(rest[:j])})
			}
		}
	}
	return out
}

// ErrorOf extracts the code and message of an awsQuery XML or JSON error
// response.
func ErrorOf(body []byte) (code, message string) {
	if len(body) > 0 && body[0] == '{' {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(body, &e)
		return e.Type, e.Message
	}
	return xmlText(body, "Code"), xmlText(body, "Message")
}

func xmlText(body []byte, elem string) string {
	open := "<" + elem + ">"
	i := bytes.Index(body, []byte(open))
	if i < 0 {
		return ""
	}
	rest := body[i+len(open):]
	j := bytes.Index(rest, []byte("</"+elem+">"))
	if j < 0 {
		return ""
	}
	var s string
	if err := xml.Unmarshal([]byte("<x>"+string(rest[:j])+"</x>"), &s); err != nil {
		return string(rest[:j])
	}
	return s
}

// JSONParameters turns a JSON-protocol request body into requestParameters:
// the same object with camelCase keys and secrets hidden.
func JSONParameters(body []byte) json.RawMessage {
	if len(bytes.TrimSpace(body)) == 0 {
		return json.RawMessage("null")
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return json.RawMessage("null")
	}
	out, err := json.Marshal(camelize(v))
	if err != nil {
		return json.RawMessage("null")
	}
	return out
}

func camelize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			if Secret(k) {
				m[lowerFirst(k)] = Hidden
				continue
			}
			m[lowerFirst(k)] = camelize(x)
		}
		return m
	case []any:
		for i := range t {
			t[i] = camelize(t[i])
		}
		return t
	}
	return v
}
