package console

import (
	"context"
	"net/http"
	"net/url"

	"github.com/iamd/iamd/internal/authz"
)

func withCaller(ctx context.Context, c *authz.Caller) context.Context {
	return authz.WithCaller(ctx, c)
}

// form builds Query API parameters from name/value pairs, leaving out
// empty values.
func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	return v
}

// listPage is how many users, groups, roles or policies a list page shows;
// the next page follows the API's Marker.
const listPage = "100"

// nextPage is the URL of a list's next page, or "" on its last.
func nextPage(path string, truncated bool, marker string, keep url.Values) string {
	if !truncated {
		return ""
	}
	v := url.Values{"marker": {marker}}
	for k, vs := range keep {
		v[k] = vs
	}
	return Prefix + path + "?" + v.Encode()
}

func (h *Handler) routes() {
	m := http.NewServeMux()
	m.Handle("GET "+Prefix+"/static/", http.StripPrefix(Prefix+"/", http.FileServerFS(staticFS)))
	m.HandleFunc("GET "+Prefix, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix+"/", http.StatusMovedPermanently)
	})
	m.HandleFunc("GET "+Prefix+"/signin", h.signinGet)
	m.HandleFunc("POST "+Prefix+"/signin", h.signinPost)
	m.HandleFunc("GET "+Prefix+"/signin/mfa", h.mfaGet)
	m.HandleFunc("POST "+Prefix+"/signin/mfa", h.mfaPost)
	m.HandleFunc("POST "+Prefix+"/signin/webauthn/begin", h.webauthnLoginBegin)
	m.HandleFunc("POST "+Prefix+"/signin/webauthn/finish", h.webauthnLoginFinish)
	m.HandleFunc("GET "+Prefix+"/signin/password", h.forcedGet)
	m.HandleFunc("POST "+Prefix+"/signin/password", h.forcedPost)
	m.HandleFunc("POST "+Prefix+"/signout", h.signout)
	m.HandleFunc("POST "+samlPath, h.samlPost)
	m.HandleFunc("POST "+Prefix+samlPath, h.samlPost)
	m.HandleFunc("POST "+samlChoosePath, h.samlChoose)
	h.oidcRoutes(m)

	m.HandleFunc("GET "+Prefix+"/{$}", h.authed(h.dashboard))
	m.HandleFunc("GET "+Prefix+"/users", h.authed(h.users))
	m.HandleFunc("POST "+Prefix+"/users", h.authed(h.createUser))
	m.HandleFunc("GET "+Prefix+"/users/{name}", h.authed(h.user))
	m.HandleFunc("GET "+Prefix+"/groups", h.authed(h.groups))
	m.HandleFunc("POST "+Prefix+"/groups", h.authed(h.createGroup))
	m.HandleFunc("GET "+Prefix+"/groups/{name}", h.authed(h.group))
	m.HandleFunc("GET "+Prefix+"/roles", h.authed(h.roles))
	m.HandleFunc("GET "+Prefix+"/roles/new", h.authed(h.newRole))
	m.HandleFunc("POST "+Prefix+"/roles", h.authed(h.createRole))
	m.HandleFunc("GET "+Prefix+"/roles/{name}", h.authed(h.role))
	h.entities = entities()
	for kind, e := range h.entities {
		m.HandleFunc("POST "+Prefix+"/"+kind+"/{name}/{action}", h.authed(h.entityAction(e)))
		m.HandleFunc("GET "+Prefix+"/"+kind+"/{name}/inline/{policy}", h.authed(func(q *req) { h.inlinePolicy(q, e) }))
		m.HandleFunc("GET "+Prefix+"/"+kind+"/{name}/permissions", h.authed(func(q *req) { h.effective(q, e) }))
		m.HandleFunc("GET "+Prefix+"/"+kind+"/{name}/access-advisor", h.authed(func(q *req) { h.entityAdvisor(q, e) }))
		if kind != "groups" {
			m.HandleFunc("GET "+Prefix+"/"+kind+"/{name}/generate-policy", h.authed(func(q *req) { h.generatePolicy(q, e) }))
		}
	}
	m.HandleFunc("GET "+Prefix+"/policies", h.authed(h.policies))
	m.HandleFunc("GET "+Prefix+"/policies/new", h.authed(h.newPolicy))
	m.HandleFunc("POST "+Prefix+"/policies", h.authed(h.createPolicy))
	m.HandleFunc("GET "+Prefix+"/policy", h.authed(h.policy))
	m.HandleFunc("GET "+Prefix+"/policy/access-advisor", h.authed(h.policyAdvisor))
	m.HandleFunc("POST "+Prefix+"/policy/{action}", h.authed(h.policyAction))
	m.HandleFunc("POST "+Prefix+"/api/validate-policy", h.authed(h.validatePolicy))
	m.HandleFunc("GET "+Prefix+"/security", h.authed(h.security))
	m.HandleFunc("POST "+Prefix+"/security/{action}", h.authed(h.securityAction))
	m.HandleFunc("POST "+Prefix+"/security/webauthn/begin", h.authed(h.webauthnRegisterBegin))
	m.HandleFunc("POST "+Prefix+"/security/webauthn/finish", h.authed(h.webauthnRegisterFinish))
	m.HandleFunc("GET "+Prefix+"/credential-report", h.authed(h.credentialReport))
	m.HandleFunc("POST "+Prefix+"/credential-report", h.authed(h.credentialReport))
	m.HandleFunc("GET "+Prefix+"/events", h.authed(h.events))
	m.HandleFunc("GET "+Prefix+"/switch-role", h.authed(h.switchRoleGet))
	m.HandleFunc("POST "+Prefix+"/switch-role", h.authed(h.switchRolePost))
	m.HandleFunc("POST "+Prefix+"/switch-role/back", h.authed(h.switchBack))
	m.HandleFunc("GET "+Prefix+"/simulator", h.authed(h.simulator))
	m.HandleFunc("POST "+Prefix+"/simulator", h.authed(h.simulator))
	h.mux = m
}
