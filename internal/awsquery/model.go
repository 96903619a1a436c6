package awsquery

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

//go:embed models/*.json.gz models/PINNED
var modelFS embed.FS

// Service names accepted by LoadModel.
const (
	ServiceIAM = "iam"
	ServiceSTS = "sts"
)

var modelFiles = map[string]string{
	ServiceIAM: "models/iam-2010-05-08.json.gz",
	ServiceSTS: "models/sts-2011-06-15.json.gz",
}

// ErrUnknownService is returned by LoadModel for a service without an
// embedded model.
var ErrUnknownService = errors.New("awsquery: unknown service")

// Model is a botocore service model (service-2.json) reduced to what the
// awsQuery protocol needs: operations, shapes and their constraints, with
// every pattern compiled once.
type Model struct {
	// ServiceID is the model's serviceId, e.g. "IAM".
	ServiceID string
	// APIVersion is the value clients send as Version, e.g. "2010-05-08".
	APIVersion string
	// Source names where the model came from, as models/PINNED records it:
	// "botocore 1.43.11, sha256 89d2…" (empty for a model parsed from a
	// reader).
	Source string
	// XMLNamespace is the namespace of every response document.
	XMLNamespace string
	// Operations by name.
	Operations map[string]*Operation
	// Shapes by name.
	Shapes map[string]*Shape

	errorsByCode map[string]*Shape
}

// Operation is one API action.
type Operation struct {
	Name string
	// Input and Output are nil when the model declares none.
	Input  *Shape
	Output *Shape
	// ResultWrapper names the element wrapping the output, e.g. "GetUserResult".
	ResultWrapper string
	// Errors are the error shapes the operation declares.
	Errors []*Shape
}

// Shape is a named type of the model.
type Shape struct {
	Name string
	// Type is the botocore type: structure, list, map, string, integer,
	// long, boolean, timestamp, blob, double, float.
	Type string
	// Members of a structure, in model order.
	Members []*Member
	// Member of a list; Key and Value of a map.
	Member, Key, Value *Member
	// Min and Max bound the length of strings, lists and maps and the value
	// of numbers.
	Min, Max *int64
	// Pattern is the regular expression from the model, as AWS prints it.
	Pattern string
	// Enum lists the allowed values of a string.
	Enum []string
	// Sensitive values are never echoed in validation messages.
	Sensitive bool
	// Exception marks error shapes; Error holds their wire code and status.
	Exception bool
	Error     *ErrorInfo
	// URLEncoded strings are percent-encoded in responses (IAM's policy
	// documents).
	URLEncoded bool

	pattern *pattern
	enumSet map[string]struct{}
}

// Member is a member of a structure, the element of a list, or the key or
// value of a map.
type Member struct {
	Name string
	// LocationName, when set, replaces Name on the wire.
	LocationName string
	Shape        *Shape
	Required     bool
	Flattened    bool
}

// WireName is the name the member has in forms and XML.
func (m *Member) WireName() string {
	if m.LocationName != "" {
		return m.LocationName
	}
	return m.Name
}

// ErrorInfo is the error trait of an exception shape.
type ErrorInfo struct {
	Code       string
	HTTPStatus int
	Sender     bool
}

// LoadModel parses the embedded model of service (ServiceIAM or ServiceSTS).
func LoadModel(service string) (*Model, error) {
	file, ok := modelFiles[service]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownService, service)
	}
	data, err := modelFS.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("awsquery: read model %s: %w", file, err)
	}
	source, err := pinnedSource(file, data)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("awsquery: model %s: %w", file, err)
	}
	m, err := ParseModel(zr)
	if err != nil {
		return nil, fmt.Errorf("awsquery: model %s: %w", file, err)
	}
	if service == ServiceIAM {
		// IAM returns policy documents percent-encoded; botocore's
		// json_decode_policies handler finds them by this shape name.
		if s, ok := m.Shapes["policyDocumentType"]; ok {
			s.URLEncoded = true
		}
	}
	m.Source = source
	return m, nil
}

// pinnedSource checks an embedded model file against models/PINNED, written
// by scripts/gen-models.sh with the botocore version and each file's
// SHA-256, and returns "botocore VERSION, sha256 HASH".
func pinnedSource(file string, data []byte) (string, error) {
	pins, err := modelFS.ReadFile("models/PINNED")
	if err != nil {
		return "", fmt.Errorf("awsquery: models/PINNED: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(pins)), "\n")
	version, _ := strings.CutPrefix(lines[0], "botocore ")
	sum := sha256.Sum256(data)
	got := hex.EncodeToString(sum[:])
	name := path.Base(file)
	for _, l := range lines[1:] {
		want, f, ok := strings.Cut(l, "  ")
		if !ok || f != name {
			continue
		}
		if want != got {
			return "", fmt.Errorf("awsquery: %s has sha256 %s, not the %s models/PINNED records: run scripts/gen-models.sh", file, got, want)
		}
		return "botocore " + version + ", sha256 " + got, nil
	}
	return "", fmt.Errorf("awsquery: models/PINNED does not list %s: run scripts/gen-models.sh", name)
}

// ErrorFor returns the error trait the model declares for code, if any.
func (m *Model) ErrorFor(code string) (ErrorInfo, bool) {
	s, ok := m.errorsByCode[code]
	if !ok {
		return ErrorInfo{}, false
	}
	return *s.Error, true
}

// NewError returns an *Error with code and message whose status and fault
// come from the model's error shape for code (400/Sender if unknown).
func (m *Model) NewError(code, message string) *Error {
	info, ok := m.ErrorFor(code)
	if !ok {
		return &Error{Code: code, Message: message, HTTPStatus: 400, Sender: true}
	}
	return &Error{Code: code, Message: message, HTTPStatus: info.HTTPStatus, Sender: info.Sender}
}

type jsonModel struct {
	Metadata struct {
		APIVersion   string `json:"apiVersion"`
		ServiceID    string `json:"serviceId"`
		XMLNamespace string `json:"xmlNamespace"`
		Protocol     string `json:"protocol"`
	} `json:"metadata"`
	Operations map[string]struct {
		Name  string   `json:"name"`
		Input *jsonRef `json:"input"`
		// Output carries resultWrapper besides the shape.
		Output *jsonRef  `json:"output"`
		Errors []jsonRef `json:"errors"`
	} `json:"operations"`
	Shapes map[string]*jsonShape `json:"shapes"`
}

type jsonRef struct {
	Shape         string `json:"shape"`
	ResultWrapper string `json:"resultWrapper"`
	LocationName  string `json:"locationName"`
	Flattened     bool   `json:"flattened"`
}

type jsonShape struct {
	Type      string         `json:"type"`
	Members   orderedMembers `json:"members"`
	Required  []string       `json:"required"`
	Member    *jsonRef       `json:"member"`
	Key       *jsonRef       `json:"key"`
	Value     *jsonRef       `json:"value"`
	Min       *float64       `json:"min"`
	Max       *float64       `json:"max"`
	Pattern   string         `json:"pattern"`
	Enum      []string       `json:"enum"`
	Sensitive bool           `json:"sensitive"`
	Exception bool           `json:"exception"`
	Flattened bool           `json:"flattened"`
	Error     *struct {
		Code           string `json:"code"`
		HTTPStatusCode int    `json:"httpStatusCode"`
		SenderFault    bool   `json:"senderFault"`
	} `json:"error"`
}

type namedRef struct {
	name string
	ref  jsonRef
}

// orderedMembers keeps structure members in document order: XML responses
// list members in model order.
type orderedMembers []namedRef

func (o *orderedMembers) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("members: want object, got %v", tok)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		var ref jsonRef
		if err := dec.Decode(&ref); err != nil {
			return fmt.Errorf("member %s: %w", name, err)
		}
		*o = append(*o, namedRef{name: name, ref: ref})
	}
	return nil
}

// ParseModel parses a botocore service-2.json document and compiles its
// patterns.
func ParseModel(r io.Reader) (*Model, error) {
	var jm jsonModel
	if err := json.NewDecoder(r).Decode(&jm); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if jm.Metadata.Protocol != "query" {
		return nil, fmt.Errorf("protocol %q is not query", jm.Metadata.Protocol)
	}
	m := &Model{
		ServiceID:    jm.Metadata.ServiceID,
		APIVersion:   jm.Metadata.APIVersion,
		XMLNamespace: jm.Metadata.XMLNamespace,
		Operations:   make(map[string]*Operation, len(jm.Operations)),
		Shapes:       make(map[string]*Shape, len(jm.Shapes)),
		errorsByCode: make(map[string]*Shape),
	}
	for name, js := range jm.Shapes {
		m.Shapes[name] = &Shape{Name: name, Type: js.Type}
	}
	resolve := func(ref *jsonRef, ctx string) (*Member, error) {
		if ref == nil {
			return nil, fmt.Errorf("%s: missing shape reference", ctx)
		}
		s, ok := m.Shapes[ref.Shape]
		if !ok {
			return nil, fmt.Errorf("%s: unknown shape %q", ctx, ref.Shape)
		}
		return &Member{LocationName: ref.LocationName, Shape: s, Flattened: ref.Flattened}, nil
	}
	names := make([]string, 0, len(jm.Shapes))
	for name := range jm.Shapes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		js, s := jm.Shapes[name], m.Shapes[name]
		s.Pattern, s.Enum, s.Sensitive, s.Exception = js.Pattern, js.Enum, js.Sensitive, js.Exception
		if js.Min != nil {
			v := int64(*js.Min)
			s.Min = &v
		}
		if js.Max != nil {
			v := int64(*js.Max)
			s.Max = &v
		}
		if len(js.Enum) > 0 {
			s.enumSet = make(map[string]struct{}, len(js.Enum))
			for _, e := range js.Enum {
				s.enumSet[e] = struct{}{}
			}
		}
		if js.Pattern != "" {
			p, err := compilePattern(js.Pattern)
			if err != nil {
				return nil, fmt.Errorf("shape %s: %w", name, err)
			}
			s.pattern = p
		}
		if js.Error != nil {
			s.Error = &ErrorInfo{Code: js.Error.Code, HTTPStatus: js.Error.HTTPStatusCode, Sender: js.Error.SenderFault}
			if s.Error.Code == "" {
				s.Error.Code = name
			}
		} else if js.Exception {
			s.Error = &ErrorInfo{Code: name, HTTPStatus: 400, Sender: true}
		}
		if s.Error != nil {
			if s.Error.HTTPStatus == 0 {
				s.Error.HTTPStatus = 400
			}
			m.errorsByCode[s.Error.Code] = s
		}
		var err error
		switch js.Type {
		case "structure":
			req := make(map[string]bool, len(js.Required))
			for _, r := range js.Required {
				req[r] = true
			}
			for _, nr := range js.Members {
				mem, err := resolve(&nr.ref, name+"."+nr.name)
				if err != nil {
					return nil, err
				}
				mem.Name, mem.Required = nr.name, req[nr.name]
				s.Members = append(s.Members, mem)
			}
		case "list":
			s.Member, err = resolve(js.Member, name+".member")
			if err == nil {
				s.Member.Name = "member"
				s.Member.Flattened = js.Flattened
			}
		case "map":
			s.Key, err = resolve(js.Key, name+".key")
			if err == nil {
				s.Value, err = resolve(js.Value, name+".value")
			}
			if err == nil {
				s.Key.Name, s.Value.Name = "key", "value"
			}
		case "string", "integer", "long", "boolean", "timestamp", "blob", "double", "float":
		default:
			err = fmt.Errorf("shape %s: unsupported type %q", name, js.Type)
		}
		if err != nil {
			return nil, err
		}
	}
	for name, jo := range jm.Operations {
		op := &Operation{Name: name}
		if jo.Input != nil {
			s, ok := m.Shapes[jo.Input.Shape]
			if !ok {
				return nil, fmt.Errorf("operation %s: unknown input %q", name, jo.Input.Shape)
			}
			op.Input = s
		}
		if jo.Output != nil {
			s, ok := m.Shapes[jo.Output.Shape]
			if !ok {
				return nil, fmt.Errorf("operation %s: unknown output %q", name, jo.Output.Shape)
			}
			op.Output, op.ResultWrapper = s, jo.Output.ResultWrapper
			if op.ResultWrapper == "" {
				op.ResultWrapper = name + "Result"
			}
		}
		for _, e := range jo.Errors {
			s, ok := m.Shapes[e.Shape]
			if !ok {
				return nil, fmt.Errorf("operation %s: unknown error %q", name, e.Shape)
			}
			op.Errors = append(op.Errors, s)
		}
		m.Operations[name] = op
	}
	return m, nil
}

// pattern is a model pattern compiled for full-string matching.
type pattern struct {
	re *regexp.Regexp
	// run, if not nil, matches as re does, faster (see runOfClass).
	run *runOfClass
	// forbid lists substrings the value must not contain; it stands in for
	// negative lookaheads RE2 cannot express.
	forbid []string
}

func (p *pattern) match(s string) bool {
	for _, f := range p.forbid {
		if strings.Contains(s, f) {
			return false
		}
	}
	if p.run != nil {
		return p.run.match(s)
	}
	return p.re.MatchString(s)
}

// lookaheadRewrites maps model patterns using constructs RE2 lacks to an
// equivalent RE2 expression plus forbidden substrings.
var lookaheadRewrites = map[string]struct {
	re     string
	forbid []string
}{
	// A DNS-label-like name: letters, digits and single hyphens.
	`^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$`: {re: `^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`, forbid: []string{"--"}},
}

// compilePattern translates a botocore (Java) pattern to RE2 and anchors it:
// AWS validates with a full match.
func compilePattern(src string) (*pattern, error) {
	if rw, ok := lookaheadRewrites[src]; ok {
		re, err := regexp.Compile(`^(?:` + rw.re + `)$`)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", src, err)
		}
		return &pattern{re: re, forbid: rw.forbid}, nil
	}
	expr := `^(?:` + translatePattern(src) + `)$`
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", src, err)
	}
	return &pattern{re: re, run: compileRunOfClass(expr)}, nil
}

// translatePattern rewrites the Java regular expression syntax botocore
// models use into RE2 syntax: \uXXXX escapes become \x{XXXX} (a 5- or
// 6-digit escape up to \u10FFFF is read as the supplementary code point the
// model means) and possessive quantifiers lose their '+'.
func translatePattern(src string) string {
	var b strings.Builder
	inClass, lastQuant := false, false
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '\\' && i+1 < len(src) {
			if src[i+1] == 'u' {
				if n, esc := unicodeEscape(src[i+2:]); n > 0 {
					b.WriteString(esc)
					i += 1 + n
					lastQuant = false
					continue
				}
			}
			b.WriteByte(c)
			b.WriteByte(src[i+1])
			i++
			lastQuant = false
			continue
		}
		if inClass {
			if c == ']' {
				inClass = false
			}
			b.WriteByte(c)
			continue
		}
		switch c {
		case '[':
			inClass, lastQuant = true, false
			b.WriteByte(c)
			// A leading ']' (after an optional '^') is literal in a class.
			if i+1 < len(src) && src[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(src) && src[i+1] == ']' {
				b.WriteString(`\]`)
				i++
			}
		case '+':
			if lastQuant {
				// Possessive quantifier: RE2 never backtracks, drop the '+'.
				lastQuant = false
				continue
			}
			b.WriteByte(c)
			lastQuant = true
		case '*', '?', '}':
			b.WriteByte(c)
			lastQuant = true
		default:
			b.WriteByte(c)
			lastQuant = false
		}
	}
	return b.String()
}

// unicodeEscape reads the hex digits after a Java \u escape and returns how
// many it consumed and the RE2 escape. Java reads exactly four digits; the
// models also write supplementary code points as \u10000..\u10FFFF, which
// are read as such.
func unicodeEscape(s string) (int, string) {
	n := 0
	for n < len(s) && n < 6 && isHex(s[n]) {
		n++
	}
	if n < 4 {
		return 0, ""
	}
	if n > 4 {
		v, err := strconv.ParseUint(s[:n], 16, 32)
		if err != nil || v < 0x10000 || v > 0x10FFFF {
			n = 4
		}
	}
	return n, `\x{` + s[:n] + `}`
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
