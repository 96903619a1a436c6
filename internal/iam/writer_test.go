package iam

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/iamd/iamd/internal/store"
	"github.com/iamd/iamd/internal/store/sqlite"
)

func newWriter(t *testing.T) *Writer {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "iamd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	v := NewView()
	if _, err := v.LoadFrom(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	return &Writer{Store: st, View: v}
}

// TestRelationshipRace races adding a role to an instance profile (which
// writes the profile and touches the role) against deleting the role only
// when no profile holds it. Exactly one may win, and the loser's retry must
// see the winner's whole batch, never half of it.
func TestRelationshipRace(t *testing.T) {
	w := newWriter(t)
	ctx := context.Background()
	const acct = "123456789012"
	if err := w.Commit(ctx, Put(KindAccount, "", acct, &Account{ID: acct}, store.Absent)); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		role := &Role{Name: "r", ID: "AROA" + string(rune('A'+i%26)), Path: "/"}
		profile := &InstanceProfile{Name: "p", ID: "AIPA1", Path: "/"}
		if err := w.Commit(ctx, Put(KindRole, acct, "r", role, store.Absent), Put(KindInstanceProfile, acct, "p", profile, store.Any)); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var added, deleted bool
		wg.Add(2)
		go func() { // AddRoleToInstanceProfile
			defer wg.Done()
			err := Retry(ctx, func() error {
				var re *Entry[Role]
				var pe *Entry[InstanceProfile]
				w.View.Read(acct, func(a *AccountView) { re, _ = a.Role("r"); pe, _ = a.InstanceProfile("p") })
				if re == nil {
					return errors.New("role gone")
				}
				next := *pe.V
				next.Roles = []string{re.V.ID}
				return w.Commit(ctx, Put(KindInstanceProfile, acct, "p", &next, pe.Version), Touch(KindRole, acct, "r", re.Version))
			})
			added = err == nil
		}()
		go func() { // DeleteRole
			defer wg.Done()
			err := Retry(ctx, func() error {
				var re *Entry[Role]
				var inProfile bool
				w.View.Read(acct, func(a *AccountView) {
					re, _ = a.Role("r")
					if re != nil {
						inProfile = len(a.InstanceProfilesOf(re.V.ID)) > 0
					}
				})
				if re == nil || inProfile {
					return errors.New("conflict")
				}
				return w.Commit(ctx, Delete(KindRole, acct, "r", re.Version))
			})
			deleted = err == nil
		}()
		wg.Wait()
		if added == deleted {
			t.Fatalf("round %d: added=%v deleted=%v; exactly one must win", i, added, deleted)
		}
		// Reset for the next round.
		var muts []Mutation
		w.View.Read(acct, func(a *AccountView) {
			if re, ok := a.Role("r"); ok {
				muts = append(muts, Delete(KindRole, acct, "r", re.Version))
			}
			pe, _ := a.InstanceProfile("p")
			muts = append(muts, Delete(KindInstanceProfile, acct, "p", pe.Version))
		})
		if err := w.Commit(ctx, muts...); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCatchUpLoadsRecordWhenBatchNeverArrives(t *testing.T) {
	w := newWriter(t)
	ctx := context.Background()
	const acct = "123456789012"
	// Another process commits behind the view's back.
	if _, err := w.Store.Commit(ctx, []store.Op{{Type: store.Put, Kind: KindAccount, Key: acct, Expect: store.Absent, Data: []byte(`{"id":"123456789012"}`)}}); err != nil {
		t.Fatal(err)
	}
	err := w.Commit(ctx, Put(KindAccount, "", acct, &Account{ID: acct}, store.Absent))
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("err = %v, want conflict", err)
	}
	if _, ok := w.View.Account(acct); !ok {
		t.Fatal("view did not load the conflicting record")
	}
}

// TestStaleBatchAfterDelete applies, after a deletion, a follower's batch
// read before it: the deleted record must not come back, while a record
// written again later must.
func TestStaleBatchAfterDelete(t *testing.T) {
	w := newWriter(t)
	ctx := context.Background()
	const acct = "123456789012"
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.Commit(ctx, Put(KindAccount, "", acct, &Account{ID: acct}, store.Absent)))
	must(w.Commit(ctx, Put(KindRole, acct, Key("app"), &Role{Name: "app", ID: "AROAEXAMPLE"}, store.Absent)))
	// What a follower reads now, before the deletion.
	stale, _, err := w.Store.Changes(ctx, 0, 0)
	must(err)
	var version int64
	w.View.Read(acct, func(a *AccountView) {
		r, _ := a.Role("app")
		version = r.Version
	})
	must(w.Commit(ctx, Delete(KindRole, acct, Key("app"), version)))
	must(w.View.ApplyBatch(stale))
	w.View.Read(acct, func(a *AccountView) {
		if _, ok := a.Role("app"); ok {
			t.Fatal("a batch read before the deletion brought the role back")
		}
	})
	// Once the follower has read past the deletion, the tombstone goes;
	// a new role of the same name is applied as usual.
	w.View.PruneTombs(w.View.Rev())
	must(w.Commit(ctx, Put(KindRole, acct, Key("app"), &Role{Name: "app", ID: "AROAEXAMPLE2"}, store.Absent)))
	w.View.Read(acct, func(a *AccountView) {
		if r, ok := a.Role("app"); !ok || r.V.ID != "AROAEXAMPLE2" {
			t.Fatal("the recreated role is missing")
		}
	})
}
