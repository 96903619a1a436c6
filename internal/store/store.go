// Package store defines the durable storage that iamd keeps its IAM state in.
//
// A backend stores records: opaque JSON documents addressed by (Kind, Account,
// Key), each with a version that every write increments. Writes are batches of
// operations committed atomically, each operation guarded by an expected
// version (compare-and-swap), so that two replicas racing to create the same
// user, or to delete a group while another adds a member, cannot both succeed.
// Every commit gets a revision number from one strictly increasing sequence;
// Changes lets a replica follow the commits of others in revision order.
//
// The package knows nothing about users or policies: the meaning of records
// belongs to internal/iam. It is not for high-volume append-only data such as
// audit events.
package store

import (
	"context"
	"errors"
)

// Expectations for Op.Expect.
const (
	// Any writes whatever the record's current state.
	Any int64 = -1
	// Absent requires that the record does not exist.
	Absent int64 = 0
	// Present requires that the record exists, at any version. A Touch
	// expecting Present makes a batch conflict with a concurrent deletion
	// of the record (which expects the version it read) without
	// conflicting with other batches touching it the same way: writers
	// that only rely on a record's existence do not conflict with each
	// other.
	Present int64 = -2
)

// Satisfied reports whether a record at version live (0 when absent)
// meets the expectation expect.
func Satisfied(expect, live int64) bool {
	switch expect {
	case Any:
		return true
	case Present:
		return live > 0
	}
	return expect == live
}

// Errors returned by backends. Callers test them with errors.Is.
var (
	// ErrConflict means an operation's expected version did not match:
	// somebody else changed the record first. The whole batch was rejected.
	ErrConflict = errors.New("store: version conflict")
	// ErrClosed means the store was used after Close.
	ErrClosed = errors.New("store: closed")
)

// Record is one stored document.
type Record struct {
	Kind    string // entity kind, such as "user" or "group"
	Account string // 12-digit account ID, or "" for records global to the server
	Key     string // unique within (Kind, Account)
	Version int64  // 1 after the first write, incremented by every write
	Rev     int64  // revision of the commit that last wrote (or deleted) it
	Data    []byte // the document; nil when Deleted
	Deleted bool   // set only in the results of Changes
}

// OpType says what an Op does.
type OpType uint8

const (
	// Put creates or replaces the record's data.
	Put OpType = iota + 1
	// Delete removes the record. Deleting an absent record with Expect Any is
	// not an error.
	Delete
	// Check verifies Expect and writes nothing.
	Check
	// Touch verifies Expect and increments the version without changing the
	// data, so that concurrent batches that Check or Touch the same record
	// conflict with this one.
	Touch
)

// Op is one operation of a batch.
type Op struct {
	Type    OpType
	Kind    string
	Account string
	Key     string
	// Expect is Any, Absent, Present, or the version the record must have.
	Expect int64
	// Data is the new document for Put.
	Data []byte
}

// Result describes a committed batch.
type Result struct {
	// Rev is the revision assigned to the batch.
	Rev int64
	// Versions holds, for each op in order, the record's version after the
	// commit (0 for a deleted or absent record).
	Versions []int64
}

// ConflictError is returned (wrapping ErrConflict) when an op's expectation
// failed. Index is the op's position in the batch.
type ConflictError struct {
	Index  int
	Op     Op
	Actual int64 // the version found; 0 if absent
}

func (e *ConflictError) Error() string {
	return "store: version conflict on " + e.Op.Kind + "/" + e.Op.Account + "/" + e.Op.Key
}

func (e *ConflictError) Unwrap() error { return ErrConflict }

// Store is implemented by every backend (internal/store/sqlite,
// internal/store/postgres) and verified by internal/store/storetest.
type Store interface {
	// Commit applies ops atomically and durably: when it returns nil, the
	// batch survives a crash. If any expectation fails nothing is written and
	// the error wraps ErrConflict (as a *ConflictError). An empty batch is an
	// error. Backends may group concurrent commits into one transaction, but
	// each batch keeps its own all-or-nothing outcome and its own revision.
	Commit(ctx context.Context, ops []Op) (Result, error)

	// Get returns the current record, or ok=false if it does not exist.
	Get(ctx context.Context, kind, account, key string) (rec Record, ok bool, err error)

	// Load calls fn for every current record, in no particular order, from a
	// consistent snapshot, and returns the revision of that snapshot. It is
	// how a replica builds its in-memory view at start-up.
	Load(ctx context.Context, fn func(Record) error) (rev int64, err error)

	// Changes returns, in revision order, the records written or deleted by
	// commits with revision greater than after, at most limit of them
	// (limit <= 0 means no limit). Deleted records come back with Deleted set.
	// A commit's records are never split across two calls. The returned rev is
	// the highest revision covered, which is also the next call's after.
	Changes(ctx context.Context, after int64, limit int) (recs []Record, rev int64, err error)

	// Close releases the backend's resources.
	Close() error
}

// Notifier is implemented by backends that can tell a replica promptly that
// other replicas have committed (PostgreSQL's LISTEN/NOTIFY). Replicas of a
// backend without it poll Changes.
type Notifier interface {
	// Notify returns a channel that receives a value soon after any commit,
	// by any replica, until ctx is done.
	Notify(ctx context.Context) (<-chan struct{}, error)
}
