package awsquery_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/awsquery/internal/testapi/iamapi"
	"github.com/iamd/iamd/internal/awsquery/internal/testapi/stsapi"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from golden file\n got: %s\nwant: %s", name, got, want)
	}
}

func newIAM(t testing.TB, impl iamapi.Server) *awsquery.Dispatcher {
	t.Helper()
	d, err := iamapi.NewDispatcher(impl)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func newSTS(t testing.TB, impl stsapi.Server) *awsquery.Dispatcher {
	t.Helper()
	d, err := stsapi.NewDispatcher(impl)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func ptr[T any](v T) *T { return &v }
