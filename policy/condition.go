package policy

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

type family uint8

const (
	famString family = iota
	famNumeric
	famDate
	famBool
	famBinary
	famIP
	famArn
	famNull
)

type cmpKind uint8

const (
	cmpEquals cmpKind = iota
	cmpEqualsIgnoreCase
	cmpLike
	cmpLess
	cmpLessEq
	cmpGreater
	cmpGreaterEq
)

type setQual uint8

const (
	setNone setQual = iota
	setAny
	setAll
)

// operator is a parsed condition operator.
type operator struct {
	family   family
	cmp      cmpKind
	negated  bool
	ifExists bool
	set      setQual
}

type baseOp struct {
	family  family
	cmp     cmpKind
	negated bool
}

var baseOperators = map[string]baseOp{
	"StringEquals":              {famString, cmpEquals, false},
	"StringNotEquals":           {famString, cmpEquals, true},
	"StringEqualsIgnoreCase":    {famString, cmpEqualsIgnoreCase, false},
	"StringNotEqualsIgnoreCase": {famString, cmpEqualsIgnoreCase, true},
	"StringLike":                {famString, cmpLike, false},
	"StringNotLike":             {famString, cmpLike, true},
	"NumericEquals":             {famNumeric, cmpEquals, false},
	"NumericNotEquals":          {famNumeric, cmpEquals, true},
	"NumericLessThan":           {famNumeric, cmpLess, false},
	"NumericLessThanEquals":     {famNumeric, cmpLessEq, false},
	"NumericGreaterThan":        {famNumeric, cmpGreater, false},
	"NumericGreaterThanEquals":  {famNumeric, cmpGreaterEq, false},
	"DateEquals":                {famDate, cmpEquals, false},
	"DateNotEquals":             {famDate, cmpEquals, true},
	"DateLessThan":              {famDate, cmpLess, false},
	"DateLessThanEquals":        {famDate, cmpLessEq, false},
	"DateGreaterThan":           {famDate, cmpGreater, false},
	"DateGreaterThanEquals":     {famDate, cmpGreaterEq, false},
	"Bool":                      {famBool, cmpEquals, false},
	"BinaryEquals":              {famBinary, cmpEquals, false},
	"IpAddress":                 {famIP, cmpEquals, false},
	"NotIpAddress":              {famIP, cmpEquals, true},
	"ArnEquals":                 {famArn, cmpLike, false},
	"ArnLike":                   {famArn, cmpLike, false},
	"ArnNotEquals":              {famArn, cmpLike, true},
	"ArnNotLike":                {famArn, cmpLike, true},
	"Null":                      {famNull, cmpEquals, false},
}

// parseOperator parses "[ForAnyValue:|ForAllValues:]Base[IfExists]".
func parseOperator(s string) (operator, bool) {
	var op operator
	if rest, ok := strings.CutPrefix(s, "ForAnyValue:"); ok {
		op.set, s = setAny, rest
	} else if rest, ok := strings.CutPrefix(s, "ForAllValues:"); ok {
		op.set, s = setAll, rest
	}
	if rest, ok := strings.CutSuffix(s, "IfExists"); ok {
		op.ifExists, s = true, rest
	}
	b, ok := baseOperators[s]
	if !ok {
		return op, false
	}
	op.family, op.cmp, op.negated = b.family, b.cmp, b.negated
	return op, true
}

// condValue is one policy value of a condition, pre-parsed for its
// operator family.
type condValue struct {
	raw  string
	pat  pattern    // string families
	arn  arnPattern // famArn
	num  float64
	t    time.Time
	pfx  netip.Prefix
	b    bool
	okay bool // the value parsed for its family
}

// cond is a compiled condition.
type cond struct {
	op   operator
	key  keyRef
	vals []condValue
	src  *Condition
}

func compileCondition(c *Condition, vars bool) cond {
	op, _ := parseOperator(c.Operator)
	cc := cond{op: op, key: newKeyRef(c.Key), src: c, vals: make([]condValue, len(c.Values))}
	for i, raw := range c.Values {
		v := condValue{raw: raw}
		switch op.family {
		case famString:
			v.pat = compilePattern(raw, op.cmp == cmpLike, vars)
			v.okay = true
		case famBinary:
			v.okay = true
		case famArn:
			v.arn = compileARNPattern(raw, vars)
			v.okay = true
		case famNumeric:
			f, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
			v.num, v.okay = f, err == nil
		case famDate:
			v.t, v.okay = parseTime(raw)
		case famBool, famNull:
			switch {
			case strings.EqualFold(raw, "true"):
				v.b, v.okay = true, true
			case strings.EqualFold(raw, "false"):
				v.b, v.okay = false, true
			}
		case famIP:
			v.pfx, v.okay = parsePrefix(raw)
		}
		cc.vals[i] = v
	}
	return cc
}

func parsePrefix(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if strings.IndexByte(s, '/') >= 0 {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// eval reports whether the condition holds for the request context.
func (c *cond) eval(ctx *Context, rec *recorder) bool {
	v := ctx.get(&c.key, rec)
	n := v.count()
	if c.op.family == famNull {
		absent := n == 0
		for i := range c.vals {
			if c.vals[i].okay && c.vals[i].b == absent {
				return true
			}
		}
		return false
	}
	present := v.kind != vkAbsent
	switch c.op.set {
	case setAny:
		if n == 0 {
			// No value to match: true only for an absent key under IfExists.
			return !present && c.op.ifExists
		}
		for i := 0; i < n; i++ {
			m, un := c.elemMatches(&v, i, ctx, rec)
			if un {
				return false
			}
			if m != c.op.negated {
				return true
			}
		}
		return false
	case setAll:
		if n == 0 {
			return true
		}
		for i := 0; i < n; i++ {
			m, un := c.elemMatches(&v, i, ctx, rec)
			if un {
				return false
			}
			if m == c.op.negated {
				return false
			}
		}
		return true
	}
	if n == 0 {
		if present {
			// An empty set: no value matches.
			return c.op.negated
		}
		return c.op.ifExists || c.op.negated
	}
	any := false
	for i := 0; i < n && !any; i++ {
		m, un := c.elemMatches(&v, i, ctx, rec)
		if un {
			return false
		}
		any = m
	}
	return any != c.op.negated
}

// elemMatches reports whether element i of the context value matches any
// policy value under the operator's positive form. unresolved reports a
// policy variable that could not be resolved, which makes the condition
// false whatever the operator.
func (c *cond) elemMatches(v *ctxVal, i int, ctx *Context, rec *recorder) (matched, unresolved bool) {
	switch c.op.family {
	case famString:
		s := v.str(i)
		for k := range c.vals {
			pv := &c.vals[k]
			if lit, ok := pv.pat.literal(); ok {
				if c.op.cmp == cmpEqualsIgnoreCase {
					if strings.EqualFold(s, lit) {
						return true, false
					}
				} else if s == lit {
					return true, false
				}
				continue
			}
			m, un := pv.pat.match(s, ctx, rec, c.op.cmp == cmpEqualsIgnoreCase)
			if un {
				return false, true
			}
			if m {
				return true, false
			}
		}
	case famArn:
		s := v.str(i)
		for k := range c.vals {
			m, un := c.vals[k].arn.match(s, ctx, rec)
			if un {
				return false, true
			}
			if m {
				return true, false
			}
		}
	case famBinary:
		s := v.str(i)
		for k := range c.vals {
			if c.vals[k].raw == s {
				return true, false
			}
		}
	case famBool:
		var b bool
		switch v.kind {
		case vkBool:
			b = v.b
		default:
			s := v.str(i)
			switch {
			case strings.EqualFold(s, "true"):
				b = true
			case strings.EqualFold(s, "false"):
				b = false
			default:
				return false, false
			}
		}
		for k := range c.vals {
			if c.vals[k].okay && c.vals[k].b == b {
				return true, false
			}
		}
	case famNumeric:
		var x float64
		switch v.kind {
		case vkInt:
			x = float64(v.n)
		default:
			f, ok := parseFloat(v.str(i))
			if !ok {
				return false, false
			}
			x = f
		}
		for k := range c.vals {
			pv := &c.vals[k]
			if pv.okay && compareOrdered(c.op.cmp, cmp3f(x, pv.num)) {
				return true, false
			}
		}
	case famDate:
		var t time.Time
		switch v.kind {
		case vkTime:
			t = v.t
		case vkInt:
			t = time.Unix(v.n, 0)
		default:
			tt, ok := parseTime(v.str(i))
			if !ok {
				return false, false
			}
			t = tt
		}
		for k := range c.vals {
			pv := &c.vals[k]
			if pv.okay && compareOrdered(c.op.cmp, t.Compare(pv.t)) {
				return true, false
			}
		}
	case famIP:
		var a netip.Addr
		switch v.kind {
		case vkIP:
			a = v.ip
		default:
			s := v.str(i)
			if p, ok := parsePrefix(s); ok && p.IsSingleIP() {
				a = p.Addr()
			} else {
				return false, false
			}
		}
		a = a.Unmap()
		for k := range c.vals {
			pv := &c.vals[k]
			if pv.okay && pv.pfx.Contains(a) {
				return true, false
			}
		}
	}
	return false, false
}

// parseFloat parses a decimal without allocating on failure.
func parseFloat(s string) (float64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E') {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

func cmp3f(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compareOrdered(k cmpKind, c int) bool {
	switch k {
	case cmpEquals, cmpEqualsIgnoreCase, cmpLike:
		return c == 0
	case cmpLess:
		return c < 0
	case cmpLessEq:
		return c <= 0
	case cmpGreater:
		return c > 0
	case cmpGreaterEq:
		return c >= 0
	}
	return false
}
