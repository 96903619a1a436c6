package store

import "fmt"

// The helpers below are for backends: the parts of migrating a schema and
// reading the change feed that do not depend on the SQL dialect.

// Rows is what ScanChanges needs of a query's rows; database/sql's and
// pgx's both have it.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// ScanChanges reads the records of a change-feed query whose columns are
// kind, account, key, version, rev, deleted, data (in that order), as
// Changes returns them: a deleted record without data or version, a live
// one with non-nil data. The caller closes rows.
func ScanChanges(rows Rows) ([]Record, error) {
	var recs []Record
	for rows.Next() {
		var r Record
		if err := rows.Scan(&r.Kind, &r.Account, &r.Key, &r.Version, &r.Rev, &r.Deleted, &r.Data); err != nil {
			return nil, err
		}
		switch {
		case r.Deleted:
			r.Data, r.Version = nil, 0
		case r.Data == nil:
			r.Data = []byte{}
		}
		recs = append(recs, r)
	}
	return recs, rows.Err()
}

// ApplyMigrations brings a schema at version current up to
// len(migrations), where migration i brings it to version i+1: exec runs
// each statement, then the backend's recordVersion statement with the new
// version as its one argument, all in the caller's transaction. A schema
// newer than the migrations is refused: an older iamd must not write it.
func ApplyMigrations(current int, migrations [][]string, recordVersion string, exec func(q string, args ...any) error) error {
	if current > len(migrations) {
		return fmt.Errorf("migrate: schema version %d is newer than this iamd understands (%d); upgrade iamd", current, len(migrations))
	}
	for v := current; v < len(migrations); v++ {
		for _, q := range migrations[v] {
			if err := exec(q); err != nil {
				return fmt.Errorf("migrate to version %d: %w", v+1, err)
			}
		}
		if err := exec(recordVersion, v+1); err != nil {
			return fmt.Errorf("migrate to version %d: %w", v+1, err)
		}
	}
	return nil
}
