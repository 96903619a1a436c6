package audit

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// allocate gives the first size bytes of f disk blocks, so that writing
// there through a mapping never needs one: on a full disk, a mapped write
// to a hole would fault. Filesystems without fallocate are left as they are.
func allocate(f *os.File, size int64) error {
	err := unix.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		return nil
	}
	return err
}
