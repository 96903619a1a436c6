//go:build !linux

package audit

import (
	"errors"
	"os"
)

func mapSegment(*os.File, int64) ([]byte, error) {
	return nil, errors.New("mapped segments need Linux")
}

func unmapSegment([]byte) error { return nil }

func copyMapped(m []byte, off int64, rec []byte) error {
	copy(m[off:], rec)
	return nil
}
