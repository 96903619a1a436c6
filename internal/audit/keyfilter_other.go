//go:build !unix

package audit

import "os"

// sectionFile is an index file opened to read its key filter and small
// index.
type sectionFile struct{ *os.File }

func openSectionFile(path string) (sectionFile, error) {
	f, err := os.Open(path)
	return sectionFile{f}, err
}
