package audit

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Sealed segments, for readers outside this package (trail delivery):
// a segment is sealed once its signed index file exists; its records never
// change after that, until retention removes it.

// SealedSegment is a sealed segment of a chain: records First to Last,
// with events from MinTime to MaxTime (Unix seconds), as its signed
// checkpoint says.
type SealedSegment struct {
	Chain            string
	First, Last      uint64
	MinTime, MaxTime int64
	prev, head       string
	dir              string
}

// SealedRecord is one record of a sealed segment: its sequence number,
// recipient account, time (Unix seconds) and CloudTrail event. Event is
// valid only during the callback.
type SealedRecord struct {
	Seq     uint64
	Account string
	Time    int64
	Event   []byte
}

// ErrSegmentGone is returned by ReadSealed when the segment is no longer
// there (retention removed it).
var ErrSegmentGone = errors.New("audit: sealed segment removed")

// SealedSegments lists the sealed segments of chain in the audit
// directory dir whose records end after record after, oldest first,
// stopping at the first segment without a valid checkpoint (one being
// sealed now) and leaving out the open segment. Only checkpoints signed
// with one of keys count.
func SealedSegments(dir, chain string, keys [][]byte, after uint64) ([]SealedSegment, error) {
	cdir := filepath.Join(dir, chain)
	segs, err := segments(cdir)
	if err != nil {
		return nil, err
	}
	var out []SealedSegment
	for i := 0; i+1 < len(segs); i++ {
		if segs[i+1].first > 0 && segs[i+1].first-1 <= after {
			continue // delivered: its checkpoint need not be read
		}
		cp, err := readCheckpoint(idxPath(segs[i].path), keys)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				break
			}
			return out, fmt.Errorf("audit: segment %s: %w", filepath.Base(segs[i].path), err)
		}
		if cp.Chain != chain || cp.First != segs[i].first {
			return out, fmt.Errorf("audit: segment %s: its checkpoint names another segment", filepath.Base(segs[i].path))
		}
		if cp.Last <= after {
			continue
		}
		out = append(out, SealedSegment{Chain: chain, First: cp.First, Last: cp.Last, MinTime: cp.MinTime, MaxTime: cp.MaxTime,
			prev: cp.Prev, head: cp.Head, dir: cdir})
	}
	return out, nil
}

var regionKey = []byte(`"awsRegion":"`)

// EventRegion returns the awsRegion of a CloudTrail event as the log
// writes it, or "" if it has none.
func EventRegion(event []byte) string {
	i := bytes.Index(event, regionKey)
	if i < 0 {
		return ""
	}
	rest := event[i+len(regionKey):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// ReadSealed reads the records of a sealed segment in order, checking
// them against its checkpoint (sequence numbers and the hash chain from
// the chain hash before its first record to the one after its last), and
// calls fn for each. A segment that does not match its checkpoint is an
// error: nothing it holds is to be trusted.
func ReadSealed(s SealedSegment, fn func(r *SealedRecord) error) error {
	prev, ok := hexHash(s.prev)
	if !ok {
		return fmt.Errorf("audit: segment %d: bad checkpoint hash", s.First)
	}
	present := func() bool {
		segs, err := segments(s.dir)
		return err == nil && len(segs) > 0 && slices.ContainsFunc(segs, func(f segmentFile) bool { return f.first == s.First })
	}
	if !present() {
		return ErrSegmentGone
	}
	var cbErr error
	var r SealedRecord
	var ev []byte
	st, err := scanChain(s.dir, s.Chain, scanFrom{count: s.First - 1, head: prev, set: true, segs: 1}, nil,
		func(_ string, _ int64, line []byte, rec *recordLine) {
			if cbErr != nil || rec.Seq < s.First || rec.Seq > s.Last {
				return
			}
			a, b, ok := eventSpan(line)
			if !ok {
				cbErr = fmt.Errorf("audit: record %d has no event", rec.Seq)
				return
			}
			ev = renderEvent(ev[:0], line[a:b], &rec.Meta)
			r = SealedRecord{Seq: rec.Seq, Account: rec.Meta.Account, Time: rec.Meta.Time, Event: ev}
			cbErr = fn(&r)
		})
	if errors.Is(err, os.ErrNotExist) || err == nil && (len(st.problems) > 0 || st.count < s.First) && !present() {
		return ErrSegmentGone
	}
	if err != nil {
		return err
	}
	if cbErr != nil {
		return cbErr
	}
	if len(st.problems) > 0 {
		return fmt.Errorf("audit: segment %d: %s", s.First, st.problems[0])
	}
	if st.count != s.Last || hex.EncodeToString(st.head[:]) != s.head {
		return fmt.Errorf("audit: segment %d does not match its checkpoint (records %d to %d)", s.First, s.First, s.Last)
	}
	return nil
}

// RemovedByRetention returns the last record of chain that retention
// removed, as the chain's signed retention file says; 0 if there is none
// (or it is not validly signed).
func RemovedByRetention(dir, chain string, keys [][]byte) uint64 {
	rem, err := readRetention(filepath.Join(dir, chain), chain, keys)
	if err != nil || rem == nil {
		return 0
	}
	return rem.Last
}

// WriteFileSynced writes data to path (0600) through a synced temporary
// file (path.tmp) renamed into place, then syncs the directory: how the
// audit trail writes its small files, and delivery its cursor and local
// files.
func WriteFileSynced(path string, data []byte) error { return writeFileSynced(path, data) }
