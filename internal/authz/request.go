package authz

import "github.com/iamd/iamd/internal/iam"

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
}

// Option adds to a Request.
type Option func(*Request)
