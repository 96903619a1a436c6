// Package delivery delivers the sealed segments of a replica's audit
// chain as CloudTrail log files, with hourly signed digest files, to a
// local directory or an S3-compatible bucket, and validates a delivered
// tree the way `aws cloudtrail validate-logs` does.
//
// It is not the audit trail itself (package audit writes, signs and
// indexes the chain; delivery only reads sealed segments, which never
// change) and not a general S3 client: it puts and reads whole objects.
//
// Layout, as CloudTrail's:
//
//	PREFIX/AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_UNIQUE.json.gz
//	PREFIX/AWSLogs/ACCOUNT/CloudTrail-Digest/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail-Digest_REGION_TRAIL_REGION_YYYYMMDDTHHMMSSZ.json.gz
//
// A log file holds the events of one account and region from one hour of
// one sealed segment ({"Records":[...]}, gzip); its UNIQUE part is derived
// from the chain, the segment and the slice, so that delivering a segment
// again (after a crash) overwrites the same objects. The trail name is
// "iamd-CHAIN": each replica's chain has its own digest chains, one per
// account and region.
package delivery

import (
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"time"
)

// KeyPurpose derives the digest signing keys from the master keyring
// (secrets.Keyring.DeriveKeys(KeyPurpose)): each 32-byte subkey is the
// seed of an Ed25519 key.
const KeyPurpose = "iamd/audit-delivery/v1"

// SignatureAlgorithm is the digestSignatureAlgorithm of iamd's digests:
// Ed25519 over the data signing string (CloudTrail's is SHA256withRSA over
// the same string).
const SignatureAlgorithm = "Ed25519"

// hashAlgorithm names the hash of log files and digests, as CloudTrail.
const hashAlgorithm = "SHA-256"

const timeLayout = "2006-01-02T15:04:05Z"

// Key is a digest signing key.
type Key struct {
	priv        ed25519.PrivateKey
	pub         ed25519.PublicKey
	fingerprint string
}

// Keys turns subkeys derived from the master keyring (newest first) into
// signing keys; the first signs, any of them verifies.
func Keys(seeds [][]byte) []Key {
	out := make([]Key, 0, len(seeds))
	for _, s := range seeds {
		if len(s) != ed25519.SeedSize {
			continue
		}
		priv := ed25519.NewKeyFromSeed(s)
		pub := priv.Public().(ed25519.PublicKey)
		h := sha256.Sum256(pub)
		out = append(out, Key{priv: priv, pub: pub, fingerprint: hex.EncodeToString(h[:16])})
	}
	return out
}

// Fingerprint is the digestPublicKeyFingerprint of digests signed with k:
// the first 16 bytes of the SHA-256 of its public key, in hex.
func (k Key) Fingerprint() string { return k.fingerprint }

// LogFile is a log file as a digest lists it.
type LogFile struct {
	S3Bucket        string `json:"s3Bucket"`
	S3Object        string `json:"s3Object"`
	HashValue       string `json:"hashValue"`
	HashAlgorithm   string `json:"hashAlgorithm"`
	NewestEventTime string `json:"newestEventTime"`
	OldestEventTime string `json:"oldestEventTime"`
}

// Range is a range of a chain's records, First to Last.
type Range struct {
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
}

// Digest is a digest file, with CloudTrail's fields, then iamd's: the
// chain and the records of it that the delivery had read when the digest
// was written (from the previous digest of the same account and region
// on), the records retention removed before they could be delivered, and
// records found missing from the chain otherwise.
type Digest struct {
	AWSAccountID                string    `json:"awsAccountId"`
	DigestStartTime             string    `json:"digestStartTime"`
	DigestEndTime               string    `json:"digestEndTime"`
	DigestS3Bucket              string    `json:"digestS3Bucket"`
	DigestS3Object              string    `json:"digestS3Object"`
	DigestPublicKeyFingerprint  string    `json:"digestPublicKeyFingerprint"`
	DigestSignatureAlgorithm    string    `json:"digestSignatureAlgorithm"`
	NewestEventTime             string    `json:"newestEventTime,omitempty"`
	OldestEventTime             string    `json:"oldestEventTime,omitempty"`
	PreviousDigestS3Bucket      *string   `json:"previousDigestS3Bucket"`
	PreviousDigestS3Object      *string   `json:"previousDigestS3Object"`
	PreviousDigestHashValue     *string   `json:"previousDigestHashValue"`
	PreviousDigestHashAlgorithm *string   `json:"previousDigestHashAlgorithm"`
	PreviousDigestSignature     *string   `json:"previousDigestSignature"`
	LogFiles                    []LogFile `json:"logFiles"`

	Chain              string  `json:"iamdChain"`
	FirstRecord        uint64  `json:"iamdFirstRecord"`
	LastRecord         uint64  `json:"iamdLastRecord"`
	RemovedByRetention []Range `json:"iamdRemovedByRetention,omitempty"`
	Missing            []Range `json:"iamdMissing,omitempty"`
}

// signingString is CloudTrail's data signing string of a digest: its end
// time, its bucket/object, the SHA-256 of its uncompressed content and
// the previous digest's signature ("null" for the first).
func signingString(d *Digest, contentHash string) []byte {
	prev := "null"
	if d.PreviousDigestSignature != nil {
		prev = *d.PreviousDigestSignature
	}
	return []byte(d.DigestEndTime + "\n" + d.DigestS3Bucket + "/" + d.DigestS3Object + "\n" + contentHash + "\n" + prev)
}

// sign returns the hex signature of a digest whose uncompressed content
// hashes to contentHash.
func (k Key) sign(d *Digest, contentHash string) string {
	return hex.EncodeToString(ed25519.Sign(k.priv, signingString(d, contentHash)))
}

// verifySignature checks a digest's signature with the key its
// fingerprint names.
func verifySignature(keys []Key, d *Digest, contentHash, sigHex string) bool {
	sig, err := hex.DecodeString(sigHex)
	if err != nil {
		return false
	}
	for _, k := range keys {
		if k.fingerprint == d.DigestPublicKeyFingerprint && ed25519.Verify(k.pub, signingString(d, contentHash), sig) {
			return true
		}
	}
	return false
}

// logKey is the object key of a log file.
func logKey(prefix, account, region string, t time.Time, unique string) string {
	return prefix + "AWSLogs/" + account + "/CloudTrail/" + region + "/" + t.Format("2006/01/02") + "/" +
		account + "_CloudTrail_" + region + "_" + t.Format("20060102T1504Z") + "_" + unique + ".json.gz"
}

// digestKey is the object key of a digest file.
func digestKey(prefix, account, region, trail string, end time.Time) string {
	return prefix + "AWSLogs/" + account + "/CloudTrail-Digest/" + region + "/" + end.Format("2006/01/02") + "/" +
		account + "_CloudTrail-Digest_" + region + "_" + trail + "_" + region + "_" + end.Format("20060102T150405Z") + ".json.gz"
}

// trailName is the trail name in a chain's digest file names.
func trailName(chain string) string { return "iamd-" + chain }

// unique is the UNIQUE part of a log file's name: 16 hex digits derived
// from what the file holds, so that a redelivery writes the same name.
func unique(chain string, segFirst uint64, account, region string, hour int64) string {
	h := sha256.Sum256([]byte(chain + "\x00" + strconv.FormatUint(segFirst, 10) + "\x00" + account + "\x00" + region + "\x00" + strconv.FormatInt(hour, 10)))
	return hex.EncodeToString(h[:8])
}

// pathSafe reports whether s can be a path element of an object key
// (accounts and regions come from requests).
func pathSafe(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// gzipBytes compresses b, deterministically (no name, no time): the same
// content always makes the same object.
func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

// maxUncompressed bounds what gunzip reads: a segment's worth of events
// (16 MiB) and then some.
const maxUncompressed = 256 << 20

func gunzip(b []byte) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(r, maxUncompressed+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxUncompressed {
		return nil, fmt.Errorf("more than %d bytes uncompressed", maxUncompressed)
	}
	return out, nil
}

func hashHex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func formatTime(unix int64) string { return time.Unix(unix, 0).UTC().Format(timeLayout) }
