package store

import (
	"context"
	"fmt"
)

// Importer is implemented by backends that can write records in bulk with
// the versions they carry, which is how a backup is restored: a replica that
// later updates a restored record must be held to the version the record had
// when it was backed up, not to a fresh 1.
type Importer interface {
	// Import writes recs as one commit, whatever the records' current state:
	// each becomes a live record with the given Kind, Account, Key, Version
	// and Data (Rev is ignored; a record with Deleted set becomes a tombstone
	// keeping its Version). The commit gets the next revision, which is
	// returned, and reaches Changes and Notify like any other. Versions must
	// be at least 1. Backups are restored in chunks, one Import each, so a
	// chunk should be of a size one transaction handles comfortably (tens of
	// thousands of records).
	Import(ctx context.Context, recs []Record) (rev int64, err error)
}

// ValidateImport reports, wrapping ErrInvalidBatch, why recs cannot be
// imported: none at all, an empty Kind or Key, a Version below 1, or one
// record twice. Backends call it before touching storage.
func ValidateImport(recs []Record) error {
	if len(recs) == 0 {
		return fmt.Errorf("%w: empty import", ErrInvalidBatch)
	}
	type id struct{ kind, account, key string }
	seen := make(map[id]struct{}, len(recs))
	for i, r := range recs {
		switch {
		case r.Kind == "":
			return fmt.Errorf("%w: record %d: empty kind", ErrInvalidBatch, i)
		case r.Key == "":
			return fmt.Errorf("%w: record %d: empty key", ErrInvalidBatch, i)
		case r.Version < 1:
			return fmt.Errorf("%w: record %d (%s/%s/%s): version %d below 1", ErrInvalidBatch, i, r.Kind, r.Account, r.Key, r.Version)
		}
		k := id{r.Kind, r.Account, r.Key}
		if _, dup := seen[k]; dup {
			return fmt.Errorf("%w: record %d (%s/%s/%s) appears twice", ErrInvalidBatch, i, r.Kind, r.Account, r.Key)
		}
		seen[k] = struct{}{}
	}
	return nil
}
