package iamapi

import (
	"context"
	"crypto/md5"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/secrets"
	"github.com/iamd/iamd/internal/store"
)

// SSH public keys of IAM users, as CodeCommit uses them. IAM accepts RSA
// keys of at least 2048 bits, in OpenSSH's one-line format (ssh-rsa …) or
// as PEM, and shows them in either encoding with the MD5 fingerprint of the
// key.

const (
	// sshPublicKeysPerUser is IAM's quota of SSH public keys per user.
	sshPublicKeysPerUser = 5
	// minSSHKeyBits is the smallest RSA modulus IAM accepts.
	minSSHKeyBits = 2048
)

func noSuchSSHPublicKey(id string) error {
	// AWS's wording for SSH keys could not be confirmed; this follows its
	// message for access keys.
	return noSuchEntity("The Public Key with id %s cannot be found.", id)
}

func invalidPublicKey() error {
	return InvalidPublicKeyError("The request was rejected because the public key is malformed or otherwise invalid.")
}

func unrecognizedPublicKeyEncoding() error {
	return UnrecognizedPublicKeyEncodingError("The request was rejected because the public key encoding format is unsupported or unrecognized.")
}

// parseSSHPublicKey parses an SSH public key as UploadSSHPublicKey accepts
// it and returns the key in SSH wire format: an ssh-rsa line (options
// before the type and a comment after the key are ignored), or an RSA
// public key in PEM, either SubjectPublicKeyInfo ("PUBLIC KEY") or PKCS #1
// ("RSA PUBLIC KEY").
func parseSSHPublicKey(body string) ([]byte, error) {
	body = strings.TrimSpace(body)
	var pub *rsa.PublicKey
	if strings.HasPrefix(body, "-----BEGIN ") {
		block, _ := pem.Decode([]byte(body))
		if block == nil {
			return nil, invalidPublicKey()
		}
		switch block.Type {
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, invalidPublicKey()
			}
			rk, ok := k.(*rsa.PublicKey)
			if !ok {
				return nil, unrecognizedPublicKeyEncoding()
			}
			pub = rk
		case "RSA PUBLIC KEY":
			k, err := x509.ParsePKCS1PublicKey(block.Bytes)
			if err != nil {
				return nil, invalidPublicKey()
			}
			pub = k
		default:
			return nil, unrecognizedPublicKeyEncoding()
		}
	} else {
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(body))
		if err != nil {
			if strings.Contains(body, "ssh-rsa ") {
				return nil, invalidPublicKey()
			}
			return nil, unrecognizedPublicKeyEncoding()
		}
		if key.Type() != ssh.KeyAlgoRSA {
			return nil, unrecognizedPublicKeyEncoding()
		}
		ck, ok := key.(ssh.CryptoPublicKey)
		if !ok {
			return nil, invalidPublicKey()
		}
		if pub, ok = ck.CryptoPublicKey().(*rsa.PublicKey); !ok {
			return nil, invalidPublicKey()
		}
	}
	if pub.N.BitLen() < minSSHKeyBits {
		return nil, invalidPublicKey()
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, invalidPublicKey()
	}
	return key.Marshal(), nil
}

// sshFingerprint is the key's fingerprint as IAM shows it: the MD5 of the
// wire-format key in colon-separated hex.
func sshFingerprint(blob []byte) string {
	sum := md5.Sum(blob)
	h := hex.EncodeToString(sum[:])
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// sshKeyBody returns a key in the encoding GetSSHPublicKey asks for: the
// body as uploaded when it is already in that encoding, else converted.
func sshKeyBody(k *iam.SSHPublicKey, encoding string) (string, error) {
	isPEM := strings.HasPrefix(k.Body, "-----BEGIN ")
	switch encoding {
	case EncodingTypeSsh:
		if !isPEM {
			return k.Body, nil
		}
		return ssh.KeyAlgoRSA + " " + base64.StdEncoding.EncodeToString(k.Blob), nil
	case EncodingTypePem:
		if isPEM {
			return k.Body, nil
		}
		key, err := ssh.ParsePublicKey(k.Blob)
		if err != nil {
			return "", err
		}
		der, err := x509.MarshalPKIXPublicKey(key.(ssh.CryptoPublicKey).CryptoPublicKey())
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))), nil
	}
	return "", unrecognizedPublicKeyEncoding()
}

func sshKeyOut(userName string, k *iam.SSHPublicKey, body string) *SSHPublicKey {
	return &SSHPublicKey{
		UserName: userName, SSHPublicKeyId: k.ID, Fingerprint: k.Fingerprint,
		SSHPublicKeyBody: body, Status: k.Status, UploadDate: k.Uploaded.Truncate(time.Second),
	}
}

// UploadSSHPublicKey adds an SSH public key to a user.
func (s *Service) UploadSSHPublicKey(ctx context.Context, in *UploadSSHPublicKeyRequest) (*UploadSSHPublicKeyResponse, error) {
	c, u, err := s.lookupUser(ctx, "iam:UploadSSHPublicKey", in.UserName)
	if err != nil {
		return nil, err
	}
	blob, err := parseSSHPublicKey(in.SSHPublicKeyBody)
	if err != nil {
		return nil, err
	}
	owner := credentialOwner{user: u}
	k := &iam.SSHPublicKey{
		ID: secrets.NewUniqueID(secrets.PrefixPublicKey), UserID: u.V.ID,
		Body: strings.TrimSpace(in.SSHPublicKeyBody), Blob: blob, Fingerprint: sshFingerprint(blob),
		Status: string(StatusTypeActive), Uploaded: s.uploadTime(),
	}
	// As for access keys (CreateAccessKey): the touch of the owner makes a
	// concurrent upload through another replica conflict, and the lock
	// closes the window in which a lost race's winner is not yet in the
	// view.
	s.mu.Lock()
	defer s.mu.Unlock()
	err = retry(ctx, func() error {
		guard, err := s.ownerGuard(c.Account, owner)
		if err != nil {
			return err
		}
		var verr error
		if err := s.read(c.Account, func(a *iam.AccountView) {
			have := a.SSHPublicKeys(u.V.ID)
			for _, e := range have {
				if string(e.V.Blob) == string(blob) {
					verr = DuplicateSSHPublicKeyError("The request was rejected because the SSH public key is already associated with the specified IAM user.")
					return
				}
			}
			if len(have) >= sshPublicKeysPerUser {
				verr = limitExceeded("Cannot exceed quota for SSHPublicKeysPerUser: %d", sshPublicKeysPerUser)
			}
		}); err != nil {
			return err
		}
		if verr != nil {
			return verr
		}
		return s.commit(ctx, guard, iam.Put(iam.KindSSHPublicKey, c.Account, k.ID, k, store.Absent))
	})
	if err != nil {
		return nil, err
	}
	return &UploadSSHPublicKeyResponse{SSHPublicKey: sshKeyOut(u.V.Name, k, k.Body)}, nil
}

// ownedSSHKey returns a user's SSH public key, or NoSuchEntity if the key
// does not exist or belongs to someone else.
func (s *Service) ownedSSHKey(account, userID, id string) (*iam.Entry[iam.SSHPublicKey], error) {
	var k *iam.Entry[iam.SSHPublicKey]
	if err := s.read(account, func(a *iam.AccountView) { k, _ = a.SSHPublicKey(id) }); err != nil {
		return nil, err
	}
	if k == nil || k.V.UserID != userID {
		return nil, noSuchSSHPublicKey(id)
	}
	return k, nil
}

// GetSSHPublicKey returns a user's SSH public key in the encoding asked for.
func (s *Service) GetSSHPublicKey(ctx context.Context, in *GetSSHPublicKeyRequest) (*GetSSHPublicKeyResponse, error) {
	c, u, err := s.lookupUser(ctx, "iam:GetSSHPublicKey", in.UserName)
	if err != nil {
		return nil, err
	}
	k, err := s.ownedSSHKey(c.Account, u.V.ID, in.SSHPublicKeyId)
	if err != nil {
		return nil, err
	}
	body, err := sshKeyBody(k.V, in.Encoding)
	if err != nil {
		return nil, err
	}
	return &GetSSHPublicKeyResponse{SSHPublicKey: sshKeyOut(u.V.Name, k.V, body)}, nil
}

// ListSSHPublicKeys lists a user's SSH public keys, oldest first; without a
// user name, the caller's own (none for the root user).
func (s *Service) ListSSHPublicKeys(ctx context.Context, in *ListSSHPublicKeysRequest) (*ListSSHPublicKeysResponse, error) {
	c, owner, err := s.credentialOwnerOf(ctx, "iam:ListSSHPublicKeys", in.UserName)
	if err != nil {
		return nil, err
	}
	all := []SSHPublicKeyMetadata{}
	if !owner.root {
		if err := s.read(c.Account, func(a *iam.AccountView) {
			for _, k := range a.SSHPublicKeys(owner.user.V.ID) {
				all = append(all, SSHPublicKeyMetadata{
					UserName: owner.name(), SSHPublicKeyId: k.V.ID, Status: k.V.Status, UploadDate: k.V.Uploaded.Truncate(time.Second),
				})
			}
		}); err != nil {
			return nil, err
		}
	}
	page, next, err := pageOf(all, in.Marker, maxItems(in.MaxItems))
	if err != nil {
		return nil, err
	}
	return &ListSSHPublicKeysResponse{SSHPublicKeys: page, IsTruncated: next != "", Marker: next}, nil
}

// UpdateSSHPublicKey activates or deactivates a user's SSH public key.
func (s *Service) UpdateSSHPublicKey(ctx context.Context, in *UpdateSSHPublicKeyRequest) (*UpdateSSHPublicKeyResponse, error) {
	c, u, err := s.lookupUser(ctx, "iam:UpdateSSHPublicKey", in.UserName)
	if err != nil {
		return nil, err
	}
	err = setCredentialStatus(ctx, s, iam.KindSSHPublicKey, c.Account, in.Status,
		func() (*iam.Entry[iam.SSHPublicKey], error) {
			return s.ownedSSHKey(c.Account, u.V.ID, in.SSHPublicKeyId)
		},
		func(k *iam.SSHPublicKey) (string, *string) { return k.ID, &k.Status })
	if err != nil {
		return nil, err
	}
	return &UpdateSSHPublicKeyResponse{}, nil
}

// DeleteSSHPublicKey deletes a user's SSH public key.
func (s *Service) DeleteSSHPublicKey(ctx context.Context, in *DeleteSSHPublicKeyRequest) (*DeleteSSHPublicKeyResponse, error) {
	c, u, err := s.lookupUser(ctx, "iam:DeleteSSHPublicKey", in.UserName)
	if err != nil {
		return nil, err
	}
	err = deleteCredential(ctx, s, iam.KindSSHPublicKey, c.Account,
		func() (*iam.Entry[iam.SSHPublicKey], error) {
			return s.ownedSSHKey(c.Account, u.V.ID, in.SSHPublicKeyId)
		},
		func(k *iam.SSHPublicKey) string { return k.ID })
	if err != nil {
		return nil, err
	}
	return &DeleteSSHPublicKeyResponse{}, nil
}

// uploadTime is when a credential is created, to the nanosecond: IAM shows
// seconds, but an owner's credentials are listed oldest first, and several
// may be created within a second.
func (s *Service) uploadTime() time.Time { return s.now().UTC() }

// checkSettableStatus refuses the status Expired, which IAM reports but
// does not let anyone set. AWS's exact answer could not be confirmed; the
// status type's documentation says only that Expired cannot be set.
func checkSettableStatus(status string) error {
	if status == string(StatusTypeExpired) {
		return invalidInput("Status %s cannot be set.", status)
	}
	return nil
}

// setCredentialStatus sets the Status of a credential record (an SSH key,
// a signing certificate, a service-specific credential), re-reading it
// with find on every try; status returns the record's ID and a pointer to
// its Status field. Setting the status it has changes nothing.
func setCredentialStatus[T any](ctx context.Context, s *Service, kind, account, to string, find func() (*iam.Entry[T], error), status func(*T) (id string, field *string)) error {
	if err := checkSettableStatus(to); err != nil {
		return err
	}
	return retry(ctx, func() error {
		e, err := find()
		if err != nil {
			return err
		}
		next := *e.V
		id, field := status(&next)
		if *field == to {
			return nil
		}
		*field = to
		return s.commit(ctx, iam.Put(kind, account, id, &next, e.Version))
	})
}

// deleteCredential deletes the credential find returns (an SSH key, a
// signing certificate, a service-specific credential), retrying lost races;
// find answers NoSuchEntity when it is gone or not the owner's.
func deleteCredential[T any](ctx context.Context, s *Service, kind, account string, find func() (*iam.Entry[T], error), id func(*T) string) error {
	return retry(ctx, func() error {
		e, err := find()
		if err != nil {
			return err
		}
		return s.commit(ctx, iam.Delete(kind, account, id(e.V), e.Version))
	})
}
