package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/iamd/iamd/internal/audit"
)

// metaSuffix names, in a local directory, the sidecar holding an object's
// metadata: where S3 keeps a digest's signature (x-amz-meta-signature and
// x-amz-meta-signature-algorithm), a directory keeps
// NAME.json.gz.meta.json, {"signature":"...","signature-algorithm":"Ed25519"}.
const metaSuffix = ".meta.json"

// Dir is a local directory destination: objects are files under it, each
// written to a temporary file, synced and renamed into place.
type Dir struct {
	root string
}

// NewDir returns the destination rooted at dir, creating it (0700: the
// log files hold the audit trail).
func NewDir(dir string) (*Dir, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("delivery directory: %w", err)
	}
	return &Dir{root: abs}, nil
}

// Location names the directory as the digests' bucket (its base name);
// keys have no prefix.
func (d *Dir) Location() (bucket, prefix string) { return filepath.Base(d.root), "" }

// String is the destination, for logs and the cursor.
func (d *Dir) String() string { return d.root }

func (d *Dir) path(key string) (string, error) {
	if key == "" || strings.Contains(key, "..") || strings.HasPrefix(key, "/") {
		return "", fmt.Errorf("bad object key %q", key)
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// Put writes an object, and its metadata (if any) to its sidecar first,
// so that a digest is never there without its signature.
func (d *Dir) Put(_ context.Context, key string, body []byte, meta map[string]string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	if len(meta) > 0 {
		m, err := json.Marshal(meta)
		if err != nil {
			return err
		}
		if err := audit.WriteFileSynced(p+metaSuffix, m); err != nil {
			return err
		}
	}
	return audit.WriteFileSynced(p, body)
}

// Get reads an object and its metadata; a missing object is
// fs.ErrNotExist.
func (d *Dir) Get(_ context.Context, key string) ([]byte, map[string]string, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, nil, err
	}
	body, err := os.ReadFile(p)
	if err != nil {
		return nil, nil, err
	}
	var meta map[string]string
	if m, err := os.ReadFile(p + metaSuffix); err == nil {
		if err := json.Unmarshal(m, &meta); err != nil {
			return body, nil, fmt.Errorf("metadata of %s: %w", key, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	return body, meta, nil
}

// List calls fn with the key of every object under prefix, in lexical
// order (sidecars and temporary files left out).
func (d *Dir) List(_ context.Context, prefix string, fn func(key string) error) error {
	start := filepath.Join(d.root, filepath.FromSlash(prefix))
	err := filepath.WalkDir(start, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == start {
				return nil
			}
			return err
		}
		name := e.Name()
		if e.IsDir() || strings.HasSuffix(name, metaSuffix) || strings.HasSuffix(name, ".tmp") {
			return nil
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		return fn(filepath.ToSlash(rel))
	})
	return err
}
