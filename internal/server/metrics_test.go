package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/sigv4"
)

// metricValue sums the samples of a family whose labels include want: a
// counter's or gauge's value, a histogram's count.
func metricValue(t *testing.T, s *Server, name string, want map[string]string) float64 {
	t.Helper()
	fams, err := s.Metrics().Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
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
	}
	return sum
}

// TestMetricsMove: every family iamd exposes moves when what it measures
// happens.
func TestMetricsMove(t *testing.T) {
	vars := map[string]string{EnvAccountID: benchAccount, EnvRootAccessKey: benchKeyID, EnvRootSecretKey: benchSecret}
	s, err := New(context.Background(), Config{DataDir: t.TempDir(), Getenv: envMap(vars)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := s.Handler()
	call := func(c sigv4.Credentials, kv ...string) *httptest.ResponseRecorder {
		t.Helper()
		form := url.Values{"Version": {"2010-05-08"}}
		for i := 0; i < len(kv); i += 2 {
			form.Set(kv[i], kv[i+1])
		}
		body := form.Encode()
		r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		signer := &sigv4.Signer{Credentials: c, Region: "us-east-1", Service: "iam"}
		if err := signer.Sign(r, []byte(body)); err != nil {
			t.Fatal(err)
		}
		r.Body = nopBody{strings.NewReader(body)}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	root := sigv4.Credentials{AccessKeyID: benchKeyID, SecretAccessKey: benchSecret}
	value := func(name string, kv ...string) float64 {
		t.Helper()
		want := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			want[kv[i]] = kv[i+1]
		}
		return metricValue(t, s, name, want)
	}
	before := map[string]float64{
		"users":   value("iamd_view_entities", "kind", "user"),
		"commits": value("iamd_store_commit_duration_seconds", "result", "ok"),
		"audit":   value("iamd_audit_records_total"),
	}

	if w := call(root, "Action", "CreateUser", "UserName", "alice"); w.Code != 200 {
		t.Fatalf("CreateUser: %d %s", w.Code, w.Body)
	}
	w := call(root, "Action", "CreateAccessKey", "UserName", "alice")
	if w.Code != 200 {
		t.Fatalf("CreateAccessKey: %d %s", w.Code, w.Body)
	}
	alice := sigv4.Credentials{
		AccessKeyID:     between(w.Body.String(), "<AccessKeyId>", "</AccessKeyId>"),
		SecretAccessKey: between(w.Body.String(), "<SecretAccessKey>", "</SecretAccessKey>"),
	}
	if w := call(alice, "Action", "ListUsers"); w.Code != http.StatusForbidden {
		t.Fatalf("ListUsers without permission: %d %s", w.Code, w.Body)
	}
	wrong := alice
	wrong.SecretAccessKey = "not" + wrong.SecretAccessKey
	if w := call(wrong, "Action", "ListUsers"); w.Code != http.StatusForbidden {
		t.Fatalf("ListUsers with a wrong secret: %d %s", w.Code, w.Body)
	}
	if w := call(root, "Action", "NoSuchAction"+strings.Repeat("x", 10)); w.Code == 200 {
		t.Fatalf("unknown action answered 200")
	}

	tests := []struct {
		name   string
		metric string
		labels []string
		min    float64
	}{
		{"requests", "iamd_requests_total", []string{"api", "iam", "action", "CreateUser", "code", "200"}, 1},
		{"denied requests", "iamd_requests_total", []string{"api", "iam", "action", "ListUsers", "code", "403"}, 2},
		{"unknown actions share a label", "iamd_requests_total", []string{"api", "iam", "action", "unknown"}, 1},
		{"latency", "iamd_request_duration_seconds", []string{"api", "iam", "action", "CreateAccessKey"}, 1},
		{"allowed", "iamd_authorization_decisions_total", []string{"result", "allow"}, 2},
		{"denied", "iamd_authorization_decisions_total", []string{"result", "deny"}, 1},
		{"sigv4 failures", "iamd_sigv4_failures_total", []string{"reason", "SignatureDoesNotMatch"}, 1},
		{"store commits", "iamd_store_commit_duration_seconds", []string{"result", "ok"}, before["commits"] + 2},
		{"audit records", "iamd_audit_records_total", nil, before["audit"] + 5},
		{"audit latency", "iamd_audit_record_duration_seconds", nil, 5},
		{"view size", "iamd_view_entities", []string{"kind", "user"}, before["users"] + 1},
		{"accounts", "iamd_view_entities", []string{"kind", "account"}, 1},
		{"go runtime", "go_goroutines", nil, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := value(tc.metric, tc.labels...); got < tc.min {
				t.Errorf("%s%v = %v, want at least %v", tc.metric, tc.labels, got, tc.min)
			}
		})
	}
	if got := value("iamd_requests_total", "action", "NoSuchActionxxxxxxxxxx"); got != 0 {
		t.Errorf("an unknown action got its own label: %v", got)
	}

	// The follower: not ready until it has caught up; then its lag in
	// seconds grows with time since its last pass, and in revisions with
	// this replica's own commits past the revision it read through.
	if got := value("iamd_ready"); got != 0 {
		t.Errorf("iamd_ready = %v before the follower's first pass", got)
	}
	rev := s.State().View.Rev()
	s.health.followed(iam.FollowPass{Start: time.Now().Add(-time.Minute), Rev: rev})
	if got := value("iamd_follower_lag_seconds"); got < 60 {
		t.Errorf("iamd_follower_lag_seconds = %v, want at least 60", got)
	}
	if w := call(root, "Action", "CreateUser", "UserName", "bob"); w.Code != 200 {
		t.Fatalf("CreateUser: %d %s", w.Code, w.Body)
	}
	if got := value("iamd_follower_lag_revisions"); got < 1 {
		t.Errorf("iamd_follower_lag_revisions = %v after a commit the follower has not read", got)
	}
	s.health.followed(iam.FollowPass{Start: time.Now(), Rev: s.State().View.Rev()})
	if got := value("iamd_ready"); got != 1 {
		t.Errorf("iamd_ready = %v once caught up", got)
	}
	if got := value("iamd_follower_lag_revisions"); got != 0 {
		t.Errorf("iamd_follower_lag_revisions = %v once caught up", got)
	}
	s.health.inFlight.Add(1)
	if got := value("iamd_requests_in_flight"); got != 1 {
		t.Errorf("iamd_requests_in_flight = %v, want 1", got)
	}
	s.health.inFlight.Add(-1)
}
