package audit

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Retention: sealed segments whose newest event is older than
// Options.Retention are removed, oldest first, by the process writing the
// chain, while it runs. Before any file goes, a digest chained to the
// previous ones and signed like them names what is removed (records 1 to
// N, and the chain hash after record N, from which the kept records
// continue); the same signed statement is kept in the file "retention",
// from which a start continues. `iamd audit verify` trusts only the
// digest chain: records missing below a signed removal were removed by
// retention, any other missing record was deleted by someone else.

// EnvRetention is the environment variable iamd serve reads the retention
// from (--audit-retention).
const EnvRetention = "IAMD_AUDIT_RETENTION"

// DefaultRetention is how long events are kept by default: 90 days, as
// CloudTrail's event history.
const DefaultRetention = 90 * 24 * time.Hour

// ParseRetention reads a retention: a Go duration ("36h"), a number of
// days ("90d"), or "0" to keep everything; empty is DefaultRetention.
func ParseRetention(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return DefaultRetention, nil
	case s == "0":
		return 0, nil
	case strings.HasSuffix(s, "d"):
		n, err := strconv.ParseFloat(strings.TrimSuffix(s, "d"), 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("audit retention %q: want a number of days (90d), a duration (36h) or 0", s)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("audit retention %q: want a number of days (90d), a duration (36h) or 0", s)
	}
	return d, nil
}

// removal is what retention removed from a chain: records First to Last,
// the last of which hashed to Head; Until is the time of the newest event
// removed (Unix seconds).
type removal struct {
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
	Head  string `json:"head"`
	Until int64  `json:"until"`
}

func (r *removal) message() string {
	return "\nremoved " + strconv.FormatUint(r.First, 10) + " " + strconv.FormatUint(r.Last, 10) + " " + r.Head + " " + strconv.FormatInt(r.Until, 10)
}

const retentionFile = "retention"

// readRetention reads a chain's retention file; with keys, its signature
// is checked. It returns nil, nil if there is none.
func readRetention(dir, chain string, keys [][]byte) (*removal, error) {
	data, err := os.ReadFile(filepath.Join(dir, retentionFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s signed
	if err := json.Unmarshal(data, &s); err != nil || s.Removed == nil {
		return nil, fmt.Errorf("retention file unreadable: %v", err)
	}
	if keys != nil && (!s.verify("retention", keys) || s.Chain != chain) {
		return nil, errors.New("retention file has an invalid signature (changed or forged)")
	}
	return s.Removed, nil
}

// retentionEvery is how often retention is applied.
const retentionEvery = time.Hour

// applyRetention removes the sealed segments of this chain whose events
// are all older than the retention.
func (l *Log) applyRetention() error {
	if l.opts.Retention <= 0 {
		return nil
	}
	cutoff := l.opts.Now().Add(-l.opts.Retention).Unix()
	var drop []*unit
	l.trail.mu.RLock()
	for _, u := range l.trail.units {
		if u.chain != l.chain {
			continue
		}
		if u.cp == nil || u.cp.MaxTime >= cutoff {
			break
		}
		drop = append(drop, u)
	}
	l.trail.mu.RUnlock()
	if len(drop) == 0 {
		return nil
	}
	last := drop[len(drop)-1].cp
	rem := &removal{First: 1, Last: last.Last, Head: last.Head, Until: last.MaxTime}
	l.mu.Lock()
	if l.closed || l.err != nil {
		l.mu.Unlock()
		return nil //nolint:nilerr // a closed or failed log cuts nothing; its error is reported where it happened
	}
	err := l.writeDigest(rem)
	if err == nil && l.lastDigestAt > l.digestsBase {
		// The digests before the removal digest cover only what it signs:
		// they go too, so that the digest file stays as short as the
		// retention keeps the trail. (Other digests may have been written
		// while writeDigest released l.mu, but only before it.) A failed
		// cut leaves them.
		if cerr := l.cutDigests(l.lastDigestAt, l.digestN-1); cerr != nil {
			l.opts.Log.Warn("audit: retention could not cut the digest file; it keeps its older digests", "chain", l.chain, "err", cerr)
		}
	}
	l.mu.Unlock()
	if err != nil {
		return err
	}
	// The statement a start continues from.
	s := signed{Chain: l.chain, Count: rem.Last, Head: rem.Head, Time: l.opts.Now().UTC().Format(time.RFC3339Nano), Removed: rem}
	s.sign("retention", l.opts.Keys[0])
	data, err := json.Marshal(&s)
	if err != nil {
		return err
	}
	if err := writeFileSynced(filepath.Join(l.dir, retentionFile), data); err != nil {
		return err
	}
	l.trail.mu.Lock()
	kept := l.trail.units[:0]
	for _, u := range l.trail.units {
		if u.chain != l.chain || u.cp == nil || u.cp.Last > rem.Last {
			kept = append(kept, u)
		}
	}
	clear(l.trail.units[len(kept):])
	l.trail.units = kept
	l.trail.mu.Unlock()
	var paths []string
	for _, u := range drop {
		l.trail.mu.RLock()
		paths = append(paths, u.path)
		l.trail.mu.RUnlock()
	}
	for _, p := range paths {
		l.trail.cache.drop(p)
		l.trail.files.drop(idxPath(p))
		if err := removeSegment(p); err != nil {
			return err
		}
	}
	l.opts.Log.Info("audit: retention removed old segments", "chain", l.chain, "records", fmt.Sprintf("%d to %d", drop[0].cp.First, rem.Last),
		"until", time.Unix(rem.Until, 0).UTC().Format(time.RFC3339), "segments", len(drop))
	return syncDir(l.dir)
}

// cutDigests replaces digests.log with its digests from offset at (in the
// uncut file) on, after a line saying that the before digests in front of
// them were cut (see digestsCut); l.mu is held. The new file is written
// and synced beside the old one, then renamed over it.
func (l *Log) cutDigests(at int64, before int) error {
	path := filepath.Join(l.dir, digestsFile)
	kept := make([]byte, l.digestsSize-at)
	old, err := os.Open(path)
	if err != nil {
		return err
	}
	_, err = old.ReadAt(kept, at-l.digestsShift)
	old.Close()
	if err != nil {
		return err
	}
	cut := digestsCut{Base: at, Digests: before}
	line := cut.line()
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(append(line, kept...))
	if err == nil {
		err = datasync(f)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	// The old file is gone: appends go to the new one whatever happens.
	l.digests.Close()
	l.digests, l.digestsShift, l.digestsBase = f, at-int64(len(line)), at
	return syncDir(l.dir)
}

// removeSegment removes a segment (either form) and its index file.
func removeSegment(path string) error {
	raw := uncompressedPath(path)
	for _, p := range []string{raw + s2Ext, raw + zstExt, raw, idxPath(raw)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func writeFileSynced(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = datasync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// removedByRetention returns the newest removal the digests sign, among
// the digests that verify and chain from the first, which chains to prev
// (nil if none).
func removedByRetention(digests []signed, chain string, keys [][]byte, prev string) (*removal, int) {
	var rem *removal
	at := 0
	for i, d := range digests {
		if d.Chain != chain || !d.verify("digest", keys) || d.Prev != prev {
			break
		}
		if d.Removed != nil {
			rem, at = d.Removed, i+1
		}
		prev = d.Sig
	}
	return rem, at
}

func hexHash(s string) ([32]byte, bool) {
	var h [32]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return h, false
	}
	copy(h[:], b)
	return h, true
}
