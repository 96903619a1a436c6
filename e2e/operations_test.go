package e2e

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/iamd/iamd/internal/awsquery"
)

// TestEveryOperationImplemented walks botocore's IAM and STS models and
// calls every operation, with empty input, as the root user: none may
// answer NotImplemented or a 500. An operation with required members
// answers AWS's ValidationError naming each of them ("Value null at
// 'userName' failed to satisfy constraint: Member must not be null");
// one without answers success, an error its model declares or a
// ValidationError ("Must specify userName when calling with non-User
// credentials").
func TestEveryOperationImplemented(t *testing.T) {
	e := start(t)
	for _, service := range []string{awsquery.ServiceIAM, awsquery.ServiceSTS} {
		m, err := awsquery.LoadModel(service)
		if err != nil {
			t.Fatal(err)
		}
		ops := make([]string, 0, len(m.Operations))
		for name := range m.Operations {
			ops = append(ops, name)
		}
		sort.Strings(ops)
		for _, op := range ops {
			t.Run(service+"/"+op, func(t *testing.T) {
				status, data := e.rootQuery(t, service, url.Values{"Action": {op}, "Version": {m.APIVersion}})
				if status == http.StatusOK {
					return
				}
				var er struct {
					Code    string `xml:"Error>Code"`
					Message string `xml:"Error>Message"`
				}
				if err := xml.Unmarshal(data, &er); err != nil || er.Code == "" {
					t.Fatalf("HTTP %d, not an AWS error: %s", status, data)
				}
				if er.Code == awsquery.CodeNotImplemented || status >= 500 && er.Code != "ServiceFailure" {
					t.Fatalf("HTTP %d %s: %s", status, er.Code, data)
				}
				var required []string
				if in := m.Operations[op].Input; in != nil {
					for _, mem := range in.Members {
						if mem.Required {
							required = append(required, mem.WireName())
						}
					}
				}
				if len(required) > 0 {
					if er.Code != awsquery.CodeValidationError {
						t.Fatalf("HTTP %d %s, want ValidationError for the missing %v: %s", status, er.Code, required, data)
					}
					for _, name := range required {
						want := "Value null at '" + strings.ToLower(name[:1]) + name[1:] + "' failed to satisfy constraint: Member must not be null"
						if !strings.Contains(er.Message, want) {
							t.Errorf("message %q does not say %q", er.Message, want)
						}
					}
					return
				}
				// ValidationError is one of the errors common to every
				// action (API reference, Common Errors).
				declared := er.Code == awsquery.CodeValidationError
				for _, s := range m.Operations[op].Errors {
					declared = declared || s.Error != nil && s.Error.Code == er.Code || s.Name == er.Code
				}
				if !declared {
					t.Errorf("HTTP %d %s, an error %s does not declare: %s", status, er.Code, op, data)
				}
			})
		}
	}
}
