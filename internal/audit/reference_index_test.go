package audit

// The index building of before sealing was made cheaper (two maps over
// all keys), kept to check that the index it builds has the same bytes,
// in the cases a pinned input does not reach: event IDs twice, and hash
// collisions between an event ID and other keys.

import (
	"cmp"
	"encoding/binary"
	"slices"
	"testing"
)

// referenceBuildIndex is buildIndex as it was.
func referenceBuildIndex(es []sealedEntry, frames []block) builtIndex {
	slices.SortStableFunc(es, func(a, b sealedEntry) int {
		if c := cmp.Compare(a.time, b.time); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	body, count := referenceEncodeIndex(es, frames)
	filtered := 0
	var perCount [smallCount + 1]int // postings of the filtered keys with each small count
	for _, n := range count {
		if n&inFilter != 0 {
			filtered++
			if c := n &^ inFilter; c <= smallCount {
				perCount[c] += int(c)
			}
		}
	}
	f := newKeyFilter(filtered)
	for k, n := range count {
		if n&inFilter != 0 {
			f.add(k)
		}
	}
	// The largest count whose keys' entries fit, counting each posting
	// as an entry of its own (an upper bound).
	upTo, size := 0, 16+len(frames)*16
	for c := 1; c <= smallCount; c++ {
		size += perCount[c] * (entrySize + 4 + keySize)
		if size > maxSmallIndex {
			break
		}
		upTo = c
	}
	var small []byte
	if upTo > 0 {
		var ses []sealedEntry
		for i := range es {
			var ks []uint64
			for _, k := range es[i].keys {
				if n := count[k]; n&inFilter != 0 && n&^inFilter <= uint32(upTo) && !slices.Contains(ks, k) {
					ks = append(ks, k)
				}
			}
			if len(ks) > 0 {
				e := es[i]
				e.id, e.keys = 0, ks
				ses = append(ses, e)
			}
		}
		small, _ = referenceEncodeIndex(ses, frames)
	}
	return builtIndex{body: body, filter: f, small: small}
}

// encodeIndex returns the index body over es (sorted by time and
// sequence number) and each key's number of entries, inFilter set for
// the keys but event IDs'.
func referenceEncodeIndex(es []sealedEntry, frames []block) ([]byte, map[uint64]uint32) {
	// Posting lists without sorting every (key, entry) pair: the entries
	// are counted per key, the distinct keys sorted, and the lists filled
	// in entry order, which is their order. (Sealing runs beside the
	// requests; sorting the pairs cost it a third more.)
	count := make(map[uint64]uint32)
	for i := range es {
		if id := es[i].id; id != 0 {
			count[id]++
		}
		ks := es[i].keys
		for j, k := range ks {
			if !slices.Contains(ks[:j], k) && k != es[i].id { // an event naming a resource twice
				count[k] = (count[k] + 1) | inFilter
			}
		}
	}
	keys := make([]uint64, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	next := make(map[uint64]uint32, len(count)) // where a key's next entry goes
	npos := uint32(0)
	for _, k := range keys {
		next[k] = npos
		npos += count[k] &^ inFilter
	}
	pos := make([]uint32, npos)
	for i := range es {
		if id := es[i].id; id != 0 {
			pos[next[id]] = uint32(i)
			next[id]++
		}
		ks := es[i].keys
		for j, k := range ks {
			if !slices.Contains(ks[:j], k) && k != es[i].id {
				pos[next[k]] = uint32(i)
				next[k]++
			}
		}
	}
	b := make([]byte, 0, 16+len(es)*entrySize+len(keys)*keySize+len(pos)*4+len(frames)*16)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(es)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(keys)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(pos)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(frames)))
	for _, e := range es {
		b = binary.LittleEndian.AppendUint64(b, uint64(e.time))
		b = binary.LittleEndian.AppendUint64(b, e.seq)
		b = binary.LittleEndian.AppendUint32(b, e.line)
		b = binary.LittleEndian.AppendUint32(b, e.evDelta)
		b = binary.LittleEndian.AppendUint32(b, e.evLen)
	}
	start := uint32(0)
	for _, k := range keys {
		n := count[k] &^ inFilter
		b = binary.LittleEndian.AppendUint64(b, k)
		b = binary.LittleEndian.AppendUint32(b, start)
		b = binary.LittleEndian.AppendUint32(b, n)
		start += n
	}
	for _, p := range pos {
		b = binary.LittleEndian.AppendUint32(b, p)
	}
	for _, f := range frames {
		b = binary.LittleEndian.AppendUint64(b, uint64(f.raw))
		b = binary.LittleEndian.AppendUint64(b, uint64(f.z))
	}
	return b, count
}

// TestBuildIndexAsBefore: buildIndex builds the same bytes as
// referenceBuildIndex, with event IDs twice and keys that collide.
func TestBuildIndexAsBefore(t *testing.T) {
	es, _, _ := pinnedIndex(1000).entries()
	collide := func(es []sealedEntry) {
		es[10].id = es[20].id                       // an event ID twice
		es[30].id = es[31].keys[4]                  // an event ID that is another event's user key
		es[40].id = es[40].keys[1]                  // an event ID that is its own event's name key
		es[50].id = es[60].keys[len(es[60].keys)-1] // a rare key
		es[70].id = 0
		es[80].keys = append(es[80].keys[:len(es[80].keys):len(es[80].keys)], es[80].keys[2])
	}
	tests := []struct {
		name   string
		es     []sealedEntry
		frames []block
	}{
		{"pinned", es, nil},
		{"collisions", slices.Clone(es), []block{{0, 0}, {1 << 18, 1 << 16}}},
		{"one", es[:1], nil},
		{"none", nil, nil},
	}
	collide(tests[1].es)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := referenceBuildIndex(slices.Clone(tc.es), tc.frames)
			got := buildIndex(slices.Clone(tc.es), tc.frames)
			if !slices.Equal(got.body, want.body) || !slices.Equal(got.filter, want.filter) || !slices.Equal(got.small, want.small) {
				t.Fatalf("body %d/%d bytes, filter %d/%d, small %d/%d: not as before", len(got.body), len(want.body),
					len(got.filter), len(want.filter), len(got.small), len(want.small))
			}
		})
	}
}
