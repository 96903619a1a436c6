package iamapi

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/awsquery"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/store"
)

// OpenID Connect identity providers. A provider is identified by its URL
// without the https:// scheme (host and optional path), which is also the
// last part of its ARN, arn:PARTITION:iam::ACCOUNT:oidc-provider/HOST/PATH, and
// the prefix of the condition keys its tokens set in trust policies
// (HOST/PATH:sub, HOST/PATH:aud). STS's AssumeRoleWithWebIdentity verifies
// tokens against the keys the provider publishes; thumbprints are kept for
// compatibility but not needed to verify (the issuer's certificate is
// checked against the system's trusted authorities).

const (
	oidcProvidersPerAccount  = 100
	oidcClientIDsPerProvider = 100
	oidcThumbprintsMax       = 5
	oidcThumbprintLen        = 40
)

var oidcHostLabel = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

func (s *Service) oidcProviderARN(account, u string) string {
	return s.partition.Prefix("iam") + account + ":oidc-provider/" + u
}

func noSuchOIDCProvider(arn string) error {
	return noSuchEntity("OpenIDConnect Provider not found for arn %s", arn)
}

// checkOIDCURL validates CreateOpenIDConnectProvider's Url and returns it
// without its scheme. AWS refuses ports; iamd accepts one for loopback
// hosts, so that a local issuer (tests, development) can be registered.
func checkOIDCURL(raw string) (string, error) {
	if !strings.Contains(raw, "://") {
		return "", validationError("Invalid Open ID Connect Provider URL")
	}
	if !strings.HasPrefix(raw, "https://") {
		return "", invalidInput("Invalid Open ID Connect Provider URL. The URL must begin with https://.")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", validationError("Invalid Open ID Connect Provider URL")
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#") {
		return "", invalidInput("Invalid Open ID Connect Provider URL.")
	}
	host := u.Hostname()
	if u.Port() != "" && !isLoopbackHost(host) {
		return "", invalidInput("Invalid Open ID Connect Provider URL.")
	}
	if !validOIDCHost(host) {
		return "", invalidInput("Invalid Open ID Connect Provider URL.")
	}
	return strings.TrimPrefix(raw, "https://"), nil
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

func validOIDCHost(host string) bool {
	if net.ParseIP(host) != nil {
		return true
	}
	if host == "" || len(host) > 253 {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		if !oidcHostLabel.MatchString(label) {
			return false
		}
	}
	return true
}

func checkThumbprints(list []string) ([]string, error) {
	if len(list) > oidcThumbprintsMax {
		return nil, invalidInput("Thumbprint list must contain fewer than %d entries.", oidcThumbprintsMax)
	}
	out := make([]string, 0, len(list))
	for _, t := range list {
		if len(t) != oidcThumbprintLen {
			return nil, invalidInput("Thumbprint must be exactly %d characters.", oidcThumbprintLen)
		}
		t = strings.ToLower(t)
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

func uniqueStrings(list []string) []string {
	out := make([]string, 0, len(list))
	for _, s := range list {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// parseOIDCProviderARN returns the account and URL of a provider ARN.
func (s *Service) parseOIDCProviderARN(arn string) (account, u string, err error) {
	if err := s.checkPartition(arn); err != nil {
		return "", "", err
	}
	account, kind, u, ok := s.splitProviderARN(arn)
	if !ok {
		return "", "", validationError("Invalid ARN: %s", arn)
	}
	if kind != "oidc-provider" {
		return "", "", validationError("Invalid resource type in ARN")
	}
	return account, u, nil
}

// oidcProviders describes OIDC providers to the provider helpers.
var oidcProviders = provider[iam.OIDCProvider]{
	find: func(a *iam.AccountView, u string) *iam.Entry[iam.OIDCProvider] {
		if p, ok := a.OIDCProvider(u); ok && p.V.URL == u {
			return p
		}
		return nil
	},
	tags:     func(p *iam.OIDCProvider) []iam.Tag { return p.Tags },
	notFound: noSuchOIDCProvider,
}

// lookupOIDCProvider authorizes action on a provider and returns it.
func (s *Service) lookupOIDCProvider(ctx context.Context, action, arn string, opts ...authz.Option) (*authz.Caller, *iam.Entry[iam.OIDCProvider], error) {
	account, u, err := s.parseOIDCProviderARN(arn)
	if err != nil {
		if _, cerr := caller(ctx); cerr != nil {
			return nil, nil, cerr
		}
		return nil, nil, err
	}
	return oidcProviders.lookup(ctx, s, action, arn, account, u, opts...)
}

// updateOIDCProvider re-reads a provider, applies change to a copy and
// commits it, retrying lost races.
func (s *Service) updateOIDCProvider(ctx context.Context, account, arn, u string, change func(p *iam.OIDCProvider) error) error {
	return oidcProviders.update(ctx, s, iam.KindOIDCProvider, account, arn, u, func(p *iam.OIDCProvider) iam.OIDCProvider {
		next := *p
		next.ClientIDs = slices.Clone(p.ClientIDs)
		next.Thumbprints = slices.Clone(p.Thumbprints)
		next.Tags = slices.Clone(p.Tags)
		return next
	}, change)
}

// CreateOpenIDConnectProvider registers an OpenID Connect identity provider.
func (s *Service) CreateOpenIDConnectProvider(ctx context.Context, in *CreateOpenIDConnectProviderRequest) (*CreateOpenIDConnectProviderResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	u, err := checkOIDCURL(in.Url)
	if err != nil {
		return nil, err
	}
	arn := s.oidcProviderARN(c.Account, u)
	if _, err := s.authorize(ctx, "iam:CreateOpenIDConnectProvider", arn, tagOptions(in.Tags)); err != nil {
		return nil, err
	}
	if len(in.Tags) > 0 {
		if _, err := s.authorize(ctx, "iam:TagOpenIDConnectProvider", arn, tagOptions(in.Tags)); err != nil {
			return nil, err
		}
	}
	thumbprints, err := checkThumbprints(in.ThumbprintList)
	if err != nil {
		return nil, err
	}
	clientIDs := uniqueStrings(in.ClientIDList)
	if len(clientIDs) > oidcClientIDsPerProvider {
		return nil, limitExceeded("Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: %d", oidcClientIDsPerProvider)
	}
	if err := checkNewTags(in.Tags); err != nil {
		return nil, err
	}
	p := &iam.OIDCProvider{URL: u, ClientIDs: clientIDs, Thumbprints: thumbprints, Created: s.timestamp(), Tags: toTags(in.Tags)}
	err = retry(ctx, func() error {
		var verr error
		if err := s.read(c.Account, func(a *iam.AccountView) {
			if _, exists := a.OIDCProvider(u); exists {
				verr = entityAlreadyExists("Provider with url %s already exists.", in.Url)
				return
			}
			if a.OIDCProviderCount() >= oidcProvidersPerAccount {
				verr = limitExceeded("Cannot exceed quota for OpenIdConnectProvidersPerAccount: %d", oidcProvidersPerAccount)
			}
		}); err != nil {
			return err
		}
		if verr != nil {
			return verr
		}
		return s.commit(ctx, iam.Put(iam.KindOIDCProvider, c.Account, iam.Key(u), p, store.Absent))
	})
	if err != nil {
		return nil, err
	}
	return &CreateOpenIDConnectProviderResponse{OpenIDConnectProviderArn: arn, Tags: fromTags(p.Tags)}, nil
}

// GetOpenIDConnectProvider returns a provider.
func (s *Service) GetOpenIDConnectProvider(ctx context.Context, in *GetOpenIDConnectProviderRequest) (*GetOpenIDConnectProviderResponse, error) {
	_, e, err := s.lookupOIDCProvider(ctx, "iam:GetOpenIDConnectProvider", in.OpenIDConnectProviderArn)
	if err != nil {
		return nil, err
	}
	p := e.V
	// AWS lists a provider without client IDs as an empty ClientIDList,
	// as it does its tags (LocalStack's AWS-recorded test_iam_oidc
	// snapshot).
	clientIDs := slices.Clone(p.ClientIDs)
	if clientIDs == nil {
		clientIDs = []string{}
	}
	return &GetOpenIDConnectProviderResponse{
		Url: p.URL, ClientIDList: clientIDs, ThumbprintList: slices.Clone(p.Thumbprints),
		CreateDate: p.Created, Tags: tagList(p.Tags),
	}, nil
}

// DeleteOpenIDConnectProvider deletes a provider. Roles that trust it are
// left as they are (their trust policies then match nothing), as in AWS.
func (s *Service) DeleteOpenIDConnectProvider(ctx context.Context, in *DeleteOpenIDConnectProviderRequest) (*DeleteOpenIDConnectProviderResponse, error) {
	c, e, err := s.lookupOIDCProvider(ctx, "iam:DeleteOpenIDConnectProvider", in.OpenIDConnectProviderArn)
	var ae *awsquery.Error
	if errors.As(err, &ae) && ae.Code == "NoSuchEntity" {
		// Idempotent, as AWS documents: deleting a provider that does not
		// exist succeeds, for a caller allowed to delete it.
		if _, err := s.authorize(ctx, "iam:DeleteOpenIDConnectProvider", in.OpenIDConnectProviderArn); err != nil {
			return nil, err
		}
		return &DeleteOpenIDConnectProviderResponse{}, nil
	}
	if err != nil {
		return nil, err
	}
	u := e.V.URL
	err = retry(ctx, func() error {
		var cur *iam.Entry[iam.OIDCProvider]
		if err := s.read(c.Account, func(a *iam.AccountView) {
			if p, ok := a.OIDCProvider(u); ok && p.V.URL == u {
				cur = p
			}
		}); err != nil {
			return err
		}
		if cur == nil {
			return nil // deleted meanwhile: as idempotent as above
		}
		return s.commit(ctx, iam.Delete(iam.KindOIDCProvider, c.Account, iam.Key(u), cur.Version))
	})
	if err != nil {
		return nil, err
	}
	return &DeleteOpenIDConnectProviderResponse{}, nil
}

// ListOpenIDConnectProviders lists the account's providers (no
// pagination, as in AWS).
func (s *Service) ListOpenIDConnectProviders(ctx context.Context, _ *ListOpenIDConnectProvidersRequest) (*ListOpenIDConnectProvidersResponse, error) {
	c, err := s.authorize(ctx, "iam:ListOpenIDConnectProviders", "*")
	if err != nil {
		return nil, err
	}
	out := &ListOpenIDConnectProvidersResponse{OpenIDConnectProviderList: []OpenIDConnectProviderListEntry{}}
	if err := s.read(c.Account, func(a *iam.AccountView) {
		for _, p := range a.OIDCProviders() {
			out.OpenIDConnectProviderList = append(out.OpenIDConnectProviderList, OpenIDConnectProviderListEntry{Arn: s.oidcProviderARN(c.Account, p.V.URL)})
		}
	}); err != nil {
		return nil, err
	}
	slices.SortFunc(out.OpenIDConnectProviderList, func(x, y OpenIDConnectProviderListEntry) int { return strings.Compare(x.Arn, y.Arn) })
	return out, nil
}

// AddClientIDToOpenIDConnectProvider adds an audience; adding one the
// provider has already is not an error.
func (s *Service) AddClientIDToOpenIDConnectProvider(ctx context.Context, in *AddClientIDToOpenIDConnectProviderRequest) (*AddClientIDToOpenIDConnectProviderResponse, error) {
	c, e, err := s.lookupOIDCProvider(ctx, "iam:AddClientIDToOpenIDConnectProvider", in.OpenIDConnectProviderArn)
	if err != nil {
		return nil, err
	}
	err = s.updateOIDCProvider(ctx, c.Account, in.OpenIDConnectProviderArn, e.V.URL, func(p *iam.OIDCProvider) error {
		if slices.Contains(p.ClientIDs, in.ClientID) {
			return nil
		}
		if len(p.ClientIDs) >= oidcClientIDsPerProvider {
			return limitExceeded("Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: %d", oidcClientIDsPerProvider)
		}
		p.ClientIDs = append(p.ClientIDs, in.ClientID)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &AddClientIDToOpenIDConnectProviderResponse{}, nil
}

// RemoveClientIDFromOpenIDConnectProvider removes an audience; removing
// one the provider lacks is not an error.
func (s *Service) RemoveClientIDFromOpenIDConnectProvider(ctx context.Context, in *RemoveClientIDFromOpenIDConnectProviderRequest) (*RemoveClientIDFromOpenIDConnectProviderResponse, error) {
	c, e, err := s.lookupOIDCProvider(ctx, "iam:RemoveClientIDFromOpenIDConnectProvider", in.OpenIDConnectProviderArn)
	if err != nil {
		return nil, err
	}
	err = s.updateOIDCProvider(ctx, c.Account, in.OpenIDConnectProviderArn, e.V.URL, func(p *iam.OIDCProvider) error {
		p.ClientIDs = slices.DeleteFunc(p.ClientIDs, func(id string) bool { return id == in.ClientID })
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &RemoveClientIDFromOpenIDConnectProviderResponse{}, nil
}

// UpdateOpenIDConnectProviderThumbprint replaces the thumbprint list.
func (s *Service) UpdateOpenIDConnectProviderThumbprint(ctx context.Context, in *UpdateOpenIDConnectProviderThumbprintRequest) (*UpdateOpenIDConnectProviderThumbprintResponse, error) {
	c, e, err := s.lookupOIDCProvider(ctx, "iam:UpdateOpenIDConnectProviderThumbprint", in.OpenIDConnectProviderArn)
	if err != nil {
		return nil, err
	}
	thumbprints, err := checkThumbprints(in.ThumbprintList)
	if err != nil {
		return nil, err
	}
	err = s.updateOIDCProvider(ctx, c.Account, in.OpenIDConnectProviderArn, e.V.URL, func(p *iam.OIDCProvider) error {
		p.Thumbprints = thumbprints
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &UpdateOpenIDConnectProviderThumbprintResponse{}, nil
}

// TagOpenIDConnectProvider adds or replaces tags.
func (s *Service) TagOpenIDConnectProvider(ctx context.Context, in *TagOpenIDConnectProviderRequest) (*TagOpenIDConnectProviderResponse, error) {
	c, e, err := s.lookupOIDCProvider(ctx, "iam:TagOpenIDConnectProvider", in.OpenIDConnectProviderArn, tagOptions(in.Tags))
	if err != nil {
		return nil, err
	}
	err = s.updateOIDCProvider(ctx, c.Account, in.OpenIDConnectProviderArn, e.V.URL, func(p *iam.OIDCProvider) error {
		tags, err := mergeTags(p.Tags, in.Tags)
		p.Tags = tags
		return err
	})
	if err != nil {
		return nil, err
	}
	return &TagOpenIDConnectProviderResponse{}, nil
}

// UntagOpenIDConnectProvider removes tags.
func (s *Service) UntagOpenIDConnectProvider(ctx context.Context, in *UntagOpenIDConnectProviderRequest) (*UntagOpenIDConnectProviderResponse, error) {
	c, e, err := s.lookupOIDCProvider(ctx, "iam:UntagOpenIDConnectProvider", in.OpenIDConnectProviderArn, tagKeysOption(in.TagKeys))
	if err != nil {
		return nil, err
	}
	err = s.updateOIDCProvider(ctx, c.Account, in.OpenIDConnectProviderArn, e.V.URL, func(p *iam.OIDCProvider) error {
		p.Tags = removeTags(p.Tags, in.TagKeys)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &UntagOpenIDConnectProviderResponse{}, nil
}

// ListOpenIDConnectProviderTags lists a provider's tags.
func (s *Service) ListOpenIDConnectProviderTags(ctx context.Context, in *ListOpenIDConnectProviderTagsRequest) (*ListOpenIDConnectProviderTagsResponse, error) {
	_, e, err := s.lookupOIDCProvider(ctx, "iam:ListOpenIDConnectProviderTags", in.OpenIDConnectProviderArn)
	if err != nil {
		return nil, err
	}
	page, next, err := pageOf(fromTags(e.V.Tags), in.Marker, maxItems(in.MaxItems))
	if err != nil {
		return nil, err
	}
	out := &ListOpenIDConnectProviderTagsResponse{Tags: page, IsTruncated: next != "", Marker: next}
	if out.Tags == nil {
		out.Tags = []Tag{}
	}
	return out, nil
}
