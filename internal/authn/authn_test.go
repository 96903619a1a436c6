package authn

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/secrets"
	"github.com/iamd/iamd/internal/sigv4"
	"github.com/iamd/iamd/internal/store"
	"github.com/iamd/iamd/internal/store/sqlite"
)

// countingOpener counts the secrets it opens.
type countingOpener struct {
	ring  *secrets.Keyring
	opens int
}

func (o *countingOpener) Open(ciphertext, ad []byte) ([]byte, error) {
	o.opens++
	return o.ring.Open(ciphertext, ad)
}

// TestLookupFollowsTheView checks that a key signing request after request
// is unsealed once, and that every change of the key or of its owner in
// the view is seen on the next lookup: a renamed user, a deactivated key,
// a deleted user, a key whose secret is sealed anew.
func TestLookupFollowsTheView(t *testing.T) {
	const acct, userID, keyID = "123456789012", "AIDAAAAAAAAAAAAAAAAAA", "AKIAAAAAAAAAAAAAAAAA"
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "iamd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := &iam.Writer{Store: st, View: iam.NewView()}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ring, err := secrets.New(secrets.GenerateKey())
	must(err)
	sealed, err := ring.Seal([]byte("secret-1"), []byte(keyID))
	must(err)
	must(w.Commit(ctx,
		iam.Put(iam.KindAccount, "", acct, &iam.Account{ID: acct}, store.Absent),
		iam.Put(iam.KindUser, acct, "kim", &iam.User{Name: "kim", Path: "/", ID: userID}, store.Absent),
		iam.Put(iam.KindAccessKey, "", keyID, &iam.AccessKey{ID: keyID, Account: acct, UserID: userID, Status: "Active", Secret: sealed}, store.Absent)))
	opener := &countingOpener{ring: ring}
	s := &Source{View: w.View, Keys: opener}

	lookup := func(wantName, wantSecret string) {
		t.Helper()
		cred, err := s.Lookup(ctx, keyID, "")
		must(err)
		c := cred.Principal.(*authz.Caller)
		if c.Name != wantName || c.ARN != "arn:aws:iam::"+acct+":user/"+wantName || c.AccessKeyID != keyID || string(cred.SecretAccessKey) != wantSecret {
			t.Fatalf("Lookup = %q %q %q %q, want %s and %s", c.Name, c.ARN, c.AccessKeyID, cred.SecretAccessKey, wantName, wantSecret)
		}
	}
	refused := func() {
		t.Helper()
		if _, err := s.Lookup(ctx, keyID, ""); !errors.Is(err, sigv4.ErrInvalidClientTokenID) {
			t.Fatalf("Lookup = %v, want InvalidClientTokenId", err)
		}
	}
	for range 3 {
		lookup("kim", "secret-1")
	}
	if opener.opens != 1 {
		t.Errorf("3 lookups opened the secret %d times, want once", opener.opens)
	}

	user := func(name string) {
		t.Helper()
		var old *iam.Entry[iam.User]
		w.View.Read(acct, func(a *iam.AccountView) { old, _ = a.UserByID(userID) })
		must(w.Commit(ctx,
			iam.Delete(iam.KindUser, acct, old.V.Name, old.Version),
			iam.Put(iam.KindUser, acct, name, &iam.User{Name: name, Path: "/", ID: userID}, store.Absent)))
	}
	key := func(status string, secret []byte) {
		t.Helper()
		e, _ := w.View.AccessKey(keyID)
		next := *e.V
		next.Status = status
		if secret != nil {
			next.Secret = secret
		}
		must(w.Commit(ctx, iam.Put(iam.KindAccessKey, "", keyID, &next, e.Version)))
	}

	user("kimberly")
	lookup("kimberly", "secret-1")
	key("Inactive", nil)
	refused()
	key("Active", nil)
	lookup("kimberly", "secret-1")
	resealed, err := ring.Seal([]byte("secret-2"), []byte(keyID))
	must(err)
	key("Active", resealed)
	lookup("kimberly", "secret-2")
	var last *iam.Entry[iam.User]
	w.View.Read(acct, func(a *iam.AccountView) { last, _ = a.UserByID(userID) })
	must(w.Commit(ctx, iam.Delete(iam.KindUser, acct, last.V.Name, last.Version)))
	refused()
}
