package delivery

import (
	"bytes"
	"cmp"
	"slices"
	"time"

	"github.com/iamd/iamd/internal/audit"
)

// unknownAccount and otherRegion name, in object keys, the events whose
// account or region cannot be a path element (an unauthenticated request
// has no account; the region is the one the client signed for).
const (
	unknownAccount = "unknown"
	otherRegion    = "other"
)

// logObject is a log file ready to put.
type logObject struct {
	key             string
	account, region string
	gz              []byte
	entry           LogFile
	events          int
}

type sliceKey struct {
	account, region string
	hour            int64
}

type slice struct {
	buf            bytes.Buffer
	oldest, newest int64
	events         int
}

// buildLogFiles makes the log files of one sealed segment: one per
// account, region and hour of event time, in a deterministic order and
// form.
func buildLogFiles(bucket, prefix string, seg audit.SealedSegment, read func(audit.SealedSegment, func(*audit.SealedRecord) error) error) ([]logObject, error) {
	slices_ := make(map[sliceKey]*slice)
	err := read(seg, func(r *audit.SealedRecord) error {
		account := r.Account
		if !pathSafe(account, 32) {
			account = unknownAccount
		}
		region := audit.EventRegion(r.Event)
		if !pathSafe(region, 32) {
			region = otherRegion
		}
		k := sliceKey{account, region, r.Time / 3600}
		s := slices_[k]
		if s == nil {
			s = &slice{oldest: r.Time, newest: r.Time}
			s.buf.WriteString(`{"Records":[`)
			slices_[k] = s
		} else {
			s.buf.WriteByte(',')
		}
		s.buf.Write(r.Event)
		s.oldest, s.newest = min(s.oldest, r.Time), max(s.newest, r.Time)
		s.events++
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]logObject, 0, len(slices_))
	for k, s := range slices_ {
		s.buf.WriteString("]}")
		body := s.buf.Bytes()
		key := logKey(prefix, k.account, k.region, time.Unix(s.newest, 0).UTC(), unique(seg.Chain, seg.First, k.account, k.region, k.hour))
		out = append(out, logObject{key: key, account: k.account, region: k.region, gz: gzipBytes(body), events: s.events,
			entry: LogFile{S3Bucket: bucket, S3Object: key, HashValue: hashHex(body), HashAlgorithm: hashAlgorithm,
				NewestEventTime: formatTime(s.newest), OldestEventTime: formatTime(s.oldest)}})
	}
	slices.SortFunc(out, func(a, b logObject) int { return cmp.Compare(a.key, b.key) })
	return out, nil
}
