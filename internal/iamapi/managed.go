package iamapi

import (
	"errors"
	"fmt"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/policy"
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
	if err := s.checkPartition(arn); err != nil {
		return err
	}
	if _, ok := s.resolvePolicy(a, account, arn); !ok {
		return noSuchEntity("Scope ARN: %s does not exist or is not attachable.", arn)
	}
	return nil
}

// checkPolicyDocument validates a policy document of the given kind as IAM
// does, answering MalformedPolicyDocument (or LimitExceeded for size)
// in IAM's words. limit is the size limit that applies where the document
// is stored (0: none checked here); sizeMessage is the LimitExceeded message
// when it is exceeded ("" for managed policies' "Cannot exceed quota for
// PolicySize: N").
func (s *Service) checkPolicyDocument(doc string, kind policy.Kind, limit int, requireVersion2012 bool, sizeMessage string) (*policy.Document, error) {
	parsed, err := policy.ParseWithOptions([]byte(doc), kind, policy.ParseOptions{RequireVersion2012: requireVersion2012, Partition: s.partition.String()})
	if err != nil {
		var ve *policy.ValidationError
		if errors.As(err, &ve) {
			return nil, malformedPolicy("%s", ve.Message)
		}
		return nil, malformedPolicy("Syntax errors in policy.")
	}
	if limit > 0 {
		if err := policy.CheckSize([]byte(doc), limit); err != nil {
			var se *policy.SizeError
			if errors.As(err, &se) {
				if sizeMessage == "" {
					sizeMessage = fmt.Sprintf("Cannot exceed quota for PolicySize: %d", limit)
				}
				return nil, limitExceeded("%s", sizeMessage)
			}
			return nil, err
		}
	}
	return parsed, nil
}
