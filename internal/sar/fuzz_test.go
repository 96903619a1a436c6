package sar

import (
	"os"
	"strings"
	"testing"
)

// FuzzParseSource checks that any file is recognized, skipped or rejected
// without a panic, and that what is recognized indexes.
func FuzzParseSource(f *testing.F) {
	for _, name := range []string{"testdata/aws-format/iam.json", "testdata/aws-format/global-condition-keys.json",
		"testdata/aws-format/service-list.json", "testdata/policy-sentry.json"} {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte(`[{"prefix":"x","privileges":[{"privilege":"A","access_level":"Write","resource_types":[{"resource_type":"r*"}]}]}]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		kind, docs, global, err := parseSource(raw)
		if err != nil || kind == "" {
			return
		}
		b := &bundle{Format: BundleFormat, Services: docs, Global: global, HasGlobal: kind == "global"}
		c := b.catalog()
		for _, s := range c.Services() {
			for _, a := range s.Actions {
				if _, ok := c.Action(a.FullName()); !ok && !strings.ContainsAny(a.Name, "*?") {
					t.Fatalf("action %s not found", a.FullName())
				}
			}
		}
		c.MatchActions("*")
	})
}

// FuzzParseIAMData checks that any actions file of the iam-data package is
// mapped or rejected without a panic, and that what is mapped indexes.
func FuzzParseIAMData(f *testing.F) {
	for _, prefix := range []string{"iam", "s3"} {
		raw, err := os.ReadFile("testdata/iam-data/data/actions/" + prefix + ".json")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte(`{"x":{"name":"","accessLevel":"Tagging, Bogus","resourceTypes":[{"name":""},{"name":"r","required":true}]}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := parseIAMDataService("fuzz", "Fuzz", raw, nil, nil)
		if err != nil {
			return
		}
		c := (&bundle{Format: BundleFormat, Services: []awsDoc{d}}).catalog()
		for _, s := range c.Services() {
			for _, a := range s.Actions {
				if _, ok := c.Action(a.FullName()); !ok && !strings.ContainsAny(a.Name, "*?") {
					t.Fatalf("action %s not found", a.FullName())
				}
			}
		}
	})
}
