package iam

import (
	"context"
	"testing"

	"github.com/iamd/iamd/internal/store"
)

func TestMFADeviceKeys(t *testing.T) {
	const acct = "123456789012"
	devices := []*MFADevice{
		{Serial: "arn:aws:iam::" + acct + ":mfa/dev", Name: "dev", Path: "/", Type: "virtual"},
		{Serial: "arn:aws:iam::" + acct + ":mfa/a/dev", Name: "dev", Path: "/a/", Type: "virtual"},
		{Serial: "arn:aws:iam::" + acct + ":mfa/b/c/Dev", Name: "Dev", Path: "/b/c/", Type: "virtual"},
		{Serial: "arn:aws:iam::" + acct + ":u2f/user/alice/securitykey-abc", Name: "securitykey-abc", Path: "/", Type: "webauthn"},
	}
	w := newWriter(t)
	ctx := context.Background()
	muts := []Mutation{Put(KindAccount, "", acct, &Account{ID: acct}, store.Absent)}
	for _, d := range devices {
		muts = append(muts, Put(KindMFADevice, acct, MFADeviceKey(d), d, store.Absent))
	}
	if err := w.Commit(ctx, muts...); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, serial string
		want         *MFADevice
	}{
		{"root path", devices[0].Serial, devices[0]},
		{"same name at another path", devices[1].Serial, devices[1]},
		{"nested path", devices[2].Serial, devices[2]},
		{"security key", devices[3].Serial, devices[3]},
		{"serial in another case", "arn:aws:iam::" + acct + ":mfa/A/dev", nil},
		{"path not created", "arn:aws:iam::" + acct + ":mfa/x/dev", nil},
		{"another account", "arn:aws:iam::210987654321:mfa/dev", nil},
		{"another partition", "arn:aws-cn:iam::" + acct + ":mfa/dev", nil},
		{"no name", "arn:aws:iam::" + acct + ":mfa/a/", nil},
		{"hardware serial", "GAHT12345678", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got *Entry[MFADevice]
			w.View.Read(acct, func(a *AccountView) { got, _ = a.MFADeviceBySerial(tc.serial) })
			switch {
			case tc.want == nil && got != nil:
				t.Errorf("MFADeviceBySerial(%q) = %+v, want none", tc.serial, got.V)
			case tc.want != nil && (got == nil || got.V != tc.want):
				t.Errorf("MFADeviceBySerial(%q) = %v, want %+v", tc.serial, got, tc.want)
			}
		})
	}
	w.View.Read(acct, func(a *AccountView) {
		if _, ok := a.MFADeviceAt("/B/C/", "dev"); !ok {
			t.Error("MFADeviceAt(/B/C/, dev): not found, want the device /b/c/Dev (names are case-insensitive)")
		}
		if _, ok := a.MFADeviceAt("/b/", "dev"); ok {
			t.Error("MFADeviceAt(/b/, dev) found a device")
		}
	})
}

// TestRekeyMFADevices stores devices as they were stored before paths were
// part of the key (by name alone) and checks that RekeyMFADevices moves
// those at a path to their key without losing or duplicating any, once.
func TestRekeyMFADevices(t *testing.T) {
	const acct = "123456789012"
	w := newWriter(t)
	ctx := context.Background()
	atRoot := &MFADevice{Serial: "arn:aws:iam::" + acct + ":mfa/root-dev", Name: "root-dev", Path: "/", Type: "virtual", UserID: "AIDA1"}
	atPath := &MFADevice{Serial: "arn:aws:iam::" + acct + ":mfa/eng/Dev", Name: "Dev", Path: "/eng/", Type: "virtual", Seed: []byte("sealed"), LastStep: 42}
	if err := w.Commit(ctx,
		Put(KindAccount, "", acct, &Account{ID: acct}, store.Absent),
		Put(KindMFADevice, acct, Key(atRoot.Name), atRoot, store.Absent),
		Put(KindMFADevice, acct, Key(atPath.Name), atPath, store.Absent),
	); err != nil {
		t.Fatal(err)
	}
	n, err := RekeyMFADevices(ctx, w)
	if err != nil || n != 1 {
		t.Fatalf("RekeyMFADevices() = %d, %v; want 1, nil", n, err)
	}
	if n, err := RekeyMFADevices(ctx, w); err != nil || n != 0 {
		t.Fatalf("RekeyMFADevices() again = %d, %v; want 0, nil", n, err)
	}
	// What is stored, as a replica starting now loads it.
	fresh := NewView()
	if _, err := fresh.LoadFrom(ctx, w.Store); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]*View{"writer's view": w.View, "fresh view": fresh} {
		v.Read(acct, func(a *AccountView) {
			if got := a.MFADeviceCount(); got != 2 {
				t.Errorf("%s: %d devices, want 2", name, got)
			}
			for _, d := range []*MFADevice{atRoot, atPath} {
				e, ok := a.MFADeviceBySerial(d.Serial)
				if !ok {
					t.Errorf("%s: device %s lost", name, d.Serial)
					continue
				}
				if e.V.LastStep != d.LastStep || string(e.V.Seed) != string(d.Seed) || e.V.UserID != d.UserID {
					t.Errorf("%s: device %s = %+v, want %+v", name, d.Serial, e.V, d)
				}
			}
		})
	}
	if _, ok, err := w.Store.Get(ctx, KindMFADevice, acct, "dev"); err != nil || ok {
		t.Errorf("old record eng/Dev under key dev: present %v, err %v; want gone", ok, err)
	}
	if _, ok, err := w.Store.Get(ctx, KindMFADevice, acct, "eng/dev"); err != nil || !ok {
		t.Errorf("record under key eng/dev: present %v, err %v; want present", ok, err)
	}
}
