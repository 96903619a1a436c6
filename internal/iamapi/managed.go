package iamapi

import (
	"github.com/iamd/iamd/internal/iam"
)

// managedPolicy is a managed policy as attachments see it: AWS-managed or
// customer-managed in the caller's account.
type managedPolicy struct {
	ARN      string
	Name     string
	Document string // default version
	AWS      bool
	Entry    *iam.Entry[iam.Policy] // customer-managed only
}

// resolvePolicy finds a managed policy by ARN.
func (s *Service) resolvePolicy(a *iam.AccountView, account, arn string) (managedPolicy, bool) {
	p, ok := iam.ParsePolicyARN(arn)
	if !ok {
		return managedPolicy{}, false
	}
	if p.Account == iam.AWSManagedAccount {
		if s.managed == nil {
			return managedPolicy{}, false
		}
		m, ok := s.managed().Get(arn)
		if !ok {
			return managedPolicy{}, false
		}
		return managedPolicy{ARN: arn, Name: m.Name, Document: m.Document, AWS: true}, true
	}
	if p.Account != account {
		return managedPolicy{}, false
	}
	e, ok := a.Policy(p.Name)
	if !ok || e.V.Path != p.Path {
		return managedPolicy{}, false
	}
	return managedPolicy{ARN: arn, Name: e.V.Name, Document: e.V.DefaultDocument(), Entry: e}, true
}

// checkBoundary verifies that a permissions boundary names an existing
// managed policy.
func (s *Service) checkBoundary(a *iam.AccountView, account, arn string) error {
	if _, ok := s.resolvePolicy(a, account, arn); !ok {
		return noSuchEntity("Scope ARN: %s does not exist or is not attachable.", arn)
	}
	return nil
}
