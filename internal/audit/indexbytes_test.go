package audit

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/iamd/iamd/internal/uuid"
)

// pinnedMetas is a fixed segment's events, with every case sealing
// handles: two accounts, events without a user, an access key or an event
// ID, IDs that are not UUIDs, no, one or two resources (one named twice),
// times out of order, and values rare enough for the small index.
func pinnedMetas(n int) []meta {
	ms := make([]meta, 0, n)
	line := int64(0)
	for i := range n {
		m := meta{
			time:     1_700_000_000 + int64(i/3),
			account:  "111111111111",
			name:     []string{"GetUser", "ListUsers", "CreateUser", "GetRole"}[i%4],
			source:   SourceIAM,
			user:     fmt.Sprintf("user%d", i%37),
			key:      fmt.Sprintf("AKIA%016d", i%5),
			readOnly: i%4 != 2,
			res:      []Resource{{Type: "AWS::IAM::User", Name: fmt.Sprintf("target%d", i%41)}},
			seq:      uint64(i + 1),
			line:     line,
			off:      line + 150 + int64(i%7),
			n:        uint32(900 + i%13),
		}
		var id [16]byte
		for j := range id {
			id[j] = byte(i*31 + j*7)
		}
		m.id = uuid.Format(id)
		switch {
		case i%7 == 3:
			m.account = "222222222222"
		case i%11 == 5:
			m.user = ""
		case i%13 == 6:
			m.key = ""
		case i%17 == 8:
			m.res = nil
		case i%19 == 9:
			m.res = append(m.res, Resource{Type: "AWS::IAM::User", Name: "other"}) // the type twice
		case i%23 == 10:
			m.res = append(m.res, m.res[0]) // the same resource twice
		case i%29 == 11:
			m.id = ""
		case i%31 == 12:
			m.id = "not-a-uuid"
		case i%43 == 13:
			m.time -= 5 // out of order
		case i%47 == 14:
			m.user, m.source, m.name = fmt.Sprintf("rare%d", i), "sts.amazonaws.com", "AssumeRole"
		}
		ms = append(ms, m)
		line += int64(m.off-m.line) + int64(m.n) + 2
	}
	return ms
}

// pinnedIndex is the in-memory index of pinnedMetas(n).
func pinnedIndex(n int) *index {
	x := newIndex("00000000be0c4a11", 1, "", nil)
	for _, m := range pinnedMetas(n) {
		x.appendMeta(&m)
	}
	return x
}

// pinSum is a short SHA-256 of b.
func pinSum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// TestIndexBytesPinned: the index of a fixed segment has the same bytes
// (body, key filter, small index, and the whole index file, signed and
// compressed) as when it was pinned: sealing may get cheaper, but index
// files on disk must stay readable as they are. The whole file's bytes
// also depend on the zstd library, level and options (re-pinned in the
// eleventh session, without entropy coding); if those change, only that
// figure may be re-pinned.
func TestIndexBytesPinned(t *testing.T) {
	tests := []struct {
		name                     string
		frames                   []block
		body, filter, small, all string
	}{
		{"uncompressed", nil, "bbc01dd9dc1d95f8", "128176d186c83cae", "b0b6be605641f669", "5dcbea83bc864ef8"},
		{"compressed", []block{{0, 0}, {262_144, 81_000}, {524_288, 160_500}}, "c58928950983b585", "128176d186c83cae", "bab7e2e48441da39", "2fec125a20af8f11"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			es, minT, maxT := pinnedIndex(1000).entries()
			ix := buildIndex(es, tc.frames)
			cp := &checkpoint{Chain: "00000000be0c4a11", First: 1, Last: 1000, Prev: "00", Head: "ff", Size: 1 << 20,
				MinTime: minT, MaxTime: maxT, Events: len(es), DigestOff: 4096, DigestSig: "ab", DigestCount: 999, Digests: 3}
			if tc.frames != nil {
				cp.ZSize = 160_500 + 70_000
			}
			path := filepath.Join(t.TempDir(), "0000000000000001"+idxExt)
			tr := newTrail(testKey, slog.New(slog.DiscardHandler))
			defer tr.close()
			if err := writeIndexFile(path, cp, ix, testKey[0], tr.enc); err != nil {
				t.Fatal(err)
			}
			file, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{pinSum(ix.body), pinSum(ix.filter), pinSum(ix.small), pinSum(file)}
			want := []string{tc.body, tc.filter, tc.small, tc.all}
			if !slices.Equal(got, want) {
				t.Errorf("body, filter, small index, file: got %q, want %q", got, want)
			}
			if _, _, err := loadIndexFile(path, testKey, tr.dec); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestEntriesMatchMetaKeys: sealing from the in-memory index (entries)
// and rebuilding from the records (metaKeys) list each event under the
// same keys, in the same order.
func TestEntriesMatchMetaKeys(t *testing.T) {
	ms := pinnedMetas(1000)
	es, _, _ := pinnedIndex(1000).entries()
	if len(es) != len(ms) {
		t.Fatalf("%d entries of %d events", len(es), len(ms))
	}
	for i, m := range ms {
		rm := recordMeta{Time: m.time, Account: m.account, Name: m.name, Source: m.source, User: m.user, Key: m.key, ID: m.id, ReadOnly: m.readOnly}
		for _, r := range m.res {
			rm.Res = append(rm.Res, [2]string{r.Type, r.Name})
		}
		id, keys := metaKeys(&rm)
		if id != es[i].id || !slices.Equal(keys, es[i].keys) {
			t.Fatalf("event %d: entries has %x %x, metaKeys %x %x", i, es[i].id, es[i].keys, id, keys)
		}
	}
}

// TestRadixSort: radixSort orders keys as a comparison sort does, and
// keeps equal keys in their order.
func TestRadixSort(t *testing.T) {
	for _, n := range []int{0, 1, 2, 100, 5000} {
		ks := make([]numberedKey, n)
		for i := range ks {
			// Keys alike in some bytes, and some equal.
			ks[i] = numberedKey{uint64(i*7919%(n/2+1))<<40 | 0xabcd, uint32(i)}
		}
		want := slices.Clone(ks)
		slices.SortStableFunc(want, func(a, b numberedKey) int { return cmp.Compare(a.key, b.key) })
		if got := radixSort(ks, make([]numberedKey, n)); !slices.Equal(got, want) {
			t.Fatalf("%d keys: not sorted as slices.SortStableFunc sorts them", n)
		}
	}
}

// TestBuildIndexPinnedCases: buildIndex builds the bytes the index had
// before sealing got cheaper (pinned from that code), also with event IDs
// twice and keys that collide.
func TestBuildIndexPinnedCases(t *testing.T) {
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
		name                string
		es                  []sealedEntry
		frames              []block
		body, filter, small string
	}{
		{"pinned", es, nil, "bbc01dd9dc1d95f8", "128176d186c83cae", "b0b6be605641f669"},
		{"collisions", slices.Clone(es), []block{{0, 0}, {1 << 18, 1 << 16}}, "ba40ad376a48dc2f", "128176d186c83cae", "27bf5392a9467493"},
		{"one", es[:1], nil, "4d13b9c8824e8895", "fb2cb3b4f991994f", "993cccb3744ee8bc"},
		{"none", nil, nil, "374708fff7719dd5", "cbb62b60edd4cf46", "374708fff7719dd5"},
	}
	collide(tests[1].es)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := buildIndex(slices.Clone(tc.es), tc.frames)
			if g, w := []string{pinSum(got.body), pinSum(got.filter), pinSum(got.small)}, []string{tc.body, tc.filter, tc.small}; !slices.Equal(g, w) {
				t.Fatalf("body, filter, small index: got %q, want %q", g, w)
			}
		})
	}
}
