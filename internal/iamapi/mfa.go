package iamapi

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/store"
	"github.com/iamd/iamd/internal/totp"
)

// Virtual MFA devices. A device is created unassigned with a fresh TOTP seed
// (sealed at rest, bound to its serial number), then enabled for a user with
// two consecutive codes. The time step of the last code accepted is stored
// with the device, so that no code is accepted twice (the compare-and-swap
// on the device record makes that hold across replicas).

const (
	mfaTypeVirtual = "virtual"
	// mfaDevicesPerUser is IAM's limit of MFA devices enabled for one user.
	mfaDevicesPerUser = 8
)

func noSuchMFADevice(serial string) error {
	return noSuchEntity("VirtualMFADevice with serial number %s does not exist.", serial)
}

// mfaDeviceNotForUser is the error for a device that exists but is not
// enabled for the user named.
func mfaDeviceNotForUser() error {
	return noSuchEntity("MFA Device invalid for user.")
}

func invalidMFACode() error {
	return invalidAuthenticationCode("Authentication code for device is not valid.")
}

// mfaDevice finds a device of the account by serial number: a virtual
// device's ARN or a security key's u2f serial
// (arn:PARTITION:iam::ACCT:u2f/user/NAME/KEY, as on AWS).
func (s *Service) mfaDevice(a *iam.AccountView, account, serial string) (*iam.Entry[iam.MFADevice], bool) {
	if !strings.HasPrefix(serial, s.partition.Prefix("iam")+account+":") {
		return nil, false
	}
	return a.MFADeviceBySerial(serial)
}

// lookupMFADevice authorizes action on a device (its serial number is its
// ARN) and returns it.
func (s *Service) lookupMFADevice(ctx context.Context, action, serial string, opts ...authz.Option) (*authz.Caller, *iam.Entry[iam.MFADevice], error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	var e *iam.Entry[iam.MFADevice]
	if err := s.read(c.Account, func(a *iam.AccountView) { e, _ = s.mfaDevice(a, c.Account, serial) }); err != nil {
		return nil, nil, err
	}
	if e == nil {
		if _, err := s.authorize(ctx, action, serial, opts...); err != nil {
			return nil, nil, err
		}
		return nil, nil, noSuchMFADevice(serial)
	}
	if _, err := s.authorize(ctx, action, serial, append([]authz.Option{resourceTags(e.V.Tags)}, opts...)...); err != nil {
		return nil, nil, err
	}
	return c, e, nil
}

// updateMFADevice re-reads a device, applies change to a copy and commits
// it with any extra mutations change returns, retrying lost races. change
// may return a nil device to delete it.
func (s *Service) updateMFADevice(ctx context.Context, account, serial string, change func(a *iam.AccountView, d *iam.MFADevice) (*iam.MFADevice, []iam.Mutation, error)) error {
	return retry(ctx, func() error {
		var (
			verr error
			cur  *iam.Entry[iam.MFADevice]
			next *iam.MFADevice
			muts []iam.Mutation
		)
		if err := s.read(account, func(a *iam.AccountView) {
			var ok bool
			if cur, ok = s.mfaDevice(a, account, serial); !ok {
				verr = noSuchMFADevice(serial)
				return
			}
			d := *cur.V
			next, muts, verr = change(a, &d)
		}); err != nil {
			return err
		}
		if verr != nil {
			return verr
		}
		key := iam.MFADeviceKey(cur.V)
		if next == nil {
			muts = append([]iam.Mutation{iam.Delete(iam.KindMFADevice, account, key, cur.Version)}, muts...)
		} else {
			muts = append([]iam.Mutation{iam.Put(iam.KindMFADevice, account, key, next, cur.Version)}, muts...)
		}
		return s.commit(ctx, muts...)
	})
}

// openSeed decrypts a device's TOTP seed.
func (s *Service) openSeed(d *iam.MFADevice) ([]byte, error) {
	if d.Type != mfaTypeVirtual || len(d.Seed) == 0 {
		return nil, invalidMFACode()
	}
	return s.secrets.Open(d.Seed, []byte(d.Serial))
}

// accountLabel names the account in authenticator apps: its alias, or its
// ID.
func (s *Service) accountLabel(account string) string {
	if acct, ok := s.view.Account(account); ok && acct.V.Alias != "" {
		return acct.V.Alias
	}
	return account
}

// CreateVirtualMFADevice creates an unassigned virtual MFA device and
// returns its seed, as Base32 text and as a QR code, which are never shown
// again.
func (s *Service) CreateVirtualMFADevice(ctx context.Context, in *CreateVirtualMFADeviceRequest) (*CreateVirtualMFADeviceResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	path := pathOrDefault(in.Path)
	serial := s.partition.ARN(c.Account, "mfa", path, in.VirtualMFADeviceName)
	if _, err := s.authorize(ctx, "iam:CreateVirtualMFADevice", serial, tagOptions(in.Tags)); err != nil {
		return nil, err
	}
	if len(in.Tags) > 0 {
		if _, err := s.authorize(ctx, "iam:TagMFADevice", serial, tagOptions(in.Tags)); err != nil {
			return nil, err
		}
	}
	if err := checkNewTags(in.Tags); err != nil {
		return nil, err
	}
	seed := totp.NewSeed()
	sealed, err := s.secrets.Seal(seed, []byte(serial))
	if err != nil {
		return nil, err
	}
	png, err := totp.QRCodePNG(totp.URI("", in.VirtualMFADeviceName+"@"+s.accountLabel(c.Account), seed))
	if err != nil {
		return nil, err
	}
	d := &iam.MFADevice{
		Serial: serial, Name: in.VirtualMFADeviceName, Path: path, Type: mfaTypeVirtual,
		Created: s.timestamp(), Tags: toTags(in.Tags), Seed: sealed,
	}
	err = retry(ctx, func() error {
		var verr error
		if err := s.read(c.Account, func(a *iam.AccountView) {
			if _, exists := a.MFADeviceAt(d.Path, d.Name); exists {
				verr = entityAlreadyExists("MFADevice entity at the same path and name already exists.")
			}
		}); err != nil {
			return err
		}
		if verr != nil {
			return verr
		}
		return s.commit(ctx, iam.Put(iam.KindMFADevice, c.Account, iam.MFADeviceKey(d), d, store.Absent))
	})
	if err != nil {
		return nil, err
	}
	return &CreateVirtualMFADeviceResponse{VirtualMFADevice: VirtualMFADevice{
		SerialNumber:     serial,
		Base32StringSeed: []byte(totp.EncodeSeed(seed)),
		QRCodePNG:        png,
		Tags:             fromTags(d.Tags),
	}}, nil
}

// EnableMFADevice assigns a virtual MFA device to a user, given two
// consecutive codes from it.
func (s *Service) EnableMFADevice(ctx context.Context, in *EnableMFADeviceRequest) (*EnableMFADeviceResponse, error) {
	c, u, err := s.lookupUser(ctx, "iam:EnableMFADevice", in.UserName)
	if err != nil {
		return nil, err
	}
	err = s.updateMFADevice(ctx, c.Account, in.SerialNumber, func(a *iam.AccountView, d *iam.MFADevice) (*iam.MFADevice, []iam.Mutation, error) {
		cur, ok := a.UserByID(u.V.ID)
		if !ok {
			return nil, nil, noSuchUser(in.UserName)
		}
		if d.UserID != "" {
			return nil, nil, entityAlreadyExists("MFA Device is already in use.")
		}
		if len(a.MFADevicesFor(cur.V.ID)) >= mfaDevicesPerUser {
			return nil, nil, limitExceeded("Cannot exceed quota for MFADevicesPerUser: %d", mfaDevicesPerUser)
		}
		step, err := s.verifyCodes(d, in.AuthenticationCode1, in.AuthenticationCode2)
		if err != nil {
			return nil, nil, err
		}
		d.UserID, d.EnableDate, d.LastStep = cur.V.ID, s.timestamp(), step
		// Touch the user so that a concurrent DeleteUser, which checks for
		// MFA devices, conflicts instead of orphaning the device.
		return d, []iam.Mutation{iam.Touch(iam.KindUser, c.Account, iam.Key(cur.V.Name), cur.Version)}, nil
	})
	if err != nil {
		return nil, err
	}
	return &EnableMFADeviceResponse{}, nil
}

// verifyCodes checks two consecutive codes of a device and returns the
// time step to store as its last one. Codes at or before the last accepted
// step are refused, so a code is never accepted twice.
func (s *Service) verifyCodes(d *iam.MFADevice, code1, code2 string) (int64, error) {
	seed, err := s.openSeed(d)
	if err != nil {
		return 0, err
	}
	step, err := totp.VerifyConsecutive(seed, code1, code2, s.now())
	if err != nil {
		if errors.Is(err, totp.ErrInvalidCode) {
			return 0, invalidMFACode()
		}
		return 0, err
	}
	if int64(step) <= d.LastStep {
		return 0, invalidMFACode()
	}
	return int64(step), nil
}

// ResyncMFADevice resynchronises an enabled virtual MFA device with two
// consecutive codes.
func (s *Service) ResyncMFADevice(ctx context.Context, in *ResyncMFADeviceRequest) (*ResyncMFADeviceResponse, error) {
	c, u, err := s.lookupUser(ctx, "iam:ResyncMFADevice", in.UserName)
	if err != nil {
		return nil, err
	}
	err = s.updateMFADevice(ctx, c.Account, in.SerialNumber, func(_ *iam.AccountView, d *iam.MFADevice) (*iam.MFADevice, []iam.Mutation, error) {
		if d.UserID != u.V.ID {
			return nil, nil, mfaDeviceNotForUser()
		}
		step, err := s.verifyCodes(d, in.AuthenticationCode1, in.AuthenticationCode2)
		if err != nil {
			return nil, nil, err
		}
		d.LastStep = step
		return d, nil, nil
	})
	if err != nil {
		return nil, err
	}
	return &ResyncMFADeviceResponse{}, nil
}

// DeactivateMFADevice unassigns an MFA device from a user (by default the
// caller). A virtual device remains, unassigned; other kinds are removed.
func (s *Service) DeactivateMFADevice(ctx context.Context, in *DeactivateMFADeviceRequest) (*DeactivateMFADeviceResponse, error) {
	c, owner, err := s.credentialOwnerOf(ctx, "iam:DeactivateMFADevice", in.UserName)
	if err != nil {
		return nil, err
	}
	err = s.updateMFADevice(ctx, c.Account, in.SerialNumber, func(_ *iam.AccountView, d *iam.MFADevice) (*iam.MFADevice, []iam.Mutation, error) {
		if d.UserID == "" || d.UserID != owner.mfaUserID() {
			return nil, nil, mfaDeviceNotForUser()
		}
		if d.Type != mfaTypeVirtual {
			return nil, nil, nil
		}
		// LastStep is kept, so codes already used cannot enable the device
		// again.
		d.UserID, d.EnableDate = "", time.Time{}
		return d, nil, nil
	})
	if err != nil {
		return nil, err
	}
	return &DeactivateMFADeviceResponse{}, nil
}

// DeleteVirtualMFADevice deletes an unassigned virtual MFA device.
func (s *Service) DeleteVirtualMFADevice(ctx context.Context, in *DeleteVirtualMFADeviceRequest) (*DeleteVirtualMFADeviceResponse, error) {
	c, _, err := s.lookupMFADevice(ctx, "iam:DeleteVirtualMFADevice", in.SerialNumber)
	if err != nil {
		return nil, err
	}
	err = s.updateMFADevice(ctx, c.Account, in.SerialNumber, func(_ *iam.AccountView, d *iam.MFADevice) (*iam.MFADevice, []iam.Mutation, error) {
		if d.UserID != "" {
			return nil, nil, deleteConflict("MFA VirtualDevice in use. Must deactivate first.")
		}
		return nil, nil, nil
	})
	if err != nil {
		return nil, err
	}
	return &DeleteVirtualMFADeviceResponse{}, nil
}

// ListMFADevices lists the MFA devices enabled for a user (by default the
// caller).
func (s *Service) ListMFADevices(ctx context.Context, in *ListMFADevicesRequest) (*ListMFADevicesResponse, error) {
	c, owner, err := s.credentialOwnerOf(ctx, "iam:ListMFADevices", in.UserName)
	if err != nil {
		return nil, err
	}
	var all []MFADevice
	if err := s.read(c.Account, func(a *iam.AccountView) {
		for _, e := range a.MFADevicesFor(owner.mfaUserID()) {
			all = append(all, MFADevice{UserName: owner.name(), SerialNumber: e.V.Serial, EnableDate: e.V.EnableDate})
		}
	}); err != nil {
		return nil, err
	}
	page, next, err := pageOf(all, in.Marker, maxItems(in.MaxItems))
	if err != nil {
		return nil, err
	}
	out := &ListMFADevicesResponse{MFADevices: page, IsTruncated: next != "", Marker: next}
	if out.MFADevices == nil {
		out.MFADevices = []MFADevice{}
	}
	return out, nil
}

// ListVirtualMFADevices lists the account's virtual MFA devices by
// assignment status, with the user each assigned one belongs to.
func (s *Service) ListVirtualMFADevices(ctx context.Context, in *ListVirtualMFADevicesRequest) (*ListVirtualMFADevicesResponse, error) {
	c, err := s.authorize(ctx, "iam:ListVirtualMFADevices", "*")
	if err != nil {
		return nil, err
	}
	marker, err := decodeMarker(in.Marker)
	if err != nil {
		return nil, err
	}
	match := func(d *iam.MFADevice) bool {
		if d.Type != mfaTypeVirtual {
			return false
		}
		switch in.AssignmentStatus {
		case "Assigned":
			return d.UserID != ""
		case "Unassigned":
			return d.UserID == ""
		}
		return true
	}
	out := &ListVirtualMFADevicesResponse{VirtualMFADevices: []VirtualMFADevice{}}
	acct, _ := s.view.Account(c.Account)
	if err := s.read(c.Account, func(a *iam.AccountView) {
		page, next := a.MFADevices(marker, maxItems(in.MaxItems), match)
		for _, e := range page {
			// Without tags: ListVirtualMFADevices does not return them
			// (ListMFADeviceTags does).
			v := VirtualMFADevice{SerialNumber: e.V.Serial, EnableDate: e.V.EnableDate}
			switch e.V.UserID {
			case "":
			case "root":
				u := User{UserId: c.Account, Arn: s.partition.RootARN(c.Account)}
				if acct != nil {
					u.CreateDate = acct.V.Created
				}
				v.User = &u
			default:
				if ue, ok := a.UserByID(e.V.UserID); ok {
					u := s.userOut(c.Account, ue.V)
					u.Tags = nil
					v.User = &u
				}
			}
			out.VirtualMFADevices = append(out.VirtualMFADevices, v)
		}
		if next != "" {
			out.IsTruncated, out.Marker = true, encodeMarker(next)
		}
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// GetMFADevice returns an MFA device enabled for a user (by default the
// caller).
func (s *Service) GetMFADevice(ctx context.Context, in *GetMFADeviceRequest) (*GetMFADeviceResponse, error) {
	c, owner, err := s.credentialOwnerOf(ctx, "iam:GetMFADevice", in.UserName)
	if err != nil {
		return nil, err
	}
	var d *iam.MFADevice
	if err := s.read(c.Account, func(a *iam.AccountView) {
		if e, ok := s.mfaDevice(a, c.Account, in.SerialNumber); ok {
			d = e.V
		}
	}); err != nil {
		return nil, err
	}
	if d == nil {
		return nil, noSuchMFADevice(in.SerialNumber)
	}
	if d.UserID != owner.mfaUserID() {
		return nil, mfaDeviceNotForUser()
	}
	return &GetMFADeviceResponse{UserName: owner.name(), SerialNumber: d.Serial, EnableDate: d.EnableDate}, nil
}

// TagMFADevice adds or replaces tags on a virtual MFA device.
func (s *Service) TagMFADevice(ctx context.Context, in *TagMFADeviceRequest) (*TagMFADeviceResponse, error) {
	c, _, err := s.lookupMFADevice(ctx, "iam:TagMFADevice", in.SerialNumber, tagOptions(in.Tags))
	if err != nil {
		return nil, err
	}
	err = s.updateMFADevice(ctx, c.Account, in.SerialNumber, func(_ *iam.AccountView, d *iam.MFADevice) (*iam.MFADevice, []iam.Mutation, error) {
		tags, err := mergeTags(d.Tags, in.Tags)
		d.Tags = tags
		return d, nil, err
	})
	if err != nil {
		return nil, err
	}
	return &TagMFADeviceResponse{}, nil
}

// UntagMFADevice removes tags from a virtual MFA device.
func (s *Service) UntagMFADevice(ctx context.Context, in *UntagMFADeviceRequest) (*UntagMFADeviceResponse, error) {
	c, _, err := s.lookupMFADevice(ctx, "iam:UntagMFADevice", in.SerialNumber, tagKeysOption(in.TagKeys))
	if err != nil {
		return nil, err
	}
	err = s.updateMFADevice(ctx, c.Account, in.SerialNumber, func(_ *iam.AccountView, d *iam.MFADevice) (*iam.MFADevice, []iam.Mutation, error) {
		d.Tags = removeTags(d.Tags, in.TagKeys)
		return d, nil, nil
	})
	if err != nil {
		return nil, err
	}
	return &UntagMFADeviceResponse{}, nil
}

// ListMFADeviceTags lists a virtual MFA device's tags.
func (s *Service) ListMFADeviceTags(ctx context.Context, in *ListMFADeviceTagsRequest) (*ListMFADeviceTagsResponse, error) {
	_, e, err := s.lookupMFADevice(ctx, "iam:ListMFADeviceTags", in.SerialNumber)
	if err != nil {
		return nil, err
	}
	page, next, err := pageOf(fromTags(e.V.Tags), in.Marker, maxItems(in.MaxItems))
	if err != nil {
		return nil, err
	}
	out := &ListMFADeviceTagsResponse{Tags: page, IsTruncated: next != "", Marker: next}
	if out.Tags == nil {
		out.Tags = []Tag{}
	}
	return out, nil
}
