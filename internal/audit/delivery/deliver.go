package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/iamd/iamd/internal/audit"
)

// Destination is where log and digest files go.
type Destination interface {
	// Location is the bucket named in digests and the prefix of every key
	// ("" or ending in "/").
	Location() (bucket, prefix string)
	// Put writes a whole object, replacing any of the same key.
	Put(ctx context.Context, key string, body []byte, meta map[string]string) error
	String() string
}

// Options configures a Deliverer.
type Options struct {
	// Dir is the audit directory and Chain the chain to deliver (the
	// replica's own: audit.Log's Dir and Chain).
	Dir, Chain string
	// AuditKeys check the sealed segments' checkpoints
	// (DeriveKeys(audit.KeyPurpose)); Keys sign digests (Keys of
	// DeriveKeys(KeyPurpose)), the first of them.
	AuditKeys [][]byte
	Keys      []Key
	Dest      Destination
	// DigestInterval is how often digests are written: at each multiple
	// of it (UTC), for the accounts and regions that got log files since
	// their last one. Default one hour, as CloudTrail.
	DigestInterval time.Duration
	// Poll is how often sealed segments are looked for; default 5 s.
	Poll time.Duration
	Now  func() time.Time
	Log  *slog.Logger
}

// Deliverer delivers one chain to one destination. Run it in its own
// goroutine; nothing of it is on the request path.
type Deliverer struct {
	opts       Options
	cursorPath string
	cur        *cursor

	files    atomic.Uint64
	digests  atomic.Uint64
	failures atomic.Uint64
	failing  atomic.Bool
	records  atomic.Uint64
}

// New loads the delivery cursor of opts.Chain for opts.Dest.
func New(opts Options) (*Deliverer, error) {
	if opts.DigestInterval <= 0 {
		opts.DigestInterval = time.Hour
	}
	if opts.Poll <= 0 {
		opts.Poll = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if len(opts.Keys) == 0 {
		return nil, errors.New("delivery: no signing key")
	}
	if opts.Chain == "" {
		return nil, errors.New("delivery: no chain")
	}
	d := &Deliverer{opts: opts, cursorPath: cursorPath(filepath.Join(opts.Dir, opts.Chain), opts.Dest.String())}
	c, err := loadCursor(d.cursorPath, opts.Dest.String())
	if err != nil {
		return nil, err
	}
	d.cur = c
	d.records.Store(c.Delivered)
	return d, nil
}

// Stats is what a Deliverer did since it started.
type Stats struct {
	Files, Digests, Failures uint64
	// Delivered is the last record of the chain delivered.
	Delivered uint64
	// Failing is true while the last attempt failed.
	Failing bool
}

// Stats returns the counts so far; safe for concurrent use.
func (d *Deliverer) Stats() Stats {
	return Stats{Files: d.files.Load(), Digests: d.digests.Load(), Failures: d.failures.Load(),
		Delivered: d.records.Load(), Failing: d.failing.Load()}
}

// Run delivers until ctx is done, retrying a failing destination with
// backoff (1 s, doubling, up to 5 min), then writes the digests of what
// it delivered since the last ones (a stopped server leaves a tree that
// validates).
func (d *Deliverer) Run(ctx context.Context) {
	backoff := time.Duration(0)
	for {
		err := d.Step(ctx)
		wait := d.opts.Poll
		switch {
		case ctx.Err() != nil:
		case err != nil:
			d.failures.Add(1)
			d.failing.Store(true)
			backoff = min(max(2*backoff, time.Second), 5*time.Minute)
			wait = backoff
			d.opts.Log.Error("audit delivery failed; retrying", "dest", d.opts.Dest.String(), "err", err, "retry_in", wait)
		default:
			if d.failing.Swap(false) {
				d.opts.Log.Info("audit delivery recovered", "dest", d.opts.Dest.String())
			}
			backoff = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if err := d.Flush(fctx); err != nil {
				d.opts.Log.Error("audit delivery: the last digests were not written; the next start writes them", "dest", d.opts.Dest.String(), "err", err)
			}
			cancel()
			return
		case <-t.C:
		}
	}
}

// Step finishes digests a crash cut short, delivers every sealed segment
// not delivered yet, and writes the digests due.
func (d *Deliverer) Step(ctx context.Context) error {
	if d.cur.DigestDue != "" {
		end, err := time.Parse(timeLayout, d.cur.DigestDue)
		if err != nil {
			return fmt.Errorf("delivery cursor: %w", err)
		}
		if err := d.writeDigests(ctx, end); err != nil {
			return err
		}
	}
	// On an error, the segments before the one at fault are delivered,
	// and the error reported (and retried).
	segs, listErr := audit.SealedSegments(d.opts.Dir, d.opts.Chain, d.opts.AuditKeys, d.cur.Delivered)
	for _, seg := range segs {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := d.deliverSegment(ctx, seg)
		if errors.Is(err, audit.ErrSegmentGone) {
			break // retention removed it: the next step sees the gap
		}
		if err != nil {
			return err
		}
	}
	end := d.opts.Now().UTC().Truncate(d.opts.DigestInterval)
	if err := d.digestsDue(ctx, end); err != nil {
		return err
	}
	return listErr
}

// Flush writes the digests of the log files delivered since the last
// ones, ending at the next whole second.
func (d *Deliverer) Flush(ctx context.Context) error {
	// The end is the next whole second: files delivered in this second
	// (a trail started in it has it as its start) are covered too.
	return d.digestsDue(ctx, d.opts.Now().UTC().Truncate(time.Second).Add(time.Second))
}

func (d *Deliverer) digestsDue(ctx context.Context, end time.Time) error {
	if last, err := time.Parse(timeLayout, d.cur.LastDigestEnd); err == nil && !end.After(last) {
		return nil
	}
	if !slices.ContainsFunc(d.cur.Trails, func(t *trailState) bool { return t.due(end.Format(timeLayout)) }) {
		return nil
	}
	d.cur.DigestDue = end.Format(timeLayout)
	if err := d.cur.save(d.cursorPath); err != nil {
		return err
	}
	return d.writeDigests(ctx, end)
}

// deliverSegment puts the log files of one sealed segment, then records
// them in the cursor.
func (d *Deliverer) deliverSegment(ctx context.Context, seg audit.SealedSegment) error {
	bucket, prefix := d.opts.Dest.Location()
	objs, err := buildLogFiles(bucket, prefix, seg, audit.ReadSealed)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := d.opts.Dest.Put(ctx, o.key, o.gz, nil); err != nil {
			return err
		}
		d.files.Add(1)
	}
	if seg.First > d.cur.Delivered+1 {
		g := Range{First: d.cur.Delivered + 1, Last: seg.First - 1}
		if audit.RemovedByRetention(d.opts.Dir, d.opts.Chain, d.opts.AuditKeys) >= g.Last {
			d.cur.Gaps = appendBounded(d.cur.Gaps, g)
			d.opts.Log.Warn("audit delivery: records were removed by retention before they were delivered", "chain", seg.Chain, "first", g.First, "last", g.Last)
		} else {
			d.cur.Missing = appendBounded(d.cur.Missing, g)
			d.opts.Log.Error("audit delivery: records are missing from the chain, not removed by retention (run iamd audit verify)", "chain", seg.Chain, "first", g.First, "last", g.Last)
		}
	}
	start := d.opts.Now().UTC().Truncate(d.opts.DigestInterval).Format(timeLayout)
	for _, o := range objs {
		t := d.cur.trail(o.account, o.region, start)
		t.Files = append(t.Files, o.entry)
	}
	d.cur.Delivered = seg.Last
	if err := d.cur.save(d.cursorPath); err != nil {
		return err
	}
	d.records.Store(seg.Last)
	if slices.ContainsFunc(d.cur.Trails, func(t *trailState) bool { return len(t.Files) >= maxPendingFiles }) {
		// The cursor is rewritten after every segment: a digest before
		// the hour keeps it small under heavy load.
		return d.Flush(ctx)
	}
	return nil
}

// maxPendingFiles is how many log files of one account and region wait
// for a digest at most.
const maxPendingFiles = 1000

// writeDigests writes, for every account and region with log files since
// its last digest, a digest ending at end, chained to its previous one.
func (d *Deliverer) writeDigests(ctx context.Context, end time.Time) error {
	bucket, prefix := d.opts.Dest.Location()
	key := d.opts.Keys[0]
	endS := end.Format(timeLayout)
	for _, t := range d.cur.Trails {
		if !t.due(endS) {
			continue
		}
		dg := &Digest{
			AWSAccountID: t.Account, DigestStartTime: t.Start, DigestEndTime: endS,
			DigestS3Bucket: bucket, DigestS3Object: digestKey(prefix, t.Account, t.Region, trailName(d.opts.Chain), end),
			DigestPublicKeyFingerprint: key.Fingerprint(), DigestSignatureAlgorithm: SignatureAlgorithm,
			LogFiles: t.Files, Chain: d.opts.Chain, FirstRecord: t.PrevLast + 1, LastRecord: d.cur.Delivered,
		}
		for _, f := range t.Files {
			if dg.NewestEventTime == "" || f.NewestEventTime > dg.NewestEventTime {
				dg.NewestEventTime = f.NewestEventTime
			}
			if dg.OldestEventTime == "" || f.OldestEventTime < dg.OldestEventTime {
				dg.OldestEventTime = f.OldestEventTime
			}
		}
		if t.PrevObject != "" {
			alg := hashAlgorithm
			dg.PreviousDigestS3Bucket, dg.PreviousDigestS3Object = &t.PrevBucket, &t.PrevObject
			dg.PreviousDigestHashValue, dg.PreviousDigestHashAlgorithm, dg.PreviousDigestSignature = &t.PrevHash, &alg, &t.PrevSig
		}
		dg.RemovedByRetention, dg.Missing = since(d.cur.Gaps, t.PrevLast), since(d.cur.Missing, t.PrevLast)
		body, err := json.Marshal(dg)
		if err != nil {
			return err
		}
		h := hashHex(body)
		sig := key.sign(dg, h)
		if err := d.opts.Dest.Put(ctx, dg.DigestS3Object, gzipBytes(body), map[string]string{
			"signature": sig, "signature-algorithm": SignatureAlgorithm,
		}); err != nil {
			return err
		}
		d.digests.Add(1)
		t.PrevBucket, t.PrevObject, t.PrevSig, t.PrevHash = bucket, dg.DigestS3Object, sig, h
		t.PrevLast, t.Start, t.Files = d.cur.Delivered, endS, nil
		if err := d.cur.save(d.cursorPath); err != nil {
			return err
		}
	}
	d.cur.DigestDue, d.cur.LastDigestEnd = "", endS
	return d.cur.save(d.cursorPath)
}

// DestinationFor opens the destination a flag names: s3://bucket/prefix
// (with endpoint for S3-compatible servers) or a local directory.
func DestinationFor(ctx context.Context, spec, endpoint string) (Destination, error) {
	if strings.HasPrefix(spec, "s3://") {
		return NewS3(ctx, spec, endpoint)
	}
	return NewDir(spec)
}
