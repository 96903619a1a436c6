package iamapi

import (
	"context"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/store"
)

// renaming describes an UpdateUser or UpdateGroup: the entity kind, how to
// find one by name, its errors, and how to make the renamed copy.
type renaming[T any] struct {
	kind     string
	get      func(a *iam.AccountView, name string) (*iam.Entry[T], bool)
	notFound func(name string) error
	taken    func(name string) error
	// renamed returns a copy of v with the new name and path.
	renamed func(v *T) *T
	nameOf  func(v *T) string
}

// commit re-reads the entity called name, checks that newName is free
// (names are case-insensitive), and writes it under its new name, retrying
// lost races.
func (r renaming[T]) commit(ctx context.Context, s *Service, account, name, newName string) error {
	return retry(ctx, func() error {
		var (
			verr error
			cur  *iam.Entry[T]
		)
		if err := s.read(account, func(a *iam.AccountView) {
			var ok bool
			if cur, ok = r.get(a, name); !ok {
				verr = r.notFound(name)
				return
			}
			if iam.Key(newName) != iam.Key(r.nameOf(cur.V)) {
				if _, taken := r.get(a, newName); taken {
					verr = r.taken(newName)
				}
			}
		}); err != nil {
			return err
		}
		if verr != nil {
			return verr
		}
		next := r.renamed(cur.V)
		oldKey := iam.Key(r.nameOf(cur.V))
		if iam.Key(newName) == oldKey {
			return s.commit(ctx, iam.Put(r.kind, account, oldKey, next, cur.Version))
		}
		// Delete before Put: the view indexes entities by ID, and the new
		// record must be the one left indexed.
		return s.commit(ctx,
			iam.Delete(r.kind, account, oldKey, cur.Version),
			iam.Put(r.kind, account, iam.Key(newName), next, store.Absent))
	})
}
