package insight

import (
	"testing"

	"github.com/iamd/iamd/policy"
)

// FuzzAnalyze checks that any text gets findings without a panic, and that
// every location lies inside the text.
func FuzzAnalyze(f *testing.F) {
	for _, s := range []string{
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}]}`,
		`{"Statement":{"Effect":"Allow","NotAction":["s3:*"],"NotResource":"arn:aws:s3:::b","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":[]}}}}`,
		`{"Statement":[{"Sid":"","Effect":"Deny","Action":[],"Resource":["a","a*"]},{"Effect":"Deny","Action":[],"Resource":["a","a*"]}]}`,
		"{\"Statement\": [,]}", `[1,2]`, `"x"`, `{"a":"\u00e9\n"}`,
	} {
		f.Add([]byte(s))
	}
	ref := fuzzReference(f)
	f.Fuzz(func(t *testing.T, doc []byte) {
		for _, cat := range []bool{false, true} {
			c := ref
			if !cat {
				c = nil
			}
			rep := Analyze(doc, policy.Identity, c)
			total := []rune(string(doc))
			for _, fd := range rep.Findings {
				for _, l := range fd.Locations {
					if l.Span == nil {
						continue
					}
					if l.Span.Start.Offset < 0 || l.Span.End.Offset > len(total) || l.Span.Start.Offset > l.Span.End.Offset {
						t.Fatalf("%s: span %+v outside %d characters", fd.IssueCode, l.Span, len(total))
					}
				}
			}
		}
	})
}
