// Package authdetails exports one account's IAM configuration in the form
// GetAccountAuthorizationDetails returns it, as JSON, and imports such a
// file into another (or a new) account.
//
// The file is what `aws iam get-account-authorization-details` prints:
// UserDetailList, GroupDetailList, RoleDetailList and Policies, with policy
// documents as JSON objects. So a file exported from AWS itself imports too,
// and a file exported here can be read by tools written for AWS's.
//
// What the form does not carry is not exported: access keys, passwords
// (login profiles), MFA devices, service-specific credentials, SAML and
// OIDC providers, the password policy and the account alias; tags of managed
// policies; the description and maximum session duration of roles that are
// in no instance profile; instance profiles without a role. Importing
// recreates entities through the IAM API, so they get new unique IDs and
// creation dates, and managed policy versions are renumbered v1, v2, ...
// in their original order, the default version staying the default.
//
// It is not a backup: see internal/backup for a complete, restorable copy of
// every account.
package authdetails

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Details is an account's authorization details.
type Details struct {
	UserDetailList  []User   `json:"UserDetailList"`
	GroupDetailList []Group  `json:"GroupDetailList"`
	RoleDetailList  []Role   `json:"RoleDetailList"`
	Policies        []Policy `json:"Policies"`
}

// Document is a policy document. In the file it is a JSON object, as the
// AWS CLI prints it, or a string holding the document's text; either is
// read. The text's key order is kept.
type Document string

// MarshalJSON writes a valid JSON document as itself, anything else as a
// string.
func (d Document) MarshalJSON() ([]byte, error) {
	if json.Valid([]byte(d)) {
		var buf bytes.Buffer
		if err := json.Compact(&buf, []byte(d)); err == nil {
			return buf.Bytes(), nil
		}
	}
	return json.Marshal(string(d))
}

// UnmarshalJSON reads a document written as an object or as a string.
func (d *Document) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*d = Document(s)
		return nil
	}
	if len(b) > 0 && b[0] != '{' {
		return fmt.Errorf("policy document: want a JSON object or a string, got %.20s", b)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return err
	}
	*d = Document(buf.String())
	return nil
}

// Tag is an IAM tag.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// InlinePolicy is a policy embedded in a user, group or role.
type InlinePolicy struct {
	PolicyName     string   `json:"PolicyName"`
	PolicyDocument Document `json:"PolicyDocument"`
}

// AttachedPolicy is a managed policy attached to a user, group or role.
type AttachedPolicy struct {
	PolicyName string `json:"PolicyName"`
	PolicyArn  string `json:"PolicyArn"`
}

// Boundary is a permissions boundary.
type Boundary struct {
	PermissionsBoundaryType string `json:"PermissionsBoundaryType"`
	PermissionsBoundaryArn  string `json:"PermissionsBoundaryArn"`
}

// User is a UserDetail.
type User struct {
	Path                    string           `json:"Path"`
	UserName                string           `json:"UserName"`
	UserID                  string           `json:"UserId"`
	Arn                     string           `json:"Arn"`
	CreateDate              time.Time        `json:"CreateDate"`
	UserPolicyList          []InlinePolicy   `json:"UserPolicyList"`
	GroupList               []string         `json:"GroupList"`
	AttachedManagedPolicies []AttachedPolicy `json:"AttachedManagedPolicies"`
	PermissionsBoundary     *Boundary        `json:"PermissionsBoundary,omitempty"`
	Tags                    []Tag            `json:"Tags"`
}

// Group is a GroupDetail.
type Group struct {
	Path                    string           `json:"Path"`
	GroupName               string           `json:"GroupName"`
	GroupID                 string           `json:"GroupId"`
	Arn                     string           `json:"Arn"`
	CreateDate              time.Time        `json:"CreateDate"`
	GroupPolicyList         []InlinePolicy   `json:"GroupPolicyList"`
	AttachedManagedPolicies []AttachedPolicy `json:"AttachedManagedPolicies"`
}

// Role is a RoleDetail.
type Role struct {
	Path                     string            `json:"Path"`
	RoleName                 string            `json:"RoleName"`
	RoleID                   string            `json:"RoleId"`
	Arn                      string            `json:"Arn"`
	CreateDate               time.Time         `json:"CreateDate"`
	AssumeRolePolicyDocument Document          `json:"AssumeRolePolicyDocument"`
	InstanceProfileList      []InstanceProfile `json:"InstanceProfileList"`
	RolePolicyList           []InlinePolicy    `json:"RolePolicyList"`
	AttachedManagedPolicies  []AttachedPolicy  `json:"AttachedManagedPolicies"`
	PermissionsBoundary      *Boundary         `json:"PermissionsBoundary,omitempty"`
	Tags                     []Tag             `json:"Tags"`
	RoleLastUsed             *RoleLastUsed     `json:"RoleLastUsed,omitempty"`
}

// RoleLastUsed says when a role was last used.
type RoleLastUsed struct {
	LastUsedDate *time.Time `json:"LastUsedDate,omitempty"`
	Region       string     `json:"Region,omitempty"`
}

// InstanceProfile is an instance profile holding a role.
type InstanceProfile struct {
	Path                string        `json:"Path"`
	InstanceProfileName string        `json:"InstanceProfileName"`
	InstanceProfileID   string        `json:"InstanceProfileId"`
	Arn                 string        `json:"Arn"`
	CreateDate          time.Time     `json:"CreateDate"`
	Roles               []ProfileRole `json:"Roles"`
	Tags                []Tag         `json:"Tags,omitempty"`
}

// ProfileRole is a role as an instance profile lists it.
type ProfileRole struct {
	Path                     string    `json:"Path"`
	RoleName                 string    `json:"RoleName"`
	RoleID                   string    `json:"RoleId"`
	Arn                      string    `json:"Arn"`
	CreateDate               time.Time `json:"CreateDate"`
	AssumeRolePolicyDocument Document  `json:"AssumeRolePolicyDocument,omitempty"`
	Description              string    `json:"Description,omitempty"`
	MaxSessionDuration       int32     `json:"MaxSessionDuration,omitempty"`
}

// Policy is a ManagedPolicyDetail.
type Policy struct {
	PolicyName                    string          `json:"PolicyName"`
	PolicyID                      string          `json:"PolicyId"`
	Arn                           string          `json:"Arn"`
	Path                          string          `json:"Path"`
	DefaultVersionID              string          `json:"DefaultVersionId"`
	AttachmentCount               int32           `json:"AttachmentCount"`
	PermissionsBoundaryUsageCount int32           `json:"PermissionsBoundaryUsageCount"`
	IsAttachable                  bool            `json:"IsAttachable"`
	Description                   string          `json:"Description,omitempty"`
	CreateDate                    time.Time       `json:"CreateDate"`
	UpdateDate                    time.Time       `json:"UpdateDate"`
	PolicyVersionList             []PolicyVersion `json:"PolicyVersionList"`
}

// PolicyVersion is one version of a managed policy.
type PolicyVersion struct {
	Document         Document  `json:"Document"`
	VersionID        string    `json:"VersionId"`
	IsDefaultVersion bool      `json:"IsDefaultVersion"`
	CreateDate       time.Time `json:"CreateDate"`
}
