package metrics

import (
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

func counterValue(t *testing.T, r *Registry, name string, labels map[string]string) float64 {
	t.Helper()
	fams, err := r.Gatherer().Gather()
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
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				sum += m.GetCounter().GetValue()
			case dto.MetricType_HISTOGRAM:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

// TestActions: requests are counted by API, action and status; actions the
// API does not serve share one label, and statuses outside the cached set
// are still counted.
func TestActions(t *testing.T) {
	r := New()
	api := r.NewAPI("iam", []string{"GetUser"})
	api.Action("GetUser").Observe(200, time.Millisecond)
	api.Action("GetUser").Observe(200, time.Millisecond)
	api.Action("GetUser").Observe(418, time.Millisecond)
	api.Action("Made-Up").Observe(400, time.Millisecond)
	for _, tc := range []struct {
		name   string
		family string
		labels map[string]string
		want   float64
	}{
		{"by status", "iamd_requests_total", map[string]string{"action": "GetUser", "code": "200"}, 2},
		{"uncached status", "iamd_requests_total", map[string]string{"action": "GetUser", "code": "418"}, 1},
		{"unknown action", "iamd_requests_total", map[string]string{"action": UnknownAction, "code": "400"}, 1},
		{"made-up action not a label", "iamd_requests_total", map[string]string{"action": "Made-Up"}, 0},
		{"latency", "iamd_request_duration_seconds", map[string]string{"api": "iam", "action": "GetUser"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := counterValue(t, r, tc.family, tc.labels); got != tc.want {
				t.Errorf("%s%v = %v, want %v", tc.family, tc.labels, got, tc.want)
			}
		})
	}
}

// TestRequestPathAllocatesNothing: once an action's children are resolved,
// counting a request, a decision and a commit allocates nothing.
func TestRequestPathAllocatesNothing(t *testing.T) {
	r := New()
	act := r.NewAPI("iam", []string{"GetUser"}).Action("GetUser")
	act.Observe(200, time.Millisecond)
	r.SigV4Failure("SignatureDoesNotMatch")
	allocs := testing.AllocsPerRun(1000, func() {
		act.Observe(200, time.Millisecond)
		r.Decision(true, false)
		r.Commit(time.Millisecond, CommitOK)
		r.AuditRecord(time.Millisecond)
		r.SigV4Failure("SignatureDoesNotMatch")
	})
	if allocs != 0 {
		t.Errorf("%v allocations per request", allocs)
	}
}

// BenchmarkObserve is the metrics' cost per request: a request, its
// authorization decision and its audit record.
func BenchmarkObserve(b *testing.B) {
	r := New()
	act := r.NewAPI("iam", []string{"GetUser"}).Action("GetUser")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			act.Observe(200, time.Millisecond)
			r.Decision(true, false)
			r.AuditRecord(time.Millisecond)
		}
	})
}
