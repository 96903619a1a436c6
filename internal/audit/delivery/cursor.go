package delivery

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/iamd/iamd/internal/audit"
)

// cursor is how far delivery to one destination got, kept in the chain's
// directory (audit/CHAIN/delivery-HASH, 0600) and rewritten atomically
// after each segment's files and each digest land. A crash between an
// object landing and the cursor being written makes the next start put
// the same object again, under the same name: no gap, no duplicate.
type cursor struct {
	Dest string `json:"dest"`
	// Delivered is the last record of the last segment delivered.
	Delivered uint64 `json:"delivered"`
	// DigestDue, if set, is the end time of digests being written: a
	// start finishes them with the same end time, hence the same names and
	// contents (Ed25519 signatures are deterministic).
	DigestDue     string `json:"digestDue,omitempty"`
	LastDigestEnd string `json:"lastDigestEnd,omitempty"`
	// Gaps are records retention removed before they were delivered,
	// named by the next digest of every account and region (the newest
	// 64 are kept).
	Gaps []Range `json:"gaps,omitempty"`
	// Missing are records absent from the chain when it was delivered,
	// with no signed retention cut to explain them (a segment deleted by
	// someone else): named by the next digests too, and reported by
	// verify as problems.
	Missing []Range       `json:"missing,omitempty"`
	Trails  []*trailState `json:"trails,omitempty"`
}

// trailState is the digest chain of one account and region.
type trailState struct {
	Account    string `json:"account"`
	Region     string `json:"region"`
	Start      string `json:"start"` // of the current digest window
	PrevBucket string `json:"prevBucket,omitempty"`
	PrevObject string `json:"prevObject,omitempty"`
	PrevSig    string `json:"prevSig,omitempty"`
	PrevHash   string `json:"prevHash,omitempty"`
	PrevLast   uint64 `json:"prevLast"`
	// Files are the log files delivered since the last digest.
	Files []LogFile `json:"files,omitempty"`
}

const maxGaps = 64

// cursorPath is the cursor file of a destination in a chain's directory.
func cursorPath(chainDir, dest string) string {
	h := sha256.Sum256([]byte(dest))
	return filepath.Join(chainDir, "delivery-"+hex.EncodeToString(h[:6]))
}

func loadCursor(path, dest string) (*cursor, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &cursor{Dest: dest}, nil
	}
	if err != nil {
		return nil, err
	}
	var c cursor
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("delivery cursor %s: %w (remove it to deliver the chain again from its start)", path, err)
	}
	return &c, nil
}

func (c *cursor) save(path string) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return audit.WriteFileSynced(path, data)
}

// trail returns the state of an account and region's digest chain,
// creating it.
func (c *cursor) trail(account, region, start string) *trailState {
	for _, t := range c.Trails {
		if t.Account == account && t.Region == region {
			return t
		}
	}
	t := &trailState{Account: account, Region: region, Start: start}
	c.Trails = append(c.Trails, t)
	return t
}

// due reports whether the trail has log files for a digest ending at end
// (a window never ends where it starts).
func (t *trailState) due(end string) bool { return len(t.Files) > 0 && end > t.Start }

// appendBounded appends r to rs, keeping the newest maxGaps.
func appendBounded(rs []Range, r Range) []Range {
	rs = append(rs, r)
	if len(rs) > maxGaps {
		rs = rs[len(rs)-maxGaps:]
	}
	return rs
}

// since returns the ranges that end after record n.
func since(rs []Range, n uint64) []Range {
	var out []Range
	for _, r := range rs {
		if r.Last > n {
			out = append(out, r)
		}
	}
	return out
}
