package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Dir returns the audit directory the log reads and writes.
func (l *Log) Dir() string { return l.opts.Dir }

// ScanFilter selects the events Scan reports.
type ScanFilter struct {
	// Account is the recipient account; empty selects every account.
	Account string
	// Start and End bound the event time, inclusive; zero means unbounded.
	Start, End time.Time
}

// ErrStopScan may be returned by a Scan callback to end the scan early;
// Scan then returns nil.
var ErrStopScan = errors.New("audit: scan stopped")

// Scan reads the events of every chain in the audit directory dir,
// read-only and without taking any lock, so that it is safe while a server
// appends to the chains: a record being written (an incomplete last line)
// is not reported. It does not verify signatures (see Verify). fn gets the
// CloudTrail record of each selected event, chain after chain, each in
// record order; the slice is valid only during the call.
func Scan(dir string, f ScanFilter, fn func(event []byte) error) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var start, end int64 = -1 << 62, 1 << 62
	if !f.Start.IsZero() {
		start = f.Start.Unix()
	}
	if !f.End.IsZero() {
		end = f.End.Unix()
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		var cbErr error
		var ev []byte
		each := func(_ string, _ int64, line []byte, rec *recordLine) {
			if cbErr != nil || rec.Meta.Time < start || rec.Meta.Time > end {
				return
			}
			if f.Account != "" && rec.Meta.Account != f.Account {
				return
			}
			s, t, ok := eventSpan(line)
			if !ok {
				return
			}
			ev = renderEvent(ev[:0], line[s:t], &rec.Meta)
			cbErr = fn(ev)
		}
		chainDir := filepath.Join(dir, e.Name())
		var from scanFrom
		if rem, _ := readRetention(chainDir, e.Name(), nil); rem != nil {
			if h, ok := hexHash(rem.Head); ok {
				from = scanFrom{count: rem.Last, head: h, set: true}
			}
		}
		st, err := scanChain(chainDir, e.Name(), from, nil, each)
		if err != nil {
			return fmt.Errorf("audit chain %s: %w", e.Name(), err)
		}
		if len(st.problems) == 0 {
			// Records acknowledged but not yet in a segment.
			for _, r := range stagedRecords(chainDir, st.count, st.head) {
				each("", 0, r.line[:len(r.line)-1], &r.rec)
			}
		}
		if errors.Is(cbErr, ErrStopScan) {
			return nil
		}
		if cbErr != nil {
			return cbErr
		}
	}
	return nil
}
