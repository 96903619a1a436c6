package iamapi

import (
	"context"
	"strings"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iam"
)

// Identity providers (OIDC and SAML) share their ARN form, arn:PARTITION:iam::
// ACCOUNT:KIND/ID, and the way they are looked up and updated; the
// helpers here take what differs (how to find one in an account view, its
// tags, its record kind and its "not found" error).

// splitProviderARN splits a provider ARN into its account, resource type
// and ID; ok is false when it is not of that form.
func (s *Service) splitProviderARN(arn string) (account, kind, id string, ok bool) {
	rest, ok := s.partition.CutIAM(arn)
	if !ok {
		return "", "", "", false
	}
	account, res, ok := strings.Cut(rest, ":")
	if !ok || account == "" {
		return "", "", "", false
	}
	kind, id, ok = strings.Cut(res, "/")
	if !ok || id == "" {
		return "", "", "", false
	}
	return account, kind, id, true
}

// provider describes one kind of identity provider to the helpers.
type provider[T any] struct {
	find     func(a *iam.AccountView, id string) *iam.Entry[T]
	tags     func(p *T) []iam.Tag
	notFound func(arn string) error
}

// lookup authorizes action on the provider id (of account) and returns the
// caller and the provider. Tags of an existing provider feed the
// aws:ResourceTag condition keys.
func (pk provider[T]) lookup(ctx context.Context, s *Service, action, arn, account, id string, opts ...authz.Option) (*authz.Caller, *iam.Entry[T], error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	var e *iam.Entry[T]
	if account == c.Account {
		if err := s.read(c.Account, func(a *iam.AccountView) { e = pk.find(a, id) }); err != nil {
			return nil, nil, err
		}
	}
	if e != nil {
		opts = append([]authz.Option{resourceTags(pk.tags(e.V))}, opts...)
	}
	if _, err := s.authorize(ctx, action, arn, opts...); err != nil {
		return nil, nil, err
	}
	if e == nil {
		return nil, nil, pk.notFound(arn)
	}
	return c, e, nil
}

// update re-reads the provider, applies change to a copy (made by clone)
// and commits it under kind, retrying lost races.
func (pk provider[T]) update(ctx context.Context, s *Service, kind, account, arn, id string, clone func(p *T) T, change func(p *T) error) error {
	return retry(ctx, func() error {
		var cur *iam.Entry[T]
		if err := s.read(account, func(a *iam.AccountView) { cur = pk.find(a, id) }); err != nil {
			return err
		}
		if cur == nil {
			return pk.notFound(arn)
		}
		next := clone(cur.V)
		if err := change(&next); err != nil {
			return err
		}
		return s.commit(ctx, iam.Put(kind, account, iam.Key(id), &next, cur.Version))
	})
}
