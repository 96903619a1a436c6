package iamapi

import "testing"

func TestServiceLinkedRoleName(t *testing.T) {
	tests := []struct {
		service, name string
		suffix        bool
	}{
		{"custom-resource.application-autoscaling.amazonaws.com", "AWSServiceRoleForApplicationAutoScaling_CustomResource", false},
		{"dynamodb.application-autoscaling.amazonaws.com", "AWSServiceRoleForApplicationAutoScaling_DynamoDBTable", false},
		{"lambda.application-autoscaling.amazonaws.com", "AWSServiceRoleForApplicationAutoScaling_LambdaConcurrency", false},
		{"elasticmapreduce.amazonaws.com", "AWSServiceRoleForEMRCleanup", false},
		{"autoscaling.amazonaws.com", "AWSServiceRoleForAutoScaling", true},
		{"example-thing.amazonaws.com", "AWSServiceRoleForExampleThing", true},
	}
	for _, tc := range tests {
		name, known, ok := serviceLinkedRoleName(tc.service)
		if !ok || name != tc.name || known.suffix != tc.suffix {
			t.Errorf("%s: %q suffix %v ok %v, want %q suffix %v", tc.service, name, known.suffix, ok, tc.name, tc.suffix)
		}
	}
	if _, _, ok := serviceLinkedRoleName(".amazonaws.com"); ok {
		t.Error("a principal without a service name was accepted")
	}
}
