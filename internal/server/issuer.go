package server

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/jwtissuer"
)

// oidcIssuerPattern serves what external services need to verify outbound
// web identity tokens: /oidc/ACCOUNT/ISSUER-ID/.well-known/... (the
// discovery document and the JWKS).
const oidcIssuerPattern = "/oidc/{account}/{issuer}/.well-known/{doc}"

// issuerHandler serves an account's issuer while its outbound federation
// is enabled; 404 otherwise, so that issuer IDs cannot be probed.
type issuerHandler struct {
	view      *iam.View
	issuer    *jwtissuer.Issuer
	publicURL string
	log       *slog.Logger
}

func (h *issuerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	account, id, doc := r.PathValue("account"), r.PathValue("issuer"), r.PathValue("doc")
	acct, ok := h.view.Account(account)
	if !ok || acct.V.Outbound == nil || !acct.V.Outbound.Enabled || acct.V.Outbound.IssuerID != id {
		http.NotFound(w, r)
		return
	}
	var body []byte
	switch doc {
	case "openid-configuration":
		body = jwtissuer.Discovery(jwtissuer.IssuerURL(h.publicURL, account, id))
	case "jwks.json":
		var err error
		if body, err = h.issuer.JWKS(r.Context()); err != nil {
			h.log.Error("outbound federation keys", "err", err)
			http.Error(w, "keys unavailable", http.StatusServiceUnavailable)
			return
		}
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(body)
}

// publicURL is the configured public URL, or the listen address with the
// scheme the server serves.
func (s *Server) publicURL() string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	scheme := "http://"
	if s.cfg.TLSCert != "" {
		scheme = "https://"
	}
	addr := s.cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	return scheme + addr
}
