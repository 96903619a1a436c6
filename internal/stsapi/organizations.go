package stsapi

import (
	"context"
	"slices"
	"strings"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/policy"
)

// rootTaskPolicies are the AWS-managed policies AssumeRoot sessions are
// scoped to.
var rootTaskPolicies = []string{
	"IAMAuditRootUserCredentials",
	"IAMCreateRootUserPassword",
	"IAMDeleteRootUserCredentials",
	"S3UnlockBucketPolicy",
	"SQSUnlockQueuePolicy",
}

// AssumeRoot would return credentials for privileged tasks on a member
// account of the caller's organization. iamd's accounts are in no
// organization, so after checking the input and the caller's permission
// it answers as AWS does when centralized root access is not enabled.
func (s *Service) AssumeRoot(ctx context.Context, in *AssumeRootRequest) (*AssumeRootResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if c.Type == authz.Root {
		return nil, accessDenied("Cannot call AssumeRoot with root user credentials")
	}
	if !policy.ValidAccountID(in.TargetPrincipal) {
		return nil, validationError("TargetPrincipal %s must be the ID of a member account of your organization.", in.TargetPrincipal)
	}
	// The task policies are AWS-managed policies of iamd's partition.
	task, ok := strings.CutPrefix(in.TaskPolicyArn.Arn, s.partition.AWSPolicyARN("/root-task/", ""))
	if !ok || !slices.Contains(rootTaskPolicies, task) {
		return nil, validationError("TaskPolicyArn %s must be one of the root task policies: %s%s.", in.TaskPolicyArn.Arn, s.partition.AWSPolicyARN("/root-task/", ""), strings.Join(rootTaskPolicies, ", .../"))
	}
	if in.DurationSeconds != nil && (*in.DurationSeconds < 0 || *in.DurationSeconds > 900) {
		return nil, validationError("The requested DurationSeconds exceeds the 900 seconds AssumeRoot allows.")
	}
	target := s.partition.RootARN(in.TargetPrincipal)
	if err := s.authorize(ctx, c, "sts:AssumeRoot", target, authz.KV{Key: "sts:TaskPolicyArn", Values: []string{in.TaskPolicyArn.Arn}}); err != nil {
		return nil, err
	}
	return nil, accessDenied("User: %s is not authorized to perform: sts:AssumeRoot on resource: %s because centralized root access is not enabled: account %s is not in an organization", c.ARN, target, c.Account)
}

// GetDelegatedAccessToken exchanges a trade-in token from an accepted
// delegation request for credentials. iamd issues no such tokens (no
// account is onboarded to temporary access delegation), so none is valid.
func (s *Service) GetDelegatedAccessToken(ctx context.Context, _ *GetDelegatedAccessTokenRequest) (*GetDelegatedAccessTokenResponse, error) {
	if _, err := caller(ctx); err != nil {
		return nil, err
	}
	return nil, ExpiredTradeInTokenError("The trade-in token provided in the request has expired or is not valid. Request a new token and retry the operation.")
}
