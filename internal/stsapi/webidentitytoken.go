package stsapi

import (
	"context"
	"strconv"
	"time"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/jwtissuer"
	"github.com/iamd/iamd/internal/uuid"
)

const (
	// defaultWebIdentityTokenDuration is GetWebIdentityToken's default.
	defaultWebIdentityTokenDuration = 300
	// maxWebIdentityTokenPayload bounds a token's claims.
	maxWebIdentityTokenPayload = 8192
)

// webIdentityClaims are the claims of an outbound web identity token.
type webIdentityClaims struct {
	jwtissuer.Claims
	AWS awsIdentityClaim `json:"https://sts.amazonaws.com/"`
}

type awsIdentityClaim struct {
	Account     string            `json:"aws_account"`
	PrincipalID string            `json:"principal_id"`
	ARN         string            `json:"principal_arn"`
	Tags        map[string]string `json:"request_tags,omitempty"`
}

// GetWebIdentityToken returns a JSON Web Token, signed by the deployment's
// keys, that proves the caller's identity to services outside iamd: they
// verify it through the account's issuer (its OpenID Connect discovery
// document and JWKS). The account must have outbound web identity
// federation enabled.
func (s *Service) GetWebIdentityToken(ctx context.Context, in *GetWebIdentityTokenRequest) (*GetWebIdentityTokenResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	duration := defaultWebIdentityTokenDuration
	if in.DurationSeconds != nil {
		duration = int(*in.DurationSeconds)
	}
	tags, _, err := sessionTags(in.Tags, nil, nil)
	if err != nil {
		return nil, err
	}
	kvs := append([]authz.KV{
		{Key: "sts:IdentityTokenAudience", Values: in.Audience},
		{Key: "sts:DurationSeconds", Values: []string{strconv.Itoa(duration)}},
		{Key: "sts:SigningAlgorithm", Values: []string{in.SigningAlgorithm}},
	}, tagContext(in.Tags, nil)...)
	if err := s.authorize(ctx, c, "sts:GetWebIdentityToken", "*", kvs...); err != nil {
		return nil, err
	}
	acct, ok := s.view.Account(c.Account)
	if !ok || s.issuer == nil || acct.V.Outbound == nil || !acct.V.Outbound.Enabled {
		return nil, OutboundWebIdentityFederationDisabledError("Outbound web identity federation is disabled for this account: enable it with EnableOutboundWebIdentityFederation.")
	}
	now := requestTime(s, c).UTC().Truncate(time.Second)
	expires := now.Add(time.Duration(duration) * time.Second)
	if c.Session != nil && expires.After(c.Session.Expires) {
		return nil, SessionDurationEscalationError("The requested token duration would extend the session beyond its original expiration time.")
	}
	claims := webIdentityClaims{
		Claims: jwtissuer.NewClaims(jwtissuer.IssuerURL(s.publicURL, c.Account, acct.V.Outbound.IssuerID),
			c.PrincipalARN, in.Audience, now, time.Duration(duration)*time.Second, uuid.New()),
		AWS: awsIdentityClaim{Account: c.Account, PrincipalID: c.UserID, ARN: c.ARN},
	}
	if len(tags) > 0 {
		claims.AWS.Tags = make(map[string]string, len(tags))
		for _, t := range tags {
			claims.AWS.Tags[t.Key] = t.Value
		}
	}
	token, err := s.issuer.Sign(ctx, in.SigningAlgorithm, &claims)
	if err != nil {
		return nil, err
	}
	if len(token) > maxWebIdentityTokenPayload {
		return nil, JWTPayloadSizeExceededError("The token's claims exceed the size a web identity token may have: use fewer or shorter tags and audiences.")
	}
	return &GetWebIdentityTokenResponse{WebIdentityToken: token, Expiration: expires}, nil
}
