package iam

import "strings"

// ARN builds an IAM ARN such as arn:aws:iam::123456789012:user/division/bob
// from a resource type ("user", "group", "role", "policy", "instance-profile",
// "mfa"), a path ("/" or "/division/") and a name.
func ARN(account, resourceType, path, name string) string {
	if path == "" {
		path = "/"
	}
	var b strings.Builder
	b.Grow(len("arn:aws:iam:::") + len(account) + len(resourceType) + len(path) + len(name))
	b.WriteString("arn:aws:iam::")
	b.WriteString(account)
	b.WriteByte(':')
	b.WriteString(resourceType)
	b.WriteString(path)
	b.WriteString(name)
	return b.String()
}

// RootARN is the ARN of an account's root user.
func RootARN(account string) string { return "arn:aws:iam::" + account + ":root" }

// AWSManagedAccount is the account field of AWS-managed policy ARNs.
const AWSManagedAccount = "aws"

// PolicyARN parts of arn:aws:iam::ACCOUNT:policy/PATH/NAME.
type PolicyARN struct {
	Account string // 12 digits, or "aws" for AWS-managed policies
	Path    string
	Name    string
}

// ParsePolicyARN splits a managed policy ARN. ok is false if arn is not one.
func ParsePolicyARN(arn string) (p PolicyARN, ok bool) {
	rest, found := strings.CutPrefix(arn, "arn:aws:iam::")
	if !found {
		return p, false
	}
	account, res, found := strings.Cut(rest, ":")
	if !found {
		return p, false
	}
	res, found = strings.CutPrefix(res, "policy/")
	if !found || res == "" {
		return p, false
	}
	i := strings.LastIndexByte(res, '/')
	p.Account = account
	p.Path = "/" + res[:i+1]
	p.Name = res[i+1:]
	if p.Name == "" {
		return p, false
	}
	return p, true
}

// EntityName returns the last path segment of an IAM ARN's resource, such as
// the role name of arn:aws:iam::123456789012:role/a/b/Name.
func EntityName(arn string) string {
	if i := strings.LastIndexByte(arn, '/'); i >= 0 {
		return arn[i+1:]
	}
	return ""
}
