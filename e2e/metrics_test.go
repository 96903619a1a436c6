package e2e

import (
	"context"
	"errors"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches a metrics endpoint and parses it with Prometheus's text
// parser.
func scrape(t *testing.T, endpoint string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(endpoint)
	must(t, err)
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", endpoint, resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", endpoint, err)
	}
	return fams
}

// sampleValue sums the samples of a family whose labels include the pairs
// in labels: counters' and gauges' values, histograms' counts.
func sampleValue(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	var sum float64
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			sum += m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			sum += m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

func gaugeValue(fams map[string]*dto.MetricFamily, name string) float64 {
	return sampleValue(fams, name)
}

// TestMetricsEndpoint scrapes a running iamd's --metrics-addr after IAM
// calls, a refused one and a badly signed one, and finds each family with
// the labels and values they imply.
func TestMetricsEndpoint(t *testing.T) {
	p := startIamd(t, t.TempDir())
	e := &env{t: t, url: p.url, account: testAccount, root: aws.Credentials{AccessKeyID: rootKeyID, SecretAccessKey: rootSecretKey}}
	ctx := context.Background()
	_, err := e.rootIAM().CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("scraped")})
	must(t, err)
	key, err := e.rootIAM().CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("scraped")})
	must(t, err)
	user := aws.Credentials{AccessKeyID: aws.ToString(key.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(key.AccessKey.SecretAccessKey)}
	// The new key reaches the view at once on this replica; a refused
	// call is an API error.
	if _, err := e.iam(user).ListUsers(ctx, &iam.ListUsersInput{}); errCode(err) != "AccessDenied" {
		t.Fatalf("ListUsers without permission: %v", err)
	}
	bad := user
	bad.SecretAccessKey = "x" + bad.SecretAccessKey[1:]
	if _, err := e.iam(bad).ListUsers(ctx, &iam.ListUsersInput{}); errCode(err) != "SignatureDoesNotMatch" {
		t.Fatalf("ListUsers with a wrong secret: %v", err)
	}

	var fams map[string]*dto.MetricFamily
	eventually(t, 10*time.Second, func() error {
		fams = scrape(t, p.metrics)
		if sampleValue(fams, "iamd_view_entities", "kind", "user") < 1 {
			return errors.New("iamd_view_entities{kind=user} < 1")
		}
		return nil
	})
	tests := []struct {
		name   string
		labels []string
		min    float64
	}{
		{"iamd_requests_total", []string{"api", "iam", "action", "CreateUser", "code", "200"}, 1},
		{"iamd_requests_total", []string{"api", "iam", "action", "ListUsers", "code", "403"}, 2},
		{"iamd_request_duration_seconds", []string{"api", "iam", "action", "CreateAccessKey"}, 1},
		{"iamd_authorization_decisions_total", []string{"result", "allow"}, 2},
		{"iamd_authorization_decisions_total", []string{"result", "deny"}, 1},
		{"iamd_sigv4_failures_total", []string{"reason", "SignatureDoesNotMatch"}, 1},
		{"iamd_store_commit_duration_seconds", []string{"result", "ok"}, 2},
		{"iamd_audit_records_total", nil, 4},
		{"iamd_audit_record_duration_seconds", nil, 4},
		{"iamd_view_entities", []string{"kind", "account"}, 1},
		{"iamd_ready", nil, 1},
		{"iamd_follower_lag_seconds", nil, 0},
		{"iamd_follower_lag_revisions", nil, 0},
		{"iamd_requests_in_flight", nil, 0},
		{"process_resident_memory_bytes", nil, 1},
	}
	for _, tc := range tests {
		if got := sampleValue(fams, tc.name, tc.labels...); got < tc.min {
			t.Errorf("%s%v = %v, want at least %v", tc.name, tc.labels, got, tc.min)
		}
	}
	if lag := gaugeValue(fams, "iamd_follower_lag_seconds"); lag > 30 {
		t.Errorf("iamd_follower_lag_seconds = %v on a healthy replica", lag)
	}
	for name, f := range fams {
		if strings.HasPrefix(name, "iamd_") && f.GetType() == dto.MetricType_COUNTER && !strings.HasSuffix(name, "_total") {
			t.Errorf("counter %s does not end in _total", name)
		}
	}
	// The Grafana dashboard uses only metrics the endpoint serves.
	dash, err := os.ReadFile("../docs/grafana-iamd.json")
	must(t, err)
	for _, name := range regexp.MustCompile(`iamd_[a-z0-9_]+`).FindAllString(string(dash), -1) {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count"), "_sum")
		if fams[base] == nil {
			t.Errorf("docs/grafana-iamd.json uses %s, which iamd does not serve", name)
		}
	}
	// The metrics are on their own listener, not the API's.
	resp, err := http.Get(p.url + "/metrics")
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode == 200 && resp.Header.Get("Content-Type") != "text/xml" && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("the API listener serves /metrics")
	}
}
