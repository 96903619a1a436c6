package iamapi

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"

	"github.com/iamd/iamd/internal/sar"
)

// linkedService is what IAM knows of one service that uses a service-linked
// role.
type linkedService struct {
	role   string // role name
	policy string // managed policy the service attaches, under policy/aws-service-role/
	suffix bool   // whether CreateServiceLinkedRole accepts a CustomSuffix
}

// servicelinked.tsv is AWS's documented table of service-linked roles, by
// service principal; the file says where each row comes from.
//
//go:embed servicelinked.tsv
var linkedServicesTSV string

// linkedServices parses the embedded table once. The table is checked by
// TestServiceLinkedCatalogue, so a malformed one is a bug of the build.
var linkedServices = sync.OnceValue(func() map[string]linkedService {
	m, err := parseLinkedServices(linkedServicesTSV)
	if err != nil {
		panic(err)
	}
	return m
})

// parseLinkedServices reads lines of principal, role, policy and "yes" or
// "no" (custom suffix), tab-separated; # starts a comment line.
func parseLinkedServices(tsv string) (map[string]linkedService, error) {
	m := make(map[string]linkedService)
	for i, line := range strings.Split(tsv, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 || f[0] == "" || f[1] == "" || f[3] != "yes" && f[3] != "no" {
			return nil, fmt.Errorf("servicelinked.tsv:%d: want principal, role, policy, yes|no: %q", i+1, line)
		}
		if _, dup := m[f[0]]; dup {
			return nil, fmt.Errorf("servicelinked.tsv:%d: %s listed twice", i+1, f[0])
		}
		m[f[0]] = linkedService{role: f[1], policy: f[2], suffix: f[3] == "yes"}
	}
	return m, nil
}

// serviceLinkedRoleName returns the role name of a service principal
// (SERVICE.amazonaws.com, or NAME.SERVICE.amazonaws.com) and what else IAM
// knows of the service. A principal the table does not list gets a name
// made from the principal (AWSServiceRoleForLicenseManager), if its
// service is an AWS service of the authorization reference services (the
// table lists the services whose roles are named otherwise; AWS has
// service-linked roles for many more); ok is false for a principal of no
// AWS service. With no reference at hand, every principal gets a name.
func serviceLinkedRoleName(service string, services *sar.Catalog) (name string, known linkedService, ok bool) {
	if known, ok = linkedServices()[service]; ok {
		return known.role, known, true
	}
	base, found := strings.CutSuffix(service, ".amazonaws.com")
	if !found || base == "" {
		return "", linkedService{}, false
	}
	prefix := base[strings.LastIndexByte(base, '.')+1:]
	if _, isService := services.Service(prefix); services.Available() && !isService {
		return "", linkedService{}, false
	}
	var b strings.Builder
	b.WriteString("AWSServiceRoleFor")
	n := b.Len()
	for _, part := range strings.FieldsFunc(base, func(r rune) bool { return r == '.' || r == '-' || r == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]))
		b.WriteString(part[1:])
	}
	if b.Len() == n {
		return "", linkedService{}, false
	}
	return b.String(), linkedService{role: b.String(), suffix: true}, true
}
