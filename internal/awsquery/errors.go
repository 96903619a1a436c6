package awsquery

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Error is an AWS error as the awsQuery protocol returns it: a code the SDKs
// switch on, a message for people, the HTTP status and whether the caller
// (Sender) or the service (Receiver) is at fault.
type Error struct {
	Code       string
	Message    string
	HTTPStatus int
	Sender     bool
}

// Error implements error.
func (e *Error) Error() string {
	return e.Code + ": " + e.Message
}

// Is reports whether target is an *Error with the same Code, so that
// errors.Is(err, &awsquery.Error{Code: "NoSuchEntity"}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Type is the <Type> of the error document: "Sender" or "Receiver".
func (e *Error) Type() string {
	if e.Sender {
		return "Sender"
	}
	return "Receiver"
}

// Codes of the protocol-level errors this package produces.
const (
	CodeValidationError       = "ValidationError"
	CodeInvalidAction         = "InvalidAction"
	CodeMissingAction         = "MissingAction"
	CodeMalformedQueryString  = "MalformedQueryString"
	CodeInternalFailure       = "InternalFailure"
	CodeServiceUnavailable    = "ServiceUnavailable"
	CodeNotImplemented        = "NotImplemented"
	CodeMethodNotAllowed      = "MethodNotAllowed"
	CodeAccessDenied          = "AccessDenied"
	CodeInvalidParameterValue = "InvalidParameterValue"
)

// ValidationError returns the 400 Sender error AWS uses for constraint
// violations; message is the full text, e.g. "1 validation error detected: ...".
func ValidationError(message string) *Error {
	return &Error{Code: CodeValidationError, Message: message, HTTPStatus: http.StatusBadRequest, Sender: true}
}

// InvalidAction is the error for an Action the service does not have at
// version (AWS says NO_VERSION_SPECIFIED when Version is missing).
func InvalidAction(action, version string) *Error {
	if version == "" {
		version = "NO_VERSION_SPECIFIED"
	}
	return &Error{
		Code:       CodeInvalidAction,
		Message:    "Could not find operation " + action + " for version " + version,
		HTTPStatus: http.StatusBadRequest,
		Sender:     true,
	}
}

// MissingAction is the error for a request without an Action parameter.
func MissingAction() *Error {
	return &Error{Code: CodeMissingAction, Message: "Missing Action", HTTPStatus: http.StatusBadRequest, Sender: true}
}

// MalformedQueryString is the error for a form body or query string that
// does not parse.
func MalformedQueryString(detail string) *Error {
	return &Error{Code: CodeMalformedQueryString, Message: detail, HTTPStatus: http.StatusBadRequest, Sender: true}
}

// MethodNotAllowed is the error for an HTTP method other than GET or POST.
func MethodNotAllowed(method string) *Error {
	return &Error{
		Code:       CodeMethodNotAllowed,
		Message:    "The HTTP method " + strconv.Quote(method) + " is not allowed; use POST or GET.",
		HTTPStatus: http.StatusMethodNotAllowed,
		Sender:     true,
	}
}

// InternalFailure is the 500 error for anything unexpected; it never carries
// the cause, which the server logs instead.
func InternalFailure() *Error {
	return &Error{Code: CodeInternalFailure, Message: "An internal error occurred.", HTTPStatus: http.StatusInternalServerError}
}

// MessageServiceUnavailable is the message of ServiceUnavailable, which the
// other front ends (the authorization API, workload credentials, the
// console) answer too.
const MessageServiceUnavailable = "The service is temporarily unavailable. Try again shortly."

// ServiceUnavailable is the 503 error of a request the service cannot take
// for now (its audit trail cannot be written): the SDKs retry it.
func ServiceUnavailable() *Error {
	return &Error{Code: CodeServiceUnavailable, Message: MessageServiceUnavailable, HTTPStatus: http.StatusServiceUnavailable}
}

// NotImplemented is the error of an operation iamd has not implemented. It is
// a 501 Receiver fault: the request is valid, this service cannot do it, and
// neither botocore nor aws-sdk-go-v2 retries a 501 (they retry 500/502/503/504).
func NotImplemented(operation string) *Error {
	return &Error{
		Code:       CodeNotImplemented,
		Message:    fmt.Sprintf("The operation %s is not implemented.", operation),
		HTTPStatus: http.StatusNotImplemented,
	}
}

// AccessDenied is the 403 error of an unauthorized call.
func AccessDenied(message string) *Error {
	return &Error{Code: CodeAccessDenied, Message: message, HTTPStatus: http.StatusForbidden, Sender: true}
}

// A Denial is a refused authorization from outside the protocol (the
// policy decision's authz.Denied), which the protocol answers as
// AccessDenied with the denial's message.
type Denial interface {
	error
	DenialMessage() string
}

// As returns the AWS error err is answered with: the *Error in err's chain,
// or AccessDenied for a Denial in it. It reports false for any other error,
// which the protocol answers as InternalFailure.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	var d Denial
	if errors.As(err, &d) {
		return AccessDenied(d.DenialMessage()), true
	}
	return nil, false
}

// appendErrorXML appends the awsQuery ErrorResponse document.
func appendErrorXML(b []byte, ns string, e *Error, requestID string) []byte {
	b = append(b, `<ErrorResponse xmlns="`...)
	b = appendEscaped(b, ns)
	b = append(b, `"><Error><Type>`...)
	b = append(b, e.Type()...)
	b = append(b, `</Type><Code>`...)
	b = appendEscaped(b, e.Code)
	b = append(b, `</Code><Message>`...)
	b = appendEscaped(b, e.Message)
	b = append(b, `</Message></Error><RequestId>`...)
	b = appendEscaped(b, requestID)
	b = append(b, `</RequestId></ErrorResponse>`...)
	return b
}
