package iam

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/iamd/iamd/internal/store"
	"github.com/iamd/iamd/internal/store/sqlite"
)

// reversedStore hands Load's records out in reverse key order, as a
// PostgreSQL heap may after updates.
type reversedStore struct{ store.Store }

func (s reversedStore) Load(ctx context.Context, fn func(store.Record) error) (int64, error) {
	var recs []store.Record
	rev, err := s.Store.Load(ctx, func(r store.Record) error { recs = append(recs, r); return nil })
	if err != nil {
		return 0, err
	}
	slices.SortFunc(recs, func(a, b store.Record) int {
		if a.Kind != b.Kind {
			if a.Kind == KindAccount {
				return -1
			}
			if b.Kind == KindAccount {
				return 1
			}
		}
		return -cmpStr(a.Key, b.Key)
	})
	for _, r := range recs {
		if err := fn(r); err != nil {
			return 0, err
		}
	}
	return rev, nil
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestLoadOutOfOrder loads users arriving in reverse order and expects
// listings in key order, and later writes to keep it.
func TestLoadOutOfOrder(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "iamd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w := &Writer{Store: st, View: NewView()}
	const acct = "123456789012"
	muts := []Mutation{Put(KindAccount, "", acct, &Account{ID: acct}, store.Absent)}
	for i := range 500 {
		name := fmt.Sprintf("u%04d", i)
		muts = append(muts, Put(KindUser, acct, Key(name), &User{Name: name, ID: "AIDA" + name, Path: "/"}, store.Absent))
	}
	if err := w.Commit(ctx, muts...); err != nil {
		t.Fatal(err)
	}
	v := NewView()
	if _, err := v.LoadFrom(ctx, reversedStore{st}); err != nil {
		t.Fatal(err)
	}
	w2 := &Writer{Store: st, View: v}
	if err := w2.Commit(ctx, Put(KindUser, acct, Key("u0250a"), &User{Name: "u0250a", ID: "AIDAx", Path: "/"}, store.Absent)); err != nil {
		t.Fatal(err)
	}
	var names []string
	v.Read(acct, func(a *AccountView) {
		for marker := ""; ; {
			page, next := a.Users(marker, 37, nil)
			for _, e := range page {
				names = append(names, e.V.Name)
			}
			if next == "" {
				break
			}
			marker = next
		}
	})
	if len(names) != 501 || !slices.IsSorted(names) {
		t.Fatalf("listed %d users, sorted %v", len(names), slices.IsSorted(names))
	}
}
