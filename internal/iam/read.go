package iam

import (
	"slices"
	"strings"
)

// Read calls fn with the state of account id under the view's read lock, so
// that everything fn reads is consistent. fn must not block or write to the
// view. ok is false if the account does not exist.
func (v *View) Read(id string, fn func(a *AccountView)) (ok bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	a, found := v.accounts[id]
	if !found || a.Account == nil {
		return false
	}
	fn(a)
	return true
}

// Account returns the account record.
func (v *View) Account(id string) (*Entry[Account], bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	a, ok := v.accounts[id]
	if !ok || a.Account == nil {
		return nil, false
	}
	return a.Account, true
}

// Accounts returns the IDs of every account, oldest first.
func (v *View) Accounts() []string {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make([]string, 0, len(v.order))
	for _, id := range v.order {
		if a, ok := v.accounts[id]; ok && a.Account != nil {
			out = append(out, id)
		}
	}
	return out
}

// AliasAccount returns the account that owns an alias.
func (v *View) AliasAccount(alias string) (string, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	id, ok := v.aliases[alias]
	return id, ok
}

// AccessKey returns an access key by ID.
func (v *View) AccessKey(id string) (*Entry[AccessKey], bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	k, ok := v.keys[id]
	return k, ok
}

// KeyUsage returns when an access key was last used.
func (v *View) KeyUsage(id string) (*KeyUsage, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	u, ok := v.usage[id]
	if !ok {
		return nil, false
	}
	return u.V, true
}

// AccessKeys returns the keys of a user (userID "" for the root user), oldest
// first.
func (v *View) AccessKeys(account, userID string) []*Entry[AccessKey] {
	v.mu.RLock()
	defer v.mu.RUnlock()
	a, ok := v.accounts[account]
	if !ok {
		return nil
	}
	var out []*Entry[AccessKey]
	for _, id := range a.keysByUser[userID] {
		if k, ok := v.keys[id]; ok {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(x, y *Entry[AccessKey]) int { return x.V.Created.Compare(y.V.Created) })
	return out
}

// PolicyGen changes whenever something that any principal's compiled
// policies depend on, other than the principal's own record, changes.
func (a *AccountView) PolicyGen() uint64 { return a.policyGen }

// User returns a user by name (case-insensitive).
func (a *AccountView) User(name string) (*Entry[User], bool) { return a.users.get(Key(name)) }

// UserByID returns a user by unique ID.
func (a *AccountView) UserByID(id string) (*Entry[User], bool) {
	e, ok := a.usersByID[id]
	return e, ok
}

// Group returns a group by name.
func (a *AccountView) Group(name string) (*Entry[Group], bool) { return a.groups.get(Key(name)) }

// GroupByID returns a group by unique ID.
func (a *AccountView) GroupByID(id string) (*Entry[Group], bool) {
	e, ok := a.groupsByID[id]
	return e, ok
}

// Role returns a role by name.
func (a *AccountView) Role(name string) (*Entry[Role], bool) { return a.roles.get(Key(name)) }

// RoleByID returns a role by unique ID.
func (a *AccountView) RoleByID(id string) (*Entry[Role], bool) {
	e, ok := a.rolesByID[id]
	return e, ok
}

// InstanceProfile returns an instance profile by name.
func (a *AccountView) InstanceProfile(name string) (*Entry[InstanceProfile], bool) {
	return a.profiles.get(Key(name))
}

// Policy returns a customer-managed policy by name.
func (a *AccountView) Policy(name string) (*Entry[Policy], bool) { return a.policies.get(Key(name)) }

// OIDCProvider returns an OpenID Connect provider by URL host and path.
func (a *AccountView) OIDCProvider(url string) (*Entry[OIDCProvider], bool) {
	return a.oidc.get(Key(url))
}

// SAMLProvider returns a SAML provider by name.
func (a *AccountView) SAMLProvider(name string) (*Entry[SAMLProvider], bool) {
	return a.saml.get(Key(name))
}

// Workload returns a registered workload by name.
func (a *AccountView) Workload(name string) (*Entry[Workload], bool) {
	return a.workload.get(Key(name))
}

// RoleUsage returns when a role was last used.
func (a *AccountView) RoleUsage(roleID string) (*RoleUsage, bool) {
	e, ok := a.roleUse[roleID]
	if !ok {
		return nil, false
	}
	return e.V, true
}

// Members returns a group's members sorted by name.
func (a *AccountView) Members(groupID string) []*Entry[User] {
	out := make([]*Entry[User], 0, len(a.members[groupID]))
	for id := range a.members[groupID] {
		if u, ok := a.usersByID[id]; ok {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(x, y *Entry[User]) int { return strings.Compare(Key(x.V.Name), Key(y.V.Name)) })
	return out
}

// MemberCount returns how many users are in a group.
func (a *AccountView) MemberCount(groupID string) int { return len(a.members[groupID]) }

// AttachmentCount returns how many users, groups and roles have a managed
// policy attached.
func (a *AccountView) AttachmentCount(arn string) int { return a.attachments[arn] }

// BoundaryCount returns how many users and roles use a policy as their
// permissions boundary.
func (a *AccountView) BoundaryCount(arn string) int { return a.boundaryUses[arn] }

// InstanceProfilesOf returns the names (keys) of the instance profiles that
// contain a role.
func (a *AccountView) InstanceProfilesOf(roleID string) []string {
	out := make([]string, 0, len(a.profilesOf[roleID]))
	for k := range a.profilesOf[roleID] {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Counts of entities, for GetAccountSummary and limits.
func (a *AccountView) UserCount() int            { return a.users.len() }
func (a *AccountView) GroupCount() int           { return a.groups.len() }
func (a *AccountView) RoleCount() int            { return a.roles.len() }
func (a *AccountView) PolicyCount() int          { return a.policies.len() }
func (a *AccountView) InstanceProfileCount() int { return a.profiles.len() }
func (a *AccountView) MFADeviceCount() int       { return a.mfa.len() }
func (a *AccountView) OIDCProviderCount() int    { return a.oidc.len() }
func (a *AccountView) SAMLProviderCount() int    { return a.saml.len() }

// Users lists users in name order from marker, keeping those match accepts.
func (a *AccountView) Users(marker string, max int, match func(*User) bool) ([]*Entry[User], string) {
	return a.users.page(marker, max, match)
}

// Groups lists groups in name order.
func (a *AccountView) Groups(marker string, max int, match func(*Group) bool) ([]*Entry[Group], string) {
	return a.groups.page(marker, max, match)
}

// Roles lists roles in name order.
func (a *AccountView) Roles(marker string, max int, match func(*Role) bool) ([]*Entry[Role], string) {
	return a.roles.page(marker, max, match)
}

// InstanceProfiles lists instance profiles in name order.
func (a *AccountView) InstanceProfiles(marker string, max int, match func(*InstanceProfile) bool) ([]*Entry[InstanceProfile], string) {
	return a.profiles.page(marker, max, match)
}

// Policies lists customer-managed policies in name order.
func (a *AccountView) Policies(marker string, max int, match func(*Policy) bool) ([]*Entry[Policy], string) {
	return a.policies.page(marker, max, match)
}

// MFADevices lists MFA devices in key order (MFADeviceKey: serial number
// order, case-insensitively).
func (a *AccountView) MFADevices(marker string, max int, match func(*MFADevice) bool) ([]*Entry[MFADevice], string) {
	return a.mfa.page(marker, max, match)
}

// OIDCProviders lists every OpenID Connect provider.
func (a *AccountView) OIDCProviders() []*Entry[OIDCProvider] { return a.oidc.all() }

// SAMLProviders lists every SAML provider.
func (a *AccountView) SAMLProviders() []*Entry[SAMLProvider] { return a.saml.all() }

// Workloads lists every registered workload.
func (a *AccountView) Workloads() []*Entry[Workload] { return a.workload.all() }

// HasMFADeviceFor reports whether any MFA device is enabled for a user
// (userID "root" for the root user).
func (a *AccountView) HasMFADeviceFor(userID string) bool {
	for _, e := range a.mfa.all() {
		if e.V.UserID == userID {
			return true
		}
	}
	return false
}

// MFADevicesFor returns the MFA devices enabled for a user.
func (a *AccountView) MFADevicesFor(userID string) []*Entry[MFADevice] {
	var out []*Entry[MFADevice]
	for _, e := range a.mfa.all() {
		if e.V.UserID == userID {
			out = append(out, e)
		}
	}
	return out
}

// AccessKeyCount returns how many access keys a user (userID "" for the
// root user) has.
func (a *AccountView) AccessKeyCount(userID string) int { return len(a.keysByUser[userID]) }
