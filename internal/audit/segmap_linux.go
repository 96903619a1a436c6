package audit

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"syscall"
)

// mapSegment reserves size bytes of f's blocks (fallocate, so that writing
// through the mapping can never run out of space) and maps them shared:
// a record copied into the mapping is in the page cache at once, as after
// a write(2), and so survives a killed process, without a system call per
// record.
func mapSegment(f *os.File, size int64) ([]byte, error) {
	fd := int(f.Fd())
	if err := syscall.Fallocate(fd, 0, 0, size); err != nil {
		return nil, fmt.Errorf("fallocate: %w", err)
	}
	b, err := syscall.Mmap(fd, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap: %w", err)
	}
	return b, nil
}

func unmapSegment(b []byte) error { return syscall.Munmap(b) }

// errMapFault reports a fault while writing through a mapping: the file
// was truncated under the log, or the disk failed.
var errMapFault = errors.New("audit: fault writing the mapped segment (was it truncated?)")

// copyMapped copies rec into m at off. A fault (SIGBUS) becomes an error
// instead of ending the process.
func copyMapped(m []byte, off int64, rec []byte) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if recover() != nil {
			err = errMapFault
		}
	}()
	copy(m[off:], rec)
	return nil
}
