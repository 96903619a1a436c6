package policy

import (
	"reflect"
	"testing"
)

func TestStatementSpans(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		want []StatementSpan
	}{
		{
			// IAM API reference, SimulatePrincipalPolicy example 2: the
			// statement of a compact document starts just after '['.
			name: "compact array",
			doc:  `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetRole","Resource":"*"}]}`,
			want: []StatementSpan{{Start: Position{1, 38}, End: Position{1, 94}}},
		},
		{
			// json.dumps spacing: '[' at column 40.
			name: "spaced array",
			doc:  `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}`,
			want: []StatementSpan{{Start: Position{1, 41}, End: Position{1, 103}}},
		},
		{
			// IAM API reference, SimulatePrincipalPolicy example 1
			// (PolicyInputList.1): 3:16 to 7:4.
			name: "single object",
			doc:  "{\n  \"Version\":\"2012-10-17\",\n  \"Statement\":{\n    \"Effect\":\"Allow\",\n    \"Action\":\"s3:PutObject\",\n    \"Resource\":\"arn:aws:s3:::my-test-bucket\"\n  }\n}",
			want: []StatementSpan{{Start: Position{3, 16}, End: Position{7, 4}}},
		},
		{
			// AWS CLI example for simulate-principal-policy: 3:19 to 9:10.
			name: "pretty array",
			doc: "{\n    \"Version\": \"2012-10-17\",\n    \"Statement\": [\n        {\n            \"Sid\": \"Grant-Access-To-CodeCommit-ListRepo\",\n" +
				"            \"Effect\": \"Allow\",\n            \"Action\": \"codecommit:ListRepositories\",\n            \"Resource\": \"*\"\n        }\n    ]\n}",
			want: []StatementSpan{{Start: Position{3, 19}, End: Position{9, 10}}},
		},
		{
			// Later statements start where the previous one ended (the comma).
			name: "two statements",
			doc:  `{"Statement":[{"Effect":"Allow","Action":"a:b","Resource":"*"},{"Effect":"Deny","Action":"a:c","Resource":"*"}],"Version":"2012-10-17"}`,
			want: []StatementSpan{{Start: Position{1, 15}, End: Position{1, 63}}, {Start: Position{1, 63}, End: Position{1, 111}}},
		},
		{
			name: "crlf and latin-1",
			doc:  "{\r\n\"Statement\": [\r\n {\"Sid\":\"x\",\"Effect\":\"Allow\",\"Action\":\"a:b\",\"Resource\":\"arn:aws:s3:::é\"}\r\n]}",
			want: []StatementSpan{{Start: Position{2, 15}, End: Position{3, 73}}},
		},
		{
			name: "last statement key wins, escapes and nesting",
			doc:  `{"Statement":{"Effect":"Deny","Action":"x:y","Resource":"*"},"Id":"a\"}{","\u0053tatement":[{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"StringEquals":{"k":["}","]"]}}}]}`,
			want: []StatementSpan{{Start: Position{1, 93}, End: Position{1, 186}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := StatementSpans([]byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("spans = %+v, want %+v", got, tc.want)
			}
			if _, err := Parse([]byte(tc.doc), Identity); err == nil {
				d, _ := Parse([]byte(tc.doc), Identity)
				if len(d.Statements) != len(got) {
					t.Errorf("%d spans for %d statements", len(got), len(d.Statements))
				}
			}
		})
	}
}

func TestStatementSpansRejects(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{``, `[]`, `{}`, `{"Version":"2012-10-17"}`, `{"Statement":"x"}`, `{"Statement":[1]}`, `{"Statement":[{"a":1}`} {
		if _, err := StatementSpans([]byte(doc)); err == nil {
			t.Errorf("StatementSpans(%q) succeeded", doc)
		}
	}
}

func TestContextKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		docs []string
		want []string
	}{
		{
			// AWS CLI example for get-context-keys-for-custom-policy.
			name: "variable then condition",
			docs: []string{`{"Version":"2012-10-17", "Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"arn:aws:dynamodb:us-west-2:123456789012:table/${aws:username}","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2015-08-16T12:00:00Z"}}}}`},
			want: []string{"aws:username", "aws:CurrentTime"},
		},
		{
			name: "no variables in 2008 documents",
			docs: []string{`{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::${aws:username}","Condition":{"Bool":{"aws:SecureTransport":"true"}}}}`},
			want: []string{"aws:SecureTransport"},
		},
		{
			name: "dedupe across documents, case-insensitive, defaults and escapes",
			docs: []string{
				`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::${aws:PrincipalTag/team, 'none'}/${*}"},{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"StringNotEquals":{"s3:prefix":"${aws:userid}/"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`,
				`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"AWS:SOURCEIP":"x","aws:PrincipalTag/team":"y"}}}}`,
			},
			want: []string{"aws:PrincipalTag/team", "aws:SourceIp", "s3:prefix", "aws:userid"},
		},
		{
			name: "none",
			docs: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`},
			want: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var docs []*Document
			for _, raw := range tc.docs {
				d, err := Parse([]byte(raw), Identity)
				if err != nil {
					t.Fatal(err)
				}
				docs = append(docs, d)
			}
			if got := ContextKeysOf(docs...); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ContextKeysOf = %q, want %q", got, tc.want)
			}
		})
	}
}
