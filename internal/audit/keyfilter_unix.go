//go:build unix

package audit

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// sectionFile is an index file opened to read its key filter and small
// index: a bare descriptor. An os.File also sets the descriptor
// non-blocking and tries the poller, which costs more than reading the
// filter: a lookup of a rare value reads the filters of every segment in
// its time range (3,850 at 50 M events).
type sectionFile struct{ fd int }

func openSectionFile(path string) (sectionFile, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return sectionFile{}, &os.PathError{Op: "open", Path: path, Err: err}
		}
		return sectionFile{fd}, nil
	}
}

// ReadAt reads len(b) bytes at off, or fails (io.EOF if the file ends
// first).
func (f sectionFile) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) {
		m, err := unix.Pread(f.fd, b[n:], off+int64(n))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, io.EOF
		}
		n += m
	}
	return n, nil
}

func (f sectionFile) Close() error { return unix.Close(f.fd) }

// maxOpenIndexFiles is how many index files a trail keeps open for their
// key filters: a quarter of the process's limit on open files (which Go
// raises to the hard limit at start), at most 4,096 (the segments of
// 50 M typical events are 3,850).
func maxOpenIndexFiles() int {
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) != nil {
		return 0
	}
	return int(min(rl.Cur/4, 4096))
}
