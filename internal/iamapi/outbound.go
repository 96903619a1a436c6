package iamapi

import (
	"context"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/jwtissuer"
	"github.com/iamd/iamd/internal/uuid"
)

// Outbound web identity federation: an account's principals get JSON Web
// Tokens from STS GetWebIdentityToken to prove who they are to services
// outside AWS, which verify them through the issuer's OpenID Connect
// discovery document and keys (served by iamd at the issuer URL).

// EnableOutboundWebIdentityFederation turns the feature on and returns the
// account's issuer URL.
func (s *Service) EnableOutboundWebIdentityFederation(ctx context.Context, _ *EnableOutboundWebIdentityFederationRequest) (*EnableOutboundWebIdentityFederationResponse, error) {
	c, err := s.authorize(ctx, "iam:EnableOutboundWebIdentityFederation", "*")
	if err != nil {
		return nil, err
	}
	var issuer string
	err = retry(ctx, func() error {
		acct, ok := s.view.Account(c.Account)
		if !ok {
			return noSuchEntity("The account %s does not exist.", c.Account)
		}
		if o := acct.V.Outbound; o != nil && o.Enabled {
			return FeatureEnabledError("Outbound identity federation is already enabled for this account.")
		}
		next := *acct.V
		o := iam.OutboundFederation{IssuerID: uuid.New(), Enabled: true}
		if acct.V.Outbound != nil {
			o.IssuerID = acct.V.Outbound.IssuerID // the issuer URL stays the same
		}
		next.Outbound = &o
		issuer = jwtissuer.IssuerURL(s.publicURL, c.Account, o.IssuerID)
		return s.commit(ctx, iam.Put(iam.KindAccount, "", c.Account, &next, acct.Version))
	})
	if err != nil {
		return nil, err
	}
	return &EnableOutboundWebIdentityFederationResponse{IssuerIdentifier: issuer}, nil
}

// DisableOutboundWebIdentityFederation turns the feature off: no more
// tokens are issued (those issued stay valid until they expire).
func (s *Service) DisableOutboundWebIdentityFederation(ctx context.Context, _ *DisableOutboundWebIdentityFederationRequest) (*DisableOutboundWebIdentityFederationResponse, error) {
	c, err := s.authorize(ctx, "iam:DisableOutboundWebIdentityFederation", "*")
	if err != nil {
		return nil, err
	}
	err = retry(ctx, func() error {
		acct, ok := s.view.Account(c.Account)
		if !ok {
			return noSuchEntity("The account %s does not exist.", c.Account)
		}
		if o := acct.V.Outbound; o == nil || !o.Enabled {
			return FeatureDisabledError("Outbound identity federation is already disabled for this account.")
		}
		next := *acct.V
		o := *acct.V.Outbound
		o.Enabled = false
		next.Outbound = &o
		return s.commit(ctx, iam.Put(iam.KindAccount, "", c.Account, &next, acct.Version))
	})
	if err != nil {
		return nil, err
	}
	return &DisableOutboundWebIdentityFederationResponse{}, nil
}

// GetOutboundWebIdentityFederationInfo returns the issuer URL and whether
// tokens are issued.
func (s *Service) GetOutboundWebIdentityFederationInfo(ctx context.Context, _ *GetOutboundWebIdentityFederationInfoRequest) (*GetOutboundWebIdentityFederationInfoResponse, error) {
	c, err := s.authorize(ctx, "iam:GetOutboundWebIdentityFederationInfo", "*")
	if err != nil {
		return nil, err
	}
	acct, ok := s.view.Account(c.Account)
	if !ok {
		return nil, noSuchEntity("The account %s does not exist.", c.Account)
	}
	o := acct.V.Outbound
	if o == nil || !o.Enabled {
		return nil, FeatureDisabledError("Outbound identity federation is disabled for this account.")
	}
	enabled := true
	return &GetOutboundWebIdentityFederationInfoResponse{
		IssuerIdentifier:  jwtissuer.IssuerURL(s.publicURL, c.Account, o.IssuerID),
		JwtVendingEnabled: &enabled,
	}, nil
}
