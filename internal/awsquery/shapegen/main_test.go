package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/iamd/iamd/internal/awsquery"
)

// TestGeneratedUpToDate fails when the checked-in zz_generated.go files
// differ from what the embedded models generate: run go generate
// ./internal/awsquery.
func TestGeneratedUpToDate(t *testing.T) {
	tests := []struct {
		service, pkg, file string
		ops                string
	}{
		{awsquery.ServiceIAM, "iamapi", "../../iamapi/zz_generated.go", ""},
		{awsquery.ServiceSTS, "stsapi", "../../stsapi/zz_generated.go", ""},
		{awsquery.ServiceIAM, "iamapi", "../internal/testapi/iamapi/zz_generated.go",
			"ChangePassword,CreateOpenIDConnectProvider,CreateUser,DeleteUser,GetAccountSummary,GetRole,GetUser,ListUsers,SimulateCustomPolicy,UntagUser,UpdateAccessKey,UpdateAccountPasswordPolicy"},
		{awsquery.ServiceSTS, "stsapi", "../internal/testapi/stsapi/zz_generated.go", "AssumeRole,GetCallerIdentity"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			m, err := awsquery.LoadModel(tc.service)
			if err != nil {
				t.Fatal(err)
			}
			var only []string
			if tc.ops != "" {
				only = strings.Split(tc.ops, ",")
			}
			got, err := generate(m, tc.service, tc.pkg, only...)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s is stale: run go generate ./internal/awsquery", tc.file)
			}
		})
	}
}

func TestIdentPart(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Active", "Active"}, {"IN_PROGRESS", "InProgress"}, {"aws-managed", "AwsManaged"},
		{"text/csv", "TextCsv"}, {"v1Token", "V1Token"}, {"stringList", "StringList"},
	}
	for _, tc := range tests {
		if got := identPart(tc.in); got != tc.want {
			t.Errorf("identPart(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
