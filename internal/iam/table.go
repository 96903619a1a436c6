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
//
// The sorted keys are held in blocks of at most maxBlock keys, so that
// adding or removing a key moves at most maxBlock keys and a block pointer
// per maxBlock keys, not every key: in an account of a million users a
// single sorted slice would move 16 MB under the view's write lock for every
// user created.
type table[T any] struct {
	byKey  map[string]*Entry[T]
	blocks [][]string // each sorted and non-empty; every key of block i is below every key of block i+1
	// While bulk is set (during a load, before anyone reads), put appends
	// keys to loading unsorted; endBulk sorts them once into blocks.
	bulk    bool
	loading []string
}

// maxBlock is the most keys a block holds; a full block splits in two.
const maxBlock = 512

func newTable[T any]() table[T] {
	return table[T]{byKey: make(map[string]*Entry[T])}
}

func (t *table[T]) get(key string) (*Entry[T], bool) {
	e, ok := t.byKey[key]
	return e, ok
}

// block returns the index of the block where key is or would go.
func (t *table[T]) block(key string) int {
	i, _ := slices.BinarySearchFunc(t.blocks, key, func(b []string, k string) int { return strings.Compare(b[len(b)-1], k) })
	return min(i, len(t.blocks)-1)
}

func (t *table[T]) put(key string, e *Entry[T]) {
	if _, ok := t.byKey[key]; !ok {
		switch {
		case t.bulk:
			t.loading = append(t.loading, key)
		case len(t.blocks) == 0:
			t.blocks = [][]string{{key}}
		default:
			bi := t.block(key)
			b := t.blocks[bi]
			i, _ := slices.BinarySearch(b, key)
			b = slices.Insert(b, i, key)
			if len(b) > maxBlock {
				half := len(b) / 2
				// The halves get their own backing arrays so that
				// inserting into one never writes into the other.
				lo, hi := slices.Clip(slices.Clone(b[:half])), slices.Clone(b[half:])
				t.blocks = slices.Insert(t.blocks, bi+1, hi)
				b = lo
			}
			t.blocks[bi] = b
		}
	}
	t.byKey[key] = e
}

func (t *table[T]) del(key string) {
	if _, ok := t.byKey[key]; !ok {
		return
	}
	delete(t.byKey, key)
	if t.bulk {
		if i := slices.Index(t.loading, key); i >= 0 {
			t.loading = slices.Delete(t.loading, i, i+1)
		}
		return
	}
	if len(t.blocks) == 0 {
		return
	}
	bi := t.block(key)
	b := t.blocks[bi]
	if i, found := slices.BinarySearch(b, key); found {
		b = slices.Delete(b, i, i+1)
		if len(b) == 0 {
			t.blocks = slices.Delete(t.blocks, bi, bi+1)
		} else {
			t.blocks[bi] = b
		}
	}
}

// setBulk starts (on) or ends a bulk load; ending it sorts the keys loaded
// into the blocks.
func (t *table[T]) setBulk(on bool) {
	if on == t.bulk {
		return
	}
	t.bulk = on
	if on {
		t.loading = t.all0()
		t.blocks = nil
		return
	}
	keys := t.loading
	t.loading = nil
	slices.Sort(keys)
	keys = slices.Compact(keys)
	t.blocks = nil
	for len(keys) > 0 {
		n := min(len(keys), maxBlock/2)
		t.blocks = append(t.blocks, slices.Clip(slices.Clone(keys[:n])))
		keys = keys[n:]
	}
}

// all0 returns every key in order.
func (t *table[T]) all0() []string {
	out := make([]string, 0, len(t.byKey))
	for _, b := range t.blocks {
		out = append(out, b...)
	}
	return out
}

func (t *table[T]) len() int { return len(t.byKey) }

// Page lists entities in key order starting at the key marker (inclusive;
// "" starts at the beginning), keeping those that match, up to max of them.
// next is the key to resume from, or "" when the listing is complete.
func (t *table[T]) page(marker string, max int, match func(*T) bool) (out []*Entry[T], next string) {
	if len(t.blocks) == 0 {
		return nil, ""
	}
	bi, i := 0, 0
	if marker != "" {
		bi = t.block(marker)
		i, _ = slices.BinarySearch(t.blocks[bi], marker)
	}
	for ; bi < len(t.blocks); bi, i = bi+1, 0 {
		b := t.blocks[bi]
		for ; i < len(b); i++ {
			e := t.byKey[b[i]]
			if match != nil && !match(e.V) {
				continue
			}
			if len(out) == max {
				return out, b[i]
			}
			out = append(out, e)
		}
	}
	return out, ""
}

// all returns every entity in key order.
func (t *table[T]) all() []*Entry[T] {
	out := make([]*Entry[T], 0, len(t.byKey))
	for _, b := range t.blocks {
		for _, k := range b {
			out = append(out, t.byKey[k])
		}
	}
	return out
}

// PathPrefixMatch reports whether an entity path lies under prefix, as the
// PathPrefix parameter of IAM's List operations means it.
func PathPrefixMatch(path, prefix string) bool {
	return prefix == "" || strings.HasPrefix(path, prefix)
}
