package iam

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestTableRandom applies random puts and deletes, with and without a bulk
// phase, and checks the table against a sorted reference after each step
// and through paginated listings.
func TestTableRandom(t *testing.T) {
	for _, bulkFirst := range []int{0, 3000} {
		t.Run(fmt.Sprintf("bulk=%d", bulkFirst), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(bulkFirst)))
			tb := newTable[string]()
			ref := map[string]bool{}
			key := func() string { return fmt.Sprintf("k%05d", rng.IntN(6000)) }
			tb.setBulk(bulkFirst > 0)
			for range bulkFirst {
				k := key()
				tb.put(k, &Entry[string]{V: &k})
				ref[k] = true
			}
			tb.setBulk(false)
			for step := range 20000 {
				k := key()
				if rng.IntN(3) == 0 {
					tb.del(k)
					delete(ref, k)
				} else {
					tb.put(k, &Entry[string]{V: &k})
					ref[k] = true
				}
				if step%997 != 0 {
					continue
				}
				want := make([]string, 0, len(ref))
				for k := range ref {
					want = append(want, k)
				}
				slices.Sort(want)
				var got []string
				for marker := ""; ; {
					page, next := tb.page(marker, 1+rng.IntN(700), nil)
					for _, e := range page {
						got = append(got, *e.V)
					}
					if next == "" {
						break
					}
					marker = next
				}
				if !slices.Equal(got, want) || tb.len() != len(want) {
					t.Fatalf("step %d: listing has %d keys (sorted %v), want %d", step, len(got), slices.IsSorted(got), len(want))
				}
				for i, b := range tb.blocks {
					if len(b) == 0 || len(b) > maxBlock {
						t.Fatalf("step %d: block %d has %d keys", step, i, len(b))
					}
				}
			}
		})
	}
}
