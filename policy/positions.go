package policy

import (
	"encoding/json"
	"errors"
	"sort"
	"unicode/utf8"
)

// Position is a place in a policy document's text. Line and Column count
// from 1; a column counts characters, not bytes.
type Position struct {
	Line, Column int
}

// StatementSpan is where one statement lies in a document's text, the way
// IAM's policy simulator reports it (Statement.StartPosition and
// EndPosition): End is just after the statement's closing brace. Start is
// just after what precedes the statement: the opening bracket of the
// Statement array for the first statement, the previous statement's end for
// the others, and just after the opening brace when Statement is a single
// object. (IAM reads documents with a streaming parser and records its
// position before and after each statement.)
type StatementSpan struct {
	Start, End Position
}

// errNoStatements is returned for text whose Statement element is missing
// or is not an object or an array of objects.
var errNoStatements = errors.New("policy: document has no statement list")

// StatementSpans returns the span of each statement of the document text
// doc, in document order, so that Document.Statements[i] lies at span i of
// the text it was parsed from. When the top-level object holds Statement
// more than once the last one counts, as it does for Parse.
func StatementSpans(doc []byte) ([]StatementSpan, error) {
	s := spanScanner{doc: doc}
	s.ws()
	if !s.eat('{') {
		return nil, errNoStatements
	}
	var spans []StatementSpan
	found := false
	s.ws()
	if s.eat('}') {
		return nil, errNoStatements
	}
	for {
		s.ws()
		key, ok := s.str()
		if !ok {
			return nil, errNoStatements
		}
		s.ws()
		if !s.eat(':') {
			return nil, errNoStatements
		}
		s.ws()
		if key == "Statement" {
			var err error
			if spans, err = s.statements(); err != nil {
				return nil, err
			}
			found = true
		} else if !s.skipValue() {
			return nil, errNoStatements
		}
		s.ws()
		if s.eat(',') {
			continue
		}
		if s.eat('}') {
			break
		}
		return nil, errNoStatements
	}
	if !found {
		return nil, errNoStatements
	}
	return spans, nil
}

// spanScanner walks JSON text, keeping byte offsets.
type spanScanner struct {
	doc   []byte
	i     int
	lines []int // offsets at which lines start, computed on first use
}

// statements reads the Statement value at the current offset.
func (s *spanScanner) statements() ([]StatementSpan, error) {
	switch s.peek() {
	case '{':
		s.i++
		start := s.pos(s.i)
		s.i--
		if !s.skipValue() {
			return nil, errNoStatements
		}
		return []StatementSpan{{Start: start, End: s.pos(s.i)}}, nil
	case '[':
		s.i++
		prev := s.i
		var spans []StatementSpan
		s.ws()
		if s.eat(']') {
			return spans, nil
		}
		for {
			s.ws()
			if s.peek() != '{' {
				return nil, errNoStatements
			}
			if !s.skipValue() {
				return nil, errNoStatements
			}
			spans = append(spans, StatementSpan{Start: s.pos(prev), End: s.pos(s.i)})
			prev = s.i
			s.ws()
			if s.eat(',') {
				continue
			}
			if s.eat(']') {
				return spans, nil
			}
			return nil, errNoStatements
		}
	}
	return nil, errNoStatements
}

func (s *spanScanner) peek() byte {
	if s.i < len(s.doc) {
		return s.doc[s.i]
	}
	return 0
}

func (s *spanScanner) eat(c byte) bool {
	if s.peek() == c && s.i < len(s.doc) {
		s.i++
		return true
	}
	return false
}

func (s *spanScanner) ws() {
	for s.i < len(s.doc) {
		switch s.doc[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// str reads a string and returns its decoded value.
func (s *spanScanner) str() (string, bool) {
	start := s.i
	if !s.skipString() {
		return "", false
	}
	raw := s.doc[start:s.i]
	plain := true
	for _, c := range raw[1 : len(raw)-1] {
		if c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		return string(raw[1 : len(raw)-1]), true
	}
	var out string
	if err := json.Unmarshal(raw, &out); err != nil {
		return "", false
	}
	return out, true
}

func (s *spanScanner) skipString() bool {
	if !s.eat('"') {
		return false
	}
	for s.i < len(s.doc) {
		switch s.doc[s.i] {
		case '\\':
			s.i += 2
		case '"':
			s.i++
			return true
		default:
			s.i++
		}
	}
	return false
}

// skipValue skips one JSON value (its syntax is checked only enough to find
// its end; Parse has validated the document).
func (s *spanScanner) skipValue() bool {
	switch c := s.peek(); c {
	case '"':
		return s.skipString()
	case '{', '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		s.i++
		s.ws()
		if s.eat(closer) {
			return true
		}
		for {
			s.ws()
			if c == '{' {
				if !s.skipString() {
					return false
				}
				s.ws()
				if !s.eat(':') {
					return false
				}
				s.ws()
			}
			if !s.skipValue() {
				return false
			}
			s.ws()
			if s.eat(',') {
				continue
			}
			return s.eat(closer)
		}
	case 0:
		return false
	default:
		// number, true, false, null
		start := s.i
		for s.i < len(s.doc) {
			switch s.doc[s.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return s.i > start
			}
			s.i++
		}
		return s.i > start
	}
}

// pos converts a byte offset to a line and column. A line ends at "\n",
// "\r\n" or a lone "\r".
func (s *spanScanner) pos(off int) Position {
	if s.lines == nil {
		s.lines = []int{0}
		for i := 0; i < len(s.doc); i++ {
			switch s.doc[i] {
			case '\n':
				s.lines = append(s.lines, i+1)
			case '\r':
				if i+1 < len(s.doc) && s.doc[i+1] == '\n' {
					continue
				}
				s.lines = append(s.lines, i+1)
			}
		}
	}
	line := sort.Search(len(s.lines), func(i int) bool { return s.lines[i] > off }) - 1
	return Position{Line: line + 1, Column: utf8.RuneCount(s.doc[s.lines[line]:off]) + 1}
}
