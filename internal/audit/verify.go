package audit

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// ChainReport is what Verify found in one chain.
type ChainReport struct {
	Chain   string
	Records uint64
	Head    string // hex chain hash after the last record
	Digests int
	// Signed is the record count the newest valid signed head covers.
	Signed uint64
	// Problems are evidence of tampering; Warnings are states a crash
	// can leave (an incomplete last record, records not yet signed).
	Problems []string
	Warnings []string
	// Removed, if not nil, is what retention removed, as a digest signs.
	Removed *Removed
}

// Removed is what retention removed from a chain: records First to Last,
// of events up to Until, as digest number Digest signs.
type Removed struct {
	First, Last uint64
	Until       time.Time
	Digest      int
}

// Report is the result of Verify.
type Report struct {
	Chains []ChainReport
}

// OK reports whether no chain shows evidence of tampering.
func (r *Report) OK() bool {
	for _, c := range r.Chains {
		if len(c.Problems) > 0 {
			return false
		}
	}
	return true
}

// Verify checks every chain in the audit directory dir with the signing
// keys (any of them may have signed).
//
// It detects, in each chain: a changed record (its hash no longer matches
// the next record's prev, the signed head or a digest), a removed or
// reordered record (a gap or step back in sequence numbers, a broken
// chain), a removed segment, and truncation — of the newest records too,
// because after every batch, before any request in it is answered, a head
// signed over the record count and chain hash is written to a separate
// file: records cut from the end leave the head counting more records than
// remain. Periodic digests, each signed and chained to the previous one,
// are checkpoints that survive the loss of the head file and are also
// written to the server's log.
//
// Limits: the hash chain is unkeyed and the signatures are HMACs under a
// key derived from the master key, so someone who holds the master key can
// forge a consistent log; someone who can restore an older copy of a
// chain's files together (records, head and digests) rolls the chain back
// undetectably, and deleting a whole chain directory leaves nothing to
// compare against. Compare with the digests recorded in the server log, or
// copied elsewhere, to detect those.
func Verify(dir string, keys [][]byte) (*Report, error) {
	return VerifyProgress(dir, keys, nil)
}

// VerifyProgress is Verify, calling progress (if not nil) with the chain
// and the count of records checked so far, every million records or so.
func VerifyProgress(dir string, keys [][]byte, progress func(chain string, records uint64)) (*Report, error) {
	progressOf := func(chain string) func(uint64) {
		if progress == nil {
			return nil
		}
		return func(n uint64) { progress(chain, n) }
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	rep := &Report{}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		chainDir := filepath.Join(dir, e.Name())
		cr, st, err := verifyChain(chainDir, e.Name(), keys, verifyFrom{scanFrom: scanFrom{progress: progressOf(e.Name())}}, nil)
		if err != nil {
			return nil, fmt.Errorf("chain %s: %w", e.Name(), err)
		}
		if segs, err := segments(chainDir); err == nil {
			// Index files are derived data: a damaged one is rebuilt at the
			// next start, from its segment.
			for _, sf := range segs {
				if _, err := readCheckpoint(idxPath(sf.path), keys); err != nil && !errors.Is(err, os.ErrNotExist) {
					cr.Warnings = append(cr.Warnings, fmt.Sprintf("index file %s is damaged (%v): the next start rebuilds it from its segment", filepath.Base(idxPath(sf.path)), err))
				}
			}
		}
		if len(cr.Problems) == 0 {
			if staged := stagedRecords(chainDir, st.count, st.head); len(staged) > 0 {
				// They continue the hash chain; no head signs them yet.
				h := staged[len(staged)-1].hash
				cr.Warnings = append(cr.Warnings, fmt.Sprintf("records %d to %d are in the staging file, not yet in a segment (the server was killed, or is writing them now): they chain to the records before them, and move to a segment when iamd starts", cr.Records+1, cr.Records+uint64(len(staged))))
				cr.Records += uint64(len(staged))
				cr.Head = hex.EncodeToString(h[:])
			}
		}
		rep.Chains = append(rep.Chains, *cr)
	}
	if len(rep.Chains) == 0 {
		return nil, fmt.Errorf("no audit chains in %s", dir)
	}
	return rep, nil
}

// verifyFrom says where a verification starts: a chain's records and
// digests up to a signed checkpoint are taken as verified.
type verifyFrom struct {
	scanFrom
	digestOff   int64  // where the digests after the checkpoint start
	digestSig   string // the signature of the digest before them
	digestCount uint64 // the record count of that digest
	digests     int    // how many digests precede them
}

// verifyChain checks one chain, calling fn (if not nil) for every record
// as scanChain does.
func verifyChain(dir, chain string, keys [][]byte, from verifyFrom, fn func(path string, off int64, line []byte, rec *recordLine)) (*ChainReport, *scanned, error) {
	cr := &ChainReport{Chain: chain}
	problem := func(format string, args ...any) { cr.Problems = append(cr.Problems, fmt.Sprintf(format, args...)) }
	// Read the signed state before the records: the writer updates it only
	// after the records it covers are written, so a live chain never shows
	// a head ahead of its records.
	head, headOK, herr := readHead(filepath.Join(dir, headFile), keys)
	if herr != nil && !errors.Is(herr, os.ErrNotExist) {
		return nil, nil, herr
	}
	digests, tornDigest, cut, err := readDigestsFrom(filepath.Join(dir, digestsFile), from.digestOff)
	if err != nil {
		problem("digest file: %v", err)
	}
	// The digests are numbered, and chained, from the one before them.
	before, prevSig, prevCount := from.digests, from.digestSig, from.digestCount
	if cut.cuts(from.digestOff) {
		// Retention cut the digests before the first one kept, which
		// signs the removal and so chains to nothing kept.
		before = cut.Digests
		if len(digests) > 0 && digests[0].Removed != nil {
			prevSig = digests[0].Prev
		} else {
			problem("digests 1 to %d were cut from the digest file, and the first one kept does not sign a removal by retention (digests were deleted)", cut.Digests)
		}
	}
	if !from.set {
		// Records below a removal the digests sign were removed by
		// retention: the chain is checked from there.
		if rem, n := removedByRetention(digests, chain, keys, prevSig); rem != nil {
			if h, ok := hexHash(rem.Head); ok {
				from.scanFrom = scanFrom{count: rem.Last, head: h, set: true, progress: from.progress}
				cr.Removed = &Removed{First: rem.First, Last: rem.Last, Until: time.Unix(rem.Until, 0).UTC(), Digest: before + n}
			}
		}
	}
	want := make(map[uint64]bool)
	for _, d := range digests {
		want[d.Count] = true
	}
	if headOK {
		want[head.Count] = true
	}
	st, err := scanChain(dir, chain, from.scanFrom, want, fn)
	if err != nil {
		return nil, nil, err
	}
	cr.Records, cr.Head, cr.Digests = st.count, hex.EncodeToString(st.head[:]), before+len(digests)
	cr.Problems = append(cr.Problems, st.problems...)
	broken := len(st.problems) > 0
	hashAt := func(n uint64) (string, bool) {
		if n == 0 {
			g := genesis(chain)
			return hex.EncodeToString(g[:]), true
		}
		if from.set && n == from.count {
			return hex.EncodeToString(from.head[:]), true
		}
		h, ok := st.hashes[n]
		return hex.EncodeToString(h[:]), ok
	}

	for i, d := range digests {
		n := before + i + 1
		switch {
		case d.Chain != chain:
			problem("digest %d belongs to chain %q", n, d.Chain)
		case !d.verify("digest", keys):
			problem("digest %d has an invalid signature (changed or forged)", n)
		case d.Prev != prevSig:
			problem("digest %d does not chain to digest %d (a digest was removed, reordered or changed)", n, n-1)
		case d.Count < prevCount:
			problem("digest %d counts %d records, fewer than digest %d", n, d.Count, n-1)
		case d.Count > st.count && !broken:
			problem("records %d to %d were removed (truncated): digest %d counts %d records, %d remain", st.count+1, d.Count, n, d.Count, st.count)
		case !broken && (!from.set || d.Count >= from.count):
			if h, ok := hashAt(d.Count); !ok || h != d.Head {
				problem("records up to %d do not match digest %d (changed)", d.Count, n)
			}
		}
		prevSig, prevCount = d.Sig, d.Count
	}
	if tornDigest {
		cr.Warnings = append(cr.Warnings, "the digest file ends with an incomplete digest (interrupted write)")
	}

	switch {
	case herr != nil && st.count > 0:
		problem("the signed head file is missing: the newest records cannot be checked for truncation")
	case herr == nil && !headOK && st.count > 0:
		problem("the signed head is invalid (changed or forged)")
	case headOK:
		cr.Signed = head.Count
		switch {
		case head.Chain != chain:
			problem("the signed head belongs to chain %q", head.Chain)
		case head.Count > st.count && !broken:
			problem("the newest records %d to %d were removed (truncated): the signed head counts %d records, %d remain", st.count+1, head.Count, head.Count, st.count)
		case head.Count < prevCount:
			problem("the signed head counts %d records, fewer than the last digest (%d): it was rolled back", head.Count, prevCount)
		case !broken && (!from.set || head.Count >= from.count):
			if h, ok := hashAt(head.Count); !ok || h != head.Head {
				problem("record %d does not match the signed head (changed)", head.Count)
			}
		}
		if head.Count < st.count && !broken {
			cr.Warnings = append(cr.Warnings, fmt.Sprintf("records %d to %d are not covered by the signed head (written just before a crash, or being written now)", head.Count+1, st.count))
		}
	}
	if len(digests) == 0 && st.count > 0 {
		cr.Warnings = append(cr.Warnings, "no digests yet")
	}
	if st.tornPath != "" {
		cr.Warnings = append(cr.Warnings, fmt.Sprintf("%s ends with an incomplete record (a write interrupted by a crash, never acknowledged)", filepath.Base(st.tornPath)))
	}
	slices.Sort(cr.Warnings)
	return cr, st, nil
}
