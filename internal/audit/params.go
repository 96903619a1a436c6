package audit

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Secret reports whether a parameter or response element holds a secret
// that must never reach the audit log: passwords, secret access keys,
// session tokens, SAML assertions, web identity tokens, MFA codes and
// seeds, private keys.
func Secret(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "secretaccesskey", "sessiontoken", "samlassertion", "webidentitytoken",
		"authenticationcode1", "authenticationcode2", "tokencode", "privatekey",
		"base32stringseed", "qrcodepng", "servicepassword", "servicecredentialsecret", "password",
		"oldpassword", "newpassword", "clientsecret", "credential", "assertion":
		return true
	}
	// Names such as PasswordResetRequired or NextToken are not secrets;
	// only these suffixes are.
	return strings.HasSuffix(n, "secretaccesskey") || strings.HasSuffix(n, "sessiontoken") ||
		strings.HasSuffix(n, "privatekey")
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

// RequestParameters turns an awsQuery form (without Action, Version and
// authentication parameters) into CloudTrail's requestParameters object:
// camelCase keys, lists for "member.N", objects for "entry.N", secrets
// replaced by HIDDEN_DUE_TO_SECURITY_REASONS. It returns JSON null when
// there are no parameters.
func RequestParameters(form url.Values) json.RawMessage {
	root := &paramNode{}
	keys := make([]string, 0, len(form))
	for k := range form {
		switch k {
		case "Action", "Version", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",
			"X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token":
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return json.RawMessage("null")
	}
	slices.Sort(keys)
	if flat(keys) {
		b := make([]byte, 0, 64)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, lowerFirst(k))
			b = append(b, ':')
			v := form.Get(k)
			if Secret(k) {
				v = Hidden
			}
			b = appendString(b, v)
		}
		return append(b, '}')
	}
	for _, k := range keys {
		n := root
		parts := strings.Split(k, ".")
		for i := 0; i < len(parts); i++ {
			p := parts[i]
			if (p == "member" || p == "entry") && i+1 < len(parts) {
				if idx, err := strconv.Atoi(parts[i+1]); err == nil {
					n = n.item(idx, p == "entry")
					i++
					continue
				}
			}
			n = n.child(p)
		}
		n.leaf = true
		n.value = form.Get(k)
		if Secret(parts[0]) || Secret(parts[len(parts)-1]) {
			n.value = Hidden
		}
	}
	var b bytes.Buffer
	writeParam(&b, root)
	return b.Bytes()
}

func flat(keys []string) bool {
	for _, k := range keys {
		if strings.IndexByte(k, '.') >= 0 {
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
	var out []Resource
	for _, rp := range resourceParams {
		if rp.param == "PolicyName" && action != "CreatePolicy" {
			continue // inline policy names are not resources
		}
		if v := form.Get(rp.param); v != "" {
			out = append(out, Resource{Type: rp.typ, Name: v})
		}
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
