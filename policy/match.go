package policy

import (
	"strings"
	"unicode/utf8"
)

// arnParts is an ARN split into its six colon-separated fields; resource
// keeps any further colons.
type arnParts struct {
	partition, service, region, account, resource string
}

// splitARN splits s into ARN fields without allocating.
func splitARN(s string) (arnParts, bool) {
	var a arnParts
	rest, ok := strings.CutPrefix(s, "arn:")
	if !ok {
		return a, false
	}
	var f [4]string
	for i := 0; i < 4; i++ {
		j := strings.IndexByte(rest, ':')
		if j < 0 {
			return a, false
		}
		f[i] = rest[:j]
		rest = rest[j+1:]
	}
	a.partition, a.service, a.region, a.account, a.resource = f[0], f[1], f[2], f[3], rest
	return a, true
}

func (a *arnParts) field(i int) string {
	switch i {
	case 0:
		return a.partition
	case 1:
		return a.service
	case 2:
		return a.region
	case 3:
		return a.account
	}
	return a.resource
}

// tokKind is the kind of one element of a compiled pattern.
type tokKind uint8

const (
	tLit   tokKind = iota // literal text
	tStar                 // * : any run of characters
	tQuest                // ? : one character
	tVar                  // ${key} or ${key, 'default'}
)

type token struct {
	kind tokKind
	lit  string // tLit text; tVar default value
	key  keyRef // tVar key
	def  bool   // tVar has a default
}

// pattern is a compiled string that may hold wildcards and policy
// variables.
type pattern struct {
	toks    []token
	hasVars bool
	hasWild bool
	shape   shape
	text    string // shapeLiteral: the text; shapePrefix: the prefix
}

// shape classifies a pattern so that the common forms skip the general
// matcher.
type shape uint8

const (
	shapeGeneral shape = iota
	shapeLiteral       // no wildcards or variables
	shapePrefix        // literal followed by one *
	shapeAny           // a lone *
)

// compilePattern compiles s. wild makes * and ? wildcards; vars makes
// ${...} policy variables (Version 2012-10-17 only).
func compilePattern(s string, wild, vars bool) pattern {
	var p pattern
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			p.toks = append(p.toks, token{kind: tLit, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case wild && c == '*':
			flush()
			p.toks = append(p.toks, token{kind: tStar})
			p.hasWild = true
			i++
		case wild && c == '?':
			flush()
			p.toks = append(p.toks, token{kind: tQuest})
			p.hasWild = true
			i++
		case vars && c == '$' && i+1 < len(s) && s[i+1] == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				lit.WriteByte(c)
				i++
				continue
			}
			body := s[i+2 : i+2+end]
			i += 2 + end + 1
			switch strings.TrimSpace(body) {
			case "*", "?", "$":
				lit.WriteString(strings.TrimSpace(body))
				continue
			}
			name, def, hasDef := parseVarBody(body)
			flush()
			p.toks = append(p.toks, token{kind: tVar, key: newKeyRef(name), lit: def, def: hasDef})
			p.hasVars = true
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	switch {
	case p.hasVars:
	case len(p.toks) == 0:
		p.shape = shapeLiteral
	case len(p.toks) == 1 && p.toks[0].kind == tLit:
		p.shape, p.text = shapeLiteral, p.toks[0].lit
	case len(p.toks) == 1 && p.toks[0].kind == tStar:
		p.shape = shapeAny
	case len(p.toks) == 2 && p.toks[0].kind == tLit && p.toks[1].kind == tStar:
		p.shape, p.text = shapePrefix, p.toks[0].lit
	}
	return p
}

// parseVarBody splits "key, 'default'" into its parts. Spaces around the
// key and the quoted default are ignored.
func parseVarBody(body string) (name, def string, hasDef bool) {
	name, rest, found := strings.Cut(body, ",")
	name = strings.TrimSpace(name)
	if !found {
		return name, "", false
	}
	rest = strings.TrimSpace(rest)
	if len(rest) >= 2 && rest[0] == '\'' && rest[len(rest)-1] == '\'' {
		return name, rest[1 : len(rest)-1], true
	}
	return name, rest, true
}

// literal returns the pattern's text when it has neither wildcards nor
// variables.
func (p *pattern) literal() (string, bool) {
	if p.hasVars || p.hasWild {
		return "", false
	}
	if len(p.toks) == 0 {
		return "", true
	}
	if len(p.toks) == 1 {
		return p.toks[0].lit, true
	}
	return "", false
}

// resolve returns a variable token's value from the context.
func (t *token) resolve(ctx *Context, rec *recorder) (string, bool) {
	v, ok := ctx.variable(&t.key, rec)
	if ok {
		return v, true
	}
	if t.def {
		return t.lit, true
	}
	return "", false
}

// match reports whether s matches the pattern. unresolved is true when a
// variable could not be resolved (the pattern then matches nothing).
// fold compares literals case-insensitively (ASCII), for action names.
func (p *pattern) match(s string, ctx *Context, rec *recorder, fold bool) (ok, unresolved bool) {
	switch p.shape {
	case shapeAny:
		return true, false
	case shapeLiteral:
		if fold {
			return asciiEqualFold(s, p.text), false
		}
		return s == p.text, false
	case shapePrefix:
		return hasPrefixAt(s, 0, p.text, fold), false
	}
	toks := p.toks
	ti, si := 0, 0
	starTi, starSi := -1, 0
	for {
		if ti < len(toks) {
			t := &toks[ti]
			switch t.kind {
			case tStar:
				if ti == len(toks)-1 {
					return true, false // a trailing * matches the rest
				}
				starTi, starSi = ti, si
				ti++
				continue
			case tQuest:
				if si < len(s) {
					_, w := utf8.DecodeRuneInString(s[si:])
					si += w
					ti++
					continue
				}
			case tLit:
				if hasPrefixAt(s, si, t.lit, fold) {
					si += len(t.lit)
					ti++
					continue
				}
			case tVar:
				v, ok := t.resolve(ctx, rec)
				if !ok {
					return false, true
				}
				if hasPrefixAt(s, si, v, fold) {
					si += len(v)
					ti++
					continue
				}
			}
		} else if si == len(s) {
			return true, false
		}
		if starTi < 0 || starSi >= len(s) {
			return false, false
		}
		_, w := utf8.DecodeRuneInString(s[starSi:])
		starSi += w
		si = starSi
		ti = starTi + 1
	}
}

func hasPrefixAt(s string, at int, lit string, fold bool) bool {
	if len(s)-at < len(lit) {
		return false
	}
	if !fold {
		return s[at:at+len(lit)] == lit
	}
	return asciiEqualFold(s[at:at+len(lit)], lit)
}

// globMatchString matches s against a plain wildcard pattern (no
// variables). It is for validation, not the hot path.
func globMatchString(s, pat string) bool {
	p := compilePattern(pat, true, false)
	ok, _ := p.match(s, nil, nil, false)
	return ok
}

// arnPattern is a compiled Resource/NotResource entry or ARN condition
// value: "*", an ARN matched field by field, or any other text matched as
// a whole.
type arnPattern struct {
	any   bool
	isARN bool
	// prefix is the pattern's text before its first wildcard or variable:
	// a full-ARN resource can only match if it starts with it. Checking it
	// first rejects most non-matching statements in a few nanoseconds.
	prefix string
	// flat is set when the first five fields are literal, so the prefix
	// covers them: an ARN starting with prefix then matches when its text
	// after the prefix matches tail, without splitting it into fields.
	flat   bool
	tail   pattern
	short  int // >0: an "arn:" pattern with only this many fields after "arn:"
	fields [5]fieldPattern
	whole  pattern
}

// fieldPattern is one ARN field: a literal (the common case, compared
// directly) or a pattern.
type fieldPattern struct {
	lit *string
	pat pattern
}

func compileARNPattern(s string, vars bool) arnPattern {
	if s == "*" {
		return arnPattern{any: true}
	}
	var ap arnPattern
	if a, ok := splitARN(s); ok {
		ap.isARN = true
		ap.prefix = literalPrefix(s, vars)
		ap.flat = true
		for i := 0; i < 5; i++ {
			p := compilePattern(a.field(i), true, vars)
			if lit, ok := p.literal(); ok {
				ap.fields[i].lit = &lit
			} else {
				ap.fields[i].pat = p
				ap.flat = ap.flat && i == 4
			}
		}
		if ap.flat {
			ap.tail = compilePattern(s[len(ap.prefix):], true, vars)
		}
		return ap
	}
	if rest, ok := strings.CutPrefix(s, "arn:"); ok {
		// Fewer than six fields: the last one given is matched against the
		// rest of the ARN, colons included.
		parts := strings.SplitN(rest, ":", 5)
		ap.short = len(parts)
		for i, f := range parts {
			p := compilePattern(f, true, vars)
			if lit, ok := p.literal(); ok {
				ap.fields[i].lit = &lit
			} else {
				ap.fields[i].pat = p
			}
		}
		return ap
	}
	ap.whole = compilePattern(s, true, vars)
	return ap
}

// matchShort matches a pattern with fewer than six fields.
func (ap *arnPattern) matchShort(s string, ctx *Context, rec *recorder) (ok, unresolved bool) {
	rest, isARN := strings.CutPrefix(s, "arn:")
	if !isARN {
		return false, false
	}
	for i := 0; i < ap.short; i++ {
		v := rest
		if i < ap.short-1 {
			j := strings.IndexByte(rest, ':')
			if j < 0 {
				return false, false
			}
			v, rest = rest[:j], rest[j+1:]
		}
		f := &ap.fields[i]
		if f.lit != nil {
			if *f.lit != v {
				return false, false
			}
			continue
		}
		ok, un := f.pat.match(v, ctx, rec, false)
		if un || !ok {
			return false, un
		}
	}
	return true, false
}

// matchSplit is match against the request's pre-split resource.
func (ap *arnPattern) matchSplit(es *evalState, rec *recorder) (ok, unresolved bool) {
	if ap.any {
		return true, false
	}
	if ap.short > 0 {
		return ap.matchShort(es.resource, es.ctx, rec)
	}
	if !ap.isARN {
		return ap.whole.match(es.resource, es.ctx, rec, false)
	}
	if !es.resIsARN {
		return false, false
	}
	if rec == nil {
		// Only on the fast path: the explanation still reports the
		// variables a full match would have read.
		if !strings.HasPrefix(es.resource, ap.prefix) {
			return false, false
		}
		if ap.flat {
			return ap.tail.match(es.resource[len(ap.prefix):], es.ctx, nil, false)
		}
	}
	a := es.parts()
	return ap.matchFields(&a, es.ctx, rec)
}

// token returns the first segment (up to '/' or ':') of the resource field
// that every ARN matching the pattern has, or false if the pattern does
// not pin it down.
func (ap *arnPattern) token() (string, bool) {
	if ap.any || !ap.isARN || ap.short > 0 {
		return "", false
	}
	rest := ap.prefix
	for range 5 {
		i := strings.IndexByte(rest, ':')
		if i < 0 {
			return "", false // a wildcard before the resource field
		}
		rest = rest[i+1:]
	}
	if i := strings.IndexAny(rest, "/:"); i >= 0 {
		return rest[:i], true
	}
	if f := ap.fields[4].lit; f != nil {
		return *f, true // the whole resource field is literal
	}
	return "", false
}

// arnFields returns the first segment (up to '/' or ':') of the resource
// field of the ARN s, the offsets of the colons ending its partition,
// service, region and account fields, and whether s is an ARN (six
// colon-separated fields, as splitARN requires).
func arnFields(s string) (tok string, colons [4]int32, ok bool) {
	if len(s) < 4 || s[:4] != "arn:" {
		return "", colons, false
	}
	n := 0
	i := 4
	for ; i < len(s) && n < 4; i++ {
		if s[i] == ':' {
			colons[n] = int32(i)
			n++
		}
	}
	if n < 4 {
		return "", colons, false
	}
	start := i
	for ; i < len(s); i++ {
		if c := s[i]; c == '/' || c == ':' {
			break
		}
	}
	return s[start:i], colons, true
}

// arnToken is arnFields without the offsets.
func arnToken(s string) (string, bool) {
	tok, _, ok := arnFields(s)
	return tok, ok
}

// literalPrefix returns s up to its first wildcard (* or ?) or, when
// variables are recognised, its first "${".
func literalPrefix(s string, vars bool) string {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?':
			return s[:i]
		case '$':
			if vars && i+1 < len(s) && s[i+1] == '{' {
				return s[:i]
			}
		}
	}
	return s
}

func (ap *arnPattern) matchFields(a *arnParts, ctx *Context, rec *recorder) (ok, unresolved bool) {
	// The resource field first: it is the most selective.
	for _, i := range [5]int{4, 3, 1, 0, 2} {
		f := &ap.fields[i]
		v := a.field(i)
		if f.lit != nil {
			if *f.lit != v {
				return false, false
			}
			continue
		}
		ok, un := f.pat.match(v, ctx, rec, false)
		if un {
			return false, true
		}
		if !ok {
			return false, false
		}
	}
	return true, false
}

// match reports whether the ARN s matches. Each of the first five fields
// is matched on its own (a wildcard there does not cross a colon); the
// resource field may contain colons.
func (ap *arnPattern) match(s string, ctx *Context, rec *recorder) (ok, unresolved bool) {
	if ap.any {
		return true, false
	}
	if ap.short > 0 {
		return ap.matchShort(s, ctx, rec)
	}
	if !ap.isARN {
		return ap.whole.match(s, ctx, rec, false)
	}
	a, isARN := splitARN(s)
	if !isARN {
		return false, false
	}
	return ap.matchFields(&a, ctx, rec)
}
