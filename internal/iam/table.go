package iam

import (
	"slices"
	"strings"
)

// Entry is one entity in the View with the stored version it came from.
// The value is never modified after it is published: writers build a new
// value and commit it.
type Entry[T any] struct {
	V       *T
	Version int64
	Rev     int64
}

// table is a set of entities of one kind in one account, addressed by key,
// with the keys kept sorted for paginated listing.
type table[T any] struct {
	byKey  map[string]*Entry[T]
	sorted []string
}

func newTable[T any]() table[T] {
	return table[T]{byKey: make(map[string]*Entry[T])}
}

func (t *table[T]) get(key string) (*Entry[T], bool) {
	e, ok := t.byKey[key]
	return e, ok
}

func (t *table[T]) put(key string, e *Entry[T]) {
	if _, ok := t.byKey[key]; !ok {
		i, _ := slices.BinarySearch(t.sorted, key)
		t.sorted = slices.Insert(t.sorted, i, key)
	}
	t.byKey[key] = e
}

func (t *table[T]) del(key string) {
	if _, ok := t.byKey[key]; !ok {
		return
	}
	delete(t.byKey, key)
	if i, found := slices.BinarySearch(t.sorted, key); found {
		t.sorted = slices.Delete(t.sorted, i, i+1)
	}
}

func (t *table[T]) len() int { return len(t.byKey) }

// Page lists entities in key order starting at the key marker (inclusive;
// "" starts at the beginning), keeping those that match, up to max of them.
// next is the key to resume from, or "" when the listing is complete.
func (t *table[T]) page(marker string, max int, match func(*T) bool) (out []*Entry[T], next string) {
	i := 0
	if marker != "" {
		i, _ = slices.BinarySearch(t.sorted, marker)
	}
	for ; i < len(t.sorted); i++ {
		e := t.byKey[t.sorted[i]]
		if match != nil && !match(e.V) {
			continue
		}
		if len(out) == max {
			return out, t.sorted[i]
		}
		out = append(out, e)
	}
	return out, ""
}

// all returns every entity in key order.
func (t *table[T]) all() []*Entry[T] {
	out := make([]*Entry[T], 0, len(t.sorted))
	for _, k := range t.sorted {
		out = append(out, t.byKey[k])
	}
	return out
}

// PathPrefixMatch reports whether an entity path lies under prefix, as the
// PathPrefix parameter of IAM's List operations means it.
func PathPrefixMatch(path, prefix string) bool {
	return prefix == "" || strings.HasPrefix(path, prefix)
}
