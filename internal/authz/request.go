package authz

import (
	"strconv"

	"github.com/iamd/iamd/internal/iam"
)

// KV is one request context key with its values.
type KV struct {
	Key    string
	Values []string
}

// Request is what a caller asks to do.
type Request struct {
	// Action is service:Operation, e.g. "iam:CreateUser".
	Action string
	// Resource is the ARN acted on ("*" for actions without a resource).
	Resource string
	// Context holds request-specific keys such as aws:RequestTag/x,
	// aws:TagKeys, iam:PermissionsBoundary, iam:PolicyARN.
	Context []KV
	// ResourceTags are the tags of the resource acted on
	// (aws:ResourceTag/x, iam:ResourceTag/x).
	ResourceTags []iam.Tag
	// ResourcePolicy is the resource's resource-based policy, if any, and
	// ResourceAccount the account that owns the resource.
	ResourcePolicy  string
	ResourceAccount string
	// ResourceControlPolicies are the resource control policies of the
	// resource's account, one document per level (root, OUs, account),
	// outermost first, at most MaxRCPLevels: each level must allow, and a
	// deny in any wins (policy.PolicySet.RCPs). They apply to the
	// services policy.RCPService names. Nil when no RCPs govern the
	// resource.
	ResourceControlPolicies []string
	// EndpointPolicy is the policy of the VPC endpoint the request came
	// through, "" when it did not come through one: it must allow the
	// request too.
	EndpointPolicy string
}

// MaxRCPLevels bounds Request.ResourceControlPolicies: AWS Organizations
// has a root, at most five levels of OUs and the account.
const MaxRCPLevels = 7

// PolicyError is a policy document given with a Request that is not a
// valid policy of its kind: the caller's mistake, unlike the other errors
// of deciding.
type PolicyError struct {
	// Field is the Request field holding the document: "ResourcePolicy",
	// "ResourceControlPolicies" (Level is then its index) or
	// "EndpointPolicy".
	Field string
	Level int
	Err   error
}

func (e *PolicyError) Error() string {
	f := e.Field
	if f == "ResourceControlPolicies" {
		f += "[" + strconv.Itoa(e.Level) + "]"
	}
	return f + ": " + e.Err.Error()
}

// Unwrap returns the parse or compile error (a *policy.ValidationError
// when the document is malformed).
func (e *PolicyError) Unwrap() error { return e.Err }

// Option adds to a Request.
type Option func(*Request)
