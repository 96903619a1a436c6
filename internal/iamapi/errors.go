package iamapi

import (
	"fmt"
	"net/http"

	"github.com/iamd/iamd/internal/awsquery"
)

// The IAM errors the operations return, with the codes and HTTP statuses of
// AWS's IAM model.

func apiError(code string, status int, format string, args ...any) error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &awsquery.Error{Code: code, Message: msg, HTTPStatus: status, Sender: status < 500}
}

func noSuchEntity(format string, args ...any) error {
	return apiError("NoSuchEntity", http.StatusNotFound, format, args...)
}

func entityAlreadyExists(format string, args ...any) error {
	return apiError("EntityAlreadyExists", http.StatusConflict, format, args...)
}

func deleteConflict(format string, args ...any) error {
	return apiError("DeleteConflict", http.StatusConflict, format, args...)
}

func limitExceeded(format string, args ...any) error {
	return apiError("LimitExceeded", http.StatusConflict, format, args...)
}

func invalidInput(format string, args ...any) error {
	return apiError("InvalidInput", http.StatusBadRequest, format, args...)
}

func malformedPolicy(format string, args ...any) error {
	return apiError("MalformedPolicyDocument", http.StatusBadRequest, format, args...)
}

func unmodifiableEntity(format string, args ...any) error {
	return apiError("UnmodifiableEntity", http.StatusBadRequest, format, args...)
}

func policyNotAttachable(format string, args ...any) error {
	return apiError("PolicyNotAttachable", http.StatusBadRequest, format, args...)
}

func passwordPolicyViolation(format string, args ...any) error {
	return apiError("PasswordPolicyViolation", http.StatusBadRequest, format, args...)
}

func invalidAuthenticationCode(format string, args ...any) error {
	return apiError("InvalidAuthenticationCode", http.StatusForbidden, format, args...)
}

func concurrentModification(format string, args ...any) error {
	return apiError("ConcurrentModification", http.StatusConflict, format, args...)
}

func validationError(format string, args ...any) error {
	return apiError("ValidationError", http.StatusBadRequest, format, args...)
}

func accessDenied(format string, args ...any) error {
	return apiError("AccessDenied", http.StatusForbidden, format, args...)
}
