package iamapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"time"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/secrets"
	"github.com/iamd/iamd/internal/store"
)

// Service-specific credentials: a user name and password that work for one
// service only (CodeCommit's Git credentials, Amazon Keyspaces), or a
// long-term API key (Amazon Bedrock, CloudWatch Logs). The secret is shown
// when the credential is created or reset and never again; it is stored
// sealed with the server's keyring, bound to the credential's ID, like an
// access key's secret.

// serviceCredentialsPerService is IAM's quota of credentials per user for
// each service.
const serviceCredentialsPerService = 2

// credentialServices lists the services IAM issues service-specific
// credentials for, with the prefix of their API keys ("" for services that
// take a user name and password).
var credentialServices = map[string]string{
	"codecommit.amazonaws.com": "",
	"cassandra.amazonaws.com":  "",
	"bedrock.amazonaws.com":    "ABSK",
	"logs.amazonaws.com":       "ACWL",
}

func serviceNotSupported(service string) error {
	return ServiceNotSupportedError("No such service " + service + " is supported for Service Specific Credentials")
}

func noSuchServiceCredential(id string) error {
	// AWS's wording could not be confirmed; this follows its message for
	// access keys.
	return noSuchEntity("The Service Specific Credential with id %s cannot be found.", id)
}

// serviceUserName is the name IAM gives the slot-th credential (0 or 1) of
// a user for one service: USER-at-ACCOUNT, then USER+1-at-ACCOUNT. API
// keys use it as their alias.
func serviceUserName(user, account string, slot int) string {
	if slot == 0 {
		return user + "-at-" + account
	}
	return user + "+" + strconv.Itoa(slot) + "-at-" + account
}

// newServiceSecret returns a fresh password, or API key for services with
// an API key prefix: the prefix and the base64 of ALIAS:SECRET, so that the
// key names its credential.
func newServiceSecret(prefix, alias string) string {
	b := make([]byte, 33)
	rand.Read(b)
	secret := base64.StdEncoding.EncodeToString(b)
	if prefix == "" {
		return secret
	}
	return prefix + base64.StdEncoding.EncodeToString([]byte(alias+":"+secret))
}

// status is the credential's status as IAM reports it: Expired once an API
// key's age has passed, whatever it was set to.
func (s *Service) credentialStatus(c *iam.ServiceCredential) string {
	if !c.Expires.IsZero() && !s.now().Before(c.Expires) {
		return string(StatusTypeExpired)
	}
	return c.Status
}

// serviceCredentialOut is the credential as Create and Reset return it,
// with its secret.
func (s *Service) serviceCredentialOut(userName string, c *iam.ServiceCredential, secret string) *ServiceSpecificCredential {
	out := &ServiceSpecificCredential{
		CreateDate: c.Created.Truncate(time.Second), ExpirationDate: c.Expires, ServiceName: c.Service,
		ServiceUserName: c.ServiceUserName, ServiceCredentialAlias: c.Alias,
		ServiceSpecificCredentialId: c.ID, UserName: userName, Status: s.credentialStatus(c),
	}
	if c.Alias != "" {
		out.ServiceCredentialSecret = secret
	} else {
		out.ServicePassword = secret
	}
	return out
}

// CreateServiceSpecificCredential creates a credential of a user for one
// service and returns its secret, which is never shown again.
func (s *Service) CreateServiceSpecificCredential(ctx context.Context, in *CreateServiceSpecificCredentialRequest) (*CreateServiceSpecificCredentialResponse, error) {
	opts := []authz.Option{withKey("iam:ServiceSpecificCredentialServiceName", in.ServiceName)}
	if in.CredentialAgeDays != nil {
		opts = append(opts, withKey("iam:ServiceSpecificCredentialAgeDays", strconv.Itoa(int(*in.CredentialAgeDays))))
	}
	c, u, err := s.lookupUser(ctx, "iam:CreateServiceSpecificCredential", in.UserName, opts...)
	if err != nil {
		return nil, err
	}
	prefix, ok := credentialServices[in.ServiceName]
	if !ok {
		return nil, serviceNotSupported(in.ServiceName)
	}
	if in.CredentialAgeDays != nil && prefix == "" {
		// AWS documents the age as valid only for API keys; its answer
		// to an age for a password credential could not be confirmed.
		return nil, validationError("CredentialAgeDays is only valid for services that support long-term API keys.")
	}
	cred := &iam.ServiceCredential{
		ID: secrets.NewUniqueID(secrets.PrefixContextCredential), UserID: u.V.ID, Service: in.ServiceName,
		Status: string(StatusTypeActive), Created: s.uploadTime(),
	}
	if in.CredentialAgeDays != nil {
		cred.Expires = cred.Created.Truncate(time.Second).AddDate(0, 0, int(*in.CredentialAgeDays))
	}
	owner := credentialOwner{user: u}
	var secret string
	// As for access keys (CreateAccessKey): the touch of the owner and the
	// lock keep the quota and the user names unique.
	s.mu.Lock()
	defer s.mu.Unlock()
	err = retry(ctx, func() error {
		guard, err := s.ownerGuard(c.Account, owner)
		if err != nil {
			return err
		}
		var (
			have  int
			taken = map[string]bool{} // names (aliases) in use for the service
			cur   *iam.Entry[iam.User]
		)
		if err := s.read(c.Account, func(a *iam.AccountView) {
			cur, _ = a.UserByID(u.V.ID)
			for _, e := range a.ServiceCredentials(u.V.ID) {
				if e.V.Service == in.ServiceName {
					have++
					taken[e.V.ServiceUserName+e.V.Alias] = true
				}
			}
		}); err != nil {
			return err
		}
		if cur == nil {
			return noSuchUser(in.UserName)
		}
		if have >= serviceCredentialsPerService {
			// AWS's wording of this quota could not be confirmed.
			return limitExceeded("Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: %d", serviceCredentialsPerService)
		}
		next := *cred
		for slot := 0; ; slot++ {
			if name := serviceUserName(cur.V.Name, c.Account, slot); !taken[name] {
				if prefix == "" {
					next.ServiceUserName = name
				} else {
					next.Alias = name
				}
				break
			}
		}
		secret = newServiceSecret(prefix, next.Alias)
		sealed, err := s.secrets.Seal([]byte(secret), []byte(next.ID))
		if err != nil {
			return err
		}
		next.Secret = sealed
		if err := s.commit(ctx, guard, iam.Put(iam.KindServiceCred, c.Account, next.ID, &next, store.Absent)); err != nil {
			return err
		}
		cred = &next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &CreateServiceSpecificCredentialResponse{ServiceSpecificCredential: s.serviceCredentialOut(u.V.Name, cred, secret)}, nil
}

// ownedServiceCredential returns a credential of the owner, or NoSuchEntity
// if it does not exist or belongs to someone else (the root user has none).
func (s *Service) ownedServiceCredential(account string, owner credentialOwner, id string) (*iam.Entry[iam.ServiceCredential], error) {
	if owner.root {
		return nil, noSuchServiceCredential(id)
	}
	var e *iam.Entry[iam.ServiceCredential]
	if err := s.read(account, func(a *iam.AccountView) { e, _ = a.ServiceCredential(id) }); err != nil {
		return nil, err
	}
	if e == nil || e.V.UserID != owner.user.V.ID {
		return nil, noSuchServiceCredential(id)
	}
	return e, nil
}

// ListServiceSpecificCredentials lists the service-specific credentials of
// a user (the caller without a user name) or, with AllUsers, of every user
// in the account, optionally of one service, without their secrets.
func (s *Service) ListServiceSpecificCredentials(ctx context.Context, in *ListServiceSpecificCredentialsRequest) (*ListServiceSpecificCredentialsResponse, error) {
	allUsers := in.AllUsers != nil && *in.AllUsers
	var (
		c     *authz.Caller
		owner credentialOwner
		err   error
	)
	if allUsers {
		if in.UserName != "" {
			// AWS documents that the two cannot be given together; its
			// exact answer could not be confirmed.
			return nil, invalidInput("AllUsers cannot be specified together with UserName.")
		}
		if c, err = s.authorize(ctx, "iam:ListServiceSpecificCredentials", s.partition.ARN(callerAccount(ctx), "user", "/", "*")); err != nil {
			return nil, err
		}
	} else if c, owner, err = s.credentialOwnerOf(ctx, "iam:ListServiceSpecificCredentials", in.UserName); err != nil {
		return nil, err
	}
	if in.ServiceName != "" {
		if _, ok := credentialServices[in.ServiceName]; !ok {
			return nil, serviceNotSupported(in.ServiceName)
		}
	}
	all := []ServiceSpecificCredentialMetadata{}
	add := func(userName string, creds []*iam.Entry[iam.ServiceCredential]) {
		for _, e := range creds {
			if in.ServiceName != "" && e.V.Service != in.ServiceName {
				continue
			}
			all = append(all, ServiceSpecificCredentialMetadata{
				UserName: userName, Status: s.credentialStatus(e.V), ServiceUserName: e.V.ServiceUserName,
				ServiceCredentialAlias: e.V.Alias, CreateDate: e.V.Created.Truncate(time.Second),
				ExpirationDate: e.V.Expires, ServiceSpecificCredentialId: e.V.ID, ServiceName: e.V.Service,
			})
		}
	}
	if err := s.read(c.Account, func(a *iam.AccountView) {
		switch {
		case allUsers:
			users, _ := a.Users("", a.UserCount()+1, nil)
			for _, u := range users {
				add(u.V.Name, a.ServiceCredentials(u.V.ID))
			}
		case !owner.root:
			add(owner.name(), a.ServiceCredentials(owner.user.V.ID))
		}
	}); err != nil {
		return nil, err
	}
	page, next, err := pageOf(all, in.Marker, maxItems(in.MaxItems))
	if err != nil {
		return nil, err
	}
	return &ListServiceSpecificCredentialsResponse{ServiceSpecificCredentials: page, IsTruncated: next != "", Marker: next}, nil
}

// UpdateServiceSpecificCredential activates or deactivates a credential.
func (s *Service) UpdateServiceSpecificCredential(ctx context.Context, in *UpdateServiceSpecificCredentialRequest) (*UpdateServiceSpecificCredentialResponse, error) {
	c, owner, err := s.credentialOwnerOf(ctx, "iam:UpdateServiceSpecificCredential", in.UserName)
	if err != nil {
		return nil, err
	}
	err = setCredentialStatus(ctx, s, iam.KindServiceCred, c.Account, in.Status,
		func() (*iam.Entry[iam.ServiceCredential], error) {
			return s.ownedServiceCredential(c.Account, owner, in.ServiceSpecificCredentialId)
		},
		func(e *iam.ServiceCredential) (string, *string) { return e.ID, &e.Status })
	if err != nil {
		return nil, err
	}
	return &UpdateServiceSpecificCredentialResponse{}, nil
}

// ResetServiceSpecificCredential gives a credential a new secret and
// returns it, which is never shown again.
func (s *Service) ResetServiceSpecificCredential(ctx context.Context, in *ResetServiceSpecificCredentialRequest) (*ResetServiceSpecificCredentialResponse, error) {
	c, owner, err := s.credentialOwnerOf(ctx, "iam:ResetServiceSpecificCredential", in.UserName)
	if err != nil {
		return nil, err
	}
	var (
		secret string
		next   iam.ServiceCredential
	)
	err = retry(ctx, func() error {
		e, err := s.ownedServiceCredential(c.Account, owner, in.ServiceSpecificCredentialId)
		if err != nil {
			return err
		}
		next = *e.V
		secret = newServiceSecret(credentialServices[next.Service], next.Alias)
		if next.Secret, err = s.secrets.Seal([]byte(secret), []byte(next.ID)); err != nil {
			return err
		}
		return s.commit(ctx, iam.Put(iam.KindServiceCred, c.Account, next.ID, &next, e.Version))
	})
	if err != nil {
		return nil, err
	}
	return &ResetServiceSpecificCredentialResponse{ServiceSpecificCredential: s.serviceCredentialOut(owner.name(), &next, secret)}, nil
}

// DeleteServiceSpecificCredential deletes a credential.
func (s *Service) DeleteServiceSpecificCredential(ctx context.Context, in *DeleteServiceSpecificCredentialRequest) (*DeleteServiceSpecificCredentialResponse, error) {
	c, owner, err := s.credentialOwnerOf(ctx, "iam:DeleteServiceSpecificCredential", in.UserName)
	if err != nil {
		return nil, err
	}
	err = deleteCredential(ctx, s, iam.KindServiceCred, c.Account,
		func() (*iam.Entry[iam.ServiceCredential], error) {
			return s.ownedServiceCredential(c.Account, owner, in.ServiceSpecificCredentialId)
		},
		func(e *iam.ServiceCredential) string { return e.ID })
	if err != nil {
		return nil, err
	}
	return &DeleteServiceSpecificCredentialResponse{}, nil
}
