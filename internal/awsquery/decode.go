package awsquery

import (
	"encoding/base64"
	"math"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// decoder fills a Go value from awsQuery form parameters and collects the
// constraint violations in AWS's order and wording.
type decoder struct {
	form url.Values
	errs []string
	// invalidPath is AWS's own message for the first path member that
	// breaks its pattern; it replaces the list of violations.
	invalidPath string
}

// validationError joins the violations the way AWS does.
func (d *decoder) validationError() *Error {
	if d.invalidPath != "" {
		return ValidationError(d.invalidPath)
	}
	if len(d.errs) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString(strconv.Itoa(len(d.errs)))
	if len(d.errs) == 1 {
		b.WriteString(" validation error detected: ")
	} else {
		b.WriteString(" validation errors detected: ")
	}
	for i, e := range d.errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e)
	}
	return ValidationError(b.String())
}

// fail records one violation. value is already rendered ("null", "'x'").
func (d *decoder) fail(value, path, constraint string, sensitive bool) {
	var b strings.Builder
	b.WriteString("Value ")
	if !sensitive {
		b.WriteString(value)
		b.WriteByte(' ')
	}
	b.WriteString("at '")
	b.WriteString(path)
	b.WriteString("' failed to satisfy constraint: ")
	b.WriteString(constraint)
	d.errs = append(d.errs, b.String())
}

func quote(s string) string { return "'" + s + "'" }

// has reports whether key is in the form, even with an empty value.
func (d *decoder) has(key string) bool {
	_, ok := d.form[key]
	return ok
}

func (d *decoder) get(key string) string {
	if vs := d.form[key]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// present reports whether the form holds a value for key of plan p: the key
// itself or, for aggregates, any of their parts.
func (d *decoder) present(p *typePlan, key string) bool {
	return d.presentDepth(p, key, 0)
}

// maxPresentDepth bounds the probe into nested aggregates; recursive shapes
// would otherwise probe without end.
const maxPresentDepth = 16

func (d *decoder) presentDepth(p *typePlan, key string, depth int) bool {
	if d.has(key) {
		return true
	}
	if depth >= maxPresentDepth {
		return false
	}
	switch p.kind {
	case kindList:
		return d.presentDepth(p.elem, p.elemKey(key, 1), depth+1)
	case kindMap:
		return d.has(key + ".entry.1." + p.keyName)
	case kindStruct:
		for i := range p.fields {
			f := &p.fields[i]
			if d.presentDepth(f.plan, key+"."+f.wire, depth+1) {
				return true
			}
		}
	}
	return false
}

func (p *typePlan) elemKey(key string, i int) string {
	if p.flattened {
		return key + "." + strconv.Itoa(i)
	}
	return key + "." + p.memberName + "." + strconv.Itoa(i)
}

// decodeStruct decodes the members of p into v (a struct). prefix is the
// form key prefix ("" at the top, "Tags.member.1." below) and path the
// message path prefix ("" or "tags.1.member.").
func (d *decoder) decodeStruct(p *typePlan, v reflect.Value, prefix, path string) {
	for i := range p.fields {
		f := &p.fields[i]
		key, fpath := f.wire, f.path
		if prefix != "" {
			key, fpath = prefix+f.wire, path+f.path
		}
		if !d.present(f.plan, key) {
			if f.member.Required {
				d.fail("null", fpath, "Member must not be null", false)
			}
			continue
		}
		fv := v.Field(f.index)
		if f.ptr {
			nv := reflect.New(f.plan.typ)
			fv.Set(nv)
			fv = nv.Elem()
		}
		d.decodeValue(f.plan, fv, key, fpath)
	}
}

func (d *decoder) decodeValue(p *typePlan, v reflect.Value, key, path string) {
	s := p.shape
	switch p.kind {
	case kindString:
		raw := d.get(key)
		d.checkString(s, raw, path)
		v.SetString(raw)
	case kindInt:
		raw := d.get(key)
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || v.OverflowInt(n) {
			d.fail(quote(raw), path, "Member must be a number", s.Sensitive)
			return
		}
		d.checkRange(s, float64(n), raw, path)
		v.SetInt(n)
	case kindFloat:
		raw := d.get(key)
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.fail(quote(raw), path, "Member must be a number", s.Sensitive)
			return
		}
		d.checkRange(s, f, raw, path)
		v.SetFloat(f)
	case kindBool:
		raw := d.get(key)
		switch {
		case strings.EqualFold(raw, "true"):
			v.SetBool(true)
		case strings.EqualFold(raw, "false"):
			v.SetBool(false)
		default:
			d.fail(quote(raw), path, "Member must be a boolean", s.Sensitive)
		}
	case kindTime:
		raw := d.get(key)
		t, ok := parseTime(raw)
		if !ok {
			d.fail(quote(raw), path, "Member must be a timestamp", s.Sensitive)
			return
		}
		v.Set(reflect.ValueOf(t))
	case kindBlob:
		raw := d.get(key)
		b, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			d.fail(quote(raw), path, "Member must be base64-encoded binary data", s.Sensitive)
			return
		}
		d.checkLength(s, len(b), quote(raw), path)
		v.SetBytes(b)
	case kindList:
		d.decodeList(p, v, key, path)
	case kindMap:
		d.decodeMap(p, v, key, path)
	case kindStruct:
		d.decodeStruct(p, v, key+".", path+".")
	}
}

// decodeList reads Name.member.1, Name.member.2, ... up to the first index
// that is missing, as SDKs number elements contiguously from 1; "Name=" with
// no members is an empty list.
func (d *decoder) decodeList(p *typePlan, v reflect.Value, key, path string) {
	n := 0
	for n < maxListElements && d.present(p.elem, p.elemKey(key, n+1)) {
		n++
	}
	if s := p.shape; (s.Min != nil && int64(n) < *s.Min) || (s.Max != nil && int64(n) > *s.Max) {
		d.checkLength(s, n, d.renderList(p, key, n), path)
	}
	sl := reflect.MakeSlice(p.typ, n, n)
	for i := 0; i < n; i++ {
		ek := p.elemKey(key, i+1)
		ep := path + "." + strconv.Itoa(i+1) + ".member"
		d.decodeValue(p.elem, sl.Index(i), ek, ep)
	}
	v.Set(sl)
}

// maxListElements bounds the elements read from one list, so a hostile form
// cannot make the decoder probe without end.
const maxListElements = 10000

// renderList renders a list value for a message the way Java prints a List:
// "[a, b]".
func (d *decoder) renderList(p *typePlan, key string, n int) string {
	var b strings.Builder
	b.WriteString("'[")
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteString(", ")
		}
		ek := p.elemKey(key, i)
		if p.elem.kind == kindStruct {
			b.WriteByte('{')
			first := true
			for _, f := range p.elem.fields {
				if d.has(ek + "." + f.wire) {
					if !first {
						b.WriteString(", ")
					}
					first = false
					b.WriteString(f.path + "=" + d.get(ek+"."+f.wire))
				}
			}
			b.WriteByte('}')
		} else {
			b.WriteString(d.get(ek))
		}
	}
	b.WriteString("]'")
	return b.String()
}

// decodeMap reads Name.entry.N.key and Name.entry.N.value.
func (d *decoder) decodeMap(p *typePlan, v reflect.Value, key, path string) {
	m := reflect.MakeMap(p.typ)
	n := 0
	for i := 1; i <= maxListElements; i++ {
		ek := key + ".entry." + strconv.Itoa(i) + "."
		if !d.has(ek+p.keyName) && !d.present(p.elem, ek+p.valueName) {
			break
		}
		n++
		ep := path + "." + strconv.Itoa(i)
		kv := reflect.New(p.key.typ).Elem()
		d.decodeValue(p.key, kv, ek+p.keyName, ep+".key")
		vv := reflect.New(p.elem.typ).Elem()
		d.decodeValue(p.elem, vv, ek+p.valueName, ep+".value")
		m.SetMapIndex(kv, vv)
	}
	d.checkLength(p.shape, n, "'{...}'", path)
	v.Set(m)
}

// checkString applies length, pattern and enum constraints in that order.
func (d *decoder) checkString(s *Shape, raw, path string) {
	if s.Min == nil && s.Max == nil && s.pattern == nil && s.enumSet == nil {
		return
	}
	d.checkLength(s, javaLength(raw), quote(raw), path)
	if s.pattern != nil && !s.pattern.match(raw) {
		if msg := invalidPathMessage(s, path); msg != "" {
			if d.invalidPath == "" {
				d.invalidPath = msg
			}
			return
		}
		d.fail(quote(raw), path, "Member must satisfy regular expression pattern: "+s.Pattern, s.Sensitive)
	}
	if s.enumSet != nil {
		if _, ok := s.enumSet[raw]; !ok {
			d.fail(quote(raw), path, "Member must satisfy enum value set: ["+strings.Join(s.Enum, ", ")+"]", s.Sensitive)
		}
	}
}

// pathShapes are IAM's path types. AWS does not answer a path that breaks
// their pattern with the model's pattern but with a sentence of its own,
// alone, even when other members are invalid too (a path too long but well
// formed gets the usual length violation).
var pathShapes = map[string]bool{"pathType": true, "pathPrefixType": true, "policyPathType": true}

// invalidPathMessage is AWS's message for a path member at path (its name as
// AWS spells it: "path", "newPath", "pathPrefix") that breaks its pattern,
// or "" for any other member. Prefixes need not end with a slash, whatever
// their shape.
func invalidPathMessage(s *Shape, path string) string {
	if !pathShapes[s.Name] {
		return ""
	}
	if strings.HasSuffix(path, "Prefix") {
		return "The specified value for " + path + " is invalid. It must begin with the / character and contain only alphanumeric characters and/or / characters."
	}
	return "The specified value for " + path + " is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters."
}

// checkLength checks min and max length; value is the rendered value.
func (d *decoder) checkLength(s *Shape, n int, value, path string) {
	if s.Min != nil && int64(n) < *s.Min {
		d.fail(value, path, "Member must have length greater than or equal to "+strconv.FormatInt(*s.Min, 10), s.Sensitive)
	} else if s.Max != nil && int64(n) > *s.Max {
		d.fail(value, path, "Member must have length less than or equal to "+strconv.FormatInt(*s.Max, 10), s.Sensitive)
	}
}

func (d *decoder) checkRange(s *Shape, n float64, raw, path string) {
	if s.Min != nil && n < float64(*s.Min) {
		d.fail(quote(raw), path, "Member must have value greater than or equal to "+strconv.FormatInt(*s.Min, 10), s.Sensitive)
	} else if s.Max != nil && n > float64(*s.Max) {
		d.fail(quote(raw), path, "Member must have value less than or equal to "+strconv.FormatInt(*s.Max, 10), s.Sensitive)
	}
}

// javaLength is the length AWS's constraints count: UTF-16 code units.
func javaLength(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n++
		if r > 0xFFFF {
			n++
		}
	}
	return n
}

// parseTime accepts the ISO 8601 forms SDKs send and epoch seconds.
func parseTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) && math.Abs(f) < 1e11 {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
	}
	return time.Time{}, false
}
