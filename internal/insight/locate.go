package insight

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"unicode/utf8"
)

// node is a JSON value with where it lies in the document text: the
// analysis works on this tree rather than on the parsed policy so that
// every finding can point at the text it is about, as Access Analyzer's
// locations do.
type node struct {
	kind       byte // 'o' object, 'a' array, 's' string, 'l' literal (number, true, false, null)
	start, end int  // byte offsets of the value (end exclusive)
	keys       []string
	vals       []*node
	items      []*node
	str        string // decoded string, or the literal's text
}

// get returns the value of the last member named key (as IAM reads
// documents, the last of duplicate members counts).
func (n *node) get(key string) *node {
	if n == nil || n.kind != 'o' {
		return nil
	}
	for i := len(n.keys) - 1; i >= 0; i-- {
		if n.keys[i] == key {
			return n.vals[i]
		}
	}
	return nil
}

// strings returns the string values of a string-or-array-of-strings
// element with their nodes; ok is false if any value is not a string.
func (n *node) strings() (vals []string, nodes []*node, ok bool) {
	switch n.kind {
	case 's':
		return []string{n.str}, []*node{n}, true
	case 'a':
		ok = true
		for _, it := range n.items {
			if it.kind != 's' {
				ok = false
				continue
			}
			vals = append(vals, it.str)
			nodes = append(nodes, it)
		}
		return vals, nodes, ok
	}
	return nil, nil, false
}

// syntaxError is malformed JSON at a byte offset.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s at offset %d", e.msg, e.off) }

// parseTree parses a JSON document into a node tree.
func parseTree(doc []byte) (*node, error) {
	p := &treeParser{b: doc}
	p.ws()
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i != len(p.b) {
		return nil, &syntaxError{p.i, "unexpected text after the document"}
	}
	return n, nil
}

type treeParser struct {
	b []byte
	i int
}

const maxDepth = 64

func (p *treeParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *treeParser) value(depth int) (*node, error) {
	if depth > maxDepth {
		return nil, &syntaxError{p.i, "nesting too deep"}
	}
	if p.i >= len(p.b) {
		return nil, &syntaxError{p.i, "unexpected end of the document"}
	}
	start := p.i
	switch c := p.b[p.i]; {
	case c == '{':
		n := &node{kind: 'o', start: start}
		p.i++
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == '}' {
			p.i++
			n.end = p.i
			return n, nil
		}
		for {
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != '"' {
				return nil, &syntaxError{p.i, "expected a member name"}
			}
			k, err := p.str()
			if err != nil {
				return nil, err
			}
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				return nil, &syntaxError{p.i, "expected ':'"}
			}
			p.i++
			p.ws()
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, k.str)
			n.vals = append(n.vals, v)
			p.ws()
			if p.i < len(p.b) && p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.b) && p.b[p.i] == '}' {
				p.i++
				n.end = p.i
				return n, nil
			}
			return nil, &syntaxError{p.i, "expected ',' or '}'"}
		}
	case c == '[':
		n := &node{kind: 'a', start: start}
		p.i++
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			n.end = p.i
			return n, nil
		}
		for {
			p.ws()
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, v)
			p.ws()
			if p.i < len(p.b) && p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.b) && p.b[p.i] == ']' {
				p.i++
				n.end = p.i
				return n, nil
			}
			return nil, &syntaxError{p.i, "expected ',' or ']'"}
		}
	case c == '"':
		return p.str()
	default:
		for p.i < len(p.b) {
			switch p.b[p.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				goto done
			}
			p.i++
		}
	done:
		text := string(p.b[start:p.i])
		switch text {
		case "true", "false", "null":
		default:
			if _, err := strconv.ParseFloat(text, 64); err != nil || text == "" {
				return nil, &syntaxError{start, "invalid value"}
			}
		}
		return &node{kind: 'l', start: start, end: p.i, str: text}, nil
	}
}

func (p *treeParser) str() (*node, error) {
	start := p.i
	p.i++
	escaped := false
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '\\':
			escaped = true
			p.i += 2
		case c == '"':
			p.i++
			raw := p.b[start:p.i]
			n := &node{kind: 's', start: start, end: p.i}
			if !escaped {
				if !utf8.Valid(raw) {
					return nil, &syntaxError{start, "invalid UTF-8 in a string"}
				}
				n.str = string(raw[1 : len(raw)-1])
				return n, nil
			}
			if err := json.Unmarshal(raw, &n.str); err != nil {
				return nil, &syntaxError{start, "invalid string escape"}
			}
			return n, nil
		case c < 0x20:
			return nil, &syntaxError{p.i, "control character in a string"}
		default:
			p.i++
		}
	}
	return nil, &syntaxError{start, "unterminated string"}
}

// positions converts byte offsets of a document to Access Analyzer's
// positions: line from 1, column and offset counted in characters from 0.
type positions struct {
	doc   []byte
	lines []int // byte offsets at which lines start
}

func newPositions(doc []byte) *positions {
	p := &positions{doc: doc, lines: []int{0}}
	for i := 0; i < len(doc); i++ {
		switch doc[i] {
		case '\n':
			p.lines = append(p.lines, i+1)
		case '\r':
			if i+1 < len(doc) && doc[i+1] == '\n' {
				continue
			}
			p.lines = append(p.lines, i+1)
		}
	}
	return p
}

func (p *positions) at(off int) Position {
	off = min(max(off, 0), len(p.doc))
	line := sort.Search(len(p.lines), func(i int) bool { return p.lines[i] > off }) - 1
	return Position{
		Line:   line + 1,
		Column: utf8.RuneCount(p.doc[p.lines[line]:off]),
		Offset: utf8.RuneCount(p.doc[:off]),
	}
}

func (p *positions) span(n *node) *Span {
	if n == nil {
		return nil
	}
	return &Span{Start: p.at(n.start), End: p.at(n.end)}
}
