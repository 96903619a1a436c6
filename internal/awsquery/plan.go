package awsquery

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// kind is how a shape is held in Go and written on the wire.
type kind uint8

const (
	kindString kind = iota
	kindInt
	kindBool
	kindFloat
	kindTime
	kindBlob
	kindList
	kindMap
	kindStruct
)

// typePlan binds a shape to a Go type once, so decoding and encoding walk
// precomputed field indexes and element names instead of inspecting types
// per request.
type typePlan struct {
	shape  *Shape
	kind   kind
	typ    reflect.Type
	elem   *typePlan // list element or map value
	key    *typePlan // map key
	fields []fieldPlan

	// Wire names of list members and map entries.
	memberName, keyName, valueName string
	flattened                      bool
}

// fieldPlan binds one structure member to one Go struct field.
type fieldPlan struct {
	member *Member
	index  int
	ptr    bool // the Go field is *T
	always bool // written even when zero (IsTruncated)
	plan   *typePlan
	wire   string // name in forms and XML
	path   string // name in validation messages: lower-case first letter
	open   string // "<Wire>"
	close  string // "</Wire>"
}

type planKey struct {
	shape *Shape
	typ   reflect.Type
}

type planner struct {
	plans map[planKey]*typePlan
	// empty stands in for the input or output of an operation the model
	// declares none for.
	empty *Shape
}

var timeType = reflect.TypeFor[time.Time]()

func (pl *planner) plan(s *Shape, t reflect.Type) (*typePlan, error) {
	k := planKey{s, t}
	if p, ok := pl.plans[k]; ok {
		return p, nil
	}
	p := &typePlan{shape: s, typ: t}
	pl.plans[k] = p // before recursing: shapes may be recursive
	mismatch := func() error {
		return fmt.Errorf("shape %s (%s) cannot be held in Go type %s", s.Name, s.Type, t)
	}
	switch s.Type {
	case "string":
		if t.Kind() != reflect.String {
			return nil, mismatch()
		}
		p.kind = kindString
	case "integer", "long":
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		default:
			return nil, mismatch()
		}
		p.kind = kindInt
	case "double", "float":
		if t.Kind() != reflect.Float64 && t.Kind() != reflect.Float32 {
			return nil, mismatch()
		}
		p.kind = kindFloat
	case "boolean":
		if t.Kind() != reflect.Bool {
			return nil, mismatch()
		}
		p.kind = kindBool
	case "timestamp":
		if t != timeType {
			return nil, mismatch()
		}
		p.kind = kindTime
	case "blob":
		if t.Kind() != reflect.Slice || t.Elem().Kind() != reflect.Uint8 {
			return nil, mismatch()
		}
		p.kind = kindBlob
	case "list":
		if t.Kind() != reflect.Slice {
			return nil, mismatch()
		}
		p.kind = kindList
		p.memberName = s.Member.WireName()
		p.flattened = s.Member.Flattened
		e, err := pl.plan(s.Member.Shape, t.Elem())
		if err != nil {
			return nil, err
		}
		p.elem = e
	case "map":
		if t.Kind() != reflect.Map || t.Key().Kind() != reflect.String {
			return nil, mismatch()
		}
		p.kind = kindMap
		p.keyName, p.valueName = s.Key.WireName(), s.Value.WireName()
		kp, err := pl.plan(s.Key.Shape, t.Key())
		if err != nil {
			return nil, err
		}
		vp, err := pl.plan(s.Value.Shape, t.Elem())
		if err != nil {
			return nil, err
		}
		p.key, p.elem = kp, vp
	case "structure":
		if t.Kind() != reflect.Struct {
			return nil, mismatch()
		}
		p.kind = kindStruct
		for _, m := range s.Members {
			sf, ok := t.FieldByName(ExportedName(m.Name))
			if !ok || len(sf.Index) != 1 {
				return nil, fmt.Errorf("no field %s in Go type %s for member %s.%s", m.Name, t, s.Name, m.Name)
			}
			ft, ptr := sf.Type, false
			if ft.Kind() == reflect.Pointer {
				ft, ptr = ft.Elem(), true
			}
			fp, err := pl.plan(m.Shape, ft)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", s.Name, m.Name, err)
			}
			wire := m.WireName()
			p.fields = append(p.fields, fieldPlan{
				member: m, index: sf.Index[0], ptr: ptr, plan: fp,
				wire: wire, path: lowerFirst(m.Name), always: m.Required || isTruncated(m),
				open: "<" + wire + ">", close: "</" + wire + ">",
			})
		}
	default:
		return nil, mismatch()
	}
	return p, nil
}

// isTruncated reports whether m is a pagination flag. IAM always writes
// IsTruncated, false included, although the model leaves it optional.
func isTruncated(m *Member) bool {
	return m.Shape.Type == "boolean" && strings.EqualFold(m.Name, "IsTruncated")
}

// ExportedName is the Go name of a model name: its first letter upper-cased
// (members such as "isTruncated" or "arn" exist).
func ExportedName(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// lowerFirst is how AWS names a member in validation messages: UserName
// becomes userName.
func lowerFirst(s string) string {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return s
	}
	return string(s[0]+'a'-'A') + s[1:]
}
