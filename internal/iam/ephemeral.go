package iam

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/iamd/iamd/internal/store"
)

// Ephemeral keeps short-lived entries that every replica must see at once
// (console sign-in throttles and session revocations, last-accessed report
// jobs) in the store, read and written there directly rather than through
// the View: a replica reads an entry with one store.Get, so a write on one
// replica is seen by the next request on any other, without waiting for
// the change follower, and no replica holds the entries in memory.
//
// Entries are spread over a fixed number of records (buckets) of one kind,
// by a hash of their ID, so the store holds at most Buckets records of the
// kind, whatever the traffic. Every write to a bucket drops its expired
// entries, and past MaxPerBucket the entries that expire soonest; a bucket
// left empty is deleted. Entries are therefore bounded in number and
// lifetime without any background sweeper. Reads ignore expired entries
// that no write has removed yet.
//
// IDs are stored only as a truncated SHA-256, so a bucket reveals no user
// name, email or address; the value is stored as JSON, unencrypted: seal
// anything secret before putting it in.
type Ephemeral[T any] struct {
	Store store.Store
	// Kind is the records' kind; it must be unique to this use.
	Kind string
	// Buckets is the number of records (1 to 65536).
	Buckets int
	// MaxPerBucket bounds the entries of a bucket (0: no bound).
	MaxPerBucket int
}

// ephemeralEntry is one entry as stored.
type ephemeralEntry[T any] struct {
	Expires time.Time `json:"x"`
	Value   T         `json:"v"`
}

// ephemeralBucket is a bucket record's document: entries by hashed ID.
type ephemeralBucket[T any] struct {
	Entries map[string]*ephemeralEntry[T] `json:"e"`
}

// locate returns the bucket key and the stored ID of id.
func (e *Ephemeral[T]) locate(id string) (bucket, hashed string) {
	sum := sha256.Sum256([]byte(e.Kind + "\x00" + id))
	n := max(min(e.Buckets, 1<<16), 1)
	b := int(binary.BigEndian.Uint32(sum[:4]) % uint32(n))
	return fmt.Sprintf("%04x", b), base64.RawURLEncoding.EncodeToString(sum[4:20])
}

func (e *Ephemeral[T]) load(ctx context.Context, bucket string) (*ephemeralBucket[T], int64, error) {
	rec, ok, err := e.Store.Get(ctx, e.Kind, "", bucket)
	if err != nil {
		return nil, 0, fmt.Errorf("read %s/%s: %w", e.Kind, bucket, err)
	}
	b := &ephemeralBucket[T]{}
	if !ok {
		return b, store.Absent, nil
	}
	if err := json.Unmarshal(rec.Data, b); err != nil {
		// A bucket that does not decode (written by another version) is
		// replaced rather than blocking every entry hashed to it.
		b = &ephemeralBucket[T]{}
	}
	return b, rec.Version, nil
}

// Get returns id's value, or ok=false if there is none or it has expired
// at now.
func (e *Ephemeral[T]) Get(ctx context.Context, id string, now time.Time) (v T, ok bool, err error) {
	bucket, hashed := e.locate(id)
	b, _, err := e.load(ctx, bucket)
	if err != nil {
		return v, false, err
	}
	if en := b.Entries[hashed]; en != nil && now.Before(en.Expires) {
		return en.Value, true, nil
	}
	return v, false, nil
}

// Update changes id's entry with fn, which is given the current value (ok
// false if there is none or it has expired) and returns the new value, when
// it expires, and whether to keep it (false deletes the entry). fn may be
// called several times, when another writer changes the bucket first; it
// must not have side effects. Update returns the value fn returned last.
func (e *Ephemeral[T]) Update(ctx context.Context, id string, now time.Time, fn func(cur T, ok bool) (next T, expires time.Time, keep bool)) (T, error) {
	bucket, hashed := e.locate(id)
	var out T
	err := Retry(ctx, func() error {
		b, version, err := e.load(ctx, bucket)
		if err != nil {
			return err
		}
		var cur T
		en := b.Entries[hashed]
		ok := en != nil && now.Before(en.Expires)
		if ok {
			cur = en.Value
		}
		next, expires, keep := fn(cur, ok)
		out = next
		if b.Entries == nil {
			b.Entries = make(map[string]*ephemeralEntry[T])
		}
		if keep && now.Before(expires) {
			b.Entries[hashed] = &ephemeralEntry[T]{Expires: expires, Value: next}
		} else {
			if en == nil {
				return nil // nothing to delete
			}
			delete(b.Entries, hashed)
		}
		e.prune(b, now)
		op := store.Op{Type: store.Put, Kind: e.Kind, Key: bucket, Expect: version}
		if len(b.Entries) == 0 {
			if version == store.Absent {
				return nil
			}
			op.Type = store.Delete
		} else if op.Data, err = json.Marshal(b); err != nil {
			return err
		}
		_, err = e.Store.Commit(ctx, []store.Op{op})
		return err
	})
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return out, fmt.Errorf("update %s/%s: too much contention: %w", e.Kind, bucket, err)
		}
		return out, fmt.Errorf("update %s/%s: %w", e.Kind, bucket, err)
	}
	return out, nil
}

// prune drops expired entries, then the soonest to expire beyond
// MaxPerBucket.
func (e *Ephemeral[T]) prune(b *ephemeralBucket[T], now time.Time) {
	for id, en := range b.Entries {
		if !now.Before(en.Expires) {
			delete(b.Entries, id)
		}
	}
	if e.MaxPerBucket <= 0 || len(b.Entries) <= e.MaxPerBucket {
		return
	}
	ids := make([]string, 0, len(b.Entries))
	for id := range b.Entries {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return b.Entries[ids[i]].Expires.Before(b.Entries[ids[j]].Expires) })
	for _, id := range ids[:len(ids)-e.MaxPerBucket] {
		delete(b.Entries, id)
	}
}
