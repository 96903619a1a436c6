package audit

import (
	"bytes"
	"encoding/xml"
	"io"
)

// The responses iamd records are its own awsQuery documents: elements,
// text and the root's xmlns attribute, all ASCII but for user data.
// encoding/xml's tokenizer was a tenth of a CreateUser's CPU; scanXML
// reads that subset directly and returns false for anything else
// (comments, CDATA, processing instructions, prefixes, other entities,
// non-ASCII or control bytes, mismatched tags), which decodeXML then reads
// with encoding/xml as before. FuzzScanXML checks that both agree.

// xmlTree parses body into a tree of elements and returns its root (the
// last top-level element), or nil if body is not well-formed.
func xmlTree(body []byte) *xmlNode {
	if root, ok := scanXML(body); ok {
		return root
	}
	return decodeXML(body)
}

// decodeXML is xmlTree with encoding/xml.
func decodeXML(body []byte) *xmlNode {
	dec := xml.NewDecoder(bytes.NewReader(body))
	var stack []*xmlNode
	var root *xmlNode
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil
		}
		switch t := tok.(type) {
		case xml.StartElement:
			root = push(&stack, root, t.Name.Local)
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		}
	}
	return root
}

// push adds an element named name under the top of stack (or as a new
// root) and returns the root.
func push(stack *[]*xmlNode, root *xmlNode, name string) *xmlNode {
	n := &xmlNode{name: name}
	if s := *stack; len(s) > 0 {
		p := s[len(s)-1]
		p.children = append(p.children, n)
	} else {
		root = n
	}
	*stack = append(*stack, n)
	return root
}

// scanXML is xmlTree for the subset described above; ok is false when
// body is outside it.
func scanXML(body []byte) (root *xmlNode, ok bool) {
	var stack []*xmlNode
	for i := 0; i < len(body); {
		c := body[i]
		if c != '<' {
			j := i
			for j < len(body) && body[j] != '<' {
				j++
			}
			if len(stack) == 0 {
				// Text outside the elements: whitespace only.
				for _, b := range body[i:j] {
					if b != ' ' && b != '\n' && b != '\t' {
						return nil, false
					}
				}
			} else if !appendText(&stack[len(stack)-1].text, body[i:j]) {
				return nil, false
			}
			i = j
			continue
		}
		end := i + 1
		closing := end < len(body) && body[end] == '/'
		if closing {
			end++
		}
		nameStart := end
		for end < len(body) && isNameByte(body[end]) {
			end++
		}
		if end == nameStart || end == len(body) || !isNameStart(body[nameStart]) {
			return nil, false
		}
		name := body[nameStart:end]
		if closing {
			if body[end] != '>' || len(stack) == 0 || stack[len(stack)-1].name != string(name) {
				return nil, false
			}
			stack = stack[:len(stack)-1]
			i = end + 1
			continue
		}
		var selfClosing bool
		end, selfClosing, ok = skipAttrs(body, end)
		if !ok {
			return nil, false
		}
		root = push(&stack, root, string(name))
		if selfClosing {
			stack = stack[:len(stack)-1]
		}
		i = end
	}
	return root, len(stack) == 0 && root != nil
}

// skipAttrs reads a start tag's attributes from i (just after its name)
// up to and including its '>', accepting only name="value" pairs whose
// values hold no '<', '&' or quote, each after whitespace.
func skipAttrs(body []byte, i int) (next int, selfClosing, ok bool) {
	for {
		if i >= len(body) {
			return 0, false, false
		}
		switch body[i] {
		case '>':
			return i + 1, false, true
		case '/':
			if i+1 < len(body) && body[i+1] == '>' {
				return i + 2, true, true
			}
			return 0, false, false
		case ' ':
		default:
			return 0, false, false
		}
		for i < len(body) && body[i] == ' ' {
			i++
		}
		if i < len(body) && (body[i] == '>' || body[i] == '/') {
			continue
		}
		start := i
		for i < len(body) && isNameByte(body[i]) {
			i++
		}
		if i == start || !isNameStart(body[start]) || i+1 >= len(body) || body[i] != '=' || body[i+1] != '"' {
			return 0, false, false
		}
		i += 2
		for i < len(body) && body[i] != '"' {
			if c := body[i]; c == '<' || c == '&' || c == '\'' || c < 0x20 || c >= 0x80 {
				return 0, false, false
			}
			i++
		}
		if i >= len(body) {
			return 0, false, false
		}
		i++ // the closing quote
	}
}

// isNameStart and isNameByte accept the ASCII names (no namespace
// prefixes) that iamd's documents use.
func isNameStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

func isNameByte(c byte) bool {
	return isNameStart(c) || '0' <= c && c <= '9' || c == '-' || c == '.'
}

// appendText appends text to b, resolving the five predefined entities;
// it returns false for anything else encoding/xml might read otherwise.
func appendText(b interface{ WriteByte(byte) error }, text []byte) bool {
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '&':
			var r byte
			rest := text[i+1:]
			switch {
			case bytes.HasPrefix(rest, []byte("lt;")):
				r, i = '<', i+3
			case bytes.HasPrefix(rest, []byte("gt;")):
				r, i = '>', i+3
			case bytes.HasPrefix(rest, []byte("amp;")):
				r, i = '&', i+4
			case bytes.HasPrefix(rest, []byte("quot;")):
				r, i = '"', i+5
			case bytes.HasPrefix(rest, []byte("apos;")):
				r, i = '\'', i+5
			default:
				return false
			}
			_ = b.WriteByte(r)
		case c == '>' && i >= 2 && text[i-1] == ']' && text[i-2] == ']':
			return false // "]]>" is an error in text
		case c < 0x20 && c != '\n' && c != '\t', c >= 0x80:
			return false
		default:
			_ = b.WriteByte(c)
		}
	}
	return true
}
