package iamapi

import (
	"errors"
	"testing"

	"github.com/iamd/iamd/internal/awsquery"
)

// TestDecodeMarker checks that only markers iamd issued are accepted and that
// any other value is AWS's ValidationError "Invalid Marker.".
func TestDecodeMarker(t *testing.T) {
	tests := []struct {
		name, marker, want string
		bad                bool
	}{
		{name: "empty", marker: "", want: ""},
		{name: "round trip", marker: encodeMarker("bob"), want: "bob"},
		{name: "round trip unicode", marker: encodeMarker("ü/x"), want: "ü/x"},
		{name: "not base64", marker: "!!", bad: true},
		{name: "made up number", marker: "100", bad: true},
		{name: "made up word", marker: "garbage", bad: true},
		{name: "bare key", marker: "Ym9i", bad: true},
		{name: "mangled", marker: encodeMarker("bob")[1:], bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeMarker(tc.marker)
			if tc.bad {
				var ae *awsquery.Error
				if !errors.As(err, &ae) || ae.Code != "ValidationError" || ae.Message != "Invalid Marker." {
					t.Fatalf("decodeMarker(%q) = %q, %v; want ValidationError Invalid Marker.", tc.marker, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("decodeMarker(%q) = %q, %v; want %q", tc.marker, got, err, tc.want)
			}
		})
	}
}
