package policy

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestComposeSharesDocuments checks that principals composed from one
// compiled document decide as if each had compiled it, and that each
// explanation names the document by the label its principal gives it.
func TestComposeSharesDocuments(t *testing.T) {
	t.Parallel()
	shared, err := CompileDocument(mustParse(t, doc(allowStmt("s3:GetObject", "arn:aws:s3:::b/*"), `{"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/secret"}`), Identity))
	if err != nil {
		t.Fatal(err)
	}
	a, err := Compose(CompiledSet{Identity: []NamedCompiled{{Name: "user/a inline policy P", Doc: shared}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compose(CompiledSet{Identity: []NamedCompiled{{Name: "arn:aws:iam::111122223333:policy/P", Doc: shared}}})
	if err != nil {
		t.Fatal(err)
	}
	if a.identity.refs[0].doc != b.identity.refs[0].doc {
		t.Fatal("the principals do not share the compiled document")
	}
	for _, tc := range []struct {
		name     string
		resource string
		want     Decision
	}{
		{"allowed", "arn:aws:s3:::b/k", Allowed},
		{"denied", "arn:aws:s3:::b/secret", ExplicitDeny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range []struct {
				c     *Compiled
				label string
			}{{a, "user/a inline policy P"}, {b, "arn:aws:iam::111122223333:policy/P"}} {
				r := &Request{Action: "s3:GetObject", Resource: tc.resource, Principal: bob}
				if got := p.c.Decide(r); got != tc.want {
					t.Fatalf("%s: Decide = %v, want %v", p.label, got, tc.want)
				}
				if d := p.c.Explain(r).Decider(); d == nil || d.Policy != p.label {
					t.Errorf("decider %+v, want a statement of %q", d, p.label)
				}
			}
		})
	}
}

// TestComposeMatchesCompile checks, on random documents and requests,
// that composing from documents compiled once gives the same decisions and
// explanations as Compile, one document used in several layers included
// (its Principal counts only in the resource-based layers).
func TestComposeMatchesCompile(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(12, 1))
	for i := 0; i < 300; i++ {
		texts := []string{randDoc(r, 1+r.IntN(6), 4), randDoc(r, 1+r.IntN(6), 4), randDoc(r, 1+r.IntN(4), 8)}
		docs := make([]*Document, len(texts))
		compiled := make([]*CompiledDocument, len(texts))
		for j, s := range texts {
			docs[j] = mustParse(t, s, Identity)
			d, err := CompileDocument(docs[j])
			if err != nil {
				t.Fatal(err)
			}
			compiled[j] = d
		}
		rcp := mustParse(t, doc(`{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}`, `{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"s3:*","Resource":"*"}`), Resource)
		rcpC, err := CompileDocument(rcp)
		if err != nil {
			t.Fatal(err)
		}
		set := PolicySet{
			Identity: []NamedDocument{{Name: "a", Doc: docs[0]}, {Name: "b", Doc: docs[1]}},
			Boundary: &NamedDocument{Name: "boundary", Doc: docs[2]},
			SCPs:     [][]NamedDocument{{{Name: "scp", Doc: docs[1]}}},
			RCPs:     [][]NamedDocument{{{Name: "rcp", Doc: rcp}}},
		}
		cset := CompiledSet{
			Identity: []NamedCompiled{{Name: "a", Doc: compiled[0]}, {Name: "b", Doc: compiled[1]}},
			Boundary: &NamedCompiled{Name: "boundary", Doc: compiled[2]},
			SCPs:     [][]NamedCompiled{{{Name: "scp", Doc: compiled[1]}}},
			RCPs:     [][]NamedCompiled{{{Name: "rcp", Doc: rcpC}}},
		}
		want, err := Compile(set)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Compose(cset)
		if err != nil {
			t.Fatal(err)
		}
		for _, pr := range propRequests {
			req := &Request{Action: pr.action, Resource: pr.resource, Principal: bob, Context: randContext(r)}
			if d1, d2 := want.Decide(req), got.Decide(req); d1 != d2 {
				t.Fatalf("docs %v, %s on %s: Compose decides %v, Compile %v", texts, pr.action, pr.resource, d2, d1)
			}
			if e1, e2 := want.Explain(req), got.Explain(req); !reflect.DeepEqual(e1, e2) {
				t.Fatalf("docs %v, %s on %s: explanations differ:\n%+v\n%+v", texts, pr.action, pr.resource, e2, e1)
			}
		}
	}
}

func TestComposeRejectsMissingDocuments(t *testing.T) {
	t.Parallel()
	if _, err := Compose(CompiledSet{Identity: []NamedCompiled{{Name: "x"}}}); err == nil {
		t.Error("Compose accepted an identity policy without a compiled document")
	}
	if _, err := Compose(CompiledSet{Boundary: &NamedCompiled{Name: "b"}}); err == nil {
		t.Error("Compose accepted a boundary without a compiled document")
	}
	if _, err := CompileDocument(nil); err == nil {
		t.Error("CompileDocument accepted a nil document")
	}
}
