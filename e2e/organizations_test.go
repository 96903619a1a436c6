package e2e

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
)

// TestOrganizationsDependentOperations: iamd's accounts are in no
// organization, and the operations that need one answer as AWS answers
// such an account, after checking permission and input.
func TestOrganizationsDependentOperations(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()

	_, err := root.ListOrganizationsFeatures(ctx, &iam.ListOrganizationsFeaturesInput{})
	wantCode(t, err, "OrganizationNotFoundException")
	_, err = root.EnableOrganizationsRootSessions(ctx, &iam.EnableOrganizationsRootSessionsInput{})
	wantCode(t, err, "OrganizationNotFoundException")
	_, err = root.DisableOrganizationsRootCredentialsManagement(ctx, &iam.DisableOrganizationsRootCredentialsManagementInput{})
	wantCode(t, err, "OrganizationNotFoundException")
	_, err = root.GenerateOrganizationsAccessReport(ctx, &iam.GenerateOrganizationsAccessReportInput{EntityPath: aws.String("not-a-path")})
	wantCode(t, err, "ValidationError")
	_, err = root.GenerateOrganizationsAccessReport(ctx, &iam.GenerateOrganizationsAccessReportInput{EntityPath: aws.String("o-a1b2c3d4e5/r-f6g7h8i9j0example")})
	wantCode(t, err, "OrganizationNotFoundException")
	_, err = root.GetOrganizationsAccessReport(ctx, &iam.GetOrganizationsAccessReportInput{JobId: aws.String("examplea-1234-b567-cde8-90fg123abcd4")})
	wantCode(t, err, "NoSuchEntity")

	nobody := userWithKey(t, root, "nobody", "")
	_, err = e.iam(nobody).ListOrganizationsFeatures(ctx, &iam.ListOrganizationsFeaturesInput{})
	wantCode(t, err, "AccessDenied")

	// Delegation requests: none exist, none can be created.
	list, err := root.ListDelegationRequests(ctx, &iam.ListDelegationRequestsInput{})
	must(t, err)
	if len(list.DelegationRequests) != 0 {
		t.Errorf("ListDelegationRequests = %v", list.DelegationRequests)
	}
	_, err = root.GetDelegationRequest(ctx, &iam.GetDelegationRequestInput{DelegationRequestId: aws.String("dr-1234567890abcdef")})
	wantCode(t, err, "NoSuchEntity")

	// AssumeRoot: refused to the root user, checked, then refused for want
	// of an organization.
	task := &ststypes.PolicyDescriptorType{Arn: aws.String("arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials")}
	_, err = e.sts(e.root).AssumeRoot(ctx, &sts.AssumeRootInput{TargetPrincipal: aws.String("210987654321"), TaskPolicyArn: task})
	wantCode(t, err, "AccessDenied")
	admin := userWithKey(t, root, "admin", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRoot","Resource":"*"}]}`)
	_, err = e.sts(admin).AssumeRoot(ctx, &sts.AssumeRootInput{TargetPrincipal: aws.String("210987654321"),
		TaskPolicyArn: &ststypes.PolicyDescriptorType{Arn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")}})
	wantCode(t, err, "ValidationError")
	_, err = e.sts(admin).AssumeRoot(ctx, &sts.AssumeRootInput{TargetPrincipal: aws.String("210987654321"), TaskPolicyArn: task})
	wantCode(t, err, "AccessDenied")
	wantAWSMessage(t, err, "User: arn:aws:iam::"+testAccount+":user/admin is not authorized to perform: sts:AssumeRoot on resource: arn:aws:iam::210987654321:root because centralized root access is not enabled: account "+testAccount+" is not in an organization")
	_, err = e.sts(admin).GetDelegatedAccessToken(ctx, &sts.GetDelegatedAccessTokenInput{TradeInToken: aws.String("token")})
	wantCode(t, err, "ExpiredTradeInTokenException")
}

// TestSecurityTokenServicePreferences: the global endpoint's token version
// is kept and reported by GetAccountSummary.
func TestSecurityTokenServicePreferences(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	version := func() int32 {
		out, err := root.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
		must(t, err)
		return out.SummaryMap["GlobalEndpointTokenVersion"]
	}
	if v := version(); v != 1 {
		t.Errorf("default GlobalEndpointTokenVersion = %d, want 1", v)
	}
	_, err := root.SetSecurityTokenServicePreferences(ctx, &iam.SetSecurityTokenServicePreferencesInput{GlobalEndpointTokenVersion: iamtypes.GlobalEndpointTokenVersionV2Token})
	must(t, err)
	if v := version(); v != 2 {
		t.Errorf("GlobalEndpointTokenVersion = %d, want 2", v)
	}
	_, err = root.SetSecurityTokenServicePreferences(ctx, &iam.SetSecurityTokenServicePreferencesInput{GlobalEndpointTokenVersion: "v3Token"})
	wantCode(t, err, "ValidationError")
	_, err = root.SetSecurityTokenServicePreferences(ctx, &iam.SetSecurityTokenServicePreferencesInput{GlobalEndpointTokenVersion: iamtypes.GlobalEndpointTokenVersionV1Token})
	must(t, err)
	if v := version(); v != 1 {
		t.Errorf("GlobalEndpointTokenVersion = %d, want 1", v)
	}
}

// TestListPoliciesGrantingServiceAccess: a user's own and its groups'
// policies, inline and managed, that allow some action of each service.
func TestListPoliciesGrantingServiceAccess(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	userWithKey(t, root, "ana", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"},{"Effect":"Deny","Action":"ec2:*","Resource":"*"}]}`)
	_, err := root.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("ops")})
	must(t, err)
	_, err = root.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("ops"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess")})
	must(t, err)
	_, err = root.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("ops"), UserName: aws.String("ana")})
	must(t, err)
	out, err := root.ListPoliciesGrantingServiceAccess(ctx, &iam.ListPoliciesGrantingServiceAccessInput{
		Arn: aws.String("arn:aws:iam::" + testAccount + ":user/ana"), ServiceNamespaces: []string{"s3", "ec2", "iam"}})
	must(t, err)
	got := map[string][]string{}
	for _, entry := range out.PoliciesGrantingServiceAccess {
		for _, p := range entry.Policies {
			got[aws.ToString(entry.ServiceNamespace)] = append(got[aws.ToString(entry.ServiceNamespace)], aws.ToString(p.PolicyName)+"/"+string(p.PolicyType))
		}
	}
	if len(out.PoliciesGrantingServiceAccess) != 3 || len(got["s3"]) != 1 || got["s3"][0] != "p/INLINE" ||
		len(got["ec2"]) != 1 || got["ec2"][0] != "AmazonEC2ReadOnlyAccess/MANAGED" || len(got["iam"]) != 0 {
		t.Errorf("ListPoliciesGrantingServiceAccess = %v", got)
	}
	_, err = root.ListPoliciesGrantingServiceAccess(ctx, &iam.ListPoliciesGrantingServiceAccessInput{
		Arn: aws.String("arn:aws:iam::" + testAccount + ":user/nobody"), ServiceNamespaces: []string{"s3"}})
	wantCode(t, err, "NoSuchEntity")
}
