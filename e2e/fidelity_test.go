package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// TestResponseShapes: responses carry the attributes AWS returns and no
// more, as the AWS CLI shows them: list operations leave out what AWS
// documents they leave out, CreatePolicy does not echo the description,
// GetPolicy lists no tags as an empty list.
func TestResponseShapes(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	cli := func(args ...string) map[string]any {
		t.Helper()
		out, err := e.cli(e.root, args...)
		if err != nil {
			t.Fatalf("aws %s: %v", strings.Join(args, " "), err)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("aws %s: %v in %q", strings.Join(args, " "), err, out)
		}
		return m
	}
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	created := cli("iam", "create-policy", "--policy-name", "described", "--description", "a description", "--policy-document", doc)["Policy"].(map[string]any)
	if _, ok := created["Description"]; ok {
		t.Errorf("CreatePolicy echoed the description: %v", created)
	}
	arn := created["Arn"].(string)
	got := cli("iam", "get-policy", "--policy-arn", arn)["Policy"].(map[string]any)
	if got["Description"] != "a description" {
		t.Errorf("GetPolicy Description = %v", got["Description"])
	}
	if tags, ok := got["Tags"].([]any); !ok || len(tags) != 0 {
		t.Errorf("GetPolicy Tags = %#v, want []", got["Tags"])
	}

	_, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bounded"), PermissionsBoundary: aws.String(arn),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("blue")}}})
	must(t, err)
	for _, u := range cli("iam", "list-users")["Users"].([]any) {
		for _, field := range []string{"PermissionsBoundary", "Tags"} {
			if _, ok := u.(map[string]any)[field]; ok {
				t.Errorf("ListUsers returned %s: %v", field, u)
			}
		}
	}
	if _, ok := cli("iam", "get-user", "--user-name", "bounded")["User"].(map[string]any)["PermissionsBoundary"]; !ok {
		t.Errorf("GetUser lost the boundary")
	}

	_, err = root.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("phone"),
		Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	must(t, err)
	for _, d := range cli("iam", "list-virtual-mfa-devices")["VirtualMFADevices"].([]any) {
		if _, ok := d.(map[string]any)["Tags"]; ok {
			t.Errorf("ListVirtualMFADevices returned tags: %v", d)
		}
	}
}
