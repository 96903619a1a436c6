package audit

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// parseHead reads the head of a record line (everything before the event)
// as the writer formats it, without reflection: a start reads millions.
// Lines in any other (valid JSON) form fall back to encoding/json.
func parseHead(head []byte, rec *recordLine) error {
	p := headParser{b: head}
	if p.lit(`{"seq":`) && p.uint(&rec.Seq) &&
		(p.lit(`,"prev8":`) && p.str(&rec.Prev8) || p.lit(`,"prev":`) && p.str(&rec.Prev)) &&
		p.lit(`,"meta":{"t":`) && p.int(&rec.Meta.Time) &&
		p.lit(`,"a":`) && p.str(&rec.Meta.Account) && p.lit(`,"n":`) && p.str(&rec.Meta.Name) &&
		p.lit(`,"s":`) && p.str(&rec.Meta.Source) && p.lit(`,"u":`) && p.str(&rec.Meta.User) &&
		p.lit(`,"k":`) && p.str(&rec.Meta.Key) && p.lit(`,"i":`) && p.str(&rec.Meta.ID) &&
		p.lit(`,"ro":`) && p.bool(&rec.Meta.ReadOnly) && p.lit(`,"res":[`) && p.res(&rec.Meta.Res) &&
		p.lit(`}}`) && len(p.b) == 0 {
		return nil
	}
	*rec = recordLine{}
	return json.Unmarshal(head, rec)
}

type headParser struct{ b []byte }

func (p *headParser) lit(s string) bool {
	if !bytes.HasPrefix(p.b, []byte(s)) {
		return false
	}
	p.b = p.b[len(s):]
	return true
}

func (p *headParser) number() []byte {
	i := 0
	for i < len(p.b) && (p.b[i] == '-' || p.b[i] >= '0' && p.b[i] <= '9') {
		i++
	}
	n := p.b[:i]
	p.b = p.b[i:]
	return n
}

func (p *headParser) uint(v *uint64) bool {
	n, err := strconv.ParseUint(string(p.number()), 10, 64)
	*v = n
	return err == nil
}

func (p *headParser) int(v *int64) bool {
	n, err := strconv.ParseInt(string(p.number()), 10, 64)
	*v = n
	return err == nil
}

func (p *headParser) bool(v *bool) bool {
	switch {
	case p.lit("true"):
		*v = true
	case p.lit("false"):
		*v = false
	default:
		return false
	}
	return true
}

func (p *headParser) str(v *string) bool {
	if len(p.b) == 0 || p.b[0] != '"' {
		return false
	}
	plain := true // no escapes, and valid UTF-8 (encoding/json replaces invalid bytes)
	for i := 1; i < len(p.b); i++ {
		switch c := p.b[i]; {
		case c == '\\':
			plain = false
			i++
		case c == '"':
			raw := p.b[:i+1]
			p.b = p.b[i+1:]
			if plain {
				*v = string(raw[1 : len(raw)-1])
				return true
			}
			return json.Unmarshal(raw, v) == nil
		case c >= utf8.RuneSelf && plain:
			_, n := utf8.DecodeRune(p.b[i:])
			if n == 1 {
				plain = false
			}
			i += n - 1
		}
	}
	return false
}

func (p *headParser) res(v *[][2]string) bool {
	if p.lit("]") {
		return true
	}
	for {
		var r [2]string
		if !p.lit("[") || !p.str(&r[0]) || !p.lit(",") || !p.str(&r[1]) || !p.lit("]") {
			return false
		}
		*v = append(*v, r)
		if p.lit("]") {
			return true
		}
		if !p.lit(",") {
			return false
		}
	}
}
