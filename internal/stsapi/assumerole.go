package stsapi

import (
	"context"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/policy"
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

// parseRoleARN splits arn:PARTITION:iam::ACCOUNT:role/PATH/NAME.
func parseRoleARN(p iam.Partition, arn string) (roleRef, bool) {
	rest, ok := p.CutIAM(arn)
	if !ok {
		return roleRef{}, false
	}
	account, res, ok := strings.Cut(rest, ":")
	if !ok || !policy.ValidAccountID(account) {
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
	ref, ok := parseRoleARN(s.partition, arn)
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

func (s *Service) assumedRoleARN(account, role, session string) string {
	return s.partition.STSARN(account, "assumed-role/"+role+"/"+session)
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
	doc, arns, err := s.sessionPolicies(in.Policy, in.PolicyArns)
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
	roleARN := s.partition.ARN(ref.account, "role", r.Path, r.Name)

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
		RoleARN: roleARN, RoleAccount: ref.account,
		TrustPolicy: r.TrustPolicy, Context: kvs, MFA: in.SerialNumber != "",
	}
	out, err := s.assume(&roleSession{
		action: "sts:AssumeRole", ref: ref, role: role, name: in.RoleSessionName, now: now,
		policy: doc, policyARNs: arns, tags: tags, transitive: transitive, sourceIdentity: sourceIdentity,
		tagged: len(in.Tags) > 0 || len(in.TransitiveTagKeys) > 0,
		mfa:    mfa, mfaTime: mfaTime, chained: chained,
		duration: in.DurationSeconds, defaultDuration: defaultRoleSession,
		allow: func(action string) error {
			tr.Action = action
			return s.authz.AuthorizeTrust(ctx, c, tr)
		},
	})
	if err != nil {
		return nil, err
	}
	return &AssumeRoleResponse{
		Credentials:      out.creds,
		AssumedRoleUser:  out.assumedRoleUser(),
		PackedPolicySize: out.packed,
		SourceIdentity:   sourceIdentity,
	}, nil
}
