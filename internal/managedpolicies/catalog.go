// Package managedpolicies is the catalogue of AWS-managed policies
// (arn:PARTITION:iam::aws:policy/...) that iamd serves read-only in every
// account.
//
// The catalogue is embedded in the binary; scripts/gen-managed-policies.sh
// regenerates it from the shared data set.
package managedpolicies

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

//go:embed aws-managed-policies.json.gz
var compressed []byte

// Policy is one AWS-managed policy.
type Policy struct {
	Name             string
	ARN              string
	Path             string
	ID               string
	DefaultVersionID string
	Created          time.Time
	Updated          time.Time
	// Document is the default version's policy document.
	Document string
}

// Catalog holds every AWS-managed policy. It is immutable.
type Catalog struct {
	byARN  map[string]*Policy
	sorted []*Policy // by name
}

// Load decodes the embedded catalogue, in the commercial partition (aws).
func Load() (*Catalog, error) { return LoadPartition("aws") }

// LoadPartition decodes the embedded catalogue as the given partition
// serves it: ARNs arn:PARTITION:iam::aws:policy/..., and the documents'
// own ARNs (arn:aws:s3:::...) in the partition too, as AWS's copies of its
// policies in aws-cn and aws-us-gov name them. Policy IDs are those of the
// commercial partition.
func LoadPartition(partition string) (*Catalog, error) {
	zr, err := gzip.NewReader(bytes.NewReader(compressed))
	if err != nil {
		return nil, fmt.Errorf("managed policies: %w", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("managed policies: %w", err)
	}
	var entries []struct {
		PolicyName       string
		Arn              string
		Path             string
		DefaultVersionId string
		CreateDate       time.Time
		UpdateDate       time.Time
		Document         json.RawMessage
	}
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("managed policies: %w", err)
	}
	c := &Catalog{byARN: make(map[string]*Policy, len(entries))}
	for _, e := range entries {
		var doc bytes.Buffer
		if err := json.Indent(&doc, compact(e.Document), "", "    "); err != nil {
			return nil, fmt.Errorf("managed policy %s: %w", e.Arn, err)
		}
		arn, text := e.Arn, doc.String()
		if partition != "aws" {
			arn = "arn:" + partition + strings.TrimPrefix(arn, "arn:aws")
			text = strings.ReplaceAll(text, `"arn:aws:`, `"arn:`+partition+`:`)
		}
		p := &Policy{
			Name:             e.PolicyName,
			ARN:              arn,
			Path:             e.Path,
			ID:               policyID(e.Arn),
			DefaultVersionID: e.DefaultVersionId,
			Created:          e.CreateDate.UTC(),
			Updated:          e.UpdateDate.UTC(),
			Document:         text,
		}
		c.byARN[p.ARN] = p
		c.sorted = append(c.sorted, p)
	}
	slices.SortFunc(c.sorted, func(a, b *Policy) int { return strings.Compare(a.Name, b.Name) })
	return c, nil
}

func compact(raw []byte) []byte {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

// policyID derives a stable ANPA... policy ID from the ARN, since the data set
// does not carry AWS's IDs.
func policyID(arn string) string {
	sum := sha256.Sum256([]byte(arn))
	enc := base32.StdEncoding.EncodeToString(sum[:])
	return "ANPA" + strings.Map(func(r rune) rune {
		if r >= '2' && r <= '7' || r >= 'A' && r <= 'Z' {
			return r
		}
		return 'Q'
	}, enc[:17])
}

// Get returns the policy with the given ARN.
func (c *Catalog) Get(arn string) (*Policy, bool) {
	p, ok := c.byARN[arn]
	return p, ok
}

// All returns every policy sorted by name. The slice must not be modified.
func (c *Catalog) All() []*Policy { return c.sorted }

// Len returns the number of policies.
func (c *Catalog) Len() int { return len(c.sorted) }
