package iam

import "strings"

// AWSManagedAccount is the account field of AWS-managed policy ARNs.
const AWSManagedAccount = "aws"

// PolicyARN parts of arn:PARTITION:iam::ACCOUNT:policy/PATH/NAME.
type PolicyARN struct {
	Partition string
	Account   string // 12 digits, or "aws" for AWS-managed policies
	Path      string
	Name      string
}

// ParsePolicyARN splits a managed policy ARN of any partition (the stored
// attachments of an account are all of the server's partition; ARNs a
// client supplies are checked with Partition.ParsePolicyARN). ok is false
// if arn is not one.
func ParsePolicyARN(arn string) (p PolicyARN, ok bool) {
	rest, found := strings.CutPrefix(arn, "arn:")
	if !found {
		return p, false
	}
	p.Partition, rest, found = strings.Cut(rest, ":")
	if !found || p.Partition == "" {
		return p, false
	}
	rest, found = strings.CutPrefix(rest, "iam::")
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
