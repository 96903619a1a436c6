package stsapi

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/totp"
)

// MFA codes passed to AssumeRole and GetSessionToken are checked against
// the caller's enabled virtual MFA device, with the same replay protection
// as IAM's: the device's last accepted time step is advanced with a
// compare-and-swap, so a code is accepted once across replicas.

func mfaUnknownDevice() error {
	return accessDenied("MultiFactorAuthentication failed, unable to validate MFA code.  Please verify your MFA serial number is valid and associated with this user.")
}

func mfaInvalidCode() error {
	return accessDenied("MultiFactorAuthentication failed with invalid MFA one time pass code. ")
}

// mfaOwner is the MFADevice.UserID of the caller's devices: the user ID, or
// "root" for the account's root user. Role and federated sessions have no
// devices.
func mfaOwner(c *authz.Caller) (string, bool) {
	switch c.Type {
	case authz.User:
		return c.EntityID, true
	case authz.Root:
		return "root", true
	}
	return "", false
}

// verifyMFA checks code against the caller's device serial at now.
func (s *Service) verifyMFA(ctx context.Context, c *authz.Caller, serial, code string, now time.Time) error {
	owner, ok := mfaOwner(c)
	if !ok {
		return mfaUnknownDevice()
	}
	if !strings.HasPrefix(serial, s.partition.Prefix("iam")+c.Account+":mfa/") {
		return mfaUnknownDevice()
	}
	return iam.Retry(ctx, func() error {
		var dev *iam.Entry[iam.MFADevice]
		s.view.Read(c.Account, func(a *iam.AccountView) {
			if e, found := a.MFADeviceBySerial(serial); found && e.V.UserID == owner {
				dev = e
			}
		})
		if dev == nil || len(dev.V.Seed) == 0 {
			return mfaUnknownDevice()
		}
		seed, err := s.keyring.Open(dev.V.Seed, []byte(dev.V.Serial))
		if err != nil {
			return mfaUnknownDevice()
		}
		last := uint64(0)
		if dev.V.LastStep > 0 {
			last = uint64(dev.V.LastStep)
		}
		step, err := totp.Verify(seed, code, now, last)
		if err != nil {
			if errors.Is(err, totp.ErrInvalidCode) || errors.Is(err, totp.ErrReplayed) {
				return mfaInvalidCode()
			}
			return err
		}
		next := *dev.V
		next.LastStep = int64(step)
		if s.writer == nil {
			return nil
		}
		return s.writer.Commit(ctx, iam.Put(iam.KindMFADevice, c.Account, iam.MFADeviceKey(&next), &next, dev.Version))
	})
}
