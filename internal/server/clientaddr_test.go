package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestClientAddress(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 192.0.2.7,2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		trusted bool // use the trusted list
		peer    string
		xff     []string
		want    string
	}{
		{"no trusted proxies: header ignored", false, "10.1.1.1:4000", []string{"203.0.113.9"}, "10.1.1.1:4000"},
		{"untrusted peer: header ignored", true, "198.51.100.1:4000", []string{"203.0.113.9"}, "198.51.100.1:4000"},
		{"trusted peer without header", true, "10.1.1.1:4000", nil, "10.1.1.1:4000"},
		{"trusted peer", true, "10.1.1.1:4000", []string{"203.0.113.9"}, "203.0.113.9:0"},
		{"single address proxy", true, "192.0.2.7:4000", []string{"203.0.113.9"}, "203.0.113.9:0"},
		{"client-written entries are not believed", true, "10.1.1.1:4000", []string{"1.1.1.1, 203.0.113.9"}, "203.0.113.9:0"},
		{"two trusted hops", true, "10.1.1.1:4000", []string{"203.0.113.9, 10.2.2.2"}, "203.0.113.9:0"},
		{"hops in several headers", true, "10.1.1.1:4000", []string{"1.1.1.1", "203.0.113.9, 10.2.2.2"}, "203.0.113.9:0"},
		{"unreadable hop stops the walk", true, "10.1.1.1:4000", []string{"203.0.113.9, junk"}, "10.1.1.1:4000"},
		{"only trusted hops", true, "10.1.1.1:4000", []string{"10.3.3.3"}, "10.3.3.3:0"},
		{"IPv6", true, "[2001:db8::1]:4000", []string{"2001:db9::5"}, "[2001:db9::5]:0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			list := trusted
			if !tc.trusted {
				list = nil
			}
			h := clientAddress(list, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r.RemoteAddr }))
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got != tc.want {
				t.Errorf("RemoteAddr = %s, want %s", got, tc.want)
			}
		})
	}
	if _, err := ParseTrustedProxies("10.0.0.0/8,not-an-address"); err == nil {
		t.Error("ParseTrustedProxies accepted a bad entry")
	}
}
