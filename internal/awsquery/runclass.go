package awsquery

import (
	"regexp/syntax"
	"slices"
	"unicode/utf8"
)

// runOfClass matches what most of the models' patterns say: a run of
// characters from one class, of a bounded number of characters, such as
// IAM names' [\w+=,.@-]+ or policy documents' [\u0009\u000A\u000D\u0020-\u00FF]+.
// It gives the same answer as the regular expression, without running it:
// validation is on every request's path, and a policy document is checked
// character by character.
type runOfClass struct {
	ascii    [128]bool
	ranges   []rune // sorted, disjoint [lo, hi] pairs, as syntax.Regexp.Rune
	min, max int    // max < 0: no limit
}

// compileRunOfClass returns the matcher of an anchored RE2 expression of
// the form ^(?:CLASS{min,max})$ (or +, *, ?), or nil for any other form.
func compileRunOfClass(expr string) *runOfClass {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil || re.Op != syntax.OpConcat || len(re.Sub) != 3 ||
		re.Sub[0].Op != syntax.OpBeginText || re.Sub[2].Op != syntax.OpEndText {
		return nil
	}
	rep := re.Sub[1]
	m := &runOfClass{}
	switch rep.Op {
	case syntax.OpStar:
		m.min, m.max = 0, -1
	case syntax.OpPlus:
		m.min, m.max = 1, -1
	case syntax.OpQuest:
		m.min, m.max = 0, 1
	case syntax.OpRepeat:
		m.min, m.max = rep.Min, rep.Max
	default:
		return nil
	}
	if len(rep.Sub) != 1 {
		return nil
	}
	switch class := rep.Sub[0]; class.Op {
	case syntax.OpCharClass:
		if class.Flags&syntax.FoldCase != 0 {
			return nil
		}
		m.ranges = slices.Clone(class.Rune)
	case syntax.OpAnyCharNotNL:
		m.ranges = []rune{0, '\n' - 1, '\n' + 1, utf8.MaxRune}
	case syntax.OpAnyChar:
		m.ranges = []rune{0, utf8.MaxRune}
	case syntax.OpLiteral:
		if len(class.Rune) != 1 || class.Flags&syntax.FoldCase != 0 {
			return nil
		}
		m.ranges = []rune{class.Rune[0], class.Rune[0]}
	default:
		return nil
	}
	for i := 0; i+1 < len(m.ranges); i += 2 {
		for r := m.ranges[i]; r <= m.ranges[i+1] && r < utf8.RuneSelf; r++ {
			m.ascii[r] = true
		}
	}
	return m
}

func (m *runOfClass) match(s string) bool {
	n := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if !m.ascii[c] {
				return false
			}
			i++
		} else {
			// Invalid UTF-8 reads as U+FFFD, one byte at a time, as
			// package regexp reads it.
			r, size := utf8.DecodeRuneInString(s[i:])
			if !m.has(r) {
				return false
			}
			i += size
		}
		n++
		if m.max >= 0 && n > m.max {
			return false
		}
	}
	return n >= m.min
}

func (m *runOfClass) has(r rune) bool {
	// The first pair whose upper bound is at least r (classes such as
	// \p{L} have hundreds of pairs).
	lo, hi := 0, len(m.ranges)/2
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if m.ranges[2*mid+1] < r {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo < len(m.ranges)/2 && m.ranges[2*lo] <= r
}
