package stsapi

import (
	"context"
	"errors"

	"github.com/iamd/iamd/internal/authz"
)

// Service implements the STS API.
type Service struct {
	UnimplementedServer
}

// New returns an STS service.
func New() *Service { return &Service{} }

// GetCallerIdentity returns who signed the request. It needs no permission:
// AWS answers it even when an explicit deny covers sts:GetCallerIdentity.
func (s *Service) GetCallerIdentity(ctx context.Context, _ *GetCallerIdentityRequest) (*GetCallerIdentityResponse, error) {
	c := authz.CallerFrom(ctx)
	if c == nil {
		return nil, errors.New("stsapi: no caller in context")
	}
	return &GetCallerIdentityResponse{UserId: c.UserID, Account: c.Account, Arn: c.ARN}, nil
}
