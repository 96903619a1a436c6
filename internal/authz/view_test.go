package authz

import (
	"encoding/json"
	"testing"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/store"
)

// testView is a view of testAccount that a test feeds records, each at the
// next revision.
type testView struct {
	*iam.View
	t   testing.TB
	rev int64
}

func newTestView(t testing.TB) *testView {
	v := &testView{View: iam.NewView(), t: t}
	v.put(iam.KindAccount, testAccount, iam.Account{ID: testAccount})
	return v
}

// put applies val as the record of kind named name in testAccount (the
// account record itself for iam.KindAccount).
func (v *testView) put(kind, name string, val any) {
	v.t.Helper()
	data, err := json.Marshal(val)
	if err != nil {
		v.t.Fatal(err)
	}
	v.rev++
	r := store.Record{Kind: kind, Account: testAccount, Key: iam.Key(name), Version: v.rev, Rev: v.rev, Data: data}
	if kind == iam.KindAccount {
		r.Account, r.Key = "", name
	}
	if err := v.Apply(r); err != nil {
		v.t.Fatal(err)
	}
}
