package iamapi

import (
	"context"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/store"
)

// Account aliases are unique across every account on the server, like AWS's
// across all of AWS: each alias is a global record (kind alias, key the
// alias, value the account ID) created with store.Absent, so two accounts
// racing for one alias cannot both win. An account has at most one alias;
// creating another replaces it, as IAM does.

// CreateAccountAlias sets the account's alias, replacing any previous one.
func (s *Service) CreateAccountAlias(ctx context.Context, in *CreateAccountAliasRequest) (*CreateAccountAliasResponse, error) {
	c, err := s.authorize(ctx, "iam:CreateAccountAlias", "*")
	if err != nil {
		return nil, err
	}
	err = retry(ctx, func() error {
		acct, ok := s.view.Account(c.Account)
		if !ok {
			return noSuchEntity("The account %s does not exist.", c.Account)
		}
		if _, taken := s.view.AliasAccount(in.AccountAlias); taken {
			return entityAlreadyExists("The account alias %s already exists.", in.AccountAlias)
		}
		next := *acct.V
		next.Alias = in.AccountAlias
		owner := c.Account
		muts := []iam.Mutation{
			iam.Put(iam.KindAccount, "", c.Account, &next, acct.Version),
			iam.Put(iam.KindAlias, "", in.AccountAlias, &owner, store.Absent),
		}
		if old := acct.V.Alias; old != "" {
			muts = append(muts, iam.Delete(iam.KindAlias, "", old, store.Any))
		}
		return s.commit(ctx, muts...)
	})
	if err != nil {
		return nil, err
	}
	return &CreateAccountAliasResponse{}, nil
}

// DeleteAccountAlias removes the account's alias.
func (s *Service) DeleteAccountAlias(ctx context.Context, in *DeleteAccountAliasRequest) (*DeleteAccountAliasResponse, error) {
	c, err := s.authorize(ctx, "iam:DeleteAccountAlias", "*")
	if err != nil {
		return nil, err
	}
	err = retry(ctx, func() error {
		acct, ok := s.view.Account(c.Account)
		if !ok {
			return noSuchEntity("The account %s does not exist.", c.Account)
		}
		if acct.V.Alias == "" || acct.V.Alias != in.AccountAlias {
			return noSuchEntity("The account alias %s cannot be found.", in.AccountAlias)
		}
		next := *acct.V
		next.Alias = ""
		return s.commit(ctx,
			iam.Put(iam.KindAccount, "", c.Account, &next, acct.Version),
			iam.Delete(iam.KindAlias, "", in.AccountAlias, store.Any))
	})
	if err != nil {
		return nil, err
	}
	return &DeleteAccountAliasResponse{}, nil
}

// ListAccountAliases lists the account's alias (none or one).
func (s *Service) ListAccountAliases(ctx context.Context, in *ListAccountAliasesRequest) (*ListAccountAliasesResponse, error) {
	c, err := s.authorize(ctx, "iam:ListAccountAliases", "*")
	if err != nil {
		return nil, err
	}
	acct, ok := s.view.Account(c.Account)
	if !ok {
		return nil, noSuchEntity("The account %s does not exist.", c.Account)
	}
	var all []string
	if acct.V.Alias != "" {
		all = []string{acct.V.Alias}
	}
	page, next, err := pageOf(all, in.Marker, maxItems(in.MaxItems))
	if err != nil {
		return nil, err
	}
	out := &ListAccountAliasesResponse{AccountAliases: page, IsTruncated: next != "", Marker: next}
	if out.AccountAliases == nil {
		out.AccountAliases = []string{}
	}
	return out, nil
}
