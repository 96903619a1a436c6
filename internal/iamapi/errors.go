package iamapi

import (
	"fmt"

	"github.com/iamd/iamd/internal/awsquery"
)

// The IAM errors the operations return. Codes and HTTP statuses come from
// one place, the constructors generated from AWS's IAM model
// (zz_generated.go); these helpers only format the message. AccessDenied
// and ValidationError are common errors of every AWS API, not in the model.

// message formats an error message; a format without arguments is taken
// as is, so that a message holding a % needs no escaping.
func message(format string, args ...any) string {
	if len(args) == 0 {
		return format
	}
	return fmt.Sprintf(format, args...)
}

func noSuchEntity(format string, args ...any) error {
	return NoSuchEntityError(message(format, args...))
}

func entityAlreadyExists(format string, args ...any) error {
	return EntityAlreadyExistsError(message(format, args...))
}

func deleteConflict(format string, args ...any) error {
	return DeleteConflictError(message(format, args...))
}

func limitExceeded(format string, args ...any) error {
	return LimitExceededError(message(format, args...))
}

func invalidInput(format string, args ...any) error {
	return InvalidInputError(message(format, args...))
}

func malformedPolicy(format string, args ...any) error {
	return MalformedPolicyDocumentError(message(format, args...))
}

func unmodifiableEntity(format string, args ...any) error {
	return UnmodifiableEntityError(message(format, args...))
}

func policyNotAttachable(format string, args ...any) error {
	return PolicyNotAttachableError(message(format, args...))
}

func passwordPolicyViolation(format string, args ...any) error {
	return PasswordPolicyViolationError(message(format, args...))
}

func invalidAuthenticationCode(format string, args ...any) error {
	return InvalidAuthenticationCodeError(message(format, args...))
}

func concurrentModification(format string, args ...any) error {
	return ConcurrentModificationError(message(format, args...))
}

// errForeignPartition is IAM's answer to an ARN parameter of another
// partition (AttachRolePolicy with arn:aws:iam::aws:policy/X in aws-cn).
var errForeignPartition = awsquery.ValidationError("Invalid ARN partition")

// checkPartition refuses an ARN parameter of another partition.
func (s *Service) checkPartition(arn string) error {
	if s.partition.ForeignPartition(arn) {
		return errForeignPartition
	}
	return nil
}

func validationError(format string, args ...any) error {
	return awsquery.ValidationError(message(format, args...))
}

func accessDenied(format string, args ...any) error {
	return awsquery.AccessDenied(message(format, args...))
}
