// Package backup writes a consistent snapshot of every stored record to a
// file and restores such a file into a store, on any backend: a backup
// taken from SQLite restores into PostgreSQL and the other way round.
//
// A backup file is gzip-compressed JSON lines: a header, one line per
// record with its kind, account, key, version and data, and a trailer with
// the number of records and the SHA-256 of every line before it. Restore
// checks the whole file before writing anything, and writes the records with
// their versions (store.Importer), so that compare-and-swap after a restore
// behaves as it did before the backup.
//
// A backup does not contain the master key. Access key secrets, and every
// other secret, are stored sealed with it: restored without the same master
// key (IAMD_MASTER_KEY or DATA/master.key) they cannot be opened, and every
// access key fails to authenticate. Keep the master key separately from the
// backups, as one keeps a safe's combination apart from the safe.
//
// The package knows nothing of what records mean; it is not an export of one
// account (see internal/backup/authdetails).
package backup

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/iamd/iamd/internal/store"
)

// Format identifies backup files; FormatVersion is the version of the layout
// this package writes and the newest it reads.
const (
	Format        = "iamd-backup"
	FormatVersion = 1
)

// MasterKeyNote is recorded in every backup's header and shown by the
// command line, so that nobody learns at restore time that the key is not
// in the file.
const MasterKeyNote = "the master key is not in this backup: restore it (IAMD_MASTER_KEY or DATA/master.key) alongside, or no access key will authenticate"

// ErrCorrupt means a file is not an intact backup: truncated, altered, or
// not a backup at all.
var ErrCorrupt = errors.New("backup: file is corrupt or not an iamd backup")

// ErrNotEmpty is returned by Restore when the store already holds records
// and Force was not set.
var ErrNotEmpty = errors.New("backup: the store is not empty")

// header is the first line of a backup.
type header struct {
	Format    string    `json:"format"`
	Version   int       `json:"version"`
	Created   time.Time `json:"created"`
	MasterKey string    `json:"masterKey"`
}

// line is one record of a backup.
type line struct {
	Kind    string `json:"k"`
	Account string `json:"a,omitempty"`
	Key     string `json:"y"`
	Version int64  `json:"v"`
	Data    []byte `json:"d"` // base64 in the file
}

// trailer is the last line of a backup.
type trailer struct {
	End     bool   `json:"end"`
	Rev     int64  `json:"rev"` // the store's revision the snapshot reflects
	Records int    `json:"records"`
	SHA256  string `json:"sha256"` // of every line before the trailer, newlines included
}

// Summary describes a backup written, verified or restored.
type Summary struct {
	Created time.Time
	Rev     int64          // the revision of the snapshot
	Records int            // records in the backup
	Kinds   map[string]int // records per kind
	// Removed counts the records a forced restore deleted because the
	// backup did not have them.
	Removed int
}

// Write writes a consistent snapshot of every record of st to w. It does not
// close w.
func Write(ctx context.Context, st store.Store, w io.Writer, now time.Time) (Summary, error) {
	zw, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	if err != nil {
		return Summary{}, err
	}
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(zw, h), 1<<16)
	enc := json.NewEncoder(bw) // Encode ends every value with a newline
	enc.SetEscapeHTML(false)
	sum := Summary{Created: now.UTC(), Kinds: map[string]int{}}
	if err := enc.Encode(header{Format: Format, Version: FormatVersion, Created: sum.Created, MasterKey: MasterKeyNote}); err != nil {
		return Summary{}, err
	}
	rev, err := st.Load(ctx, func(r store.Record) error {
		sum.Records++
		sum.Kinds[r.Kind]++
		return enc.Encode(line{Kind: r.Kind, Account: r.Account, Key: r.Key, Version: r.Version, Data: r.Data})
	})
	if err != nil {
		return Summary{}, fmt.Errorf("backup: read store: %w", err)
	}
	sum.Rev = rev
	if err := bw.Flush(); err != nil {
		return Summary{}, err
	}
	// The trailer is not part of its own checksum.
	if err := json.NewEncoder(zw).Encode(trailer{End: true, Rev: sum.Rev, Records: sum.Records, SHA256: hex.EncodeToString(h.Sum(nil))}); err != nil {
		return Summary{}, err
	}
	if err := zw.Close(); err != nil {
		return Summary{}, err
	}
	return sum, nil
}

// reader reads a backup line by line, hashing as it goes.
type reader struct {
	zr   *gzip.Reader
	br   *bufio.Reader
	h    hash.Hash
	hdr  header
	n    int
	rev  int64
	done bool
}

func newReader(r io.Reader) (*reader, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	rd := &reader{zr: zr, br: bufio.NewReaderSize(zr, 1<<16), h: sha256.New()}
	raw, err := rd.readLine()
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &rd.hdr); err != nil || rd.hdr.Format != Format {
		return nil, fmt.Errorf("%w: no backup header", ErrCorrupt)
	}
	if rd.hdr.Version < 1 || rd.hdr.Version > FormatVersion {
		return nil, fmt.Errorf("backup: format version %d is newer than this iamd understands (%d); upgrade iamd", rd.hdr.Version, FormatVersion)
	}
	rd.h.Write(raw)
	return rd, nil
}

// readLine returns the next line, newline included.
func (rd *reader) readLine() ([]byte, error) {
	raw, err := rd.br.ReadBytes('\n')
	if err == io.EOF {
		return nil, fmt.Errorf("%w: truncated", ErrCorrupt)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return raw, nil
}

// next returns the next record, or ok=false after checking the trailer,
// whose revision it then keeps in rev.
func (rd *reader) next() (rec store.Record, ok bool, err error) {
	if rd.done {
		return store.Record{}, false, nil
	}
	raw, err := rd.readLine()
	if err != nil {
		return store.Record{}, false, err
	}
	if bytes.HasPrefix(raw, []byte(`{"end":`)) {
		var t trailer
		if err := json.Unmarshal(raw, &t); err != nil || !t.End {
			return store.Record{}, false, fmt.Errorf("%w: bad trailer", ErrCorrupt)
		}
		if t.Records != rd.n || t.SHA256 != hex.EncodeToString(rd.h.Sum(nil)) {
			return store.Record{}, false, fmt.Errorf("%w: checksum or record count mismatch", ErrCorrupt)
		}
		if _, err := rd.br.ReadByte(); err != io.EOF {
			return store.Record{}, false, fmt.Errorf("%w: data after the trailer", ErrCorrupt)
		}
		rd.done, rd.rev = true, t.Rev
		return store.Record{}, false, nil
	}
	rd.h.Write(raw)
	var l line
	if err := json.Unmarshal(raw, &l); err != nil {
		return store.Record{}, false, fmt.Errorf("%w: record %d: %v", ErrCorrupt, rd.n+1, err)
	}
	if l.Kind == "" || l.Key == "" || l.Version < 1 {
		return store.Record{}, false, fmt.Errorf("%w: record %d is incomplete", ErrCorrupt, rd.n+1)
	}
	rd.n++
	if l.Data == nil {
		l.Data = []byte{}
	}
	return store.Record{Kind: l.Kind, Account: l.Account, Key: l.Key, Version: l.Version, Data: l.Data}, true, nil
}

// Verify reads a whole backup and checks its structure, record count and
// checksum, without writing anything.
func Verify(r io.Reader) (Summary, error) {
	rd, err := newReader(r)
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{Created: rd.hdr.Created, Kinds: map[string]int{}}
	for {
		rec, ok, err := rd.next()
		if err != nil {
			return Summary{}, err
		}
		if !ok {
			sum.Rev = rd.rev
			return sum, nil
		}
		sum.Records++
		sum.Kinds[rec.Kind]++
	}
}

// RestoreOptions configures Restore.
type RestoreOptions struct {
	// Force restores into a store that already holds records: afterwards
	// the store holds exactly the backup's records (others are deleted).
	Force bool
	// Chunk is the number of records per store.Importer.Import; default
	// 10000.
	Chunk int
}

// Restore writes the records of the backup in r into st, which must
// implement store.Importer and, unless opts.Force, be empty. The whole file
// is verified first (r is read twice), so a corrupt backup writes nothing.
// Replicas running on st follow the restore like any other commits.
func Restore(ctx context.Context, st store.Store, r io.ReadSeeker, opts RestoreOptions) (Summary, error) {
	im, ok := st.(store.Importer)
	if !ok {
		return Summary{}, fmt.Errorf("backup: the store %T cannot import records", st)
	}
	if opts.Chunk <= 0 {
		opts.Chunk = 10_000
	}
	sum, err := Verify(r)
	if err != nil {
		return Summary{}, err
	}
	// What the store holds now: refused, or deleted afterwards if the
	// backup lacks it.
	type id struct{ kind, account, key string }
	existing := map[id]struct{}{}
	errNotEmpty := errors.New("not empty")
	if _, err := st.Load(ctx, func(rec store.Record) error {
		if !opts.Force {
			return errNotEmpty
		}
		existing[id{rec.Kind, rec.Account, rec.Key}] = struct{}{}
		return nil
	}); err != nil {
		if errors.Is(err, errNotEmpty) {
			return Summary{}, fmt.Errorf("%w: restore into an empty store, or force it to replace everything", ErrNotEmpty)
		}
		return Summary{}, fmt.Errorf("backup: read store: %w", err)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return Summary{}, err
	}
	rd, err := newReader(r)
	if err != nil {
		return Summary{}, err
	}
	chunk := make([]store.Record, 0, opts.Chunk)
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		if _, err := im.Import(ctx, chunk); err != nil {
			return fmt.Errorf("backup: import: %w", err)
		}
		chunk = chunk[:0]
		return nil
	}
	for {
		rec, ok, err := rd.next()
		if err != nil {
			return Summary{}, err // the file changed since Verify
		}
		if !ok {
			break
		}
		delete(existing, id{rec.Kind, rec.Account, rec.Key})
		chunk = append(chunk, rec)
		if len(chunk) == opts.Chunk {
			if err := flush(); err != nil {
				return Summary{}, err
			}
		}
	}
	if err := flush(); err != nil {
		return Summary{}, err
	}
	var ops []store.Op
	for k := range existing {
		ops = append(ops, store.Op{Type: store.Delete, Kind: k.kind, Account: k.account, Key: k.key, Expect: store.Any})
		if len(ops) == 1000 {
			if _, err := st.Commit(ctx, ops); err != nil {
				return Summary{}, fmt.Errorf("backup: remove records the backup lacks: %w", err)
			}
			sum.Removed += len(ops)
			ops = ops[:0]
		}
	}
	if len(ops) > 0 {
		if _, err := st.Commit(ctx, ops); err != nil {
			return Summary{}, fmt.Errorf("backup: remove records the backup lacks: %w", err)
		}
		sum.Removed += len(ops)
	}
	return sum, nil
}
