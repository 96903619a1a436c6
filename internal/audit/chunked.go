package audit

// chunkLen is the length of every chunk of a chunked sequence but the last.
const chunkLen = 4096

// chunked is an append-only sequence kept in chunks of chunkLen, so that
// growing it never copies what it holds: the index grows under its lock,
// and copying a posting list of millions of positions there would stall
// every request for milliseconds. The last chunk grows as a slice does, so
// a short sequence costs no more than a slice.
type chunked[T any] struct {
	c [][]T
	n int
}

func (s *chunked[T]) len() int { return s.n }

func (s *chunked[T]) at(i int) T { return s.c[i/chunkLen][i%chunkLen] }

func (s *chunked[T]) add(v T) {
	if s.n%chunkLen == 0 {
		s.c = append(s.c, nil)
	}
	last := &s.c[len(s.c)-1]
	*last = append(*last, v)
	s.n++
}

// last returns the newest element; ok is false when there is none.
func (s *chunked[T]) last() (v T, ok bool) {
	if s.n == 0 {
		return v, false
	}
	return s.at(s.n - 1), true
}
