package iamapi

import (
	"strings"
	"testing"

	"github.com/iamd/iamd/internal/managedpolicies"
	"github.com/iamd/iamd/internal/sar"
)

func TestServiceLinkedRoleName(t *testing.T) {
	tests := []struct {
		service, name string
		suffix, ok    bool
	}{
		{"custom-resource.application-autoscaling.amazonaws.com", "AWSServiceRoleForApplicationAutoScaling_CustomResource", false, true},
		{"dynamodb.application-autoscaling.amazonaws.com", "AWSServiceRoleForApplicationAutoScaling_DynamoDBTable", false, true},
		{"lambda.application-autoscaling.amazonaws.com", "AWSServiceRoleForApplicationAutoScaling_LambdaConcurrency", false, true},
		{"elasticmapreduce.amazonaws.com", "AWSServiceRoleForEMRCleanup", false, true},
		{"autoscaling.amazonaws.com", "AWSServiceRoleForAutoScaling", true, true},
		// Services with service-linked roles that the table does not
		// list are named after their principal.
		{"lex.amazonaws.com", "AWSServiceRoleForLex", true, true},
		{"license-manager.amazonaws.com", "AWSServiceRoleForLicenseManager", true, true},
		// AWS refuses principals of services it does not know, rather
		// than inventing a role name for them.
		{"example-thing.amazonaws.com", "", false, false},
		{"other.amazonaws.com", "", false, false},
		{"lex.example.com", "", false, false},
		{".amazonaws.com", "", false, false},
		{"", "", false, false},
	}
	services, err := sar.Load()
	if err != nil || !services.Available() {
		t.Fatalf("service authorization reference: %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.service, func(t *testing.T) {
			name, known, ok := serviceLinkedRoleName(tc.service, services)
			if ok != tc.ok || name != tc.name || known.suffix != tc.suffix {
				t.Errorf("%q suffix %v ok %v, want %q suffix %v ok %v", name, known.suffix, ok, tc.name, tc.suffix, tc.ok)
			}
		})
	}
}

// TestServiceLinkedCatalogue checks the embedded table: it parses, every
// role is named AWSServiceRoleFor..., and every policy it attaches is an
// AWS-managed policy under aws-service-role/ in the embedded catalogue.
func TestServiceLinkedCatalogue(t *testing.T) {
	m, err := parseLinkedServices(linkedServicesTSV)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) == 0 {
		t.Fatal("no service-linked roles")
	}
	cat, err := managedpolicies.Load()
	if err != nil {
		t.Fatal(err)
	}
	for principal, ls := range m {
		if !strings.HasSuffix(principal, ".amazonaws.com") || !strings.HasPrefix(ls.role, "AWSServiceRoleFor") || len(ls.role) > maxRoleName {
			t.Errorf("%s: role %q", principal, ls.role)
		}
		if ls.policy == "" {
			continue
		}
		if _, ok := cat.Get("arn:aws:iam::aws:policy/aws-service-role/" + ls.policy); !ok {
			t.Errorf("%s: policy %s is not an AWS-managed service-role policy", principal, ls.policy)
		}
	}
	for _, bad := range []string{"a\tb\tc\n", "a\tb\tc\tmaybe\n", "a\tb\tc\tno\na\tb\tc\tno\n"} {
		if _, err := parseLinkedServices(bad); err == nil {
			t.Errorf("parseLinkedServices(%q) accepted", bad)
		}
	}
}
