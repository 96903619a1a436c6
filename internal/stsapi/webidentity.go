package stsapi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/oidc"
	"github.com/iamd/iamd/internal/ststoken"
	"github.com/iamd/iamd/policy"
)

// clockSkew is how far in the future a token's nbf and iat may be.
const clockSkew = 5 * time.Minute

// Claims through which identity providers pass session tags and a source
// identity, as AWS documents them.
const (
	tagsClaim           = "https://aws.amazon.com/tags"
	sourceIdentityClaim = "https://aws.amazon.com/source_identity"
)

func invalidJWT() error {
	return InvalidIdentityTokenError("The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)")
}

func noVerificationKey() error {
	return InvalidIdentityTokenError("Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements")
}

// OIDCProviderARN is the ARN of an OpenID Connect provider whose URL,
// without its scheme, is url.
func OIDCProviderARN(p iam.Partition, account, url string) string {
	return p.Prefix("iam") + account + ":oidc-provider/" + url
}

// AssumeRoleWithWebIdentity exchanges an OpenID Connect ID token, issued by
// a provider registered in the role's account, for the role's temporary
// credentials. It needs no AWS signature: the token is the proof.
func (s *Service) AssumeRoleWithWebIdentity(ctx context.Context, in *AssumeRoleWithWebIdentityRequest) (*AssumeRoleWithWebIdentityResponse, error) {
	now := s.now()
	tok, err := oidc.Parse(in.WebIdentityToken)
	if err != nil {
		return nil, invalidJWT()
	}
	cl := &tok.Claims
	if cl.Issuer == "" {
		return nil, invalidJWT()
	}
	issuer := cl.Issuer
	if !strings.Contains(issuer, "://") {
		issuer = "https://" + issuer
	}
	if !strings.HasPrefix(issuer, "https://") {
		return nil, InvalidIdentityTokenError("No OpenIDConnect provider found in your account for " + cl.Issuer)
	}
	providerURL := strings.TrimSuffix(strings.TrimPrefix(issuer, "https://"), "/")

	ref, ok := parseRoleARN(s.partition, in.RoleArn)
	if !ok {
		return nil, accessDenied("Not authorized to perform sts:AssumeRoleWithWebIdentity")
	}
	var (
		provider *iam.OIDCProvider
		role     *iam.Entry[iam.Role]
	)
	s.view.Read(ref.account, func(a *iam.AccountView) {
		if p, found := a.OIDCProvider(providerURL); found {
			provider = p.V
		}
		if r, found := a.Role(ref.name); found && r.V.Path == ref.path && r.V.Name == ref.name {
			role = r
		}
	})
	if provider == nil {
		return nil, InvalidIdentityTokenError("No OpenIDConnect provider found in your account for " + issuer)
	}

	audience, err := s.verifyWebIdentityToken(ctx, tok, provider, issuer, now)
	if err != nil {
		return nil, err
	}

	denied := accessDenied("Not authorized to perform sts:AssumeRoleWithWebIdentity")
	if role == nil {
		return nil, denied
	}
	r := role.V
	roleARN := s.partition.ARN(ref.account, "role", r.Path, r.Name)
	doc, arns, err := s.sessionPolicies(in.Policy, in.PolicyArns)
	if err != nil {
		return nil, err
	}
	tags, transitive, err := claimTags(cl)
	if err != nil {
		return nil, err
	}
	sourceIdentity, _ := cl.StringClaim(sourceIdentityClaim)

	kvs := webIdentityContext(providerURL, cl, audience, in.RoleSessionName, sourceIdentity, tags, transitive)
	kvs = roleContext(r, kvs)
	fr := &authz.FederatedTrustRequest{
		Principal: policy.Principal{Type: policy.PrincipalWebIdentity, Federated: OIDCProviderARN(s.partition, ref.account, providerURL)},
		RoleARN:   roleARN, RoleAccount: ref.account,
		TrustPolicy: r.TrustPolicy, Context: kvs, Time: now, SecureTransport: true,
	}
	out, err := s.assume(&roleSession{
		action: "sts:AssumeRoleWithWebIdentity", ref: ref, role: role, name: in.RoleSessionName, now: now,
		policy: doc, policyARNs: arns, tags: tags, transitive: transitive, sourceIdentity: sourceIdentity,
		tagged:   len(tags) > 0,
		duration: in.DurationSeconds, defaultDuration: defaultRoleSession,
		allow: federatedAllow(s, fr, denied),
	})
	if err != nil {
		return nil, err
	}
	return &AssumeRoleWithWebIdentityResponse{
		Credentials:                 out.creds,
		SubjectFromWebIdentityToken: cl.Subject,
		AssumedRoleUser:             out.assumedRoleUser(),
		PackedPolicySize:            out.packed,
		Provider:                    cl.Issuer,
		Audience:                    audience,
		SourceIdentity:              sourceIdentity,
	}, nil
}

// verifyWebIdentityToken checks tok, issued by provider (at issuer, its
// https:// URL): its signature against the provider's keys (registered
// with it, or fetched from the issuer), its times against now, and its
// audience against the provider's client IDs. It returns the audience
// the token was accepted for.
func (s *Service) verifyWebIdentityToken(ctx context.Context, tok *oidc.Token, provider *iam.OIDCProvider, issuer string, now time.Time) (string, error) {
	cl := &tok.Claims
	var (
		ks  *oidc.KeySet
		err error
	)
	if provider.JWKS != "" {
		if ks, err = oidc.ParseKeySet([]byte(provider.JWKS)); err != nil {
			return "", noVerificationKey()
		}
	} else if ks, err = s.jwks.KeySet(ctx, issuer, tok.Header.Kid); err != nil {
		if errors.Is(err, oidc.ErrFetch) {
			s.log.Warn("identity provider unreachable", "issuer", issuer, "err", err)
			return "", IDPCommunicationErrorError("Couldn't connect to the identity provider " + issuer + ". Retry the request.")
		}
		s.log.Warn("identity provider keys unusable", "issuer", issuer, "err", err)
		return "", noVerificationKey()
	}
	if err := tok.Verify(ks); err != nil {
		switch {
		case errors.Is(err, oidc.ErrUnsupportedAlgorithm):
			return "", InvalidIdentityTokenError("Unsupported token signing algorithm " + tok.Header.Alg + ".")
		case errors.Is(err, oidc.ErrNoKey):
			return "", noVerificationKey()
		}
		return "", InvalidIdentityTokenError("The token's signature could not be verified.")
	}

	if cl.Expiry.IsZero() {
		return "", InvalidIdentityTokenError("The token has no expiration time (exp).")
	}
	if !now.Before(cl.Expiry) {
		return "", ExpiredTokenError(fmt.Sprintf("Token expired: current date/time %d must be before the expiration date/time %d", now.Unix(), cl.Expiry.Unix()))
	}
	if !cl.NotBefore.IsZero() && cl.NotBefore.After(now.Add(clockSkew)) {
		return "", InvalidIdentityTokenError("The token is not valid yet (nbf).")
	}
	if !cl.IssuedAt.IsZero() && cl.IssuedAt.After(now.Add(clockSkew)) {
		return "", InvalidIdentityTokenError("The token was issued in the future (iat).")
	}
	audience := ""
	if cl.AuthorizedParty != "" && slices.Contains(provider.ClientIDs, cl.AuthorizedParty) {
		audience = cl.AuthorizedParty
	} else {
		for _, a := range cl.Audience {
			if slices.Contains(provider.ClientIDs, a) {
				audience = a
				break
			}
		}
	}
	if audience == "" {
		return "", InvalidIdentityTokenError("Incorrect token audience")
	}
	if cl.Subject == "" {
		return "", InvalidIdentityTokenError("The token has no subject (sub).")
	}
	return audience, nil
}

// webIdentityContext is the trust policy's request context of a web
// identity: the provider's keys (sub, aud, oaud, amr), the session's name
// and source identity, and the tags the token's claims pass.
func webIdentityContext(providerURL string, cl *oidc.Claims, audience, sessionName, sourceIdentity string, tags []ststoken.Tag, transitive []string) []authz.KV {
	kvs := []authz.KV{
		{Key: providerURL + ":sub", Values: []string{cl.Subject}},
		{Key: providerURL + ":aud", Values: []string{audience}},
		{Key: "sts:RoleSessionName", Values: []string{sessionName}},
	}
	if audience == cl.AuthorizedParty && len(cl.Audience) > 0 {
		kvs = append(kvs, authz.KV{Key: providerURL + ":oaud", Values: cl.Audience})
	}
	if amr, ok := cl.StringsClaim("amr"); ok {
		kvs = append(kvs, authz.KV{Key: providerURL + ":amr", Values: amr})
	}
	if sourceIdentity != "" {
		kvs = append(kvs, authz.KV{Key: "sts:SourceIdentity", Values: []string{sourceIdentity}})
	}
	wireTags := make([]Tag, len(tags))
	for i, t := range tags {
		wireTags[i] = Tag{Key: t.Key, Value: t.Value}
	}
	return append(kvs, tagContext(wireTags, transitive)...)
}

// federatedAllow decides the actions of a federated role assumption
// against the role's trust policy, answering denied when it does not
// allow one.
func federatedAllow(s *Service, fr *authz.FederatedTrustRequest, denied error) func(string) error {
	return func(action string) error {
		fr.Action = action
		if !s.authz.TrustAllows(fr) {
			return denied
		}
		return nil
	}
}

// claimTags reads the session tags an identity provider passes in the
// https://aws.amazon.com/tags claim: {"principal_tags": {"k": ["v"]},
// "transitive_tag_keys": ["k"]}.
func claimTags(cl *oidc.Claims) ([]ststoken.Tag, []string, error) {
	raw, ok := cl.Raw[tagsClaim].(map[string]any)
	if !ok {
		return nil, nil, nil
	}
	var tags []Tag
	if pt, ok := raw["principal_tags"].(map[string]any); ok {
		keys := make([]string, 0, len(pt))
		for k := range pt {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			var v string
			switch x := pt[k].(type) {
			case string:
				v = x
			case []any:
				if len(x) != 1 {
					return nil, nil, InvalidIdentityTokenError("Session tag " + k + " must have exactly one value.")
				}
				if v, ok = x[0].(string); !ok {
					return nil, nil, InvalidIdentityTokenError("Session tag " + k + " must be a string.")
				}
			default:
				return nil, nil, InvalidIdentityTokenError("Session tag " + k + " must be a string.")
			}
			tags = append(tags, Tag{Key: k, Value: v})
		}
	}
	var transitive []string
	if tt, ok := raw["transitive_tag_keys"].([]any); ok {
		for _, k := range tt {
			if s, ok := k.(string); ok {
				transitive = append(transitive, s)
			}
		}
	}
	out, keys, err := sessionTags(tags, transitive, nil)
	if err != nil {
		var ae *awsquery.Error
		if errors.As(err, &ae) {
			return nil, nil, InvalidIdentityTokenError(ae.Message)
		}
		return nil, nil, err
	}
	return out, keys, nil
}
