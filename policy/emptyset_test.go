package policy

import "testing"

// TestEmptySet checks a context key present with an empty set of values
// against one that is absent and one holding a single empty string:
// ForAllValues holds for the empty set, ForAnyValue does not, and IfExists
// sees the key as present.
func TestEmptySet(t *testing.T) {
	t.Parallel()
	empty := func(c *Context) { c.Set("aws:TagKeys") }
	emptyString := func(c *Context) { c.Set("aws:TagKeys", "") }
	cases := []struct {
		name string
		cond string
		ctx  func(*Context)
		want bool
	}{
		{"ForAllValues empty set", `{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}`, empty, true},
		{"ForAllValues absent", `{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}`, nil, true},
		{"ForAllValues empty string", `{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}`, emptyString, false},
		{"ForAllValues StringNotEquals empty set", `{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}`, empty, true},
		{"ForAnyValue empty set", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["a","b"]}}`, empty, false},
		{"ForAnyValue absent", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["a","b"]}}`, nil, false},
		{"ForAnyValue empty string", `{"ForAnyValue:StringEquals":{"aws:TagKeys":[""]}}`, emptyString, true},
		{"ForAnyValue StringNotEquals empty set", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["secret"]}}`, empty, false},
		{"ForAnyValue IfExists empty set", `{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":["a"]}}`, empty, false},
		{"ForAnyValue IfExists absent", `{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":["a"]}}`, nil, true},
		{"StringEqualsIfExists empty set", `{"StringEqualsIfExists":{"aws:TagKeys":"a"}}`, empty, false},
		{"StringNotEquals empty set", `{"StringNotEquals":{"aws:TagKeys":"a"}}`, empty, true},
		{"Null empty set", `{"Null":{"aws:TagKeys":"true"}}`, empty, true},
	}
	var ec []evalCase
	for _, c := range cases {
		want := ImplicitDeny
		if c.want {
			want = Allowed
		}
		ec = append(ec, evalCase{name: c.name, identity: condDoc(c.cond), action: "s3:GetObject", resource: "arn:aws:s3:::b/k", ctx: c.ctx, want: want})
	}
	runEvalCases(t, ec)

	// Explain lists the empty key among those read, not those missing.
	tc := evalCase{identity: condDoc(`{"ForAnyValue:StringEquals":{"aws:TagKeys":"a"}}`), action: "s3:GetObject", resource: "arn:aws:s3:::b/k", ctx: empty}
	c, r := tc.build(t)
	id := c.Explain(r).LayerResult(LayerIdentity)
	if len(id.ContextKeysRead) != 1 || len(id.MissingContextKeys) != 0 {
		t.Errorf("keys read %v, missing %v; want aws:TagKeys read", id.ContextKeysRead, id.MissingContextKeys)
	}
}
