package audit

import (
	"os"

	"golang.org/x/sys/unix"
)

// dropCached asks the kernel to drop the (clean, already synced) cached
// pages of f in [off, off+n).
func dropCached(f *os.File, off, n int64) {
	if n > 0 {
		_ = unix.Fadvise(int(f.Fd()), off, n, unix.FADV_DONTNEED)
	}
}
