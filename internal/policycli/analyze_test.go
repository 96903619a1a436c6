package policycli

import (
	"testing"
	"time"
)

func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"90d", now.AddDate(0, 0, -90), false},
		{"0d", now, false},
		{"12h", now.Add(-12 * time.Hour), false},
		{"30m", now.Add(-30 * time.Minute), false},
		{"2026-01-02", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), false},
		{"2026-01-02T03:04:05Z", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), false},
		{"2026-01-02T03:04:05+01:00", time.Date(2026, 1, 2, 2, 4, 5, 0, time.UTC), false},
		{"-5d", time.Time{}, true},
		{"yesterday", time.Time{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseWhen(tc.in, now)
			if (err != nil) != tc.err || !got.Equal(tc.want) {
				t.Fatalf("parseWhen(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}
