package console

import (
	"encoding/json"
	"testing"
)

func TestCombine(t *testing.T) {
	tests := []struct {
		name string
		docs []namedDoc
		want int // statements
		err  bool
	}{
		{"none", nil, 0, false},
		{"object and array", []namedDoc{
			{Name: "a", Document: `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}`},
			{Name: "b", Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"},{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}`},
		}, 3, false},
		{"malformed", []namedDoc{{Name: "bad", Document: `{`}}, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := combine(tc.docs)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if tc.err {
				return
			}
			var doc struct{ Statement []json.RawMessage }
			if err := json.Unmarshal([]byte(got), &doc); err != nil {
				t.Fatal(err)
			}
			if len(doc.Statement) != tc.want {
				t.Errorf("%d statements in %s, want %d", len(doc.Statement), got, tc.want)
			}
		})
	}
}
