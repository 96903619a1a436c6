package e2e

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/sigv4"
)

// TestEveryOperationImplemented walks botocore's IAM and STS models and
// calls every operation, with empty input, as the root user: none may
// answer NotImplemented, and each answers either success or an AWS error
// of its API (a validation error, for most, as the input is empty),
// never a 500.
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
		signer := &sigv4.Signer{Credentials: sigv4.Credentials{AccessKeyID: e.root.AccessKeyID, SecretAccessKey: e.root.SecretAccessKey},
			Region: "us-east-1", Service: service}
		for _, op := range ops {
			t.Run(service+"/"+op, func(t *testing.T) {
				body := url.Values{"Action": {op}, "Version": {m.APIVersion}}.Encode()
				req, err := http.NewRequest(http.MethodPost, e.url+"/", strings.NewReader(body))
				must(t, err)
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
				must(t, signer.Sign(req, []byte(body)))
				resp, err := http.DefaultClient.Do(req)
				must(t, err)
				defer resp.Body.Close()
				data, err := io.ReadAll(resp.Body)
				must(t, err)
				if resp.StatusCode == http.StatusOK {
					return
				}
				var er struct {
					Code string `xml:"Error>Code"`
				}
				if err := xml.Unmarshal(data, &er); err != nil || er.Code == "" {
					t.Fatalf("HTTP %d, not an AWS error: %s", resp.StatusCode, data)
				}
				if er.Code == awsquery.CodeNotImplemented || resp.StatusCode >= 500 && er.Code != "ServiceFailure" {
					t.Errorf("HTTP %d %s: %s", resp.StatusCode, er.Code, data)
				}
			})
		}
	}
}
