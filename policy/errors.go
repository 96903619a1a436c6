package policy

import (
	"errors"
	"fmt"
)

// ErrMalformed is matched (with errors.Is) by every *ValidationError, so a
// caller can test for "the document was rejected" without caring why.
var ErrMalformed = errors.New("malformed policy document")

// ErrTooLarge is matched (with errors.Is) by every *SizeError.
var ErrTooLarge = errors.New("policy document too large")

// ValidationError reports a policy document that IAM would reject with the
// MalformedPolicyDocument error code. Message is IAM's wording, suitable for
// the error response as is.
type ValidationError struct {
	// Message is the text IAM returns, e.g. "Syntax errors in policy.".
	Message string
}

// Error returns the IAM message.
func (e *ValidationError) Error() string { return e.Message }

// Is makes errors.Is(err, ErrMalformed) true.
func (e *ValidationError) Is(target error) bool { return target == ErrMalformed }

func malformed(msg string) *ValidationError { return &ValidationError{Message: msg} }

func malformedf(format string, args ...any) *ValidationError {
	return &ValidationError{Message: fmt.Sprintf(format, args...)}
}

// IAM's MalformedPolicyDocument messages used in more than one place.
const (
	msgSyntax          = "Syntax errors in policy."
	msgLegacy          = "The policy failed legacy parsing"
	msgVersion2012     = "Policy document must be version 2012-10-17 or greater."
	msgDuplicateSid    = "Statement IDs (SID) in a single policy must be unique."
	msgNoActions       = "Policy statement must contain actions."
	msgNoResources     = "Policy statement must contain resources."
	msgNoPrincipalHere = "Policy document should not specify a principal."
	msgMissingPrinc    = "Missing required field Principal"
	msgVendor          = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
	msgOneColon        = "Actions/Condition can contain only one colon."
	msgTrustActions    = "AssumeRole policy may only specify STS AssumeRole actions."
	msgSidAlnum        = "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"
	msgVendorQualified = "Resource vendor must be fully qualified and cannot contain regexes."
)

// SizeError reports a document larger than the quota that applies where it
// is stored. The server turns it into IAM's LimitExceeded (or, for session
// policies, PackedPolicyTooLarge) error with the wording of the operation.
type SizeError struct {
	// Size is the document's length as IAM counts it (characters other than
	// white space).
	Size int
	// Limit is the quota that was exceeded.
	Limit int
}

// Error describes the overrun.
func (e *SizeError) Error() string {
	return fmt.Sprintf("policy document is %d characters (white space excluded), above the limit of %d", e.Size, e.Limit)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *SizeError) Is(target error) bool { return target == ErrTooLarge }
