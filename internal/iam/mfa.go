package iam

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/iamd/iamd/internal/store"
)

// MFA device records are keyed as AWS identifies the devices: a virtual
// device's serial number is its ARN, arn:PARTITION:iam::ACCOUNT:mfa{path}{name},
// so /a/dev and /b/dev are two devices. The key is the serial number's
// resource after "mfa/" ("dev", "a/dev"), case-insensitively as IAM names
// are. A device at path "/" is keyed by its name alone, as every device was
// before paths were part of the key. Security keys, whose serials are
// arn:PARTITION:iam::ACCOUNT:u2f/user/NAME/KEY, always have path "/" and are
// keyed by their (unique, generated) name.

// MFADeviceKey returns the record key of an MFA device.
func MFADeviceKey(d *MFADevice) string {
	return mfaKey(d.Path, d.Name)
}

func mfaKey(path, name string) string {
	return Key(strings.TrimPrefix(path, "/") + name)
}

// MFADeviceBySerial returns the MFA device (virtual or security key) whose
// serial number is serial, exactly.
func (a *AccountView) MFADeviceBySerial(serial string) (*Entry[MFADevice], bool) {
	key, ok := mfaKeyOfSerial(serial)
	if !ok {
		return nil, false
	}
	e, ok := a.mfa.get(key)
	if !ok || e.V.Serial != serial {
		return nil, false
	}
	return e, true
}

// MFADeviceAt returns the MFA device at path with name, compared
// case-insensitively, as CreateVirtualMFADevice's uniqueness check needs.
func (a *AccountView) MFADeviceAt(path, name string) (*Entry[MFADevice], bool) {
	return a.mfa.get(mfaKey(path, name))
}

// mfaKeyOfSerial returns the record key a device with serial number serial
// would have.
func mfaKeyOfSerial(serial string) (string, bool) {
	if _, rest, ok := strings.Cut(serial, ":mfa/"); ok {
		i := strings.LastIndexByte(rest, '/')
		if rest[i+1:] == "" {
			return "", false
		}
		return Key(rest), true
	}
	if _, rest, ok := strings.Cut(serial, ":u2f/"); ok {
		name := rest[strings.LastIndexByte(rest, '/')+1:]
		if name == "" {
			return "", false
		}
		return Key(name), true
	}
	return "", false
}

// RekeyMFADevices moves MFA device records stored under another key than
// MFADeviceKey (virtual devices at a path other than "/", which were keyed
// by name alone) to their key, each in one atomic batch that deletes the
// old record and creates the new one, so that no device is lost or
// duplicated. It returns how many it moved. A record another replica moved
// or changed first is left to it. Run it on the loaded view before serving.
func RekeyMFADevices(ctx context.Context, w *Writer) (int, error) {
	type move struct {
		account, from string
		e             *Entry[MFADevice]
	}
	var moves []move
	w.View.mu.RLock()
	for id, a := range w.View.accounts {
		for k, e := range a.mfa.byKey {
			if k != MFADeviceKey(e.V) {
				moves = append(moves, move{id, k, e})
			}
		}
	}
	w.View.mu.RUnlock()
	n := 0
	for _, m := range moves {
		err := w.Commit(ctx,
			Delete(KindMFADevice, m.account, m.from, m.e.Version),
			Put(KindMFADevice, m.account, MFADeviceKey(m.e.V), m.e.V, store.Absent))
		switch {
		case err == nil:
			n++
		case errors.Is(err, store.ErrConflict):
		default:
			return n, fmt.Errorf("rekey MFA device %s: %w", m.e.V.Serial, err)
		}
	}
	return n, nil
}
