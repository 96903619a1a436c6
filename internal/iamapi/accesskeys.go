package iamapi

import (
	"context"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/secrets"
	"github.com/iamd/iamd/internal/store"
)

// accessKeysPerUser is IAM's structural limit on access keys per user (and
// for the root user); it is not a raisable quota.
const accessKeysPerUser = 2

// credentialOwner is the identity whose credentials (access keys, MFA
// devices) an operation acts on: an IAM user or the account's root user.
type credentialOwner struct {
	root bool
	// user is the IAM user as read when the request was authorized; nil for
	// the root user.
	user *iam.Entry[iam.User]
	arn  string
}

// name is the owner's user name as IAM shows it in credential listings.
func (o credentialOwner) name() string {
	if o.root {
		return ""
	}
	return o.user.V.Name
}

// keyUserID is the AccessKey.UserID of the owner's keys ("" for root).
func (o credentialOwner) keyUserID() string {
	if o.root {
		return ""
	}
	return o.user.V.ID
}

// mfaUserID is the MFADevice.UserID of the owner's devices ("root" for
// root).
func (o credentialOwner) mfaUserID() string {
	if o.root {
		return "root"
	}
	return o.user.V.ID
}

// credentialOwnerOf authorizes action on the owner of the credentials a
// request names: the named user, or, when userName is empty, the caller
// itself (IAM derives the user from the signing key). Callers that are
// neither users nor root must name a user.
func (s *Service) credentialOwnerOf(ctx context.Context, action, userName string) (*authz.Caller, credentialOwner, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, credentialOwner{}, err
	}
	if userName == "" {
		switch c.Type {
		case authz.Root:
			arn := s.partition.RootARN(c.Account)
			if _, err := s.authorize(ctx, action, arn); err != nil {
				return nil, credentialOwner{}, err
			}
			return c, credentialOwner{root: true, arn: arn}, nil
		case authz.User:
			userName = c.Name
		default:
			return nil, credentialOwner{}, validationError("Must specify userName when calling with non-User credentials")
		}
	}
	c, e, err := s.lookupUser(ctx, action, userName)
	if err != nil {
		return nil, credentialOwner{}, err
	}
	return c, credentialOwner{user: e, arn: s.partition.ARN(c.Account, "user", e.V.Path, e.V.Name)}, nil
}

func noSuchAccessKey(id string) error {
	return noSuchEntity("The Access Key with id %s cannot be found.", id)
}

// ownerGuard returns the mutation that makes a write about the owner's
// credentials conflict with a concurrent change of the owner: a Touch of
// the user record (so DeleteUser cannot slip past a new key or device), or
// of the account record for root. It re-reads the owner and fails with
// NoSuchEntity if the user has gone.
func (s *Service) ownerGuard(account string, o credentialOwner) (iam.Mutation, error) {
	if o.root {
		acct, ok := s.view.Account(account)
		if !ok {
			return iam.Mutation{}, noSuchEntity("The account %s does not exist.", account)
		}
		return iam.Touch(iam.KindAccount, "", account, acct.Version), nil
	}
	var cur *iam.Entry[iam.User]
	if err := s.read(account, func(a *iam.AccountView) { cur, _ = a.UserByID(o.user.V.ID) }); err != nil {
		return iam.Mutation{}, err
	}
	if cur == nil {
		return iam.Mutation{}, noSuchUser(o.user.V.Name)
	}
	return iam.Touch(iam.KindUser, account, iam.Key(cur.V.Name), cur.Version), nil
}

// CreateAccessKey creates an access key for a user (or for the root user)
// and returns its secret, which is never shown again.
func (s *Service) CreateAccessKey(ctx context.Context, in *CreateAccessKeyRequest) (*CreateAccessKeyResponse, error) {
	c, owner, err := s.credentialOwnerOf(ctx, "iam:CreateAccessKey", in.UserName)
	if err != nil {
		return nil, err
	}
	id, secret := secrets.NewAccessKeyID(secrets.PrefixAccessKey), secrets.NewSecretAccessKey()
	sealed, err := s.secrets.Seal([]byte(secret), []byte(id))
	if err != nil {
		return nil, err
	}
	key := &iam.AccessKey{
		ID: id, Account: c.Account, UserID: owner.keyUserID(), Status: "Active",
		Created: s.timestamp(), Secret: sealed,
	}
	// The compare-and-swap on the owner alone does not make the count
	// below exact: when a commit loses the race, the writer refreshes just
	// the owner's record, and the winner's new key may not be in the view
	// yet. Serialising key creation in this process closes that window for
	// writes through one server.
	s.mu.Lock()
	defer s.mu.Unlock()
	err = retry(ctx, func() error {
		// Read the owner's version before counting its keys: every key
		// creation touches the owner, so a key created after this read makes
		// the commit below conflict instead of exceeding the limit.
		guard, err := s.ownerGuard(c.Account, owner)
		if err != nil {
			return err
		}
		if len(s.view.AccessKeys(c.Account, key.UserID)) >= accessKeysPerUser {
			return limitExceeded("Cannot exceed quota for AccessKeysPerUser: %d", accessKeysPerUser)
		}
		return s.commit(ctx, guard, iam.Put(iam.KindAccessKey, "", id, key, store.Absent))
	})
	if err != nil {
		return nil, err
	}
	return &CreateAccessKeyResponse{AccessKey: AccessKey{
		UserName: owner.name(), AccessKeyId: id, Status: key.Status,
		SecretAccessKey: secret, CreateDate: key.Created,
	}}, nil
}

// ownedKey returns an access key of the owner, or NoSuchEntity if the key
// does not exist or belongs to someone else.
func (s *Service) ownedKey(account string, owner credentialOwner, id string) (*iam.Entry[iam.AccessKey], error) {
	k, ok := s.view.AccessKey(id)
	if !ok || k.V.Account != account || k.V.UserID != owner.keyUserID() {
		return nil, noSuchAccessKey(id)
	}
	return k, nil
}

// UpdateAccessKey activates or deactivates an access key. Authentication
// reads the view, so a deactivated key stops working as soon as this
// returns.
func (s *Service) UpdateAccessKey(ctx context.Context, in *UpdateAccessKeyRequest) (*UpdateAccessKeyResponse, error) {
	c, owner, err := s.credentialOwnerOf(ctx, "iam:UpdateAccessKey", in.UserName)
	if err != nil {
		return nil, err
	}
	err = retry(ctx, func() error {
		k, err := s.ownedKey(c.Account, owner, in.AccessKeyId)
		if err != nil {
			return err
		}
		if k.V.Status == in.Status {
			return nil
		}
		next := *k.V
		next.Status = in.Status
		return s.commit(ctx, iam.Put(iam.KindAccessKey, "", next.ID, &next, k.Version))
	})
	if err != nil {
		return nil, err
	}
	return &UpdateAccessKeyResponse{}, nil
}

// DeleteAccessKey deletes an access key and its usage record.
func (s *Service) DeleteAccessKey(ctx context.Context, in *DeleteAccessKeyRequest) (*DeleteAccessKeyResponse, error) {
	c, owner, err := s.credentialOwnerOf(ctx, "iam:DeleteAccessKey", in.UserName)
	if err != nil {
		return nil, err
	}
	err = retry(ctx, func() error {
		k, err := s.ownedKey(c.Account, owner, in.AccessKeyId)
		if err != nil {
			return err
		}
		return s.commit(ctx,
			iam.Delete(iam.KindAccessKey, "", k.V.ID, k.Version),
			iam.Delete(iam.KindKeyUsage, "", k.V.ID, store.Any))
	})
	if err != nil {
		return nil, err
	}
	return &DeleteAccessKeyResponse{}, nil
}

// ListAccessKeys lists a user's access keys, oldest first, without secrets.
func (s *Service) ListAccessKeys(ctx context.Context, in *ListAccessKeysRequest) (*ListAccessKeysResponse, error) {
	c, owner, err := s.credentialOwnerOf(ctx, "iam:ListAccessKeys", in.UserName)
	if err != nil {
		return nil, err
	}
	keys := s.view.AccessKeys(c.Account, owner.keyUserID())
	all := make([]AccessKeyMetadata, len(keys))
	for i, k := range keys {
		all[i] = AccessKeyMetadata{UserName: owner.name(), AccessKeyId: k.V.ID, Status: k.V.Status, CreateDate: k.V.Created}
	}
	page, next, err := pageOf(all, in.Marker, maxItems(in.MaxItems))
	if err != nil {
		return nil, err
	}
	out := &ListAccessKeysResponse{AccessKeyMetadata: page, IsTruncated: next != "", Marker: next}
	if out.AccessKeyMetadata == nil {
		out.AccessKeyMetadata = []AccessKeyMetadata{}
	}
	return out, nil
}

// rootKeyUserName is what GetAccessKeyLastUsed names as the owner of a root
// user's key.
const rootKeyUserName = "root"

// GetAccessKeyLastUsed says when, where and with which service an access key
// was last used, and whose key it is.
func (s *Service) GetAccessKeyLastUsed(ctx context.Context, in *GetAccessKeyLastUsedRequest) (*GetAccessKeyLastUsedResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	k, ok := s.view.AccessKey(in.AccessKeyId)
	if !ok || k.V.Account != c.Account {
		// Keys of other accounts are indistinguishable from keys that do
		// not exist.
		if _, err := s.authorize(ctx, "iam:GetAccessKeyLastUsed", s.partition.ARN(c.Account, "user", "/", "*")); err != nil {
			return nil, err
		}
		return nil, noSuchAccessKey(in.AccessKeyId)
	}
	out := &GetAccessKeyLastUsedResponse{}
	if k.V.UserID == "" {
		if _, err := s.authorize(ctx, "iam:GetAccessKeyLastUsed", s.partition.RootARN(c.Account)); err != nil {
			return nil, err
		}
		out.UserName = rootKeyUserName
	} else {
		var u *iam.User
		if err := s.read(c.Account, func(a *iam.AccountView) {
			if e, ok := a.UserByID(k.V.UserID); ok {
				u = e.V
			}
		}); err != nil {
			return nil, err
		}
		if u == nil {
			// The owner was deleted while the key survived a race; treat
			// the key as gone.
			return nil, noSuchAccessKey(in.AccessKeyId)
		}
		if _, err := s.authorize(ctx, "iam:GetAccessKeyLastUsed", s.partition.ARN(c.Account, "user", u.Path, u.Name), resourceTags(u.Tags)); err != nil {
			return nil, err
		}
		out.UserName = u.Name
	}
	out.AccessKeyLastUsed = &AccessKeyLastUsed{ServiceName: "N/A", Region: "N/A"}
	if s.usage != nil {
		if u, ok := s.usage.LastUsed(k.V.ID); ok {
			out.AccessKeyLastUsed = &AccessKeyLastUsed{LastUsedDate: u.LastUsed, ServiceName: u.Service, Region: u.Region}
		}
	}
	return out, nil
}
