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

// maxOpenIndexFiles is how many index files a trail keeps open for their
// key filters: none here.
func maxOpenIndexFiles() int { return 0 }
