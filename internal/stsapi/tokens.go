package stsapi

import (
	"context"
	"time"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/ststoken"
)

const (
	// defaultTokenSession is the default DurationSeconds of GetSessionToken
	// and GetFederationToken.
	defaultTokenSession = 43200
	// rootMaxSession caps sessions requested with root credentials.
	rootMaxSession = 3600
)

// tokenDuration applies the default and the root user's one-hour cap
// (which AWS applies silently rather than failing).
func tokenDuration(c *authz.Caller, requested *int32) time.Duration {
	d := defaultTokenSession
	if requested != nil {
		d = int(*requested)
	}
	if c.Type == authz.Root && d > rootMaxSession {
		d = rootMaxSession
	}
	return time.Duration(d) * time.Second
}

func requestTime(s *Service, c *authz.Caller) time.Time {
	if !c.Time.IsZero() {
		return c.Time
	}
	return s.now()
}

// GetSessionToken returns temporary credentials for an IAM user or the root
// user, optionally proving MFA so that policies requiring
// aws:MultiFactorAuthPresent allow the session. Like AWS, it needs no
// permission: it only re-authenticates the caller.
func (s *Service) GetSessionToken(ctx context.Context, in *GetSessionTokenRequest) (*GetSessionTokenResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if c.Session != nil || (c.Type != authz.User && c.Type != authz.Root) {
		return nil, accessDenied("Cannot call GetSessionToken with session credentials")
	}
	if (in.SerialNumber == "") != (in.TokenCode == "") {
		return nil, validationError("SerialNumber and TokenCode must be specified together.")
	}
	now := requestTime(s, c)
	sess := &ststoken.Session{
		Account: c.Account, ARN: c.ARN, PrincipalID: c.UserID, SourceARN: c.ARN, SourceID: c.EntityID,
		SessionName: c.Name,
	}
	if c.Type == authz.Root {
		sess.Kind = ststoken.KindRoot
	} else {
		sess.Kind = ststoken.KindUser
	}
	if in.SerialNumber != "" {
		if err := s.verifyMFA(ctx, c, in.SerialNumber, in.TokenCode, now); err != nil {
			return nil, err
		}
		sess.MFAAuthenticated, sess.MFAAuthTime = true, now.UTC().Truncate(time.Second)
	}
	sess.IssuedAt = now.UTC().Truncate(time.Second)
	sess.Expiration = sess.IssuedAt.Add(tokenDuration(c, in.DurationSeconds))
	creds, err := s.issue(sess)
	if err != nil {
		return nil, err
	}
	return &GetSessionTokenResponse{Credentials: creds}, nil
}

func (s *Service) federatedUserARN(account, name string) string {
	return s.partition.STSARN(account, "federated-user/"+name)
}

// GetFederationToken returns temporary credentials for a federated user
// named by the caller (an IAM user or the root user). The session's
// permissions are the intersection of the caller's and the session
// policies passed; without session policies it has none.
func (s *Service) GetFederationToken(ctx context.Context, in *GetFederationTokenRequest) (*GetFederationTokenResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if c.Session != nil || (c.Type != authz.User && c.Type != authz.Root) {
		return nil, accessDenied("Cannot call GetFederationToken with session credentials")
	}
	arn := s.federatedUserARN(c.Account, in.Name)
	if err := s.authorize(ctx, c, "sts:GetFederationToken", arn, tagContext(in.Tags, nil)...); err != nil {
		return nil, err
	}
	if len(in.Tags) > 0 {
		if err := s.authorize(ctx, c, "sts:TagSession", arn, tagContext(in.Tags, nil)...); err != nil {
			return nil, err
		}
	}
	doc, arns, err := s.sessionPolicies(in.Policy, in.PolicyArns)
	if err != nil {
		return nil, err
	}
	tags, _, err := sessionTags(in.Tags, nil, nil)
	if err != nil {
		return nil, err
	}
	packed, err := checkPacked(doc, arns, tags)
	if err != nil {
		return nil, err
	}
	stored := doc
	if stored == "" && len(arns) == 0 {
		stored = inertSessionPolicy
	}
	now := requestTime(s, c).UTC().Truncate(time.Second)
	sess := &ststoken.Session{
		Account: c.Account, Kind: ststoken.KindFederatedUser, ARN: arn,
		PrincipalID: c.Account + ":" + in.Name, SourceARN: c.ARN, SourceID: c.EntityID,
		SessionName: in.Name, IssuedAt: now, Expiration: now.Add(tokenDuration(c, in.DurationSeconds)),
		Tags: tags, Policy: stored, PolicyARNs: arns,
	}
	creds, err := s.issue(sess)
	if err != nil {
		return nil, err
	}
	return &GetFederationTokenResponse{
		Credentials:      creds,
		FederatedUser:    &FederatedUser{FederatedUserId: sess.PrincipalID, Arn: arn},
		PackedPolicySize: packed,
	}, nil
}
