package audit

import (
	"os"
	"syscall"
)

// datasync flushes a file's data without its timestamps: on a preallocated
// segment that is a device flush, not a journal commit.
func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
