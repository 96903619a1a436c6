package stsapi

import (
	"time"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/ststoken"
)

// RoleSession describes a role session that a caller outside the STS API
// (the workload credentials endpoint) has already decided may start.
type RoleSession struct {
	// Account owns Role.
	Account string
	Role    *iam.Role
	// Name is the role session name (a valid RoleSessionName).
	Name string
	// Issued is the session's start and Duration its length; the caller
	// keeps it within the role's MaxSessionDuration.
	Issued   time.Time
	Duration time.Duration
	// Region is reported as where the role was last used.
	Region string
}

// IssueRoleSession mints temporary credentials for a role session exactly as
// AssumeRole does once its checks have passed: an ASIA… key ID, a secret and
// a sealed session token. It decides nothing; the caller has evaluated the
// role's trust policy. It returns the credentials and the assumed-role user.
func (s *Service) IssueRoleSession(rs RoleSession) (*Credentials, *AssumedRoleUser, error) {
	r := rs.Role
	issued := rs.Issued.UTC().Truncate(time.Second)
	roleARN := s.partition.ARN(rs.Account, "role", r.Path, r.Name)
	sess := &ststoken.Session{
		Account: rs.Account, Kind: ststoken.KindAssumedRole,
		ARN:         s.assumedRoleARN(rs.Account, r.Name, rs.Name),
		PrincipalID: r.ID + ":" + rs.Name,
		SourceARN:   roleARN, SourceID: r.ID, SessionName: rs.Name,
		IssuedAt: issued, Expiration: issued.Add(rs.Duration),
	}
	creds, err := s.issue(sess)
	if err != nil {
		return nil, nil, err
	}
	reg := rs.Region
	if reg == "" {
		reg = region
	}
	s.usage.used(rs.Account, r.ID, reg, rs.Issued)
	return creds, &AssumedRoleUser{AssumedRoleId: sess.PrincipalID, Arn: sess.ARN}, nil
}

// MaxSessionDuration is the longest session role r allows, in seconds.
func MaxSessionDuration(r *iam.Role) int { return maxSession(r) }
