package postgres_test

import (
	"testing"

	"github.com/iamd/iamd/internal/store/storetest"
)

func TestImporter(t *testing.T) {
	storetest.RunImporter(t, newBackend())
}
