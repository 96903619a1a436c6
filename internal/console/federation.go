package console

import (
	"net/http"
	"strings"

	"github.com/iamd/iamd/internal/audit"
	"github.com/iamd/iamd/internal/stsapi"
)

// Federated sign-ins (SAML, OpenID Connect) differ only in how STS
// establishes the caller (AssumeRoleWithSAML, AssumeRoleWithWebIdentity);
// from the credentials on, they share the console session and its record
// in the audit trail.

// startFederatedSession starts a console session of the role session STS
// issued (creds, whose ARN is assumedARN) for roleARN: no IAM user behind
// it, so no "back to user"; signing out ends it. The browser's previous
// session ends; the sign-in is recorded as ConsoleLogin; the browser goes
// on to next (the console's home when empty). via names the sign-in in the
// log ("SAML", "OIDC").
func (h *Handler) startFederatedSession(w http.ResponseWriter, r *http.Request, roleARN string, creds *stsapi.Credentials, assumedARN, next, via string) {
	acct, name := roleARNParts(roleARN)
	sessionName := assumedARN[strings.LastIndexByte(assumedARN, '/')+1:]
	if old, err := h.sessions.get(r.Context(), r); err == nil && old != nil {
		_ = h.sessions.revoke(r.Context(), old) // the browser's previous session ends
	}
	s := h.sessions.create(w, r, session{
		Account: acct, UserName: sessionName, Stage: stageActive,
		Role: &assumed{KeyID: creds.AccessKeyId, Token: creds.SessionToken, Role: name, Account: acct, Federated: true},
	})
	if c, _, ok := h.caller(r, s); ok && !h.auditSignIn(r, audit.ConsoleSignIn(c, acct, "", false, "", h.now())) {
		h.refuseUnaudited(w, r)
		return
	}
	h.log.Info("console "+via+" sign-in", "account", acct, "role", name, "session", sessionName, "source_ip", sourceIP(r))
	if next == "" {
		next = Prefix + "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// auditFederatedRefusal records a refused federated sign-in as a failed
// ConsoleLogin in account (when it exists), by an identity known only by
// its kind (SAMLUser, WebIdentityUser) and provider: nothing the identity
// provider sent is verified, so nothing of it is named. msg is the reason
// shown on the page, the event's errorMessage.
func (h *Handler) auditFederatedRefusal(r *http.Request, account, kind, provider, msg string) {
	if account == "" {
		return
	}
	if _, ok := h.cfg.View.Account(account); !ok {
		return
	}
	ev := audit.ConsoleSignIn(nil, account, "", false, msg, h.now())
	ev.UserIdentity = audit.UserIdentity{Type: kind, AccountID: account, IdentityProvider: provider}
	ev.Username = ""
	ev.SourceIPAddress, ev.UserAgent = sourceIP(r).String(), r.UserAgent()
	h.auditSignIn(r, ev)
}
