package iam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/iamd/iamd/internal/store"
)

// View is the in-memory projection of the stored IAM records. It is safe for
// concurrent use; values it returns must be treated as read-only.
type View struct {
	mu  sync.RWMutex
	rev int64
	// changed is closed (and replaced) whenever records are applied, so
	// that a writer that lost a race can wait for the winner's batch.
	changed  chan struct{}
	accounts map[string]*AccountView
	keys     map[string]*Entry[AccessKey]
	usage    map[string]*Entry[KeyUsage]
	aliases  map[string]string // alias → account ID
	order    []string          // account IDs in creation order
	bulk     bool              // a bulk load is under way (see setBulk)
	// tombs holds the revision at which recently deleted records were
	// deleted: a follower's batch read before the deletion and applied
	// after it must not bring the record back. Pruned once the follower
	// has read past them (PruneTombs).
	tombs map[recordID]int64
	// passes tracks the change follower (Sync).
	passes *passes
}

type recordID struct{ kind, account, key string }

// AccountView is the state of one account. Its fields are guarded by the
// View's lock.
type AccountView struct {
	Account *Entry[Account]

	users    table[User]
	groups   table[Group]
	roles    table[Role]
	profiles table[InstanceProfile]
	policies table[Policy]
	mfa      table[MFADevice]
	oidc     table[OIDCProvider]
	saml     table[SAMLProvider]
	roleUse  map[string]*Entry[RoleUsage]
	workload table[Workload]
	access   map[string]*Entry[AccessRecord] // entity ID → last accessed (access.go)
	sshKeys  ownedTable[SSHPublicKey, *SSHPublicKey]
	certs    ownedTable[SigningCertificate, *SigningCertificate]
	svcCreds ownedTable[ServiceCredential, *ServiceCredential]
	srvCerts table[ServerCertificate]

	usersByID    map[string]*Entry[User]
	groupsByID   map[string]*Entry[Group]
	rolesByID    map[string]*Entry[Role]
	members      map[string]map[string]struct{} // group ID → user IDs
	keysByUser   map[string][]string            // user ID ("" for root) → key IDs
	attachments  map[string]int                 // policy ARN → attachment count
	boundaryUses map[string]int                 // policy ARN → boundary uses
	profilesOf   map[string]map[string]struct{} // role ID → instance profile keys

	// policyGen changes whenever a group, a managed policy or a role changes,
	// so that caches of compiled principal policies know to rebuild.
	policyGen uint64
}

func newAccountView() *AccountView {
	return &AccountView{
		users:        newTable[User](),
		groups:       newTable[Group](),
		roles:        newTable[Role](),
		profiles:     newTable[InstanceProfile](),
		policies:     newTable[Policy](),
		mfa:          newTable[MFADevice](),
		oidc:         newTable[OIDCProvider](),
		saml:         newTable[SAMLProvider](),
		workload:     newTable[Workload](),
		sshKeys:      newOwnedTable[SSHPublicKey](),
		certs:        newOwnedTable[SigningCertificate](),
		svcCreds:     newOwnedTable[ServiceCredential](),
		srvCerts:     newTable[ServerCertificate](),
		roleUse:      make(map[string]*Entry[RoleUsage]),
		usersByID:    make(map[string]*Entry[User]),
		groupsByID:   make(map[string]*Entry[Group]),
		rolesByID:    make(map[string]*Entry[Role]),
		members:      make(map[string]map[string]struct{}),
		keysByUser:   make(map[string][]string),
		attachments:  make(map[string]int),
		boundaryUses: make(map[string]int),
		profilesOf:   make(map[string]map[string]struct{}),
	}
}

// NewView returns an empty View.
func NewView() *View {
	return &View{
		accounts: make(map[string]*AccountView),
		keys:     make(map[string]*Entry[AccessKey]),
		usage:    make(map[string]*Entry[KeyUsage]),
		aliases:  make(map[string]string),
		changed:  make(chan struct{}),
		tombs:    make(map[recordID]int64),
		passes:   newPasses(),
	}
}

// PruneTombs forgets deletions at or before revision rev: every later read
// of the store's changes includes them.
func (v *View) PruneTombs(rev int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for id, at := range v.tombs {
		if at <= rev {
			delete(v.tombs, id)
		}
	}
}

// LoadFrom builds the view from every record of st and returns the revision
// it reflects.
func (v *View) LoadFrom(ctx context.Context, st store.Store) (int64, error) {
	// Records are decoded as they arrive (the store may reuse its buffers
	// after the callback) and applied in large batches under one lock.
	const batchSize = 4096
	recs := make([]store.Record, 0, batchSize)
	values := make([]any, 0, batchSize)
	flush := func() {
		v.mu.Lock()
		for i, r := range recs {
			v.apply(r, values[i])
		}
		v.notifyLocked()
		v.mu.Unlock()
		recs, values = recs[:0], values[:0]
	}
	v.setBulk(true)
	defer v.setBulk(false)
	rev, err := st.Load(ctx, func(r store.Record) error {
		value, err := decode(r.Kind, r.Data)
		if err != nil {
			return fmt.Errorf("decode %s/%s/%s: %w", r.Kind, r.Account, r.Key, err)
		}
		r.Data = nil
		recs, values = append(recs, r), append(values, value)
		if len(recs) == batchSize {
			flush()
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	flush()
	v.mu.Lock()
	v.rev = max(v.rev, rev)
	v.mu.Unlock()
	return rev, nil
}

// setBulk starts or ends a bulk load of every account's tables (see
// table.bulk). Listings are wrong while a bulk load is under way, so only a
// view nobody reads yet loads in bulk.
func (v *View) setBulk(on bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.bulk = on
	for _, a := range v.accounts {
		a.setBulk(on)
	}
}

func (a *AccountView) setBulk(on bool) {
	a.users.setBulk(on)
	a.groups.setBulk(on)
	a.roles.setBulk(on)
	a.profiles.setBulk(on)
	a.policies.setBulk(on)
	a.mfa.setBulk(on)
	a.oidc.setBulk(on)
	a.saml.setBulk(on)
	a.workload.setBulk(on)
	a.srvCerts.setBulk(on)
}

// Rev returns the highest revision applied.
func (v *View) Rev() int64 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.rev
}

// Apply applies one stored record (or deletion) to the view. Records older
// than what the view already holds for the same key are ignored, so applying
// a record twice, or out of order with a newer one, is harmless.
func (v *View) Apply(r store.Record) error {
	return v.ApplyBatch([]store.Record{r})
}

// ApplyBatch applies records atomically: a reader sees all or none of them,
// so a commit's records (which Changes never splits) appear together.
// Records that do not decode are skipped and reported.
func (v *View) ApplyBatch(recs []store.Record) error {
	values := make([]any, len(recs))
	var errs []error
	for i, r := range recs {
		if r.Deleted {
			continue
		}
		value, err := decode(r.Kind, r.Data)
		if err != nil {
			errs = append(errs, fmt.Errorf("decode %s/%s/%s: %w", r.Kind, r.Account, r.Key, err))
			recs[i].Kind = "" // skip
			continue
		}
		values[i] = value
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for i, r := range recs {
		if r.Kind != "" {
			v.apply(r, values[i])
		}
	}
	v.notifyLocked()
	return errors.Join(errs...)
}

// notifyLocked wakes writers waiting for the view to change.
func (v *View) notifyLocked() {
	close(v.changed)
	v.changed = make(chan struct{})
}

// entryRev returns the revision the view holds for a record, and whether
// the view has it. The lock must be held.
func (v *View) entryRev(kind, account, key string) (int64, bool) {
	if kind == KindAccessKey {
		if e, ok := v.keys[key]; ok {
			return e.Rev, true
		}
		return 0, false
	}
	if kind == KindAccount {
		if a, ok := v.accounts[key]; ok && a.Account != nil {
			return a.Account.Rev, true
		}
		return 0, false
	}
	a, ok := v.accounts[account]
	if !ok {
		return 0, false
	}
	switch kind {
	case KindUser:
		return tableRev(&a.users, key)
	case KindGroup:
		return tableRev(&a.groups, key)
	case KindRole:
		return tableRev(&a.roles, key)
	case KindInstanceProfile:
		return tableRev(&a.profiles, key)
	case KindPolicy:
		return tableRev(&a.policies, key)
	case KindMFADevice:
		return tableRev(&a.mfa, key)
	case KindOIDCProvider:
		return tableRev(&a.oidc, key)
	case KindSAMLProvider:
		return tableRev(&a.saml, key)
	case KindWorkload:
		return tableRev(&a.workload, key)
	case KindSSHPublicKey:
		return a.sshKeys.rev(key)
	case KindSigningCert:
		return a.certs.rev(key)
	case KindServiceCred:
		return a.svcCreds.rev(key)
	case KindServerCert:
		return tableRev(&a.srvCerts, key)
	}
	return 0, false
}

func tableRev[T any](t *table[T], key string) (int64, bool) {
	if e, ok := t.get(key); ok {
		return e.Rev, true
	}
	return 0, false
}

func decode(kind string, data []byte) (any, error) {
	var v any
	switch kind {
	case KindAccount:
		v = new(Account)
	case KindAlias:
		v = new(string)
	case KindUser:
		v = new(User)
	case KindGroup:
		v = new(Group)
	case KindRole:
		v = new(Role)
	case KindInstanceProfile:
		v = new(InstanceProfile)
	case KindPolicy:
		v = new(Policy)
	case KindAccessKey:
		v = new(AccessKey)
	case KindKeyUsage:
		v = new(KeyUsage)
	case KindMFADevice:
		v = new(MFADevice)
	case KindOIDCProvider:
		v = new(OIDCProvider)
	case KindSAMLProvider:
		v = new(SAMLProvider)
	case KindRoleUsage:
		v = new(RoleUsage)
	case KindWorkload:
		v = new(Workload)
	case KindAccess:
		v = new(AccessRecord)
	case KindSSHPublicKey:
		v = new(SSHPublicKey)
	case KindSigningCert:
		v = new(SigningCertificate)
	case KindServiceCred:
		v = new(ServiceCredential)
	case KindServerCert:
		v = new(ServerCertificate)
	default:
		return nil, nil // unknown kinds (from a newer version) are skipped
	}
	if err := json.Unmarshal(data, v); err != nil {
		return nil, err
	}
	return v, nil
}

func (v *View) account(id string) *AccountView {
	a, ok := v.accounts[id]
	if !ok {
		a = newAccountView()
		a.setBulk(v.bulk)
		v.accounts[id] = a
	}
	return a
}

// apply is Apply with the lock held and the data decoded. value is nil for a
// deletion or an unknown kind.
func (v *View) apply(r store.Record, value any) {
	if r.Rev > v.rev {
		v.rev = r.Rev
	}
	if !r.Deleted && value == nil {
		return
	}
	if id := (recordID{r.Kind, r.Account, r.Key}); r.Deleted {
		if !v.bulk {
			v.tombs[id] = max(v.tombs[id], r.Rev)
		}
	} else if at, ok := v.tombs[id]; ok {
		if at >= r.Rev {
			return // read before its deletion
		}
		delete(v.tombs, id)
	}
	switch r.Kind {
	case KindAccount:
		a := v.account(r.Key)
		if a.Account != nil && a.Account.Rev >= r.Rev {
			return
		}
		if r.Deleted {
			delete(v.accounts, r.Key)
			return
		}
		if a.Account == nil {
			v.order = append(v.order, r.Key)
		}
		a.Account = &Entry[Account]{V: value.(*Account), Version: r.Version, Rev: r.Rev}
	case KindAlias:
		if r.Deleted {
			delete(v.aliases, r.Key)
		} else {
			v.aliases[r.Key] = *value.(*string)
		}
	case KindAccessKey:
		old := v.keys[r.Key]
		if old != nil && old.Rev >= r.Rev {
			return
		}
		if old != nil {
			a := v.account(old.V.Account)
			a.keysByUser[old.V.UserID] = remove(a.keysByUser[old.V.UserID], r.Key)
			delete(v.keys, r.Key)
		}
		if r.Deleted {
			return
		}
		k := value.(*AccessKey)
		v.keys[r.Key] = &Entry[AccessKey]{V: k, Version: r.Version, Rev: r.Rev}
		a := v.account(k.Account)
		a.keysByUser[k.UserID] = append(a.keysByUser[k.UserID], r.Key)
	case KindKeyUsage:
		if r.Deleted {
			delete(v.usage, r.Key)
		} else if old := v.usage[r.Key]; old == nil || old.Rev < r.Rev {
			v.usage[r.Key] = &Entry[KeyUsage]{V: value.(*KeyUsage), Version: r.Version, Rev: r.Rev}
		}
	default:
		a := v.account(r.Account)
		a.apply(r, value)
	}
}

func (a *AccountView) apply(r store.Record, value any) {
	switch r.Kind {
	case KindUser:
		old, _ := a.users.get(r.Key)
		if old != nil && old.Rev >= r.Rev {
			return
		}
		if old != nil {
			a.unindexUser(old.V)
			delete(a.usersByID, old.V.ID)
			a.users.del(r.Key)
		}
		if r.Deleted {
			return
		}
		e := &Entry[User]{V: value.(*User), Version: r.Version, Rev: r.Rev}
		a.users.put(r.Key, e)
		a.usersByID[e.V.ID] = e
		a.indexUser(e.V)
	case KindGroup:
		a.policyGen++
		old, _ := a.groups.get(r.Key)
		if old != nil && old.Rev >= r.Rev {
			return
		}
		if old != nil {
			a.countAttachments(old.V.Attached, "", -1)
			delete(a.groupsByID, old.V.ID)
			a.groups.del(r.Key)
		}
		if r.Deleted {
			return
		}
		e := &Entry[Group]{V: value.(*Group), Version: r.Version, Rev: r.Rev}
		a.groups.put(r.Key, e)
		a.groupsByID[e.V.ID] = e
		a.countAttachments(e.V.Attached, "", 1)
	case KindRole:
		a.policyGen++
		old, _ := a.roles.get(r.Key)
		if old != nil && old.Rev >= r.Rev {
			return
		}
		if old != nil {
			a.countAttachments(old.V.Attached, old.V.Boundary, -1)
			delete(a.rolesByID, old.V.ID)
			a.roles.del(r.Key)
		}
		if r.Deleted {
			return
		}
		e := &Entry[Role]{V: value.(*Role), Version: r.Version, Rev: r.Rev}
		a.roles.put(r.Key, e)
		a.rolesByID[e.V.ID] = e
		a.countAttachments(e.V.Attached, e.V.Boundary, 1)
	case KindInstanceProfile:
		old, _ := a.profiles.get(r.Key)
		if old != nil && old.Rev >= r.Rev {
			return
		}
		if old != nil {
			for _, id := range old.V.Roles {
				delete(a.profilesOf[id], r.Key)
			}
			a.profiles.del(r.Key)
		}
		if r.Deleted {
			return
		}
		e := &Entry[InstanceProfile]{V: value.(*InstanceProfile), Version: r.Version, Rev: r.Rev}
		a.profiles.put(r.Key, e)
		for _, id := range e.V.Roles {
			if a.profilesOf[id] == nil {
				a.profilesOf[id] = make(map[string]struct{})
			}
			a.profilesOf[id][r.Key] = struct{}{}
		}
	case KindPolicy:
		a.policyGen++
		applyTable(&a.policies, r, value)
	case KindMFADevice:
		applyTable(&a.mfa, r, value)
	case KindOIDCProvider:
		applyTable(&a.oidc, r, value)
	case KindSAMLProvider:
		applyTable(&a.saml, r, value)
	case KindWorkload:
		applyTable(&a.workload, r, value)
	case KindRoleUsage:
		if r.Deleted {
			delete(a.roleUse, r.Key)
		} else if old := a.roleUse[r.Key]; old == nil || old.Rev < r.Rev {
			a.roleUse[r.Key] = &Entry[RoleUsage]{V: value.(*RoleUsage), Version: r.Version, Rev: r.Rev}
		}
	case KindAccess:
		a.applyAccess(r, value)
	case KindSSHPublicKey:
		a.sshKeys.apply(r, value)
	case KindSigningCert:
		a.certs.apply(r, value)
	case KindServiceCred:
		a.svcCreds.apply(r, value)
	case KindServerCert:
		applyTable(&a.srvCerts, r, value)
	}
}

func applyTable[T any](t *table[T], r store.Record, value any) {
	if old, ok := t.get(r.Key); ok && old.Rev >= r.Rev {
		return
	}
	if r.Deleted {
		t.del(r.Key)
		return
	}
	t.put(r.Key, &Entry[T]{V: value.(*T), Version: r.Version, Rev: r.Rev})
}

func (a *AccountView) indexUser(u *User) {
	for _, g := range u.Groups {
		m := a.members[g]
		if m == nil {
			m = make(map[string]struct{})
			a.members[g] = m
		}
		m[u.ID] = struct{}{}
	}
	a.countAttachments(u.Attached, u.Boundary, 1)
}

func (a *AccountView) unindexUser(u *User) {
	for _, g := range u.Groups {
		delete(a.members[g], u.ID)
		if len(a.members[g]) == 0 {
			delete(a.members, g)
		}
	}
	a.countAttachments(u.Attached, u.Boundary, -1)
}

func (a *AccountView) countAttachments(arns []string, boundary string, d int) {
	for _, arn := range arns {
		a.attachments[arn] += d
		if a.attachments[arn] <= 0 {
			delete(a.attachments, arn)
		}
	}
	if boundary != "" {
		a.boundaryUses[boundary] += d
		if a.boundaryUses[boundary] <= 0 {
			delete(a.boundaryUses, boundary)
		}
	}
}

func remove(s []string, x string) []string {
	for i, y := range s {
		if y == x {
			return append(s[:i:i], s[i+1:]...)
		}
	}
	return s
}
