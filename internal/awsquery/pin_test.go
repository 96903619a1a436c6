package awsquery

import (
	"strings"
	"testing"
)

// TestModelsPinned: the embedded models are the ones models/PINNED
// records, and a model that differs is refused with what to run.
func TestModelsPinned(t *testing.T) {
	t.Parallel()
	for service, file := range modelFiles {
		m, err := LoadModel(service)
		if err != nil {
			t.Fatalf("%s: %v", service, err)
		}
		if !strings.HasPrefix(m.Source, "botocore ") || !strings.Contains(m.Source, ", sha256 ") {
			t.Errorf("%s: Source = %q", service, m.Source)
		}
		data, err := modelFS.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		changed := append([]byte(nil), data...)
		changed[len(changed)-1] ^= 1
		if _, err := pinnedSource(file, changed); err == nil || !strings.Contains(err.Error(), "scripts/gen-models.sh") {
			t.Errorf("%s changed: %v, want a refusal naming scripts/gen-models.sh", file, err)
		}
	}
	if _, err := pinnedSource("models/other.json.gz", nil); err == nil {
		t.Error("a model PINNED does not list was accepted")
	}
}
