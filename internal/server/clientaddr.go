package server

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParseTrustedProxies parses a comma-separated list of addresses and CIDR
// prefixes (e.g. "10.0.0.0/8,192.0.2.7") of the load balancers whose
// X-Forwarded-For header iamd believes.
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: want an address or a CIDR prefix such as 10.0.0.0/8", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// clientAddress makes r.RemoteAddr the client's address when the request
// came through trusted proxies: X-Forwarded-For is read from the right,
// skipping trusted proxies, and the first address that is not one is the
// client (anything left of it was written by the client and is not
// believed). Without trusted proxies, or from any other peer, the header is
// ignored, so a client cannot choose its aws:SourceIp. Everything
// downstream (conditions on aws:SourceIp, the audit trail, the console's
// sign-in throttles) then sees the client rather than the balancer.
func clientAddress(trusted []netip.Prefix, next http.Handler) http.Handler {
	if len(trusted) == 0 {
		return next
	}
	isTrusted := func(a netip.Addr) bool {
		a = a.Unmap()
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !isTrusted(peer.Addr()) {
			next.ServeHTTP(w, r)
			return
		}
		client := peer.Addr()
		hops := r.Header.Values("X-Forwarded-For")
	walk:
		for i := len(hops) - 1; i >= 0; i-- {
			fields := strings.Split(hops[i], ",")
			for j := len(fields) - 1; j >= 0; j-- {
				a, err := netip.ParseAddr(strings.TrimSpace(fields[j]))
				if err != nil {
					break walk // a hop we cannot read: stop at the last good one
				}
				client = a.Unmap()
				if !isTrusted(client) {
					break walk
				}
			}
		}
		if client != peer.Addr() {
			r = r.WithContext(r.Context()) // a shallow copy, not to change the caller's
			r.RemoteAddr = net.JoinHostPort(client.String(), "0")
		}
		next.ServeHTTP(w, r)
	})
}
