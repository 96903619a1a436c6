package store

import (
	"errors"
	"fmt"
)

// ErrInvalidBatch means a batch passed to Commit was malformed: empty, or an
// op with an unknown type, an empty Kind or Key, or an Expect below Present. It is
// a bug in the caller, not a conflict; retrying will not help.
var ErrInvalidBatch = errors.New("store: invalid batch")

// ErrCompacted is returned by Changes when tombstones the caller has not yet
// seen were pruned: the caller cannot catch up by following Changes and must
// Load again. Backends return it only after an explicit prune.
var ErrCompacted = errors.New("store: changes compacted; load again")

// ValidateBatch reports, wrapping ErrInvalidBatch, why ops cannot be
// committed, or nil if they can. Backends call it before touching storage.
func ValidateBatch(ops []Op) error {
	if len(ops) == 0 {
		return fmt.Errorf("%w: empty batch", ErrInvalidBatch)
	}
	for i, op := range ops {
		switch {
		case op.Type < Put || op.Type > Touch:
			return fmt.Errorf("%w: op %d: unknown type %d", ErrInvalidBatch, i, op.Type)
		case op.Kind == "":
			return fmt.Errorf("%w: op %d: empty kind", ErrInvalidBatch, i)
		case op.Key == "":
			return fmt.Errorf("%w: op %d: empty key", ErrInvalidBatch, i)
		case op.Expect < Present:
			return fmt.Errorf("%w: op %d: expect %d below Present", ErrInvalidBatch, i, op.Expect)
		}
	}
	return nil
}
