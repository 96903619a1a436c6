package iam

import (
	"fmt"
	"strings"
)

// EnvPartition is the environment variable naming the partition of
// "iamd serve" and of the commands that open the data directory.
const EnvPartition = "IAMD_PARTITION"

// Partition is the AWS partition iamd answers as: the second field of every
// ARN it builds or accepts (arn:PARTITION:iam::ACCOUNT:user/bob), the
// account of the AWS-managed policies (arn:PARTITION:iam::aws:policy/...),
// the domain of service principals and the regions requests may be signed
// for. The zero value is the commercial partition, "aws".
type Partition string

// The partitions iamd can answer as.
const (
	PartitionAWS      Partition = "aws"
	PartitionChina    Partition = "aws-cn"
	PartitionGovCloud Partition = "aws-us-gov"
	PartitionISO      Partition = "aws-iso"
	PartitionISOB     Partition = "aws-iso-b"
)

// partitionInfo is what differs between partitions, from botocore's
// endpoints.json (partitions[].regionRegex, dnsSuffix, the global IAM
// endpoint's credentialScope.region).
type partitionInfo struct {
	// regionPrefixes: the partition's regions are PREFIX-WORD-DIGITS, as
	// regionRegex says (for aws, ^(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+$).
	// Matched by hand: every signed request checks its region, and the
	// regular expression cost a tenth of SigV4's verification.
	regionPrefixes []string
	globalRegion   string // the region IAM's global endpoint signs for
	// cnSuffix: service principals may also end in .amazonaws.com.cn.
	cnSuffix bool
}

var partitionInfos = map[Partition]partitionInfo{
	PartitionAWS:      {[]string{"us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"}, "us-east-1", false},
	PartitionChina:    {[]string{"cn"}, "cn-north-1", true},
	PartitionGovCloud: {[]string{"us-gov"}, "us-gov-west-1", false},
	PartitionISO:      {[]string{"us-iso"}, "us-iso-east-1", false},
	PartitionISOB:     {[]string{"us-isob"}, "us-isob-east-1", false},
}

// ParsePartition checks a configured partition name; "" means "aws".
func ParsePartition(s string) (Partition, error) {
	if s == "" {
		return PartitionAWS, nil
	}
	p := Partition(s)
	if _, ok := partitionInfos[p]; !ok {
		return "", fmt.Errorf("unknown partition %q: want aws, aws-cn, aws-us-gov, aws-iso or aws-iso-b", s)
	}
	return p, nil
}

// String is the partition's name; the zero value is "aws".
func (p Partition) String() string {
	if p == "" {
		return string(PartitionAWS)
	}
	return string(p)
}

func (p Partition) info() partitionInfo { return partitionInfos[Partition(p.String())] }

// HasRegion reports whether region is in the partition: SigV4 credential
// scopes naming another partition's region are refused.
func (p Partition) HasRegion(region string) bool {
	for _, prefix := range p.info().regionPrefixes {
		if rest, ok := strings.CutPrefix(region, prefix); ok && len(rest) > 0 && rest[0] == '-' && isWordDashDigits(rest[1:]) {
			return true
		}
	}
	return false
}

// isWordDashDigits reports whether s matches ^\w+-\d+$ (\w being ASCII
// letters, digits and underscore).
func isWordDashDigits(s string) bool {
	dash := strings.IndexByte(s, '-')
	if dash <= 0 || dash == len(s)-1 {
		return false
	}
	for i := range dash {
		if c := s[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	for i := dash + 1; i < len(s); i++ {
		if c := s[i]; c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// GlobalRegion is the region of the partition's global IAM endpoint
// (us-east-1 in aws, cn-north-1 in aws-cn): aws:RequestedRegion of IAM
// requests.
func (p Partition) GlobalRegion() string { return p.info().globalRegion }

// ServiceOfPrincipal returns the service of a service principal
// ("ec2" for "ec2.amazonaws.com"). Every partition names services
// SERVICE.amazonaws.com; aws-cn also SERVICE.amazonaws.com.cn, the form its
// older services use. (Whether the ISO partitions accept their own DNS
// suffixes, c2s.ic.gov and sc2s.sgov.gov, in service principals is not
// documented publicly; iamd accepts only amazonaws.com there.)
func (p Partition) ServiceOfPrincipal(principal string) (service string, ok bool) {
	if p.info().cnSuffix {
		if s, ok := strings.CutSuffix(principal, ".amazonaws.com.cn"); ok && s != "" {
			return s, true
		}
	}
	if s, ok := strings.CutSuffix(principal, ".amazonaws.com"); ok && s != "" {
		return s, true
	}
	return "", false
}

// Prefix is "arn:PARTITION:SERVICE::" for a regionless service such as iam
// or sts.
func (p Partition) Prefix(service string) string {
	return "arn:" + p.String() + ":" + service + "::"
}

// ARN builds an IAM ARN such as arn:aws:iam::123456789012:user/division/bob
// from a resource type ("user", "group", "role", "policy", "instance-profile",
// "mfa"), a path ("/" or "/division/") and a name.
func (p Partition) ARN(account, resourceType, path, name string) string {
	if path == "" {
		path = "/"
	}
	part := p.String()
	var b strings.Builder
	b.Grow(len("arn::iam:::") + len(part) + len(account) + len(resourceType) + len(path) + len(name))
	b.WriteString("arn:")
	b.WriteString(part)
	b.WriteString(":iam::")
	b.WriteString(account)
	b.WriteByte(':')
	b.WriteString(resourceType)
	b.WriteString(path)
	b.WriteString(name)
	return b.String()
}

// RootARN is the ARN of an account's root user.
func (p Partition) RootARN(account string) string { return p.Prefix("iam") + account + ":root" }

// STSARN builds an STS ARN: arn:PARTITION:sts::ACCOUNT:RESOURCE, for
// assumed-role/ROLE/SESSION and federated-user/NAME.
func (p Partition) STSARN(account, resource string) string {
	return p.Prefix("sts") + account + ":" + resource
}

// AWSPolicyARN is the ARN of an AWS-managed policy from its path and name
// ("/", "ReadOnlyAccess").
func (p Partition) AWSPolicyARN(path, name string) string {
	return p.ARN(AWSManagedAccount, "policy", path, name)
}

// CutIAM removes "arn:PARTITION:iam::" from s: rest is "ACCOUNT:RESOURCE".
// ok is false if s is not an IAM ARN of this partition.
func (p Partition) CutIAM(s string) (rest string, ok bool) {
	rest, ok = strings.CutPrefix(s, "arn:")
	if !ok {
		return "", false
	}
	rest, ok = strings.CutPrefix(rest, p.String())
	if !ok {
		return "", false
	}
	return strings.CutPrefix(rest, ":iam::")
}

// ParsePolicyARN splits a managed policy ARN of this partition. ok is false
// if arn is not one.
func (p Partition) ParsePolicyARN(arn string) (PolicyARN, bool) {
	pa, ok := ParsePolicyARN(arn)
	if !ok || pa.Partition != p.String() {
		return PolicyARN{}, false
	}
	return pa, true
}

// ForeignPartition reports whether s is an ARN ("arn:...") naming another
// partition than p. IAM refuses such ARNs passed as parameters with
// ValidationError "Invalid ARN partition" (it validates every element of
// the IAM resource ARNs it is given since 2024, and the partition must be
// the caller's).
func (p Partition) ForeignPartition(s string) bool {
	rest, ok := strings.CutPrefix(s, "arn:")
	if !ok {
		return false
	}
	part, _, _ := strings.Cut(rest, ":")
	return part != p.String()
}
