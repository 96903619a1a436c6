package awsquery

import (
	"sort"
	"testing"
)

// modelPatterns returns every distinct pattern of the IAM and STS models,
// compiled.
func modelPatterns(tb testing.TB) []*pattern {
	tb.Helper()
	seen := map[string]bool{}
	var srcs []string
	for _, service := range []string{ServiceIAM, ServiceSTS} {
		m, err := LoadModel(service)
		if err != nil {
			tb.Fatal(err)
		}
		for _, s := range m.Shapes {
			if s.Pattern != "" && !seen[s.Pattern] {
				seen[s.Pattern] = true
				srcs = append(srcs, s.Pattern)
			}
		}
	}
	sort.Strings(srcs)
	var ps []*pattern
	for _, src := range srcs {
		p, err := compilePattern(src)
		if err != nil {
			tb.Fatal(err)
		}
		ps = append(ps, p)
	}
	return ps
}

var runOfClassSamples = []string{
	"", "a", "alice", "a b", "a/b", "/", "/a/b/", "ä", "é", "€", "😀", "\x00", "\x7f", "\t\n\r", "a\nb",
	"\xff", "\xc3", "a\xffb", "\ufffd", "123456789012", "1234567890123",
	"arn:aws:iam::123456789012:role/x", `{"Version":"2012-10-17"}`, "AKIAIOSFODNN7EXAMPLE", "x+=,.@-_",
}

// TestRunOfClassAgreesWithRegexp checks, for every pattern of the models,
// that the matcher answers as the regular expression it replaces.
func TestRunOfClassAgreesWithRegexp(t *testing.T) {
	t.Parallel()
	runs := 0
	for _, p := range modelPatterns(t) {
		if p.run == nil {
			continue
		}
		runs++
		for _, s := range runOfClassSamples {
			for _, v := range []string{s, s + s, s + "a", "a" + s} {
				if got, want := p.run.match(v), p.re.MatchString(v); got != want {
					t.Errorf("%s: match(%q) = %v, regexp says %v", p.re, v, got, want)
				}
			}
		}
	}
	if runs < 10 {
		t.Errorf("only %d of the models' patterns are runs of a class; expected most", runs)
	}
}

func TestCompileRunOfClass(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		expr     string
		run      bool
		min, max int
	}{
		{`^(?:[\w+=,.@-]+)$`, true, 1, -1},
		{`^(?:[a-z]{1,64})$`, true, 1, 64},
		{`^(?:\d{12})$`, true, 12, 12},
		{`^(?:.*)$`, true, 0, -1},
		{`^(?:x?)$`, true, 0, 1},
		{`^(?:(/)|(/[a-z]+/))$`, false, 0, 0},
		{`^(?:[a-z]+[0-9])$`, false, 0, 0},
		{`^(?:(?i)[a-z]+)$`, false, 0, 0},
		{`[a-z]+`, false, 0, 0},
	} {
		m := compileRunOfClass(tc.expr)
		if (m != nil) != tc.run {
			t.Errorf("%s: run = %v, want %v", tc.expr, m != nil, tc.run)
			continue
		}
		if m != nil && (m.min != tc.min || m.max != tc.max) {
			t.Errorf("%s: {%d,%d}, want {%d,%d}", tc.expr, m.min, m.max, tc.min, tc.max)
		}
	}
}

func FuzzRunOfClass(f *testing.F) {
	for _, s := range runOfClassSamples {
		f.Add(s)
	}
	ps := modelPatterns(f)
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range ps {
			if p.run != nil && p.run.match(s) != p.re.MatchString(s) {
				t.Errorf("%s: match(%q) = %v, regexp says %v", p.re, s, p.run.match(s), p.re.MatchString(s))
			}
		}
	})
}

func BenchmarkPatternMatch(b *testing.B) {
	p, err := compilePattern(`[\w+=,.@-]+`)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		fn   func(string) bool
	}{{"regexp", p.re.MatchString}, {"run", p.run.match}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if !c.fn("load-000769") {
					b.Fatal("no match")
				}
			}
		})
	}
}
