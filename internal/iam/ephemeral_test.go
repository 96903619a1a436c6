package iam

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/store"
)

func TestEphemeral(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	inc := func(cur int, ok bool) (int, time.Time, bool) { return cur + 1, now.Add(time.Minute), true }

	t.Run("counts, expires and deletes", func(t *testing.T) {
		w := newWriter(t)
		e := &Ephemeral[int]{Store: w.Store, Kind: "test", Buckets: 4}
		for range 3 {
			if _, err := e.Update(ctx, "a", now, inc); err != nil {
				t.Fatal(err)
			}
		}
		if v, ok, err := e.Get(ctx, "a", now); err != nil || !ok || v != 3 {
			t.Fatalf("Get = %d, %v, %v; want 3", v, ok, err)
		}
		if _, ok, _ := e.Get(ctx, "a", now.Add(time.Minute)); ok {
			t.Errorf("entry still there at its expiry")
		}
		if v, _ := e.Update(ctx, "a", now.Add(2*time.Minute), inc); v != 1 {
			t.Errorf("update after expiry = %d, want 1 (a fresh count)", v)
		}
		_, err := e.Update(ctx, "a", now.Add(2*time.Minute), func(int, bool) (int, time.Time, bool) { return 0, time.Time{}, false })
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		if _, err := w.Store.Load(ctx, func(r store.Record) error {
			if r.Kind == "test" {
				n++
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d records left after the last entry was deleted", n)
		}
	})

	t.Run("bounded", func(t *testing.T) {
		w := newWriter(t)
		e := &Ephemeral[int]{Store: w.Store, Kind: "test", Buckets: 2, MaxPerBucket: 3}
		for i := range 50 {
			at := now.Add(time.Duration(i) * time.Second)
			if _, err := e.Update(ctx, fmt.Sprint(i), at, func(int, bool) (int, time.Time, bool) { return i, at.Add(time.Hour), true }); err != nil {
				t.Fatal(err)
			}
		}
		records, entries := 0, 0
		if _, err := w.Store.Load(ctx, func(r store.Record) error {
			if r.Kind == "test" {
				records++
				var b ephemeralBucket[int]
				if err := json.Unmarshal(r.Data, &b); err != nil {
					return err
				}
				entries += len(b.Entries)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if records > 2 || entries > 6 {
			t.Errorf("%d records with %d entries, want at most 2 with 6", records, entries)
		}
		if v, ok, _ := e.Get(ctx, "49", now.Add(time.Minute)); !ok || v != 49 {
			t.Errorf("the newest entry was dropped")
		}
	})

	t.Run("concurrent updates all count", func(t *testing.T) {
		w := newWriter(t)
		e := &Ephemeral[int]{Store: w.Store, Kind: "test", Buckets: 1}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 5 {
					if _, err := e.Update(ctx, "k", now, inc); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		if v, _, _ := e.Get(ctx, "k", now); v != 40 {
			t.Errorf("count = %d, want 40", v)
		}
	})
}

func TestViewAwait(t *testing.T) {
	w := newWriter(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan bool)
	go func() {
		done <- w.View.Await(ctx, func() bool {
			found := false
			w.View.Read("123456789012", func(a *AccountView) { _, found = a.User("ann") })
			return found
		})
	}()
	if err := w.Commit(ctx, Put(KindAccount, "", "123456789012", &Account{ID: "123456789012"}, store.Absent)); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, Put(KindUser, "123456789012", Key("ann"), &User{Name: "ann", ID: "AIDAANN"}, store.Absent)); err != nil {
		t.Fatal(err)
	}
	if !<-done {
		t.Fatal("Await did not see the user")
	}
	short, stop := context.WithTimeout(ctx, 10*time.Millisecond)
	defer stop()
	if w.View.Await(short, func() bool { return false }) {
		t.Fatal("Await reported a condition that never held")
	}
}
