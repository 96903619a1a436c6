package workload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/iamd/iamd/internal/audit"
	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/stsapi"
	"github.com/iamd/iamd/policy"
)

// DefaultDuration is the lifetime of workload credentials (capped by the
// role's MaxSessionDuration, which is never less). The SDKs refresh them
// five to fifteen minutes before they expire.
const DefaultDuration = time.Hour

// Issuer mints role session credentials; *stsapi.Service implements it.
type Issuer interface {
	IssueRoleSession(rs stsapi.RoleSession) (*stsapi.Credentials, *stsapi.AssumedRoleUser, error)
}

// TrustEvaluator evaluates a role's trust policy for a principal that is not
// an IAM identity; *authz.Authorizer implements it.
type TrustEvaluator interface {
	TrustAllows(fr *authz.FederatedTrustRequest) bool
}

// Config configures a Handler.
type Config struct {
	View   *iam.View
	Issuer Issuer
	Trust  TrustEvaluator
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
	// Duration overrides DefaultDuration (tests).
	Duration time.Duration
	// Partition is the partition of role ARNs; zero means aws.
	Partition iam.Partition
	// Trail records each issue of credentials, and each refusal by the
	// role's trust policy, as CloudTrail records a service's AssumeRole
	// (an ECS task's, say): by the service principal. Credentials whose
	// event cannot be recorded are not handed out. Nil records nothing.
	Trail Recorder
}

// Recorder records audit events; *audit.Log implements it.
type Recorder interface {
	Record(ctx context.Context, ev *audit.Event) error
}

// Handler serves the container credentials endpoint. Mount it with
// [Pattern] on an http.ServeMux: it reads the account and workload from the
// path.
type Handler struct {
	cfg Config
}

// NewHandler returns the credentials endpoint's handler.
func NewHandler(cfg Config) *Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Duration <= 0 {
		cfg.Duration = DefaultDuration
	}
	return &Handler{cfg: cfg}
}

// credentialsResponse is the document the SDKs' container credential
// providers parse (aws-sdk-go-v2 credentials/endpointcreds, botocore's
// ContainerProvider): the field names are theirs.
type credentialsResponse struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	Token           string `json:"Token"`
	Expiration      string `json:"Expiration"`
	RoleArn         string `json:"RoleArn"`
	AccountID       string `json:"AccountId"`
}

// errorResponse is the error document aws-sdk-go-v2's endpoint provider
// decodes ({"code","message"}); botocore shows the body as it is.
type errorResponse struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ServeHTTP answers GET /_iamd/credentials/ACCOUNT/NAME with the workload's
// role credentials when the Authorization header carries its token.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	account, name := r.PathValue("account"), r.PathValue("workload")
	token := r.Header.Get("Authorization")
	if token == "" {
		h.fail(w, r, http.StatusUnauthorized, "MissingAuthenticationToken",
			"Request is missing the workload's authorization token: set AWS_CONTAINER_AUTHORIZATION_TOKEN (sent in the Authorization header).", account, name)
		return
	}
	var (
		wl   *iam.Workload
		role *iam.Role
	)
	h.cfg.View.Read(account, func(a *iam.AccountView) {
		e, ok := a.Workload(name)
		if !ok {
			return
		}
		wl = e.V
		if re, ok := a.Role(wl.RoleName); ok {
			role = re.V
		}
	})
	hash := ""
	if wl != nil {
		hash = wl.TokenHash
	}
	// Unknown workloads and wrong tokens get the same answer, so that the
	// endpoint does not reveal which workloads exist.
	if !tokenMatches(token, hash) || wl == nil {
		h.fail(w, r, http.StatusForbidden, "AccessDenied",
			"The authorization token is not valid for this workload.", account, name)
		return
	}
	if role == nil {
		h.fail(w, r, http.StatusForbidden, "AccessDenied",
			"Workload "+wl.Name+" is registered to role "+wl.RoleName+", which does not exist.", account, name)
		return
	}
	now := h.cfg.Now()
	roleARN := h.cfg.Partition.ARN(account, "role", role.Path, role.Name)
	fr := TrustRequest(h.cfg.Partition, account, wl.Name, role, now)
	fr.SourceIP, fr.SecureTransport = remoteAddr(r), r.TLS != nil
	if !h.cfg.Trust.TrustAllows(fr) {
		msg := "Workload " + wl.Name + " is not authorized to perform: sts:AssumeRole on resource: " + roleARN +
			": the role's trust policy must allow the service principal " + ServicePrincipal
		if h.cfg.Trail != nil {
			ev := assumeRoleEvent(account, roleARN, wl.Name, 0, nil, nil)
			ev.ErrorCode, ev.ErrorMessage = "AccessDenied", msg
			if err := h.cfg.Trail.Record(r.Context(), ev); err != nil {
				h.unrecorded(w, account, name, err)
				return
			}
		}
		h.fail(w, r, http.StatusForbidden, "AccessDenied", msg, account, name)
		return
	}
	d := h.cfg.Duration
	if maxD := time.Duration(stsapi.MaxSessionDuration(role)) * time.Second; d > maxD {
		d = maxD
	}
	creds, user, err := h.cfg.Issuer.IssueRoleSession(stsapi.RoleSession{
		Account: account, Role: role, Name: wl.Name, Issued: now, Duration: d,
	})
	if err != nil {
		h.cfg.Log.Error("workload credentials not issued", "account", account, "workload", name, "err", err)
		writeJSON(w, http.StatusInternalServerError, errorResponse{Code: "InternalFailure", Message: "The credentials could not be issued."})
		return
	}
	if h.cfg.Trail != nil {
		if err := h.cfg.Trail.Record(r.Context(), assumeRoleEvent(account, roleARN, wl.Name, d, creds, user)); err != nil {
			h.unrecorded(w, account, name, err)
			return
		}
	}
	h.cfg.Log.Info("workload credentials issued", "account", account, "workload", wl.Name,
		"assumed_role", user.Arn, "access_key_id", creds.AccessKeyId, "expiration", creds.Expiration)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, credentialsResponse{
		AccessKeyID: creds.AccessKeyId, SecretAccessKey: creds.SecretAccessKey, Token: creds.SessionToken,
		Expiration: creds.Expiration.UTC().Format(time.RFC3339), RoleArn: roleARN, AccountID: account,
	})
}

// TrustRequest is the trust evaluation that lets workload name assume
// role: the service principal ServicePrincipal asks for sts:AssumeRole with
// aws:SourceAccount, aws:SourceArn (the workload's ARN),
// sts:RoleSessionName and the role's tags in the context. The caller adds
// the request's source IP and transport.
func TrustRequest(p iam.Partition, account, name string, role *iam.Role, now time.Time) *authz.FederatedTrustRequest {
	kvs := []authz.KV{
		{Key: "aws:SourceAccount", Values: []string{account}},
		{Key: "aws:SourceArn", Values: []string{ARN(p, account, name)}},
		{Key: "sts:RoleSessionName", Values: []string{name}},
	}
	for _, t := range role.Tags {
		kvs = append(kvs,
			authz.KV{Key: "aws:ResourceTag/" + t.Key, Values: []string{t.Value}},
			authz.KV{Key: "iam:ResourceTag/" + t.Key, Values: []string{t.Value}})
	}
	return &authz.FederatedTrustRequest{
		Principal: policy.Principal{Type: policy.PrincipalService, Service: ServicePrincipal},
		Action:    "sts:AssumeRole", RoleARN: p.ARN(account, "role", role.Path, role.Name), RoleAccount: account,
		TrustPolicy: role.TrustPolicy, Context: kvs, Time: now,
	}
}

// assumeRoleEvent is the audit event of a workload's role session: an
// AssumeRole by the service principal (creds and user nil when refused).
func assumeRoleEvent(account, roleARN, session string, d time.Duration, creds *stsapi.Credentials, user *stsapi.AssumedRoleUser) *audit.Event {
	params, _ := json.Marshal(struct {
		RoleArn         string `json:"roleArn"`
		RoleSessionName string `json:"roleSessionName"`
		DurationSeconds int64  `json:"durationSeconds,omitempty"`
	}{roleARN, session, int64(d / time.Second)})
	ev := &audit.Event{
		EventSource: audit.SourceSTS, EventName: "AssumeRole", AWSRegion: "us-east-1",
		SourceIPAddress: ServicePrincipal, UserAgent: ServicePrincipal, RecipientAccountID: account,
		UserIdentity: audit.UserIdentity{Type: "AWSService", InvokedBy: ServicePrincipal}, Username: ServicePrincipal,
		ReadOnly: audit.ReadOnly(audit.SourceSTS, "AssumeRole"), RequestParameters: params,
		Resources: []audit.Resource{{Type: "AWS::IAM::Role", Name: roleARN}},
	}
	if creds != nil && user != nil {
		ev.ResponseElements, _ = json.Marshal(map[string]any{
			"credentials": map[string]string{
				"accessKeyId": creds.AccessKeyId, "sessionToken": audit.Hidden,
				"expiration": creds.Expiration.UTC().Format(time.RFC3339),
			},
			"assumedRoleUser": map[string]string{"assumedRoleId": user.AssumedRoleId, "arn": user.Arn},
		})
	}
	return ev
}

// unrecorded answers a request whose audit event could not be recorded:
// nothing is handed out without its event. The SDKs retry a 503.
func (h *Handler) unrecorded(w http.ResponseWriter, account, name string, err error) {
	if !errors.Is(err, audit.ErrUnavailable) { // the trail says so once
		h.cfg.Log.Error("workload credentials: audit event not recorded", "account", account, "workload", name, "err", err)
	}
	writeJSON(w, http.StatusServiceUnavailable, errorResponse{Code: "ServiceUnavailable", Message: awsquery.MessageServiceUnavailable})
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, code, message, account, name string) {
	h.cfg.Log.Warn("workload credentials refused", "account", account, "workload", name,
		"remote", r.RemoteAddr, "code", code, "reason", message)
	writeJSON(w, status, errorResponse{Code: code, Message: message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(v) // plain structs of strings always encode
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}
