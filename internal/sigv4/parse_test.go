package sigv4

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestParseAmzDate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want time.Time
		ok   bool
	}{
		{name: "valid", in: "20261123T103000Z", want: time.Date(2026, 11, 23, 10, 30, 0, 0, time.UTC), ok: true},
		{name: "leap-day", in: "20280229T000000Z", want: time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC), ok: true},
		{name: "not-a-date", in: "20260231T000000Z"},
		{name: "month-13", in: "20261323T000000Z"},
		{name: "hour-24", in: "20261123T240000Z"},
		{name: "extended-format", in: "2026-11-23T10:30:00Z"},
		{name: "no-zone", in: "20261123T103000"},
		{name: "non-digit", in: "2026112xT103000Z"},
		{name: "sign", in: "+0261123T103000Z"},
		{name: "empty", in: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseAmzDate(tc.in)
			if ok != tc.ok || !got.Equal(tc.want) {
				t.Errorf("parseAmzDate(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestParsePresignParams(t *testing.T) {
	t.Parallel()
	p := parsePresignParams("X-Amz-Credential=AKID%2F20261123%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Credential=second" +
		"&X-Amz-SignedHeaders=host%3Bx-amz-date&X-Amz-Security-Token=a+b%2Bc&X-Amz-Unknown=1&Other=2&X-Amz-Signature")
	if !p.any() || p.hasAlgorithm || !p.hasSignature || p.signature != "" {
		t.Errorf("presence flags wrong: %+v", p)
	}
	if p.credential != "AKID/20261123/us-east-1/sts/aws4_request" {
		t.Errorf("credential = %q (first occurrence should win)", p.credential)
	}
	if p.signedHeaders != "host;x-amz-date" || p.securityToken != "a b+c" {
		t.Errorf("decoded values wrong: %+v", p)
	}
}

func TestError(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("lookup: %w", ErrExpiredToken)
	if got := err.Error(); got != "lookup: ExpiredToken: The security token included in the request is expired" {
		t.Errorf("Error() = %q", got)
	}
	if !errors.Is(err, &Error{Code: CodeExpiredToken}) || errors.Is(err, ErrInvalidClientTokenID) {
		t.Error("errors.Is should match by code only")
	}
	if errors.Is(err, errors.New(CodeExpiredToken)) {
		t.Error("errors.Is matched a non-*Error")
	}
}
