package iamapi

import (
	"context"
	"strings"

	"github.com/iamd/iamd/internal/iam"
)

// Policy types and entity types of ListPoliciesGrantingServiceAccess.
const (
	grantingInline  = "INLINE"
	grantingManaged = "MANAGED"
)

// grantingPolicy is one policy of an identity, with how it is attached.
type grantingPolicy struct {
	out  PolicyGrantingServiceAccess
	text string
}

// ListPoliciesGrantingServiceAccess lists, for each service namespace, the
// identity-based policies of a user (with its groups'), group or role that
// allow some action of the service. Like AWS it reads only the Allow
// statements' actions: conditions, resources, boundaries and denies are not
// weighed.
func (s *Service) ListPoliciesGrantingServiceAccess(ctx context.Context, in *ListPoliciesGrantingServiceAccessRequest) (*ListPoliciesGrantingServiceAccessResponse, error) {
	c, err := s.authorize(ctx, "iam:ListPoliciesGrantingServiceAccess", in.Arn)
	if err != nil {
		return nil, err
	}
	if in.Marker != "" {
		// Every answer fits in one page.
		return nil, invalidInput("Invalid Marker.")
	}
	acct, kind, ok := s.iamEntityARN(in.Arn)
	if !ok {
		return nil, invalidInput("Invalid ARN %s: specify the ARN of an IAM user, group or role.", in.Arn)
	}
	name := iam.EntityName(in.Arn)
	notFound := noSuchEntity("The %s with name %s cannot be found.", kind, name)
	if acct != c.Account {
		return nil, notFound
	}
	var (
		policies []grantingPolicy
		missing  bool
	)
	if err := s.read(c.Account, func(a *iam.AccountView) {
		add := func(entityType, entityName string, inline []iam.InlinePolicy, attached []string) {
			for _, p := range inline {
				policies = append(policies, grantingPolicy{
					out:  PolicyGrantingServiceAccess{PolicyName: p.Name, PolicyType: grantingInline, EntityType: entityType, EntityName: entityName},
					text: p.Document,
				})
			}
			for _, arn := range attached {
				if mp, ok := s.resolvePolicy(a, c.Account, arn); ok {
					policies = append(policies, grantingPolicy{
						out:  PolicyGrantingServiceAccess{PolicyName: mp.Name, PolicyType: grantingManaged, PolicyArn: arn},
						text: mp.Document,
					})
				}
			}
		}
		switch kind {
		case "user":
			e, ok := a.User(name)
			if !ok || s.partition.ARN(c.Account, "user", e.V.Path, e.V.Name) != in.Arn {
				missing = true
				return
			}
			add("USER", e.V.Name, e.V.Inline, e.V.Attached)
			for _, gid := range e.V.Groups {
				if g, ok := a.GroupByID(gid); ok {
					add("GROUP", g.V.Name, g.V.Inline, g.V.Attached)
				}
			}
		case "group":
			e, ok := a.Group(name)
			if !ok || s.partition.ARN(c.Account, "group", e.V.Path, e.V.Name) != in.Arn {
				missing = true
				return
			}
			add("GROUP", e.V.Name, e.V.Inline, e.V.Attached)
		case "role":
			e, ok := a.Role(name)
			if !ok || s.partition.ARN(c.Account, "role", e.V.Path, e.V.Name) != in.Arn {
				missing = true
				return
			}
			add("ROLE", e.V.Name, e.V.Inline, e.V.Attached)
		}
	}); err != nil {
		return nil, err
	}
	if missing {
		return nil, notFound
	}
	out := &ListPoliciesGrantingServiceAccessResponse{PoliciesGrantingServiceAccess: []ListPoliciesGrantingServiceAccessEntry{}}
	namespaces := make([]string, len(in.ServiceNamespaces))
	for i, ns := range in.ServiceNamespaces {
		namespaces[i] = strings.ToLower(ns)
	}
	granted := make([]map[string]bool, len(policies))
	for i, p := range policies {
		granted[i], _ = AllowedServices([]string{p.text}, namespaces)
	}
	for i, ns := range in.ServiceNamespaces {
		entry := ListPoliciesGrantingServiceAccessEntry{ServiceNamespace: ns, Policies: []PolicyGrantingServiceAccess{}}
		for j, p := range policies {
			if granted[j][namespaces[i]] {
				entry.Policies = append(entry.Policies, p.out)
			}
		}
		out.PoliciesGrantingServiceAccess = append(out.PoliciesGrantingServiceAccess, entry)
	}
	return out, nil
}
