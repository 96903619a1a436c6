package policy

// table is an immutable open-addressing hash table from strings to
// values. Lookups take the key's foldHash, computed by the caller so that
// one request hashes its action and resource token once for every
// document, and do not allocate. Slots hold only the hash and a pointer to
// the entry, sixteen bytes, so that a probe, which mostly misses, reads
// one cache line.
type table[V any] struct {
	slots []slot[V]
	mask  uint64
}

type slot[V any] struct {
	hash uint64 // foldHash(e.key)
	e    *entry[V]
}

type entry[V any] struct {
	key string
	val V
}

func newTable[V any](m map[string]V) table[V] {
	if len(m) == 0 {
		return table[V]{}
	}
	n := 4
	for n < 2*len(m) {
		n <<= 1
	}
	t := table[V]{slots: make([]slot[V], n), mask: uint64(n - 1)}
	entries := make([]entry[V], 0, len(m))
	for k, v := range m {
		entries = append(entries, entry[V]{key: k, val: v})
		h := foldHash(k)
		i := h & t.mask
		for t.slots[i].e != nil {
			i = (i + 1) & t.mask
		}
		t.slots[i] = slot[V]{hash: h, e: &entries[len(entries)-1]}
	}
	return t
}

// lookup returns the value under key, or nil. h is foldHash(key). With
// fold, keys compare ASCII case-insensitively (the table's keys must then
// be lower-case or at least distinct under folding); otherwise exactly.
func (t *table[V]) lookup(key string, h uint64, fold bool) *V {
	if t.slots == nil {
		return nil
	}
	i := h & t.mask
	for {
		s := &t.slots[i]
		if s.e == nil {
			return nil
		}
		if s.hash == h {
			// Action keys are lower-case and requests name actions in
			// mixed case: with fold, compare case-insensitively at once.
			if fold && asciiEqualFold(s.e.key, key) || !fold && s.e.key == key {
				return &s.e.val
			}
		}
		i = (i + 1) & t.mask
	}
}

// lookupBytes is lookup of a key already lower-cased, for a table whose
// keys are lower-case: it compares bytes, without folding.
func (t *table[V]) lookupBytes(key []byte, h uint64) *V {
	if t.slots == nil {
		return nil
	}
	i := h & t.mask
	for {
		s := &t.slots[i]
		if s.e == nil {
			return nil
		}
		if s.hash == h && s.e.key == string(key) {
			return &s.e.val
		}
		i = (i + 1) & t.mask
	}
}

// foldHash hashes s ASCII-case-insensitively. It reads the length and at
// most 24 bytes (the first, middle and last eight), enough to tell action
// names and resource tokens apart; the table's probing handles the rest.
func foldHash(s string) uint64 {
	const fold = 0x2020202020202020 // sets the lower-case bit of every byte
	n := len(s)
	h := uint64(n) * 0x9e3779b97f4a7c15
	if n < 8 {
		var w uint64
		for i := 0; i < n; i++ {
			w |= uint64(s[i]) << (8 * i)
		}
		return mix(h ^ (w | fold))
	}
	h = mix(h ^ (le64(s) | fold))
	if n > 16 {
		h = mix(h ^ (le64(s[n/2-4:]) | fold))
	}
	return mix(h ^ (le64(s[n-8:]) | fold))
}

// mix is a 64-bit finaliser (from MurmurHash3's fmix64).
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// le64 reads the first eight bytes of s as a little-endian word.
func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// lower8 lower-cases the ASCII capital letters among eight bytes; other
// bytes, including those of multi-byte UTF-8 sequences, are unchanged.
func lower8(x uint64) uint64 {
	const hi = 0x8080808080808080
	h := x &^ hi
	geA := h + 0x3f3f3f3f3f3f3f3f // bit 7 set where a byte is >= 'A'
	gtZ := h + 0x2525252525252525 // bit 7 set where a byte is > 'Z'
	upper := geA &^ gtZ &^ x & hi
	return x | upper>>2
}

// asciiEqualFold reports whether a and b are equal under ASCII case
// folding, eight bytes at a time.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	n := len(a)
	if n >= 8 {
		// Whole words, the last one overlapping the one before.
		for i := 0; ; i += 8 {
			if i > n-8 {
				i = n - 8
			}
			x, y := le64(a[i:]), le64(b[i:])
			if x != y && lower8(x) != lower8(y) {
				return false
			}
			if i == n-8 {
				return true
			}
		}
	}
	for i := 0; i < n; i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
