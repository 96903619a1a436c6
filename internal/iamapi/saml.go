package iamapi

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/saml"
	"github.com/iamd/iamd/internal/store"
)

// SAML 2.0 identity providers: a name and the IdP's metadata document,
// whose signing certificates STS's AssumeRoleWithSAML verifies assertions
// against. ARN arn:PARTITION:iam::ACCOUNT:saml-provider/NAME.

const samlProvidersPerAccount = 100

func (s *Service) samlProviderARN(account, name string) string {
	return s.partition.Prefix("iam") + account + ":saml-provider/" + name
}

func noSuchSAMLProvider(arn string) error {
	return noSuchEntity("Manifest not found for arn %s", arn)
}

// samlValidUntil is the provider's ValidUntil: the metadata's, or 100
// years after creation as AWS reports when the metadata has none.
func samlValidUntil(p *iam.SAMLProvider) time.Time {
	if !p.ValidUntil.IsZero() {
		return p.ValidUntil
	}
	return p.Created.AddDate(100, 0, 0)
}

// samlUUID derives the provider's stable SAMLProviderUUID.
func samlUUID(account string, p *iam.SAMLProvider) string {
	h := sha256.Sum256([]byte(account + "\x00" + p.Name + "\x00" + p.Created.String()))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

func checkSAMLMetadata(doc string) (*saml.Metadata, error) {
	md, err := saml.ParseMetadata(doc)
	if err != nil {
		return nil, invalidInput("Could not parse metadata")
	}
	return md, nil
}

func (s *Service) parseSAMLProviderARN(arn string) (account, name string, err error) {
	if err := s.checkPartition(arn); err != nil {
		return "", "", err
	}
	account, kind, name, ok := s.splitProviderARN(arn)
	if !ok || kind != "saml-provider" {
		return "", "", validationError("Invalid ARN: %s", arn)
	}
	return account, name, nil
}

// samlProviders describes SAML providers to the provider helpers.
var samlProviders = provider[iam.SAMLProvider]{
	find: func(a *iam.AccountView, name string) *iam.Entry[iam.SAMLProvider] {
		if p, ok := a.SAMLProvider(name); ok && p.V.Name == name {
			return p
		}
		return nil
	},
	tags:     func(p *iam.SAMLProvider) []iam.Tag { return p.Tags },
	notFound: noSuchSAMLProvider,
}

// lookupSAMLProvider authorizes action on a provider and returns it.
func (s *Service) lookupSAMLProvider(ctx context.Context, action, arn string, opts ...authz.Option) (*authz.Caller, *iam.Entry[iam.SAMLProvider], error) {
	account, name, err := s.parseSAMLProviderARN(arn)
	if err != nil {
		if _, cerr := caller(ctx); cerr != nil {
			return nil, nil, cerr
		}
		return nil, nil, err
	}
	return samlProviders.lookup(ctx, s, action, arn, account, name, opts...)
}

func (s *Service) updateSAMLProvider(ctx context.Context, account, arn, name string, change func(p *iam.SAMLProvider) error) error {
	return samlProviders.update(ctx, s, iam.KindSAMLProvider, account, arn, name, func(p *iam.SAMLProvider) iam.SAMLProvider {
		next := *p
		next.Tags = slices.Clone(p.Tags)
		return next
	}, change)
}

// CreateSAMLProvider registers a SAML identity provider from its metadata.
func (s *Service) CreateSAMLProvider(ctx context.Context, in *CreateSAMLProviderRequest) (*CreateSAMLProviderResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	arn := s.samlProviderARN(c.Account, in.Name)
	if _, err := s.authorize(ctx, "iam:CreateSAMLProvider", arn, tagOptions(in.Tags)); err != nil {
		return nil, err
	}
	if len(in.Tags) > 0 {
		if _, err := s.authorize(ctx, "iam:TagSAMLProvider", arn, tagOptions(in.Tags)); err != nil {
			return nil, err
		}
	}
	if err := checkNewTags(in.Tags); err != nil {
		return nil, err
	}
	if in.AddPrivateKey != "" || (in.AssertionEncryptionMode != "" && in.AssertionEncryptionMode != "Allowed") {
		return nil, invalidInput("Encrypted SAML assertions are not supported.")
	}
	md, err := checkSAMLMetadata(in.SAMLMetadataDocument)
	if err != nil {
		return nil, err
	}
	p := &iam.SAMLProvider{Name: in.Name, Metadata: in.SAMLMetadataDocument, Created: s.timestamp(), ValidUntil: md.ValidUntil, Tags: toTags(in.Tags)}
	err = retry(ctx, func() error {
		var verr error
		if err := s.read(c.Account, func(a *iam.AccountView) {
			if _, exists := a.SAMLProvider(in.Name); exists {
				verr = entityAlreadyExists("SAMLProvider named %s already exists", in.Name)
				return
			}
			if a.SAMLProviderCount() >= samlProvidersPerAccount {
				verr = limitExceeded("Cannot exceed quota for SamlProvidersPerAccount: %d", samlProvidersPerAccount)
			}
		}); err != nil {
			return err
		}
		if verr != nil {
			return verr
		}
		return s.commit(ctx, iam.Put(iam.KindSAMLProvider, c.Account, iam.Key(in.Name), p, store.Absent))
	})
	if err != nil {
		return nil, err
	}
	return &CreateSAMLProviderResponse{SAMLProviderArn: arn, Tags: fromTags(p.Tags)}, nil
}

// GetSAMLProvider returns a provider's metadata.
func (s *Service) GetSAMLProvider(ctx context.Context, in *GetSAMLProviderRequest) (*GetSAMLProviderResponse, error) {
	c, e, err := s.lookupSAMLProvider(ctx, "iam:GetSAMLProvider", in.SAMLProviderArn)
	if err != nil {
		return nil, err
	}
	p := e.V
	return &GetSAMLProviderResponse{
		SAMLProviderUUID: samlUUID(c.Account, p), SAMLMetadataDocument: p.Metadata, CreateDate: p.Created,
		ValidUntil: samlValidUntil(p), Tags: tagList(p.Tags), AssertionEncryptionMode: "Allowed",
	}, nil
}

// UpdateSAMLProvider replaces a provider's metadata.
func (s *Service) UpdateSAMLProvider(ctx context.Context, in *UpdateSAMLProviderRequest) (*UpdateSAMLProviderResponse, error) {
	c, e, err := s.lookupSAMLProvider(ctx, "iam:UpdateSAMLProvider", in.SAMLProviderArn)
	if err != nil {
		return nil, err
	}
	if in.AddPrivateKey != "" || in.RemovePrivateKey != "" || (in.AssertionEncryptionMode != "" && in.AssertionEncryptionMode != "Allowed") {
		return nil, invalidInput("Encrypted SAML assertions are not supported.")
	}
	if in.SAMLMetadataDocument == "" {
		return &UpdateSAMLProviderResponse{SAMLProviderArn: in.SAMLProviderArn}, nil
	}
	md, err := checkSAMLMetadata(in.SAMLMetadataDocument)
	if err != nil {
		return nil, err
	}
	err = s.updateSAMLProvider(ctx, c.Account, in.SAMLProviderArn, e.V.Name, func(p *iam.SAMLProvider) error {
		p.Metadata, p.ValidUntil = in.SAMLMetadataDocument, md.ValidUntil
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &UpdateSAMLProviderResponse{SAMLProviderArn: in.SAMLProviderArn}, nil
}

// DeleteSAMLProvider deletes a provider.
func (s *Service) DeleteSAMLProvider(ctx context.Context, in *DeleteSAMLProviderRequest) (*DeleteSAMLProviderResponse, error) {
	c, e, err := s.lookupSAMLProvider(ctx, "iam:DeleteSAMLProvider", in.SAMLProviderArn)
	if err != nil {
		return nil, err
	}
	name := e.V.Name
	err = retry(ctx, func() error {
		var cur *iam.Entry[iam.SAMLProvider]
		if err := s.read(c.Account, func(a *iam.AccountView) {
			if p, ok := a.SAMLProvider(name); ok && p.V.Name == name {
				cur = p
			}
		}); err != nil {
			return err
		}
		if cur == nil {
			return noSuchSAMLProvider(in.SAMLProviderArn)
		}
		return s.commit(ctx, iam.Delete(iam.KindSAMLProvider, c.Account, iam.Key(name), cur.Version))
	})
	if err != nil {
		return nil, err
	}
	return &DeleteSAMLProviderResponse{}, nil
}

// ListSAMLProviders lists the account's providers.
func (s *Service) ListSAMLProviders(ctx context.Context, _ *ListSAMLProvidersRequest) (*ListSAMLProvidersResponse, error) {
	c, err := s.authorize(ctx, "iam:ListSAMLProviders", "*")
	if err != nil {
		return nil, err
	}
	out := &ListSAMLProvidersResponse{SAMLProviderList: []SAMLProviderListEntry{}}
	if err := s.read(c.Account, func(a *iam.AccountView) {
		for _, p := range a.SAMLProviders() {
			out.SAMLProviderList = append(out.SAMLProviderList, SAMLProviderListEntry{
				Arn: s.samlProviderARN(c.Account, p.V.Name), ValidUntil: samlValidUntil(p.V), CreateDate: p.V.Created,
			})
		}
	}); err != nil {
		return nil, err
	}
	slices.SortFunc(out.SAMLProviderList, func(x, y SAMLProviderListEntry) int { return strings.Compare(x.Arn, y.Arn) })
	return out, nil
}

// TagSAMLProvider adds or replaces tags.
func (s *Service) TagSAMLProvider(ctx context.Context, in *TagSAMLProviderRequest) (*TagSAMLProviderResponse, error) {
	c, e, err := s.lookupSAMLProvider(ctx, "iam:TagSAMLProvider", in.SAMLProviderArn, tagOptions(in.Tags))
	if err != nil {
		return nil, err
	}
	err = s.updateSAMLProvider(ctx, c.Account, in.SAMLProviderArn, e.V.Name, func(p *iam.SAMLProvider) error {
		tags, err := mergeTags(p.Tags, in.Tags)
		p.Tags = tags
		return err
	})
	if err != nil {
		return nil, err
	}
	return &TagSAMLProviderResponse{}, nil
}

// UntagSAMLProvider removes tags.
func (s *Service) UntagSAMLProvider(ctx context.Context, in *UntagSAMLProviderRequest) (*UntagSAMLProviderResponse, error) {
	c, e, err := s.lookupSAMLProvider(ctx, "iam:UntagSAMLProvider", in.SAMLProviderArn, tagKeysOption(in.TagKeys))
	if err != nil {
		return nil, err
	}
	err = s.updateSAMLProvider(ctx, c.Account, in.SAMLProviderArn, e.V.Name, func(p *iam.SAMLProvider) error {
		p.Tags = removeTags(p.Tags, in.TagKeys)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &UntagSAMLProviderResponse{}, nil
}

// ListSAMLProviderTags lists a provider's tags.
func (s *Service) ListSAMLProviderTags(ctx context.Context, in *ListSAMLProviderTagsRequest) (*ListSAMLProviderTagsResponse, error) {
	_, e, err := s.lookupSAMLProvider(ctx, "iam:ListSAMLProviderTags", in.SAMLProviderArn)
	if err != nil {
		return nil, err
	}
	page, next, err := pageOf(fromTags(e.V.Tags), in.Marker, maxItems(in.MaxItems))
	if err != nil {
		return nil, err
	}
	out := &ListSAMLProviderTagsResponse{Tags: page, IsTruncated: next != "", Marker: next}
	if out.Tags == nil {
		out.Tags = []Tag{}
	}
	return out, nil
}
