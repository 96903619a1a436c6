package audit

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapRecords maps the first size bytes of the segment f to compress them,
// its pages mapped at once (they are in the page cache: the segment was
// just written); nil if it cannot, or f is shorter than that (a page
// beyond its end would fault).
func mapRecords(f *os.File, size int64) []byte {
	fi, err := f.Stat()
	if err != nil || size <= 0 || fi.Size() < size || int64(int(size)) != size {
		return nil
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil
	}
	return m
}

func unmapRecords(m []byte) { _ = unix.Munmap(m) }
