package audit

import "testing"

func TestChunked(t *testing.T) {
	for _, n := range []int{0, 1, chunkLen - 1, chunkLen, chunkLen + 1, 3*chunkLen + 7} {
		var s chunked[uint32]
		if _, ok := s.last(); ok {
			t.Fatal("last of an empty sequence")
		}
		for i := range n {
			s.add(uint32(i * 3))
		}
		if s.len() != n {
			t.Fatalf("len = %d, want %d", s.len(), n)
		}
		for i := range n {
			if got := s.at(i); got != uint32(i*3) {
				t.Fatalf("n=%d: at(%d) = %d", n, i, got)
			}
		}
		if v, ok := s.last(); n > 0 && (!ok || v != uint32((n-1)*3)) {
			t.Fatalf("n=%d: last = %d, %v", n, v, ok)
		}
		for i, c := range s.c[:max(len(s.c)-1, 0)] {
			if len(c) != chunkLen {
				t.Fatalf("n=%d: chunk %d holds %d", n, i, len(c))
			}
		}
	}
}
