package authzapi

import (
	"encoding/base64"
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The call body is decoded by hand: encoding/json's reflection and its
// separate validation pass cost more than the two signature checks and
// both decisions together. The decoder knows the schema of rawRequest,
// ignores unknown members as encoding/json does, matches member names
// exactly (the documented spelling), and reuses the header and context
// maps and one slab of values across calls.

var errSyntax = errors.New("invalid JSON")

// maxDepth bounds the nesting of ignored values.
const maxDepth = 64

type decoder struct {
	b    []byte
	i    int
	err  error
	slab []string // backing store of header and context values
}

func (d *decoder) fail(msg string) bool {
	if d.err == nil {
		d.err = errors.New(msg + " at offset " + strconv.Itoa(d.i))
	}
	return false
}

func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (d *decoder) peek() byte {
	d.ws()
	if d.i >= len(d.b) {
		return 0
	}
	return d.b[d.i]
}

func (d *decoder) consume(c byte) bool {
	if d.peek() != c {
		return d.fail("expected '" + string(c) + "'")
	}
	d.i++
	return true
}

// literal consumes true, false or null.
func (d *decoder) literal(lit string) bool {
	if len(d.b)-d.i < len(lit) || string(d.b[d.i:d.i+len(lit)]) != lit {
		return d.fail("invalid literal")
	}
	d.i += len(lit)
	return true
}

// rawString consumes a string and returns its contents; raw is true when
// they need no unescaping (the slice aliases the input).
func (d *decoder) rawString() (s []byte, raw bool, ok bool) {
	if !d.consume('"') {
		return nil, false, false
	}
	start := d.i
	raw = true
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s = d.b[start:d.i]
			d.i++
			return s, raw, true
		case c == '\\':
			raw = false
			d.i += 2
		case c < 0x20:
			return nil, false, d.fail("control character in string")
		default:
			d.i++
		}
	}
	return nil, false, d.fail("unterminated string")
}

// str consumes a string value (null reads as "").
func (d *decoder) str() (string, bool) {
	if d.peek() == 'n' {
		return "", d.literal("null")
	}
	s, raw, ok := d.rawString()
	if !ok {
		return "", false
	}
	if raw && utf8.Valid(s) {
		return string(s), true
	}
	return d.unescape(s)
}

// unescape decodes a string's escapes; invalid UTF-8 and lone surrogates
// become U+FFFD, as in encoding/json.
func (d *decoder) unescape(s []byte) (string, bool) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			if c < utf8.RuneSelf {
				out = append(out, c)
				i++
				continue
			}
			r, size := utf8.DecodeRune(s[i:])
			out = utf8.AppendRune(out, r)
			i += size
			continue
		}
		if i+1 >= len(s) {
			return "", d.fail("invalid escape")
		}
		switch e := s[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(s[i+2:])
			if !ok {
				return "", d.fail("invalid \\u escape")
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(s[min(i+2, len(s)):]); ok && i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						out = utf8.AppendRune(out, dec)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return "", d.fail("invalid escape")
		}
		i += 2
	}
	return string(out), true
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// boolean consumes true, false or null (false).
func (d *decoder) boolean() (bool, bool) {
	switch d.peek() {
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return false, d.literal("null")
	}
	return false, d.fail("expected a boolean")
}

// object consumes an object, calling member for each member with the
// member's name (valid until the next call); member consumes the value.
// null reads as an empty object.
func (d *decoder) object(member func(name []byte) bool) bool {
	if d.peek() == 'n' {
		return d.literal("null")
	}
	if !d.consume('{') {
		return false
	}
	if d.peek() == '}' {
		d.i++
		return true
	}
	for {
		name, raw, ok := d.rawString()
		if !ok {
			return false
		}
		if !raw {
			u, ok := d.unescape(name)
			if !ok {
				return false
			}
			name = []byte(u)
		}
		if !d.consume(':') || !member(name) {
			return false
		}
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return true
		default:
			return d.fail("expected ',' or '}'")
		}
	}
}

// strings consumes an array of strings, or one string, appending to the
// slab; it returns the values' slice of the slab.
func (d *decoder) strings() ([]string, bool) {
	start := len(d.slab)
	switch d.peek() {
	case '"':
		s, ok := d.str()
		if !ok {
			return nil, false
		}
		d.slab = append(d.slab, s)
	case 'n':
		return nil, d.literal("null")
	case '[':
		d.i++
		if d.peek() == ']' {
			d.i++
			return []string{}, true
		}
		for {
			s, ok := d.str()
			if !ok {
				return nil, false
			}
			d.slab = append(d.slab, s)
			switch d.peek() {
			case ',':
				d.i++
				continue
			case ']':
				d.i++
			default:
				return nil, d.fail("expected ',' or ']'")
			}
			break
		}
	default:
		return nil, d.fail("expected a string or an array of strings")
	}
	return d.slab[start:len(d.slab):len(d.slab)], true
}

// stringMap consumes an object of strings or string arrays into m.
func (d *decoder) stringMap(m map[string][]string) bool {
	return d.object(func(name []byte) bool {
		vs, ok := d.strings()
		if !ok {
			return false
		}
		if vs != nil {
			m[string(name)] = vs
		}
		return true
	})
}

// skip consumes any value.
func (d *decoder) skip(depth int) bool {
	if depth > maxDepth {
		return d.fail("nesting too deep")
	}
	switch c := d.peek(); {
	case c == '"':
		_, _, ok := d.rawString()
		return ok
	case c == '{':
		return d.object(func([]byte) bool { return d.skip(depth + 1) })
	case c == '[':
		d.i++
		if d.peek() == ']' {
			d.i++
			return true
		}
		for {
			if !d.skip(depth + 1) {
				return false
			}
			switch d.peek() {
			case ',':
				d.i++
			case ']':
				d.i++
				return true
			default:
				return d.fail("expected ',' or ']'")
			}
		}
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || ('0' <= c && c <= '9'):
		start := d.i
		for d.i < len(d.b) && (d.b[d.i] == '-' || d.b[d.i] == '+' || d.b[d.i] == '.' || d.b[d.i] == 'e' || d.b[d.i] == 'E' || ('0' <= d.b[d.i] && d.b[d.i] <= '9')) {
			d.i++
		}
		if _, err := strconv.ParseFloat(string(d.b[start:d.i]), 64); err != nil {
			return d.fail("invalid number")
		}
		return true
	}
	return d.fail("unexpected character")
}

// decodeRaw decodes a call body into r, whose maps are reused.
func (d *decoder) decodeRaw(r *rawRequest) error {
	ok := d.object(func(name []byte) bool {
		switch string(name) {
		case "request":
			return d.object(func(name []byte) bool {
				rq := &r.Request
				var ok bool
				switch string(name) {
				case "method":
					rq.Method, ok = d.str()
				case "path":
					rq.Path, ok = d.str()
				case "query":
					rq.Query, ok = d.str()
				case "host":
					rq.Host, ok = d.str()
				case "payloadHash":
					rq.PayloadHash, ok = d.str()
				case "headers":
					if rq.Headers == nil {
						rq.Headers = make(map[string][]string, 16)
					}
					ok = d.stringMap(rq.Headers)
				case "body":
					var s string
					if d.peek() == 'n' {
						return d.literal("null")
					}
					if s, ok = d.str(); ok {
						b, err := base64.StdEncoding.DecodeString(s)
						if err != nil {
							return d.fail("request.body is not base64")
						}
						rq.Body = b
					}
				default:
					ok = d.skip(0)
				}
				return ok
			})
		case "action":
			return d.setStr(&r.Action)
		case "resource":
			return d.setStr(&r.Resource)
		case "resourcePolicy":
			return d.setStr(&r.ResourcePolicy)
		case "resourceAccount":
			return d.setStr(&r.ResourceAccount)
		case "sourceIp":
			return d.setStr(&r.SourceIP)
		case "secureTransport":
			v, ok := d.boolean()
			r.SecureTransport = v
			return ok
		case "explain":
			if d.peek() == 'n' {
				r.Explain = nil
				return d.literal("null")
			}
			v, ok := d.boolean()
			r.Explain = &v
			return ok
		case "resourceControlPolicies":
			vs, ok := d.strings()
			r.ResourceControlPolicies = vs
			return ok
		case "endpointPolicy":
			return d.setStr(&r.EndpointPolicy)
		case "principalService":
			return d.setStr(&r.PrincipalService)
		case "context":
			if r.Context == nil {
				r.Context = make(map[string][]string, 4)
			}
			return d.stringMap(r.Context)
		}
		return d.skip(0)
	})
	if !ok {
		if d.err == nil {
			return errSyntax
		}
		return d.err
	}
	if d.peek() != 0 {
		d.fail("unexpected data after the object")
		return d.err
	}
	return nil
}

func (d *decoder) setStr(p *string) bool {
	s, ok := d.str()
	*p = s
	return ok
}
