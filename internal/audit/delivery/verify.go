package delivery

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

// Source is a delivered tree to validate.
type Source interface {
	// Get reads an object and its metadata; fs.ErrNotExist if it is not
	// there.
	Get(ctx context.Context, key string) ([]byte, map[string]string, error)
	// List calls fn with every key under prefix.
	List(ctx context.Context, prefix string, fn func(key string) error) error
}

// Report is what Verify found.
type Report struct {
	// Digests and LogFiles count the valid digest and log files.
	Digests, LogFiles int
	// Problems name each file missing, modified or not listed.
	Problems []string
	// Removed are the records retention removed before they were
	// delivered, as valid digests sign them.
	Removed []string
}

// OK reports whether the tree validates.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

type digestFile struct {
	key  string
	d    Digest
	hash string // SHA-256 of its uncompressed content
	sig  string
}

// Verify validates a delivered tree under prefix as `aws cloudtrail
// validate-logs` does: each digest file's signature (from its metadata,
// or its sidecar in a directory) with keys, the chain of each account and
// region's digests (each names its predecessor's object, hash and
// signature), and each log file a valid digest lists against its hash.
// Every log file in the tree must be listed by a digest. It also checks
// that consecutive digests cover the chain's records without a hole, and
// reports the holes retention made, as the digests sign them.
func Verify(ctx context.Context, src Source, prefix string, keys []Key) (*Report, error) {
	var digestKeys, logKeys []string
	err := src.List(ctx, prefix+"AWSLogs/", func(key string) error {
		if !strings.HasSuffix(key, ".json.gz") {
			return nil
		}
		switch {
		case strings.Contains(key, "/CloudTrail-Digest/"):
			digestKeys = append(digestKeys, key)
		case strings.Contains(key, "/CloudTrail/"):
			logKeys = append(logKeys, key)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	present := make(map[string]bool, len(digestKeys))
	for _, k := range digestKeys {
		present[k] = true
	}
	rep := &Report{}
	problem := func(format string, args ...any) { rep.Problems = append(rep.Problems, fmt.Sprintf(format, args...)) }

	valid := make(map[string]*digestFile)
	for _, key := range digestKeys {
		body, meta, err := src.Get(ctx, key)
		if err != nil {
			return nil, err
		}
		raw, err := gunzip(body)
		if err != nil {
			problem("digest file %s is not readable (modified): %v", key, err)
			continue
		}
		df := &digestFile{key: key, hash: hashHex(raw), sig: meta["signature"]}
		if err := json.Unmarshal(raw, &df.d); err != nil {
			problem("digest file %s is not readable (modified): %v", key, err)
			continue
		}
		switch {
		case df.d.DigestS3Object != key:
			problem("digest file %s says it is %s (moved or replaced)", key, df.d.DigestS3Object)
		case df.sig == "":
			problem("digest file %s has no signature", key)
		case df.d.DigestSignatureAlgorithm != SignatureAlgorithm || meta["signature-algorithm"] != "" && meta["signature-algorithm"] != SignatureAlgorithm:
			problem("digest file %s: unknown signature algorithm %q", key, df.d.DigestSignatureAlgorithm)
		case !verifySignature(keys, &df.d, df.hash, df.sig):
			problem("digest file %s has an invalid signature (modified or forged)", key)
		default:
			valid[key] = df
		}
	}

	// Each account and region's digests, oldest first, chained.
	byTrail := make(map[string][]*digestFile)
	for _, df := range valid {
		k := df.d.AWSAccountID + "/" + df.d.Chain + "/" + regionOf(df.key)
		byTrail[k] = append(byTrail[k], df)
	}
	trails := make([]string, 0, len(byTrail))
	for k := range byTrail {
		trails = append(trails, k)
	}
	slices.Sort(trails)
	listed := make(map[string]bool)
	for _, k := range trails {
		ds := byTrail[k]
		slices.SortFunc(ds, func(a, b *digestFile) int { return cmp.Compare(a.d.DigestEndTime, b.d.DigestEndTime) })
		for i, df := range ds {
			d := &df.d
			if d.PreviousDigestS3Object == nil {
				if i > 0 {
					problem("digest file %s starts a new digest chain after %s (a digest was replaced)", df.key, ds[i-1].key)
				}
			} else {
				prev := valid[*d.PreviousDigestS3Object]
				switch {
				case prev == nil && !present[*d.PreviousDigestS3Object]:
					problem("digest file %s is missing (the previous digest of %s)", *d.PreviousDigestS3Object, df.key)
				case prev == nil:
					// Reported above as modified.
				case d.PreviousDigestHashValue == nil || *d.PreviousDigestHashValue != prev.hash ||
					d.PreviousDigestSignature == nil || *d.PreviousDigestSignature != prev.sig:
					problem("digest file %s was modified (its hash or signature is not the one %s names)", prev.key, df.key)
				case i == 0 || ds[i-1] != prev:
					problem("digest file %s does not follow %s (a digest was removed or replaced)", df.key, prev.key)
				case d.FirstRecord != prev.d.LastRecord+1:
					problem("digest files %s and %s do not cover records %d to %d", prev.key, df.key, prev.d.LastRecord+1, d.FirstRecord-1)
				}
			}
			for _, g := range d.RemovedByRetention {
				s := fmt.Sprintf("chain %s: records %d to %d were removed by retention before they were delivered (digest file %s signs it)", d.Chain, g.First, g.Last, df.key)
				if !removedSeen(rep.Removed, d.Chain, g) {
					rep.Removed = append(rep.Removed, s)
				}
			}
			for _, g := range d.Missing {
				s := fmt.Sprintf("chain %s: records %d to %d ", d.Chain, g.First, g.Last)
				if !removedSeen(rep.Problems, d.Chain, g) {
					problem("%swere missing from the chain when it was delivered, not removed by retention (digest file %s)", s, df.key)
				}
			}
			rep.Digests++
			for _, lf := range d.LogFiles {
				if listed[lf.S3Object] {
					continue
				}
				listed[lf.S3Object] = true
				body, _, err := src.Get(ctx, lf.S3Object)
				if errors.Is(err, fs.ErrNotExist) {
					problem("log file %s is missing (listed in digest file %s)", lf.S3Object, df.key)
					continue
				}
				if err != nil {
					return nil, err
				}
				raw, err := gunzip(body)
				if err != nil || hashHex(raw) != lf.HashValue {
					problem("log file %s was modified (its hash is not the one digest file %s lists)", lf.S3Object, df.key)
					continue
				}
				rep.LogFiles++
			}
		}
	}
	for _, key := range logKeys {
		if !listed[key] {
			problem("log file %s is not listed in any valid digest file", key)
		}
	}
	return rep, nil
}

// removedSeen reports whether a removal of chain's records g was already
// reported (each account and region's digests repeat it).
func removedSeen(seen []string, chain string, g Range) bool {
	p := fmt.Sprintf("chain %s: records %d to %d ", chain, g.First, g.Last)
	return slices.ContainsFunc(seen, func(s string) bool { return strings.HasPrefix(s, p) })
}

// regionOf is the region element of a digest's key.
func regionOf(key string) string {
	_, rest, ok := strings.Cut(key, "/CloudTrail-Digest/")
	if !ok {
		return ""
	}
	r, _, _ := strings.Cut(rest, "/")
	return r
}
