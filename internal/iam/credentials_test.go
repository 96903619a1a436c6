package iam

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/store"
)

// TestOwnedCredentials applies SSH key records as the store delivers them
// (including stale and repeated ones) and checks the per-owner index.
func TestOwnedCredentials(t *testing.T) {
	const acct = "123456789012"
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := func(key string, rev int64, k *SSHPublicKey) store.Record {
		r := store.Record{Kind: KindSSHPublicKey, Account: acct, Key: key, Version: rev, Rev: rev}
		if k == nil {
			r.Deleted = true
		} else {
			r.Data, _ = json.Marshal(k)
		}
		return r
	}
	key := func(id, user string, at time.Duration, status string) *SSHPublicKey {
		return &SSHPublicKey{ID: id, UserID: user, Uploaded: t0.Add(at), Status: status}
	}
	tests := []struct {
		name    string
		recs    []store.Record
		wantAnn []string // IDs, oldest first
		wantBob int
		status  map[string]string
	}{
		{"oldest first, ties by ID", []store.Record{
			rec("K3", 1, key("K3", "ann", 2*time.Second, "Active")),
			rec("K2", 2, key("K2", "ann", time.Second, "Active")),
			rec("K1", 3, key("K1", "ann", time.Second, "Active")),
			rec("K4", 4, key("K4", "bob", 0, "Active")),
		}, []string{"K1", "K2", "K3"}, 1, nil},
		{"update keeps one entry", []store.Record{
			rec("K1", 1, key("K1", "ann", 0, "Active")),
			rec("K1", 2, key("K1", "ann", 0, "Inactive")),
		}, []string{"K1"}, 0, map[string]string{"K1": "Inactive"}},
		{"stale update ignored", []store.Record{
			rec("K1", 2, key("K1", "ann", 0, "Inactive")),
			rec("K1", 1, key("K1", "ann", 0, "Active")),
		}, []string{"K1"}, 0, map[string]string{"K1": "Inactive"}},
		{"delete", []store.Record{
			rec("K1", 1, key("K1", "ann", 0, "Active")),
			rec("K2", 2, key("K2", "ann", time.Second, "Active")),
			rec("K1", 3, nil),
		}, []string{"K2"}, 0, nil},
		{"delete then stale put", []store.Record{
			rec("K1", 1, key("K1", "ann", 0, "Active")),
			rec("K1", 3, nil),
			rec("K1", 2, key("K1", "ann", 0, "Inactive")),
		}, nil, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := NewView()
			acc, _ := json.Marshal(&Account{ID: acct})
			if err := v.ApplyBatch(append([]store.Record{{Kind: KindAccount, Key: acct, Version: 1, Rev: 0, Data: acc}}, tc.recs...)); err != nil {
				t.Fatal(err)
			}
			v.Read(acct, func(a *AccountView) {
				var ids []string
				for _, e := range a.SSHPublicKeys("ann") {
					ids = append(ids, e.V.ID)
				}
				if !slices.Equal(ids, tc.wantAnn) || a.SSHPublicKeyCount("ann") != len(tc.wantAnn) {
					t.Errorf("ann's keys = %v (count %d), want %v", ids, a.SSHPublicKeyCount("ann"), tc.wantAnn)
				}
				if n := a.SSHPublicKeyCount("bob"); n != tc.wantBob {
					t.Errorf("bob's keys = %d, want %d", n, tc.wantBob)
				}
				for id, st := range tc.status {
					if e, ok := a.SSHPublicKey(id); !ok || e.V.Status != st {
						t.Errorf("key %s = %+v, want status %s", id, e, st)
					}
				}
			})
		})
	}
}
