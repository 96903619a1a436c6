package audit

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// On-disk layout of one chain (one replica) under the audit directory:
//
//	audit/<chain>/LOCK                 flock'ed by the process writing the chain
//	audit/<chain>/<firstseq:020d>.log  segments of records, one JSON line each;
//	                                   a sealed one is compressed, .log.s2 (or
//	                                   .log.zst, sealed by an older iamd): see compress.go
//	audit/<chain>/<firstseq:020d>.idx  a sealed segment's index file (see segindex.go)
//	audit/<chain>/head                 two fixed-size slots holding the signed head
//	audit/<chain>/digests.log          signed digests, one JSON line each, after
//	                                   a line saying where retention cut them
//	                                   (see digestsCut)
//
// A record line is
//
//	{"seq":N,"prev8":"<first 8 hex digits of record N-1's chain hash>","meta":{...},"event":{...}}
//
// where meta repeats the fields the index needs (time, account, event
// name, source, user name, access key, event ID, read-only, resources).
// Record N's chain hash is SHA-256 of record N-1's chain hash (32 bytes)
// followed by line N without its newline; record 0's is the chain's
// genesis, SHA-256("iamd-audit-chain/v1:" + chain). prev8 lets a reader
// tell, record by record, where a chain was changed and which staged
// records continue it; the hash chain itself covers the whole previous
// hash.
//
// The event of an API call is stored in the positional form (see
// positionalMembers) or the compact form (see compactEventStart), without
// the members the meta holds or that are constants; readers render the
// CloudTrail event (renderEvent).
//
// Trails written before 2026-12 hold lines of the earlier form, which
// carry the previous chain hash in full, and whose chain hash is SHA-256
// of the line alone:
//
//	{"seq":N,"prev":"<hex SHA-256 of line N-1>","meta":{...},"event":{...}}
//
// Readers take both; a chain may change form from one record to the next.
// (Storing the whole hash cost 75 bytes per record, of which about 34
// survived compression: random digits compress badly.)

// KeyPurpose derives the audit signing key from the master keyring
// (secrets.Keyring.DeriveKeys(KeyPurpose)).
const KeyPurpose = "iamd/audit/v1"

const (
	headSlot    = 512
	digestsFile = "digests.log"
	headFile    = "head"
	lockFile    = "LOCK"
	segmentExt  = ".log"
)

func genesis(chain string) [32]byte {
	return sha256.Sum256([]byte("iamd-audit-chain/v1:" + chain))
}

// signed is the signed state of a chain: a head (after every batch) or a
// digest (periodic, chained through Prev).
type signed struct {
	Chain string `json:"chain"`
	Count uint64 `json:"count"`
	Head  string `json:"head"`
	Time  string `json:"time"`
	Prev  string `json:"prev,omitempty"`
	// Removed, in a digest, names what retention removed.
	Removed *removal `json:"removed,omitempty"`
	Key     string   `json:"key"`
	Sig     string   `json:"sig"`
}

func (s *signed) message(kind string) []byte {
	m := "iamd-audit/v1\n" + kind + "\n" + s.Chain + "\n" + strconv.FormatUint(s.Count, 10) + "\n" + s.Head + "\n" + s.Time + "\n" + s.Prev
	if s.Removed != nil {
		m += s.Removed.message()
	}
	return []byte(m)
}

func keyID(key []byte) string {
	h := sha256.Sum256(key)
	return hex.EncodeToString(h[:4])
}

func (s *signed) sign(kind string, key []byte) {
	s.Key = keyID(key)
	m := hmac.New(sha256.New, key)
	m.Write(s.message(kind))
	s.Sig = hex.EncodeToString(m.Sum(nil))
}

func (s *signed) verify(kind string, keys [][]byte) bool {
	sig, err := hex.DecodeString(s.Sig)
	if err != nil {
		return false
	}
	for _, k := range keys {
		if keyID(k) != s.Key {
			continue
		}
		m := hmac.New(sha256.New, k)
		m.Write(s.message(kind))
		if hmac.Equal(m.Sum(nil), sig) {
			return true
		}
	}
	return false
}

// readHead returns the newest valid head slot, or ok=false if neither
// slot holds a head signed by one of keys.
func readHead(path string, keys [][]byte) (h signed, ok bool, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return h, false, err
	}
	for i := 0; i+headSlot <= len(data); i += headSlot {
		var s signed
		if json.Unmarshal(bytes.TrimSpace(data[i:i+headSlot]), &s) != nil || !s.verify("head", keys) {
			continue
		}
		if !ok || s.Count > h.Count {
			h, ok = s, true
		}
	}
	return h, ok, nil
}

// A digests.log that retention has cut (Log.cutDigests) starts with the
// line
//
//	{"cut":{"base":OFF,"digests":N}}
//
// where OFF is the offset the digest after it had before the cut and N the
// number of digests before it, which were cut: checkpoints and reports go
// on naming digests by their offset and number in the uncut file. The
// digest after the line is the signed removal digest retention wrote
// before the cut; a verifier takes it as the start of the digest chain,
// as it takes the removal it signs as the start of the records.
type digestsCut struct {
	Base    int64 `json:"base"`
	Digests int   `json:"digests"`
	// shift is an offset in the uncut file minus the same offset in this
	// one; zero in a file never cut.
	shift int64
}

// cuts reports whether the digests from offset off on were cut.
func (c digestsCut) cuts(off int64) bool { return off < c.Base }

func (c digestsCut) line() []byte {
	return []byte(`{"cut":{"base":` + strconv.FormatInt(c.Base, 10) + `,"digests":` + strconv.Itoa(c.Digests) + "}}\n")
}

// maxCutLine bounds the cut line's length.
const maxCutLine = 128

// readDigestsFrom is readDigestsEnd without the end.
func readDigestsFrom(path string, off int64) ([]signed, bool, digestsCut, error) {
	ds, _, torn, cut, err := readDigestsEnd(path, off)
	return ds, torn, cut, err
}

// readDigestsEnd reads the digests from offset off on (an offset in the
// uncut file; where the digests there were cut, from the first one kept),
// returning where the last complete digest ends, whether an incomplete
// one follows it, and the file's cut line (zero if none).
func readDigestsEnd(path string, off int64) (out []signed, end int64, torn bool, cut digestsCut, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, off, false, cut, nil
	}
	if err != nil {
		return nil, off, false, cut, err
	}
	defer f.Close()
	if cut, err = readCutLine(f); err != nil {
		return nil, off, false, cut, err
	}
	off = max(off, cut.Base)
	if _, err := f.Seek(off-cut.shift, io.SeekStart); err != nil {
		return nil, off, false, cut, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, off, false, cut, err
	}
	end = off
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			torn = true
			break
		}
		var s signed
		if err := json.Unmarshal(data[:i], &s); err != nil {
			return out, end, false, cut, fmt.Errorf("digest %d: %w", cut.Digests+len(out)+1, err)
		}
		out = append(out, s)
		data = data[i+1:]
		end += int64(i + 1)
	}
	return out, end, torn, cut, nil
}

// readCutLine reads the cut line at the start of a digests file, if it
// has one.
func readCutLine(f *os.File) (digestsCut, error) {
	var c digestsCut
	buf := make([]byte, maxCutLine)
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return c, err
	}
	buf = buf[:n]
	if !bytes.HasPrefix(buf, []byte(`{"cut":`)) {
		return c, nil
	}
	i := bytes.IndexByte(buf, '\n')
	var line struct {
		Cut *digestsCut `json:"cut"`
	}
	if i < 0 || json.Unmarshal(buf[:i], &line) != nil || line.Cut == nil || line.Cut.Base < 0 || line.Cut.Digests < 0 {
		return c, errors.New("its first line, where retention cut it, is damaged")
	}
	c = *line.Cut
	c.shift = c.Base - int64(i+1)
	return c, nil
}

// segments lists a chain's segment files in order of first sequence number.
func segments(dir string) ([]segmentFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []segmentFile
	seen := make(map[uint64]int)
	for _, e := range ents {
		name := e.Name()
		base := uncompressedPath(name)
		if e.IsDir() || !strings.HasSuffix(base, segmentExt) || name == digestsFile {
			continue
		}
		first, err := strconv.ParseUint(strings.TrimSuffix(base, segmentExt), 10, 64)
		if err != nil {
			continue
		}
		sf := segmentFile{path: filepath.Join(dir, name), first: first}
		if i, ok := seen[first]; ok {
			// Both forms, while a segment is being compressed: the
			// uncompressed one is complete (see cleanChain).
			if base == name {
				out[i] = sf
			}
			continue
		}
		seen[first] = len(out)
		out = append(out, sf)
	}
	slices.SortFunc(out, func(a, b segmentFile) int {
		switch {
		case a.first < b.first:
			return -1
		case a.first > b.first:
			return 1
		}
		return 0
	})
	return out, nil
}

type segmentFile struct {
	path  string
	first uint64
}

func segmentName(first uint64) string { return fmt.Sprintf("%020d%s", first, segmentExt) }

// recordLine is the parsed head of a record line: everything before the
// event, which holds a copy of the event's indexed fields so that a start
// need not parse events.
type recordLine struct {
	Seq uint64 `json:"seq"`
	// Prev8 is the first 8 hex digits of the previous record's chain
	// hash; Prev, in lines of the earlier form, all of it.
	Prev8 string     `json:"prev8,omitempty"`
	Prev  string     `json:"prev,omitempty"`
	Meta  recordMeta `json:"meta"`
	// before is the chain hash before the record as scanChain read the
	// chain (the last good one once it is broken); set by scanChain only.
	before [32]byte
}

// prevTagLen is the length of a record's prev8.
const prevTagLen = 8

// follows reports whether rec names head as the previous record's chain
// hash.
func (rec *recordLine) follows(head [32]byte) bool {
	if rec.Prev8 != "" {
		var tag [prevTagLen]byte
		hex.Encode(tag[:], head[:prevTagLen/2])
		return rec.Prev8 == string(tag[:])
	}
	return rec.Prev == hex.EncodeToString(head[:])
}

// chainHasher computes records' chain hashes, reusing its buffer.
type chainHasher struct{ buf []byte }

// next returns the chain hash of the record line body (without its
// newline), parsed as rec, that follows a record of chain hash prev.
func (h *chainHasher) next(prev [32]byte, rec *recordLine, body []byte) [32]byte {
	if rec.Prev8 == "" {
		return sha256.Sum256(body) // the earlier form
	}
	h.buf = append(append(h.buf[:0], prev[:]...), body...)
	return sha256.Sum256(h.buf)
}

// appendRecordPrefix appends the start of record seq's line, which
// follows a record of chain hash prev: {"seq":N,"prev8":"HEX (the meta,
// which appendMeta appends, closes the string).
func appendRecordPrefix(b []byte, seq uint64, prev [32]byte) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"prev8":"`...)
	return hex.AppendEncode(b, prev[:prevTagLen/2])
}

// maxRecordPrefix is the longest prefix appendRecordPrefix appends.
const maxRecordPrefix = len(`{"seq":`) + 20 + len(`,"prev8":"`) + prevTagLen

type recordMeta struct {
	Time     int64       `json:"t"`
	Account  string      `json:"a"`
	Name     string      `json:"n"`
	Source   string      `json:"s"`
	User     string      `json:"u"`
	Key      string      `json:"k"`
	ID       string      `json:"i"`
	ReadOnly bool        `json:"ro"`
	Res      [][2]string `json:"res"`
}

var eventKey = []byte(`,"event":`)

// eventSpan returns where the event object sits in a record line.
func eventSpan(line []byte) (start, end int, ok bool) {
	i := bytes.Index(line, eventKey)
	if i < 0 || len(line) < i+len(eventKey)+2 || line[len(line)-1] != '}' {
		return 0, 0, false
	}
	return i + len(eventKey), len(line) - 1, true
}

// scanned is what a scan of one chain found.
type scanned struct {
	count    uint64   // records read in sequence
	head     [32]byte // hash of the last record read
	problems []string // evidence of tampering, in order
	// tornPath and tornAt locate an incomplete last line (a write cut
	// short by a crash); tornPath is empty if there is none.
	tornPath string
	tornAt   int64
	// end is where the data of the last segment ends (segments are
	// preallocated with zero bytes beyond it).
	end int64
	// hashes holds the chain hash after the records named in want.
	hashes map[uint64][32]byte
}

// scanFrom says where a scan starts: at the segment whose first record
// follows count records of the chain ending in hash head, taken as
// verified (by a signed checkpoint). The zero value scans the whole chain.
type scanFrom struct {
	count uint64
	head  [32]byte
	set   bool // count and head are meaningful
	// segs, if not zero, is how many segments to read.
	segs int
	// progress, if not nil, is called every progressEvery records.
	progress func(records uint64)
}

const progressEvery = 1 << 20

// scanChain reads a chain's segments in order, checking sequence numbers
// and the hash chain. For every well-formed record it calls fn (if not
// nil) with the segment path, the line's offset and the line (without the
// newline). want lists record counts whose chain hash the caller needs.
func scanChain(dir, chain string, from scanFrom, want map[uint64]bool, fn func(path string, off int64, line []byte, rec *recordLine)) (*scanned, error) {
	segs, err := segments(dir)
	if err != nil {
		return nil, err
	}
	st := &scanned{head: genesis(chain), hashes: make(map[uint64][32]byte)}
	expect := uint64(1)
	if from.set {
		st.count, st.head, expect = from.count, from.head, from.count+1
		for len(segs) > 0 && segs[0].first < expect {
			segs = segs[1:]
		}
	}
	if from.segs > 0 && len(segs) > from.segs {
		segs = segs[:from.segs]
	}
	broken := false
	var head []byte // scratch for the head of a line
	var hasher chainHasher
	for si, sf := range segs {
		if sf.first != expect && !broken {
			if sf.first > expect {
				st.problems = append(st.problems, fmt.Sprintf("records %d to %d are missing (segment %s starts at %d)", expect, sf.first-1, filepath.Base(sf.path), sf.first))
			} else {
				st.problems = append(st.problems, fmt.Sprintf("segment %s starts at record %d, expected %d", filepath.Base(sf.path), sf.first, expect))
			}
			broken = true
		}
		f, err := openSegment(sf.path)
		if errors.Is(err, os.ErrNotExist) && !isCompressed(sf.path) {
			// Compressed since it was listed: the sealer removes the
			// uncompressed form once the compressed one is in place.
			sf.path = compressedForm(sf.path)
			f, err = openSegment(sf.path)
		}
		if err != nil {
			return nil, err
		}
		r := bufio.NewReaderSize(f, 1<<20)
		var off int64
		for {
			if b, err := r.Peek(1); err == nil && b[0] == 0 {
				break // the preallocated zeros after the data
			}
			line, err := r.ReadSlice('\n')
			if err == bufio.ErrBufferFull {
				// A line longer than the buffer: gather it.
				buf := append([]byte(nil), line...)
				for err == bufio.ErrBufferFull {
					line, err = r.ReadSlice('\n')
					buf = append(buf, line...)
				}
				line = buf
			}
			if z := bytes.IndexByte(line, 0); z >= 0 {
				// An incomplete record followed by preallocated zeros.
				line, err = line[:z], io.EOF
			}
			if err == io.EOF {
				if len(line) > 0 {
					if si == len(segs)-1 {
						st.tornPath, st.tornAt = sf.path, off
					} else if !broken {
						st.problems = append(st.problems, fmt.Sprintf("segment %s ends with an incomplete record after record %d", filepath.Base(sf.path), st.count))
						broken = true
					}
				}
				break
			}
			if err != nil && isCompressed(sf.path) {
				// Damaged compressed data: evidence, like a changed record.
				if !broken {
					st.problems = append(st.problems, fmt.Sprintf("segment %s cannot be decompressed after record %d (changed or damaged): %v", filepath.Base(sf.path), st.count, err))
					broken = true
				}
				break
			}
			if err != nil {
				f.Close()
				return nil, err
			}
			n := int64(len(line))
			body := line[:len(line)-1]
			var rec recordLine
			jerr := errors.New("no event")
			if i := bytes.Index(body, eventKey); i > 0 {
				head = append(append(head[:0], body[:i]...), '}')
				jerr = parseHead(head, &rec)
			}
			if jerr != nil {
				if !broken {
					st.problems = append(st.problems, fmt.Sprintf("record after %d in segment %s is not readable (changed): %v", st.count, filepath.Base(sf.path), jerr))
					broken = true
				}
				off += n
				continue
			}
			if !broken {
				switch {
				case rec.Seq != expect:
					if rec.Seq > expect {
						st.problems = append(st.problems, fmt.Sprintf("record %d is missing or out of order: found record %d in its place", expect, rec.Seq))
					} else {
						st.problems = append(st.problems, fmt.Sprintf("record %d appears again or out of order after record %d", rec.Seq, expect-1))
					}
					broken = true
				case !rec.follows(st.head):
					st.problems = append(st.problems, fmt.Sprintf("record %d was changed (record %d's hash does not match)", expect-1, expect))
					if expect == 1 {
						st.problems[len(st.problems)-1] = "record 1 does not start this chain (changed or replaced)"
					}
					broken = true
				}
			}
			rec.before = st.head
			if !broken {
				st.head = hasher.next(st.head, &rec, body)
				st.count = rec.Seq
				if from.progress != nil && st.count%progressEvery == 0 {
					from.progress(st.count)
				}
				if want[rec.Seq] {
					st.hashes[rec.Seq] = st.head
				}
				expect++
			}
			if fn != nil {
				fn(sf.path, off, body, &rec)
			}
			off += n
		}
		st.end = off
		f.Close()
	}
	return st, nil
}
