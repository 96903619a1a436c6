package delivery

import (
	"context"
	"io/fs"
	"sort"
	"strings"
	"testing"
)

// memSource is a Source in memory.
type memSource struct {
	objects map[string][]byte
	meta    map[string]map[string]string
}

func (m *memSource) Get(_ context.Context, key string) ([]byte, map[string]string, error) {
	b, ok := m.objects[key]
	if !ok {
		return nil, nil, fs.ErrNotExist
	}
	return b, m.meta[key], nil
}

func (m *memSource) List(_ context.Context, prefix string, fn func(string) error) error {
	keys := make([]string, 0, len(m.objects))
	for k := range m.objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

// FuzzVerifyDigest: whatever a digest file holds, Verify reports it and
// never panics or accepts it unsigned.
func FuzzVerifyDigest(f *testing.F) {
	f.Add([]byte(`{"awsAccountId":"111111111111","digestEndTime":"2025-01-01T00:00:00Z","digestS3Object":"AWSLogs/111111111111/CloudTrail-Digest/us-east-1/2025/01/01/d.json.gz","digestSignatureAlgorithm":"Ed25519","logFiles":[{"s3Object":"AWSLogs/111111111111/CloudTrail/us-east-1/2025/01/01/l.json.gz","hashValue":"00"}],"previousDigestS3Object":"x"}`), "00")
	f.Add([]byte(`{"logFiles":null}`), "")
	f.Add([]byte(`not json`), "zz")
	const key = "AWSLogs/111111111111/CloudTrail-Digest/us-east-1/2025/01/01/d.json.gz"
	keys := Keys(seeds)
	empty := gzipBytes([]byte(`{"Records":[]}`))
	f.Fuzz(func(t *testing.T, digest []byte, sig string) {
		src := &memSource{
			objects: map[string][]byte{key: gzipBytes(digest), "AWSLogs/111111111111/CloudTrail/us-east-1/2025/01/01/l.json.gz": empty},
			meta:    map[string]map[string]string{key: {"signature": sig, "signature-algorithm": SignatureAlgorithm}},
		}
		rep, err := Verify(context.Background(), src, "", keys)
		if err != nil {
			return
		}
		if rep.OK() {
			t.Fatalf("an unsigned digest validates: %+v", rep)
		}
	})
}

func TestParseS3URL(t *testing.T) {
	tests := []struct {
		in, bucket, prefix string
		err                bool
	}{
		{"s3://trail", "trail", "", false},
		{"s3://trail/", "trail", "", false},
		{"s3://trail/a/b/", "trail", "a/b/", false},
		{"s3://trail/a", "trail", "a/", false},
		{"https://trail/a", "", "", true},
		{"s3:///a", "", "", true},
		{"trail", "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			b, p, err := ParseS3URL(tc.in)
			if (err != nil) != tc.err || b != tc.bucket || p != tc.prefix {
				t.Fatalf("ParseS3URL(%q) = %q, %q, %v", tc.in, b, p, err)
			}
		})
	}
}
