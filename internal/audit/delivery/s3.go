package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3 is a bucket destination, written with PutObject (whole objects, so
// a reader never sees part of one). The digests' signatures go where
// CloudTrail puts them: object metadata "signature" and
// "signature-algorithm".
type S3 struct {
	client *s3.Client
	bucket string
	prefix string // "" or ending in "/"
	url    string
}

// ParseS3URL splits s3://bucket/prefix.
func ParseS3URL(raw string) (bucket, prefix string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return "", "", fmt.Errorf("%q: want s3://bucket or s3://bucket/prefix", raw)
	}
	prefix = strings.Trim(u.Path, "/")
	if prefix != "" {
		prefix += "/"
	}
	return u.Host, prefix, nil
}

// NewS3 returns the destination s3://bucket/prefix. Credentials and the
// region come from the SDK's default chain (environment, shared config
// files, instance roles); endpoint, if not empty, is the URL of an
// S3-compatible server, addressed path-style.
func NewS3(ctx context.Context, raw, endpoint string) (*S3, error) {
	bucket, prefix, err := ParseS3URL(raw)
	if err != nil {
		return nil, err
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		// S3-compatible servers may not send checksums; the digests
		// check the content.
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		o.DisableLogOutputChecksumValidationSkipped = true
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true
		}
	})
	return &S3{client: client, bucket: bucket, prefix: prefix, url: raw}, nil
}

// Location is the bucket and the key prefix.
func (s *S3) Location() (bucket, prefix string) { return s.bucket, s.prefix }

// String is the destination's URL.
func (s *S3) String() string { return s.url }

// Put writes an object with PutObject.
func (s *S3) Put(ctx context.Context, key string, body []byte, meta map[string]string) error {
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))), ContentType: aws.String("application/x-gzip"),
		Metadata: meta,
	})
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", s.bucket, key, err)
	}
	return nil
}

// Get reads an object and its metadata; a missing object is
// fs.ErrNotExist.
func (s *S3) Get(ctx context.Context, key string) ([]byte, map[string]string, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		var nsk *types.NoSuchKey
		if errors.As(err, &nsk) {
			return nil, nil, fs.ErrNotExist
		}
		return nil, nil, fmt.Errorf("get s3://%s/%s: %w", s.bucket, key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(io.LimitReader(out.Body, maxUncompressed))
	if err != nil {
		return nil, nil, err
	}
	return body, out.Metadata, nil
}

// List calls fn with every key under prefix, in lexical order.
func (s *S3) List(ctx context.Context, prefix string, fn func(key string) error) error {
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list s3://%s/%s: %w", s.bucket, prefix, err)
		}
		for _, o := range page.Contents {
			if err := fn(aws.ToString(o.Key)); err != nil {
				return err
			}
		}
	}
	return nil
}
