package awsquery

import (
	"encoding/base64"
	"reflect"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
)

// timeFormat is how IAM and STS write timestamps: ISO 8601, UTC, seconds.
const timeFormat = "2006-01-02T15:04:05Z"

// appendStruct appends the members of v (a struct of plan p) in model
// order. Absent optional members are omitted: nil pointers, nil slices and
// maps, empty strings, zero times and, for non-pointer optional fields,
// zero numbers and false. Required members (and IsTruncated) are always
// written, except empty strings.
func appendStruct(b []byte, p *typePlan, v reflect.Value) []byte {
	for i := range p.fields {
		f := &p.fields[i]
		fv := v.Field(f.index)
		if f.ptr {
			if fv.IsNil() {
				if !f.member.Required {
					continue
				}
				fv = reflect.New(f.plan.typ).Elem()
			} else {
				fv = fv.Elem()
			}
		} else if (!f.always || f.plan.kind == kindString && !p.keepsEmptyStrings()) && isAbsent(f.plan, fv) {
			// An empty string is left out even where the model requires
			// it, as AWS does (GetUser for the root user has no UserName
			// or Path), except in tags, whose empty values AWS returns.
			continue
		}
		b = append(b, f.open...)
		b = appendValue(b, f.plan, fv)
		b = append(b, f.close...)
	}
	return b
}

// keepsEmptyStrings reports whether a structure writes its required empty
// strings: tags do (a tag's value may be empty), entities do not.
func (p *typePlan) keepsEmptyStrings() bool {
	return p.shape != nil && p.shape.Name == "Tag"
}

func isAbsent(p *typePlan, v reflect.Value) bool {
	switch p.kind {
	case kindString:
		return v.Len() == 0
	case kindInt:
		return v.Int() == 0
	case kindFloat:
		return v.Float() == 0
	case kindBool:
		return !v.Bool()
	case kindTime:
		return v.Addr().Interface().(*time.Time).IsZero()
	case kindBlob, kindList, kindMap:
		return v.IsNil()
	}
	return false
}

func appendValue(b []byte, p *typePlan, v reflect.Value) []byte {
	switch p.kind {
	case kindString:
		if p.shape.URLEncoded {
			return appendPercentEncoded(b, v.String())
		}
		return appendEscaped(b, v.String())
	case kindInt:
		return strconv.AppendInt(b, v.Int(), 10)
	case kindFloat:
		return strconv.AppendFloat(b, v.Float(), 'f', -1, 64)
	case kindBool:
		return strconv.AppendBool(b, v.Bool())
	case kindTime:
		var t time.Time
		if v.CanAddr() {
			t = *v.Addr().Interface().(*time.Time)
		} else {
			t = v.Interface().(time.Time)
		}
		return appendTime(b, t)
	case kindBlob:
		return base64.StdEncoding.AppendEncode(b, v.Bytes())
	case kindList:
		elemOpen, elemClose := "<"+p.memberName+">", "</"+p.memberName+">"
		for i := 0; i < v.Len(); i++ {
			b = append(b, elemOpen...)
			b = appendValue(b, p.elem, v.Index(i))
			b = append(b, elemClose...)
		}
		return b
	case kindMap:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			b = append(b, "<entry><"...)
			b = append(b, p.keyName...)
			b = append(b, '>')
			b = appendEscaped(b, k.String())
			b = append(b, "</"...)
			b = append(b, p.keyName...)
			b = append(b, "><"...)
			b = append(b, p.valueName...)
			b = append(b, '>')
			b = appendValue(b, p.elem, v.MapIndex(k))
			b = append(b, "</"...)
			b = append(b, p.valueName...)
			b = append(b, "></entry>"...)
		}
		return b
	case kindStruct:
		return appendStruct(b, p, v)
	}
	return b
}

// plainASCII has bit c set for the bytes c below 64 that appendEscaped
// copies as they are: tab, newline, and from space on all but the quote,
// ampersand and angle brackets. (Every byte from 64 to 127 is copied.)
const plainASCII uint64 = 1<<'\t' | 1<<'\n' | (1<<64-1)&^(1<<' '-1)&^(1<<'"'|1<<'&'|1<<'<'|1<<'>')

// appendEscaped appends s as XML character data (also safe in a quoted
// attribute). Characters XML cannot carry, and invalid UTF-8, become U+FFFD.
func appendEscaped(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf && (c >= 64 || plainASCII>>c&1 != 0) {
			i++
			continue
		}
		var esc string
		size := 1
		if c < utf8.RuneSelf {
			switch {
			case c == '&':
				esc = "&amp;"
			case c == '<':
				esc = "&lt;"
			case c == '>':
				esc = "&gt;"
			case c == '"':
				esc = "&quot;"
			case c == '\r':
				esc = "&#xD;"
			case c < 0x20 && c != '\t' && c != '\n':
				esc = "\uFFFD"
			default:
				i++
				continue
			}
		} else {
			r, n := utf8.DecodeRuneInString(s[i:])
			size = n
			if r == utf8.RuneError && n == 1 || r == 0xFFFE || r == 0xFFFF {
				esc = "\uFFFD"
			} else {
				i += n
				continue
			}
		}
		b = append(b, s[last:i]...)
		b = append(b, esc...)
		i += size
		last = i
	}
	return append(b, s[last:]...)
}

// appendPercentEncoded appends s percent-encoded the way IAM returns policy
// documents: every byte except A-Z a-z 0-9 - _ . ~ becomes %XX (upper-case
// hex, UTF-8), so spaces are %20, never '+'. The result needs no XML escaping.
func appendPercentEncoded(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return b
}

// appendTime appends t in timeFormat; hand-written because it runs for every
// timestamp of every response and time.AppendFormat parses its layout.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, timeFormat)
	}
	hour, minute, sec := t.Clock()
	b = append(b, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-')
	b = append(b, byte('0'+int(month)/10), byte('0'+int(month)%10), '-', byte('0'+day/10), byte('0'+day%10), 'T')
	b = append(b, byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+minute/10), byte('0'+minute%10), ':')
	return append(b, byte('0'+sec/10), byte('0'+sec%10), 'Z')
}
