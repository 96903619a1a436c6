package iamapi

import (
	"context"
	"slices"
	"strings"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/secrets"
	"github.com/iamd/iamd/internal/store"
)

// The group operations. A group's members are the users whose Groups hold
// the group's ID, so renaming a group keeps its members; adding a member
// writes the user and touches the group, so that a concurrent DeleteGroup
// conflicts instead of leaving a user in a deleted group.

func (s *Service) groupOut(account string, g *iam.Group) Group {
	return Group{
		Path:       g.Path,
		GroupName:  g.Name,
		GroupId:    g.ID,
		Arn:        s.partition.ARN(account, "group", g.Path, g.Name),
		CreateDate: g.Created,
	}
}

func noSuchGroup(name string) error {
	return noSuchEntity("The group with name %s cannot be found.", name)
}

// memberOut is a user as GetGroup lists it: without tags or boundary.
func (s *Service) memberOut(account string, u *iam.User) User {
	out := s.userOut(account, u)
	out.Tags, out.PermissionsBoundary = nil, nil
	return out
}

// pageByKey pages a list sorted by key: it starts at the first item whose
// key is not before the marker's and returns the key to resume at.
func pageByKey[T any](all []T, key func(T) string, marker string, max int) (page []T, next string, err error) {
	from, err := decodeMarker(marker)
	if err != nil {
		return nil, "", err
	}
	start, _ := slices.BinarySearchFunc(all, from, func(x T, k string) int { return strings.Compare(key(x), k) })
	end := min(start+max, len(all))
	if end < len(all) {
		next = encodeMarker(key(all[end]))
	}
	return all[start:end], next, nil
}

// CreateGroup creates a group.
func (s *Service) CreateGroup(ctx context.Context, in *CreateGroupRequest) (*CreateGroupResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	path := pathOrDefault(in.Path)
	if _, err := s.authorize(ctx, "iam:CreateGroup", s.partition.ARN(c.Account, "group", path, in.GroupName)); err != nil {
		return nil, err
	}
	g := &iam.Group{
		Name:    in.GroupName,
		Path:    path,
		ID:      secrets.NewUniqueID("AGPA"),
		Created: s.timestamp(),
	}
	err = retry(ctx, func() error {
		var verr error
		if err := s.read(c.Account, func(a *iam.AccountView) {
			if _, exists := a.Group(in.GroupName); exists {
				verr = entityAlreadyExists("Group with name %s already exists.", in.GroupName)
				return
			}
			if a.GroupCount() >= s.quotas.GroupsPerAccount {
				verr = limitExceeded("Cannot exceed quota for GroupsPerAccount: %d", s.quotas.GroupsPerAccount)
			}
		}); err != nil {
			return err
		}
		if verr != nil {
			return verr
		}
		return s.commit(ctx, iam.Put(iam.KindGroup, c.Account, iam.Key(g.Name), g, store.Absent))
	})
	if err != nil {
		return nil, err
	}
	return &CreateGroupResponse{Group: s.groupOut(c.Account, g)}, nil
}

// GetGroup returns a group and a page of its members, in name order.
func (s *Service) GetGroup(ctx context.Context, in *GetGroupRequest) (*GetGroupResponse, error) {
	c, _, err := s.lookupHolder(ctx, iam.KindGroup, "iam:GetGroup", in.GroupName, holderAuth{})
	if err != nil {
		return nil, err
	}
	var (
		out  *GetGroupResponse
		verr error
	)
	if err := s.read(c.Account, func(a *iam.AccountView) {
		g, ok := a.Group(in.GroupName)
		if !ok {
			verr = noSuchGroup(in.GroupName)
			return
		}
		members := a.Members(g.V.ID)
		page, next, err := pageByKey(members, func(u *iam.Entry[iam.User]) string { return iam.Key(u.V.Name) }, in.Marker, maxItems(in.MaxItems))
		if err != nil {
			verr = err
			return
		}
		out = &GetGroupResponse{Group: s.groupOut(c.Account, g.V), Users: make([]User, 0, len(page))}
		for _, u := range page {
			out.Users = append(out.Users, s.memberOut(c.Account, u.V))
		}
		out.IsTruncated, out.Marker = next != "", next
	}); err != nil {
		return nil, err
	}
	if verr != nil {
		return nil, verr
	}
	return out, nil
}

// UpdateGroup renames a group or changes its path. The caller needs
// iam:UpdateGroup on both the old and the new group ARN.
func (s *Service) UpdateGroup(ctx context.Context, in *UpdateGroupRequest) (*UpdateGroupResponse, error) {
	c, h, err := s.lookupHolder(ctx, iam.KindGroup, "iam:UpdateGroup", in.GroupName, holderAuth{})
	if err != nil {
		return nil, err
	}
	newName, newPath := h.name, h.path
	if in.NewGroupName != "" {
		newName = in.NewGroupName
	}
	if in.NewPath != "" {
		newPath = in.NewPath
	}
	if newName != h.name || newPath != h.path {
		if _, err := s.authorize(ctx, "iam:UpdateGroup", s.partition.ARN(c.Account, "group", newPath, newName)); err != nil {
			return nil, err
		}
	}
	err = renaming[iam.Group]{
		kind:     iam.KindGroup,
		get:      (*iam.AccountView).Group,
		notFound: noSuchGroup,
		taken:    func(name string) error { return entityAlreadyExists("Group with name %s already exists.", name) },
		nameOf:   func(g *iam.Group) string { return g.Name },
		renamed: func(g *iam.Group) *iam.Group {
			next := *g
			next.Name, next.Path = newName, newPath
			return &next
		},
	}.commit(ctx, s, c.Account, in.GroupName, newName)
	if err != nil {
		return nil, err
	}
	return &UpdateGroupResponse{}, nil
}

// DeleteGroup deletes a group that has no members and no policies.
func (s *Service) DeleteGroup(ctx context.Context, in *DeleteGroupRequest) (*DeleteGroupResponse, error) {
	c, _, err := s.lookupHolder(ctx, iam.KindGroup, "iam:DeleteGroup", in.GroupName, holderAuth{})
	if err != nil {
		return nil, err
	}
	err = retry(ctx, func() error {
		var (
			verr error
			cur  *iam.Entry[iam.Group]
		)
		if err := s.read(c.Account, func(a *iam.AccountView) {
			var ok bool
			if cur, ok = a.Group(in.GroupName); !ok {
				verr = noSuchGroup(in.GroupName)
				return
			}
			switch {
			case a.MemberCount(cur.V.ID) > 0:
				verr = deleteConflict("Cannot delete entity, must remove users from group first.")
			case len(cur.V.Inline) > 0:
				verr = deleteConflict("Cannot delete entity, must delete policies first.")
			case len(cur.V.Attached) > 0:
				verr = deleteConflict("Cannot delete entity, must detach all policies first.")
			}
		}); err != nil {
			return err
		}
		if verr != nil {
			return verr
		}
		return s.commit(ctx, iam.Delete(iam.KindGroup, c.Account, iam.Key(cur.V.Name), cur.Version))
	})
	if err != nil {
		return nil, err
	}
	return &DeleteGroupResponse{}, nil
}

// ListGroups lists groups in name order.
func (s *Service) ListGroups(ctx context.Context, in *ListGroupsRequest) (*ListGroupsResponse, error) {
	c, err := s.authorize(ctx, "iam:ListGroups", s.partition.ARN(callerAccount(ctx), "group", pathOrDefault(in.PathPrefix), ""))
	if err != nil {
		return nil, err
	}
	marker, err := decodeMarker(in.Marker)
	if err != nil {
		return nil, err
	}
	out := &ListGroupsResponse{Groups: []Group{}}
	if err := s.read(c.Account, func(a *iam.AccountView) {
		page, next := a.Groups(marker, maxItems(in.MaxItems), func(g *iam.Group) bool { return iam.PathPrefixMatch(g.Path, in.PathPrefix) })
		for _, e := range page {
			out.Groups = append(out.Groups, s.groupOut(c.Account, e.V))
		}
		if next != "" {
			out.IsTruncated, out.Marker = true, encodeMarker(next)
		}
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// checkNeitherExists answers a membership change when neither the group nor
// the user exists: AWS names the user (as its recorded answer to
// RemoveUserFromGroup shows), where a missing group alone names the group.
// The caller must still be allowed the action on the group, as for a
// missing group alone.
func (s *Service) checkNeitherExists(ctx context.Context, action, group, user string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	var groupExists, userExists bool
	if err := s.read(c.Account, func(a *iam.AccountView) {
		_, groupExists = a.Group(group)
		_, userExists = a.User(user)
	}); err != nil {
		return err
	}
	if groupExists || userExists {
		return nil
	}
	if _, err := s.authorize(ctx, action, s.partition.ARN(c.Account, "group", "/", group)); err != nil {
		return err
	}
	return noSuchUser(user)
}

// AddUserToGroup adds a user to a group; adding a member again succeeds
// without change, as in IAM.
func (s *Service) AddUserToGroup(ctx context.Context, in *AddUserToGroupRequest) (*AddUserToGroupResponse, error) {
	if err := s.checkNeitherExists(ctx, "iam:AddUserToGroup", in.GroupName, in.UserName); err != nil {
		return nil, err
	}
	c, _, err := s.lookupHolder(ctx, iam.KindGroup, "iam:AddUserToGroup", in.GroupName, holderAuth{})
	if err != nil {
		return nil, err
	}
	err = s.updateHolder(ctx, c.Account, iam.KindUser, in.UserName, func(a *iam.AccountView, h *policyHolder) ([]iam.Mutation, error) {
		g, ok := a.Group(in.GroupName)
		if !ok {
			return nil, noSuchGroup(in.GroupName)
		}
		if slices.Contains(h.user.Groups, g.V.ID) {
			return nil, errHolderUnchanged
		}
		if len(h.user.Groups) >= s.quotas.GroupsPerUser {
			return nil, limitExceeded("Cannot exceed quota for GroupsPerUser: %d", s.quotas.GroupsPerUser)
		}
		u := *h.user
		u.Groups = append(slices.Clip(u.Groups), g.V.ID)
		h.user = &u
		// A concurrent DeleteGroup must see the new member; other users
		// joining the group do not conflict with this one.
		return []iam.Mutation{iam.TouchExisting(iam.KindGroup, c.Account, iam.Key(g.V.Name))}, nil
	})
	if err != nil {
		return nil, err
	}
	return &AddUserToGroupResponse{}, nil
}

// RemoveUserFromGroup removes a user from a group. Removing a user that is
// not a member succeeds without change, as IAM answers it.
func (s *Service) RemoveUserFromGroup(ctx context.Context, in *RemoveUserFromGroupRequest) (*RemoveUserFromGroupResponse, error) {
	if err := s.checkNeitherExists(ctx, "iam:RemoveUserFromGroup", in.GroupName, in.UserName); err != nil {
		return nil, err
	}
	c, _, err := s.lookupHolder(ctx, iam.KindGroup, "iam:RemoveUserFromGroup", in.GroupName, holderAuth{})
	if err != nil {
		return nil, err
	}
	err = s.updateHolder(ctx, c.Account, iam.KindUser, in.UserName, func(a *iam.AccountView, h *policyHolder) ([]iam.Mutation, error) {
		g, ok := a.Group(in.GroupName)
		if !ok {
			return nil, noSuchGroup(in.GroupName)
		}
		i := slices.Index(h.user.Groups, g.V.ID)
		if i < 0 {
			return nil, errHolderUnchanged
		}
		u := *h.user
		u.Groups = slices.Delete(slices.Clone(u.Groups), i, i+1)
		if len(u.Groups) == 0 {
			u.Groups = nil
		}
		h.user = &u
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	return &RemoveUserFromGroupResponse{}, nil
}

// ListGroupsForUser lists the groups a user belongs to, in name order.
func (s *Service) ListGroupsForUser(ctx context.Context, in *ListGroupsForUserRequest) (*ListGroupsForUserResponse, error) {
	c, _, err := s.lookupHolder(ctx, iam.KindUser, "iam:ListGroupsForUser", in.UserName, holderAuth{})
	if err != nil {
		return nil, err
	}
	var (
		out  *ListGroupsForUserResponse
		verr error
	)
	if err := s.read(c.Account, func(a *iam.AccountView) {
		u, ok := a.User(in.UserName)
		if !ok {
			verr = noSuchUser(in.UserName)
			return
		}
		groups := make([]*iam.Group, 0, len(u.V.Groups))
		for _, id := range u.V.Groups {
			if g, ok := a.GroupByID(id); ok {
				groups = append(groups, g.V)
			}
		}
		slices.SortFunc(groups, func(x, y *iam.Group) int { return strings.Compare(iam.Key(x.Name), iam.Key(y.Name)) })
		page, next, err := pageByKey(groups, func(g *iam.Group) string { return iam.Key(g.Name) }, in.Marker, maxItems(in.MaxItems))
		if err != nil {
			verr = err
			return
		}
		out = &ListGroupsForUserResponse{Groups: make([]Group, 0, len(page)), IsTruncated: next != "", Marker: next}
		for _, g := range page {
			out.Groups = append(out.Groups, s.groupOut(c.Account, g))
		}
	}); err != nil {
		return nil, err
	}
	if verr != nil {
		return nil, verr
	}
	return out, nil
}
