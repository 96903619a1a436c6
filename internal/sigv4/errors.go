package sigv4

import (
	"fmt"
	"net/http"
)

// AWS error codes returned by this package.
const (
	CodeMissingAuthenticationToken = "MissingAuthenticationToken"
	CodeIncompleteSignature        = "IncompleteSignature"
	CodeInvalidClientTokenID       = "InvalidClientTokenId"
	CodeSignatureDoesNotMatch      = "SignatureDoesNotMatch"
	CodeExpiredToken               = "ExpiredToken"
	CodeAccessDenied               = "AccessDenied"
	CodeInvalidRequest             = "InvalidRequest"
	CodeRequestExpired             = "RequestExpired"
)

// Error is an authentication failure with the code, message and HTTP status
// AWS would answer. It is the only error type Verify returns for a request
// the client got wrong; any other error means iamd itself failed (for
// example the credential store was unreachable) and should be reported as
// InternalFailure.
//
// Two Errors match under errors.Is when their codes are equal, so
// errors.Is(err, ErrSignatureDoesNotMatch) holds for every
// SignatureDoesNotMatch whatever its message.
type Error struct {
	Code       string
	Message    string
	HTTPStatus int
}

// Error implements the error interface.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinel errors, one per code, carrying AWS's default message. A
// CredentialSource returns ErrInvalidClientTokenID or ErrExpiredToken
// (possibly wrapped) to reject a key or session token. Callers must not
// modify them.
var (
	ErrMissingAuthenticationToken = &Error{CodeMissingAuthenticationToken, "Request is missing Authentication Token", http.StatusForbidden}
	ErrIncompleteSignature        = &Error{CodeIncompleteSignature, "The request signature does not conform to AWS standards.", http.StatusBadRequest}
	ErrInvalidClientTokenID       = &Error{CodeInvalidClientTokenID, "The security token included in the request is invalid.", http.StatusForbidden}
	ErrSignatureDoesNotMatch      = &Error{CodeSignatureDoesNotMatch, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.", http.StatusForbidden}
	ErrExpiredToken               = &Error{CodeExpiredToken, "The security token included in the request is expired", http.StatusForbidden}
	ErrAccessDenied               = &Error{CodeAccessDenied, "Request has expired", http.StatusForbidden}
	// ErrRequestExpired is answered by query APIs (IAM, STS) for a presigned
	// URL past its X-Amz-Expires; S3 answers ErrAccessDenied.
	ErrRequestExpired = &Error{CodeRequestExpired, "Request has expired.", http.StatusBadRequest}
	ErrInvalidRequest = &Error{CodeInvalidRequest, "Missing required header for this request: x-amz-content-sha256", http.StatusBadRequest}
)

func incomplete(format string, args ...any) *Error {
	return &Error{CodeIncompleteSignature, fmt.Sprintf(format, args...), http.StatusBadRequest}
}

func mismatch(format string, args ...any) *Error {
	return &Error{CodeSignatureDoesNotMatch, fmt.Sprintf(format, args...), http.StatusForbidden}
}
