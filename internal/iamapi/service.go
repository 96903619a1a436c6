package iamapi

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/managedpolicies"
	"github.com/iamd/iamd/internal/password"
	"github.com/iamd/iamd/internal/sar"
	"github.com/iamd/iamd/internal/store"
)

// Authorizer decides whether a caller may make an IAM request. It returns
// nil to allow, or an AccessDenied *awsquery.Error in AWS's wording.
type Authorizer interface {
	Authorize(ctx context.Context, c *authz.Caller, req *authz.Request) error
}

// Quotas are the per-account limits IAM enforces. AWS's defaults are in
// DefaultQuotas; a server may raise them (for example to seed a large test
// account), never a per-entity structural limit such as two access keys.
type Quotas struct {
	UsersPerAccount            int
	GroupsPerAccount           int
	RolesPerAccount            int
	PoliciesPerAccount         int
	InstanceProfilesPerAccount int
	ManagedPoliciesPerEntity   int
	GroupsPerUser              int
}

// DefaultQuotas are AWS's default IAM quotas.
var DefaultQuotas = Quotas{
	UsersPerAccount:            5000,
	GroupsPerAccount:           300,
	RolesPerAccount:            1000,
	PoliciesPerAccount:         1500,
	InstanceProfilesPerAccount: 1000,
	ManagedPoliciesPerEntity:   10,
	GroupsPerUser:              10,
}

// Config configures a Service.
type Config struct {
	View       *iam.View
	Writer     *iam.Writer
	Secrets    iam.Sealer
	Authorizer Authorizer
	// Managed returns the AWS-managed policy catalogue; it is loaded on
	// first use.
	Managed func() *managedpolicies.Catalog
	// Services returns the service authorization reference, which tells
	// CreateServiceLinkedRole the AWS services its own table does not
	// list; nil loads the embedded one on first use.
	Services func() *sar.Catalog
	Quotas   Quotas
	Now      func() time.Time
	Log      *slog.Logger
	// Usage knows when access keys were last used.
	Usage KeyUsage
	// Passwords hashes console passwords; nil means
	// password.NewHasher(password.DefaultParams(), 2).
	Passwords *password.Hasher
	// Access knows which services and actions users and roles last used
	// (last-accessed reports); nil reports no use.
	Access *iam.AccessTracker
	// PublicURL is the URL clients reach iamd at, the base of the issuer
	// URLs of outbound web identity federation.
	PublicURL string
	// Partition is the partition of every ARN the service builds and
	// accepts; the zero value is "aws".
	Partition iam.Partition
}

// KeyUsage reports access key use; *iam.UsageTracker implements it.
type KeyUsage interface {
	LastUsed(keyID string) (iam.KeyUsage, bool)
}

// Service implements the IAM API on iamd's state.
type Service struct {
	UnimplementedServer

	view     *iam.View
	writer   *iam.Writer
	secrets  iam.Sealer
	authz    Authorizer
	managed  func() *managedpolicies.Catalog
	services func() *sar.Catalog
	quotas   Quotas
	usage    KeyUsage
	now      func() time.Time
	log      *slog.Logger

	// mu serialises the rare writes that must see a consistent set of
	// several records across accounts (aliases); per-record consistency is
	// the store's compare-and-swap.
	mu sync.Mutex

	// passwords hashes and verifies console passwords.
	passwords *password.Hasher

	// access serves the last-accessed reports (lastaccessed.go).
	access *iam.AccessTracker

	// publicURL is the base of outbound federation issuer URLs.
	publicURL string

	// partition builds and checks ARNs (arn:PARTITION:...).
	partition iam.Partition
}

// New returns a Service.
func New(cfg Config) *Service {
	s := &Service{
		view: cfg.View, writer: cfg.Writer, secrets: cfg.Secrets, authz: cfg.Authorizer,
		managed: cfg.Managed, quotas: cfg.Quotas, usage: cfg.Usage, now: cfg.Now, log: cfg.Log,
		passwords: cfg.Passwords, access: cfg.Access, publicURL: cfg.PublicURL,
		partition: cfg.Partition, services: cfg.Services,
	}
	if s.services == nil {
		s.services = sar.Lazy(cfg.Log)
	}
	if s.passwords == nil {
		// DefaultParams are valid, so NewHasher cannot fail here.
		s.passwords, _ = password.NewHasher(password.DefaultParams(), 2)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.quotas == (Quotas{}) {
		s.quotas = DefaultQuotas
	}
	return s
}

// Partition is the partition of the ARNs the service builds.
func (s *Service) Partition() iam.Partition { return s.partition }

// timestamp is the current time at IAM's precision (seconds).
func (s *Service) timestamp() time.Time { return s.now().UTC().Truncate(time.Second) }

// caller returns the authenticated caller; IAM is never called unsigned.
func caller(ctx context.Context) (*authz.Caller, error) {
	c := authz.CallerFrom(ctx)
	if c == nil {
		return nil, errors.New("iamapi: no caller in context")
	}
	return c, nil
}

// authorize checks that the caller may perform action on resource, in the
// caller's own account.
func (s *Service) authorize(ctx context.Context, action, resource string, opts ...authz.Option) (*authz.Caller, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	req := &authz.Request{Action: action, Resource: resource}
	for _, o := range opts {
		o(req)
	}
	if err := s.authz.Authorize(ctx, c, req); err != nil {
		return nil, err
	}
	return c, nil
}

// read runs fn on the caller's account state.
func (s *Service) read(account string, fn func(a *iam.AccountView)) error {
	if !s.view.Read(account, fn) {
		return noSuchEntity("The account %s does not exist.", account)
	}
	return nil
}

// commit writes mutations, turning a lost race into the error AWS gives for
// concurrent changes; callers that can re-validate use iam.Retry instead.
func (s *Service) commit(ctx context.Context, muts ...iam.Mutation) error {
	return s.writer.Commit(ctx, muts...)
}

// retry runs fn again while it loses compare-and-swap races, then reports a
// persistent conflict as ConcurrentModification.
func retry(ctx context.Context, fn func() error) error {
	err := iam.Retry(ctx, fn)
	if errors.Is(err, store.ErrConflict) {
		return concurrentModification("The request was rejected because multiple requests to change this object were submitted simultaneously. Wait a few minutes and submit your request again.")
	}
	return err
}

// Pagination.

const defaultMaxItems = 100

func maxItems(p *int32) int {
	if p == nil || *p <= 0 {
		return defaultMaxItems
	}
	return int(*p)
}

// encodeMarker makes an opaque marker from the key to resume at. The key
// carries a CRC-32 so that a marker the caller made up or mangled is
// rejected (as AWS does, with ValidationError "Invalid Marker.") instead of
// silently resuming somewhere.
func encodeMarker(key string) string {
	if key == "" {
		return ""
	}
	b := binary.BigEndian.AppendUint32([]byte(key), crc32.ChecksumIEEE([]byte(key)))
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeMarker returns the key a marker resumes at.
func decodeMarker(m string) (string, error) {
	if m == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(m)
	if err != nil || len(b) <= crc32.Size {
		return "", invalidMarker()
	}
	key, sum := b[:len(b)-crc32.Size], b[len(b)-crc32.Size:]
	if crc32.ChecksumIEEE(key) != binary.BigEndian.Uint32(sum) {
		return "", invalidMarker()
	}
	return string(key), nil
}

// invalidMarker is IAM's answer to a Marker it did not issue.
func invalidMarker() error { return validationError("Invalid Marker.") }

// pageOf slices a sorted list for Marker/MaxItems pagination, where the
// marker is an index encoded by encodeIndexMarker.
func pageOf[T any](all []T, marker string, max int) (page []T, next string, err error) {
	start := 0
	if marker != "" {
		k, err := decodeMarker(marker)
		if err != nil {
			return nil, "", err
		}
		n := 0
		for _, c := range k {
			if c < '0' || c > '9' {
				return nil, "", invalidMarker()
			}
			n = n*10 + int(c-'0')
			if n > len(all) {
				return nil, "", invalidMarker()
			}
		}
		start = n
	}
	end := min(start+max, len(all))
	if end < len(all) {
		next = encodeMarker(itoa(end))
	}
	return all[start:end], next, nil
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// Paths and names.

func pathOrDefault(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// Tags.

func toTags(in []Tag) []iam.Tag {
	if len(in) == 0 {
		return nil
	}
	out := make([]iam.Tag, len(in))
	for i, t := range in {
		out[i] = iam.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

func fromTags(in []iam.Tag) []Tag {
	if len(in) == 0 {
		return nil
	}
	out := make([]Tag, len(in))
	for i, t := range in {
		out[i] = Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

// tagList is fromTags for the Get operations whose answer lists no tags
// as an empty list rather than leaving the member out: AWS answers
// `Tags: []` from GetPolicy (AWS-managed policies too),
// GetInstanceProfile, GetOpenIDConnectProvider, GetSAMLProvider and
// GetServerCertificate for a resource without tags (never tagged, or once
// its last tag was removed), while GetUser and GetRole leave Tags out. Recorded from AWS in LocalStack's validated
// snapshots (tests/aws/services/iam/test_iam_*.snapshot.json, 2026).
func tagList(in []iam.Tag) []Tag {
	if out := fromTags(in); out != nil {
		return out
	}
	return []Tag{}
}

const maxTags = 50

// More than 50 tags in one request is refused by the model's constraint on
// the Tags list (ValidationError "... at 'tags' failed to satisfy
// constraint: Member must have length less than or equal to 50"), as
// botocore's tagListType (max 50) says. Going past 50 by merging with a
// resource's tags answers LimitExceeded "The number of tags has reached
// the maximum limit." (with its trailing period), as AWS answered
// TagOpenIDConnectProvider in LocalStack's AWS-recorded snapshot
// (tests/aws/services/iam/test_iam_oidc.snapshot.json,
// test_open_id_connect_provider_tags_limit). Duplicate keys answer
// InvalidInput "Duplicate tag keys found. Please note that Tag keys are
// case insensitive.", AWS's text as CreateRole errors quote it in public
// Terraform logs.

// checkNewTags validates tags given at creation.
func checkNewTags(tags []Tag) error {
	if len(tags) > maxTags {
		return limitExceeded("The number of tags has reached the maximum limit.")
	}
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		k := strings.ToLower(t.Key)
		if seen[k] {
			return invalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
		}
		seen[k] = true
		if strings.HasPrefix(k, "aws:") {
			return invalidInput("User-defined tag keys can't start with \"aws:\". This prefix is reserved for AWS tags.")
		}
	}
	return nil
}

// mergeTags adds or replaces tags (keys compare case-insensitively, the new
// key's case wins) and enforces the limit.
func mergeTags(have []iam.Tag, add []Tag) ([]iam.Tag, error) {
	if err := checkNewTags(add); err != nil {
		return nil, err
	}
	out := append([]iam.Tag(nil), have...)
	for _, t := range add {
		replaced := false
		for i := range out {
			if strings.EqualFold(out[i].Key, t.Key) {
				out[i] = iam.Tag{Key: t.Key, Value: t.Value}
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, iam.Tag{Key: t.Key, Value: t.Value})
		}
	}
	if len(out) > maxTags {
		return nil, limitExceeded("The number of tags has reached the maximum limit.")
	}
	return out, nil
}

// removeTags drops tags by key (case-insensitive).
func removeTags(have []iam.Tag, keys []string) []iam.Tag {
	out := make([]iam.Tag, 0, len(have))
	for _, t := range have {
		drop := false
		for _, k := range keys {
			if strings.EqualFold(k, t.Key) {
				drop = true
				break
			}
		}
		if !drop {
			out = append(out, t)
		}
	}
	return out
}

// tagOptions gives the authorization request the tags of a tagging call
// (aws:RequestTag/KEY and aws:TagKeys).
func tagOptions(tags []Tag) authz.Option {
	return func(r *authz.Request) {
		for _, t := range tags {
			r.Context = append(r.Context, authz.KV{Key: "aws:RequestTag/" + t.Key, Values: []string{t.Value}})
		}
		if len(tags) > 0 {
			keys := make([]string, len(tags))
			for i, t := range tags {
				keys[i] = t.Key
			}
			r.Context = append(r.Context, authz.KV{Key: "aws:TagKeys", Values: keys})
		}
	}
}

// tagKeysOption gives aws:TagKeys for an untagging call.
func tagKeysOption(keys []string) authz.Option {
	return func(r *authz.Request) {
		if len(keys) > 0 {
			r.Context = append(r.Context, authz.KV{Key: "aws:TagKeys", Values: keys})
		}
	}
}

// resourceTags gives aws:ResourceTag/KEY (and iam:ResourceTag/KEY) for the
// entity acted on.
func resourceTags(tags []iam.Tag) authz.Option {
	return func(r *authz.Request) { r.ResourceTags = tags }
}

// withKey adds one context key.
func withKey(key string, values ...string) authz.Option {
	return func(r *authz.Request) {
		r.Context = append(r.Context, authz.KV{Key: key, Values: values})
	}
}
