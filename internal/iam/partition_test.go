package iam

import (
	"regexp"
	"testing"
)

func TestPartition(t *testing.T) {
	for _, tc := range []struct {
		name             string
		partition        Partition
		wantARN, wantSTS string
		global           string
		in, out          []string // regions in and outside the partition
	}{
		{"zero value is aws", "", "arn:aws:iam::123456789012:user/a/bob", "arn:aws:sts::123456789012:assumed-role/R/s", "us-east-1",
			[]string{"us-east-1", "eu-west-1", "ap-southeast-7", "mx-central-1"}, []string{"cn-north-1", "us-gov-west-1", "local", ""}},
		{"aws-cn", PartitionChina, "arn:aws-cn:iam::123456789012:user/a/bob", "arn:aws-cn:sts::123456789012:assumed-role/R/s", "cn-north-1",
			[]string{"cn-north-1", "cn-northwest-1"}, []string{"us-east-1", "eu-west-1"}},
		{"aws-us-gov", PartitionGovCloud, "arn:aws-us-gov:iam::123456789012:user/a/bob", "arn:aws-us-gov:sts::123456789012:assumed-role/R/s", "us-gov-west-1",
			[]string{"us-gov-west-1", "us-gov-east-1"}, []string{"us-east-1"}},
		{"aws-iso", PartitionISO, "arn:aws-iso:iam::123456789012:user/a/bob", "arn:aws-iso:sts::123456789012:assumed-role/R/s", "us-iso-east-1",
			[]string{"us-iso-east-1", "us-iso-west-1"}, []string{"us-isob-east-1", "us-east-1"}},
		{"aws-iso-b", PartitionISOB, "arn:aws-iso-b:iam::123456789012:user/a/bob", "arn:aws-iso-b:sts::123456789012:assumed-role/R/s", "us-isob-east-1",
			[]string{"us-isob-east-1"}, []string{"us-iso-east-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.partition
			if got := p.ARN("123456789012", "user", "/a/", "bob"); got != tc.wantARN {
				t.Errorf("ARN = %s, want %s", got, tc.wantARN)
			}
			if got := p.STSARN("123456789012", "assumed-role/R/s"); got != tc.wantSTS {
				t.Errorf("STSARN = %s, want %s", got, tc.wantSTS)
			}
			if got := p.GlobalRegion(); got != tc.global {
				t.Errorf("GlobalRegion = %s, want %s", got, tc.global)
			}
			for _, r := range tc.in {
				if !p.HasRegion(r) {
					t.Errorf("HasRegion(%q) = false", r)
				}
			}
			for _, r := range tc.out {
				if p.HasRegion(r) {
					t.Errorf("HasRegion(%q) = true", r)
				}
			}
			managed := p.AWSPolicyARN("/", "ReadOnlyAccess")
			if pa, ok := p.ParsePolicyARN(managed); !ok || pa.Account != AWSManagedAccount || pa.Name != "ReadOnlyAccess" {
				t.Errorf("ParsePolicyARN(%s) = %+v, %v", managed, pa, ok)
			}
			if p.ForeignPartition(managed) || p.ForeignPartition("123456789012") {
				t.Errorf("ForeignPartition of its own ARN or a non-ARN")
			}
			other := PartitionAWS
			if p.String() == "aws" {
				other = PartitionChina
			}
			if !p.ForeignPartition(other.AWSPolicyARN("/", "ReadOnlyAccess")) {
				t.Errorf("ForeignPartition of an %s ARN = false", other)
			}
			if _, ok := p.ParsePolicyARN(other.AWSPolicyARN("/", "ReadOnlyAccess")); ok {
				t.Errorf("ParsePolicyARN accepts an %s ARN", other)
			}
			if rest, ok := p.CutIAM(p.RootARN("123456789012")); !ok || rest != "123456789012:root" {
				t.Errorf("CutIAM(RootARN) = %q, %v", rest, ok)
			}
		})
	}
}

func TestParsePartition(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Partition
		ok   bool
	}{
		{"", PartitionAWS, true}, {"aws", PartitionAWS, true}, {"aws-cn", PartitionChina, true},
		{"aws-us-gov", PartitionGovCloud, true}, {"aws-iso", PartitionISO, true}, {"aws-iso-b", PartitionISOB, true},
		{"AWS", "", false}, {"aws-eusc", "", false}, {"cn", "", false},
	} {
		got, err := ParsePartition(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParsePartition(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func TestServiceOfPrincipal(t *testing.T) {
	for _, tc := range []struct {
		p         Partition
		principal string
		want      string
		ok        bool
	}{
		{PartitionAWS, "ec2.amazonaws.com", "ec2", true},
		{PartitionAWS, "ec2.amazonaws.com.cn", "", false},
		{PartitionChina, "ec2.amazonaws.com.cn", "ec2", true},
		{PartitionChina, "ec2.amazonaws.com", "ec2", true},
		{PartitionAWS, ".amazonaws.com", "", false},
		{PartitionAWS, "accounts.google.com", "", false},
	} {
		got, ok := tc.p.ServiceOfPrincipal(tc.principal)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s.ServiceOfPrincipal(%q) = %q, %v", tc.p, tc.principal, got, ok)
		}
	}
}

// regionRegexes are botocore's endpoints.json regionRegex of each
// partition, which HasRegion implements by hand.
var regionRegexes = map[Partition]*regexp.Regexp{
	PartitionAWS:      regexp.MustCompile(`^(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+$`),
	PartitionChina:    regexp.MustCompile(`^cn-\w+-\d+$`),
	PartitionGovCloud: regexp.MustCompile(`^us-gov-\w+-\d+$`),
	PartitionISO:      regexp.MustCompile(`^us-iso-\w+-\d+$`),
	PartitionISOB:     regexp.MustCompile(`^us-isob-\w+-\d+$`),
}

func FuzzHasRegion(f *testing.F) {
	for _, s := range []string{"us-east-1", "us-gov-west-1", "cn-north-1", "us-iso-east-1", "us-isob-east-1", "eu-", "us--1", "us-east-", "us-east-1a", "us-e_st-12", "us-east-1-2", "us-\u00e9-1", "local", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, region string) {
		for p, re := range regionRegexes {
			if got, want := p.HasRegion(region), re.MatchString(region); got != want {
				t.Errorf("%s.HasRegion(%q) = %v, regionRegex says %v", p, region, got, want)
			}
		}
	})
}
