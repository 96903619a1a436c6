package iamapi

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
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
// (SERVICE.amazonaws.com) and what else IAM knows of the service; ok is
// false for a principal AWS's table does not list.
func serviceLinkedRoleName(service string) (name string, known linkedService, ok bool) {
	known, ok = linkedServices()[service]
	return known.role, known, ok
}
