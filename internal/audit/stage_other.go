//go:build !unix

package audit

import "os"

// mapFile reports no mapping: records are written straight to segments.
func mapFile(*os.File, int) ([]byte, error) { return nil, nil }

func unmapFile([]byte) error { return nil }
