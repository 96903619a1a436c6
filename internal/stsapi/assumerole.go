package stsapi

import (
	"context"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/ststoken"
)

const (
	// defaultRoleSession is AssumeRole's default DurationSeconds.
	defaultRoleSession = 3600
	// defaultMaxSessionDuration applies to roles stored without one.
	defaultMaxSessionDuration = 3600
	// chainedMax caps a session whose role was assumed by a role session.
	chainedMax = 3600
	// region is reported in role usage.
	region = "us-east-1"
)

// roleRef is a role ARN split into its parts.
type roleRef struct {
	account, path, name string
}

// parseRoleARN splits arn:aws:iam::ACCOUNT:role/PATH/NAME.
func parseRoleARN(arn string) (roleRef, bool) {
	rest, ok := strings.CutPrefix(arn, "arn:aws:iam::")
	if !ok {
		return roleRef{}, false
	}
	account, res, ok := strings.Cut(rest, ":")
	if !ok || !iam.ValidAccountID(account) {
		return roleRef{}, false
	}
	res, ok = strings.CutPrefix(res, "role/")
	if !ok || res == "" {
		return roleRef{}, false
	}
	i := strings.LastIndexByte(res, '/')
	r := roleRef{account: account, path: "/" + res[:i+1], name: res[i+1:]}
	if r.name == "" {
		return roleRef{}, false
	}
	return r, true
}

// findRole returns the role an ARN names, or nil. The path must match.
func (s *Service) findRole(arn string) (roleRef, *iam.Entry[iam.Role]) {
	ref, ok := parseRoleARN(arn)
	if !ok {
		return ref, nil
	}
	var e *iam.Entry[iam.Role]
	s.view.Read(ref.account, func(a *iam.AccountView) {
		if r, found := a.Role(ref.name); found && r.V.Path == ref.path && r.V.Name == ref.name {
			e = r
		}
	})
	return ref, e
}

func maxSession(r *iam.Role) int {
	if r.MaxSessionDuration <= 0 {
		return defaultMaxSessionDuration
	}
	return r.MaxSessionDuration
}

// roleContext adds the role's tags (aws:ResourceTag/KEY) to a trust request.
func roleContext(r *iam.Role, kvs []authz.KV) []authz.KV {
	for _, t := range r.Tags {
		kvs = append(kvs,
			authz.KV{Key: "aws:ResourceTag/" + t.Key, Values: []string{t.Value}},
			authz.KV{Key: "iam:ResourceTag/" + t.Key, Values: []string{t.Value}})
	}
	return kvs
}

func assumedRoleARN(account, role, session string) string {
	return "arn:aws:sts::" + account + ":assumed-role/" + role + "/" + session
}

// AssumeRole returns temporary credentials for a role the caller is trusted
// to assume.
func (s *Service) AssumeRole(ctx context.Context, in *AssumeRoleRequest) (*AssumeRoleResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	now := c.Time
	if now.IsZero() {
		now = s.now()
	}
	chained := c.Type == authz.AssumedRole
	if chained && in.DurationSeconds != nil && *in.DurationSeconds > chainedMax {
		return nil, validationError("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}
	doc, arns, err := sessionPolicies(in.Policy, in.PolicyArns)
	if err != nil {
		return nil, err
	}
	var inherited *authz.Session
	if chained {
		inherited = c.Session
	}
	tags, transitive, err := sessionTags(in.Tags, in.TransitiveTagKeys, inherited)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(strings.ToLower(in.SourceIdentity), "aws:") {
		return nil, validationError("SourceIdentity cannot start with 'aws:'. This prefix is reserved for AWS use.")
	}
	if in.SerialNumber != "" && in.TokenCode == "" || in.SerialNumber == "" && in.TokenCode != "" {
		return nil, validationError("SerialNumber and TokenCode must be specified together.")
	}

	ref, role := s.findRole(in.RoleArn)
	if role == nil {
		return nil, notAuthorized(c.ARN, "sts:AssumeRole", in.RoleArn)
	}
	r := role.V
	roleARN := iam.ARN(ref.account, "role", r.Path, r.Name)

	mfa := false
	var mfaTime time.Time
	if in.SerialNumber != "" {
		if err := s.verifyMFA(ctx, c, in.SerialNumber, in.TokenCode, now); err != nil {
			return nil, err
		}
		mfa, mfaTime = true, now
	} else if c.Session != nil && c.Session.MFA {
		mfa, mfaTime = true, c.Session.MFAAuthTime
	}

	sourceIdentity := in.SourceIdentity
	if c.Session != nil && c.Session.SourceIdentity != "" {
		if sourceIdentity != "" && sourceIdentity != c.Session.SourceIdentity {
			return nil, notAuthorized(c.ARN, "sts:SetSourceIdentity", roleARN)
		}
		sourceIdentity = c.Session.SourceIdentity
	}

	kvs := []authz.KV{{Key: "sts:RoleSessionName", Values: []string{in.RoleSessionName}}}
	if in.ExternalId != "" {
		kvs = append(kvs, authz.KV{Key: "sts:ExternalId", Values: []string{in.ExternalId}})
	}
	if in.SourceIdentity != "" {
		kvs = append(kvs, authz.KV{Key: "sts:SourceIdentity", Values: []string{in.SourceIdentity}})
	}
	kvs = append(kvs, tagContext(in.Tags, in.TransitiveTagKeys)...)
	kvs = roleContext(r, kvs)
	tr := &authz.TrustRequest{
		Action: "sts:AssumeRole", RoleARN: roleARN, RoleAccount: ref.account,
		TrustPolicy: r.TrustPolicy, Context: kvs, MFA: in.SerialNumber != "",
	}
	if err := s.authz.AuthorizeTrust(ctx, c, tr); err != nil {
		return nil, err
	}
	if len(in.Tags) > 0 || len(in.TransitiveTagKeys) > 0 {
		tr.Action = "sts:TagSession"
		if err := s.authz.AuthorizeTrust(ctx, c, tr); err != nil {
			return nil, err
		}
	}
	if sourceIdentity != "" {
		tr.Action = "sts:SetSourceIdentity"
		if err := s.authz.AuthorizeTrust(ctx, c, tr); err != nil {
			return nil, err
		}
	}

	duration := defaultRoleSession
	if in.DurationSeconds != nil {
		duration = int(*in.DurationSeconds)
		if duration > maxSession(r) {
			return nil, validationError("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
		}
	}
	packed, err := checkPacked(doc, arns, tags)
	if err != nil {
		return nil, err
	}

	issued := now.UTC().Truncate(time.Second)
	sess := &ststoken.Session{
		Account: ref.account, Kind: ststoken.KindAssumedRole,
		ARN:         assumedRoleARN(ref.account, r.Name, in.RoleSessionName),
		PrincipalID: r.ID + ":" + in.RoleSessionName,
		SourceARN:   roleARN, SourceID: r.ID, SessionName: in.RoleSessionName,
		IssuedAt: issued, Expiration: issued.Add(time.Duration(duration) * time.Second),
		MFAAuthenticated: mfa, MFAAuthTime: mfaTime, SourceIdentity: sourceIdentity,
		Tags: tags, TransitiveTagKeys: transitive, Policy: doc, PolicyARNs: arns,
		RoleChained: chained,
	}
	creds, err := s.issue(sess)
	if err != nil {
		return nil, err
	}
	s.usage.used(ref.account, r.ID, region, now)
	return &AssumeRoleResponse{
		Credentials:      creds,
		AssumedRoleUser:  &AssumedRoleUser{AssumedRoleId: sess.PrincipalID, Arn: sess.ARN},
		PackedPolicySize: packed,
		SourceIdentity:   sourceIdentity,
	}, nil
}
