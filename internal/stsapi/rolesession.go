package stsapi

import (
	"time"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/ststoken"
)

// roleSession is a role assumption once its caller is established. The
// three assume-role calls differ only in how they establish the caller (a
// signature, an OpenID Connect token, a SAML assertion) and in the
// condition keys they give the trust policy; from there on they share
// assume: the trust checks, the duration, the packed size, the session.
type roleSession struct {
	// action is the assumption's action: sts:AssumeRole,
	// sts:AssumeRoleWithWebIdentity or sts:AssumeRoleWithSAML.
	action string
	ref    roleRef
	role   *iam.Entry[iam.Role]
	name   string // the session name
	now    time.Time

	// The session's policies, tags and source identity, validated.
	policy         string
	policyARNs     []string
	tags           []ststoken.Tag
	transitive     []string
	sourceIdentity string
	// tagged is set when the request passes session tags (or transitive
	// keys): sts:TagSession must be allowed too.
	tagged bool

	mfa     bool
	mfaTime time.Time
	chained bool // a role session assumes the role

	// duration is DurationSeconds as asked for, nil when not;
	// defaultDuration applies then, capped by the role's maximum.
	duration        *int32
	defaultDuration int

	// allow decides one action against the role's trust policy with the
	// request's condition keys, returning the error to answer if denied.
	allow func(action string) error
}

// assumed is the outcome of a role assumption.
type assumed struct {
	creds   *Credentials
	session *ststoken.Session
	packed  *int32
}

// assume runs the pipeline every role assumption shares: the trust policy
// must allow the assumption, the session tags (sts:TagSession) and the
// source identity (sts:SetSourceIdentity); the duration must fit the
// role's maximum; the session policies and tags must fit the token. It
// then issues the session and records the role's use.
func (s *Service) assume(rs *roleSession) (*assumed, error) {
	if err := rs.allow(rs.action); err != nil {
		return nil, err
	}
	if rs.tagged {
		if err := rs.allow("sts:TagSession"); err != nil {
			return nil, err
		}
	}
	if rs.sourceIdentity != "" {
		if err := rs.allow("sts:SetSourceIdentity"); err != nil {
			return nil, err
		}
	}
	r := rs.role.V
	duration := min(rs.defaultDuration, maxSession(r))
	if rs.duration != nil {
		duration = int(*rs.duration)
		if duration > maxSession(r) {
			return nil, validationError("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
		}
	}
	packed, err := checkPacked(rs.policy, rs.policyARNs, rs.tags)
	if err != nil {
		return nil, err
	}
	issued := rs.now.UTC().Truncate(time.Second)
	sess := &ststoken.Session{
		Account: rs.ref.account, Kind: ststoken.KindAssumedRole,
		ARN:         s.assumedRoleARN(rs.ref.account, r.Name, rs.name),
		PrincipalID: r.ID + ":" + rs.name,
		SourceARN:   s.partition.ARN(rs.ref.account, "role", r.Path, r.Name), SourceID: r.ID, SessionName: rs.name,
		IssuedAt: issued, Expiration: issued.Add(time.Duration(duration) * time.Second),
		MFAAuthenticated: rs.mfa, MFAAuthTime: rs.mfaTime, SourceIdentity: rs.sourceIdentity,
		Tags: rs.tags, TransitiveTagKeys: rs.transitive, Policy: rs.policy, PolicyARNs: rs.policyARNs,
		RoleChained: rs.chained,
	}
	creds, err := s.issue(sess)
	if err != nil {
		return nil, err
	}
	s.usage.used(rs.ref.account, r.ID, region, rs.now)
	return &assumed{creds: creds, session: sess, packed: packed}, nil
}

// assumedRoleUser describes the session for the response.
func (a *assumed) assumedRoleUser() *AssumedRoleUser {
	return &AssumedRoleUser{AssumedRoleId: a.session.PrincipalID, Arn: a.session.ARN}
}
