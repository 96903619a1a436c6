package sqlite_test

import (
	"testing"

	"github.com/iamd/iamd/internal/store/storetest"
)

func TestImporter(t *testing.T) {
	storetest.RunImporter(t, backend)
}
