package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	iamstate "github.com/iamd/iamd/internal/iam"
)

func report(t *testing.T, c *iam.Client, arn string, g types.AccessAdvisorUsageGranularityType) map[string]types.ServiceLastAccessed {
	t.Helper()
	ctx := context.Background()
	gen, err := c.GenerateServiceLastAccessedDetails(ctx, &iam.GenerateServiceLastAccessedDetailsInput{Arn: aws.String(arn), Granularity: g})
	must(t, err)
	if len(aws.ToString(gen.JobId)) != 36 {
		t.Fatalf("JobId %q", aws.ToString(gen.JobId))
	}
	out := map[string]types.ServiceLastAccessed{}
	var marker *string
	for {
		got, err := c.GetServiceLastAccessedDetails(ctx, &iam.GetServiceLastAccessedDetailsInput{JobId: gen.JobId, MaxItems: aws.Int32(2), Marker: marker})
		must(t, err)
		if got.JobStatus != types.JobStatusTypeCompleted || got.JobType != g && g != "" || got.JobCompletionDate == nil || got.JobCreationDate == nil {
			t.Fatalf("job %s %s %v %v", got.JobStatus, got.JobType, got.JobCreationDate, got.JobCompletionDate)
		}
		for _, s := range got.ServicesLastAccessed {
			out[aws.ToString(s.ServiceNamespace)] = s
		}
		if !got.IsTruncated {
			return out
		}
		marker = got.Marker
	}
}

func TestServiceLastAccessed(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	pol, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("Work"), PolicyDocument: aws.String(allowDoc("iam:GetUser", "iam:List*", "s3:GetObject", "sts:AssumeRole"))})
	must(t, err)
	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("worker")})
	must(t, err)
	_, err = c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("crew")})
	must(t, err)
	_, err = c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("crew"), UserName: aws.String("worker")})
	must(t, err)
	_, err = c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("crew"), PolicyArn: pol.Policy.Arn})
	must(t, err)
	trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"sts:AssumeRole"}]}`, e.account)
	role, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("runner"), AssumeRolePolicyDocument: aws.String(trust)})
	must(t, err)
	_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("runner"), PolicyName: aws.String("p"), PolicyDocument: aws.String(allowDoc("iam:GetRole", "ec2:DescribeInstances"))})
	must(t, err)

	before := time.Now().Add(-time.Second).Truncate(time.Second)
	key := userKey(t, e, "worker")
	w := e.iam(key)
	eventually(t, 5*time.Second, func() error {
		_, err := w.GetUser(ctx, &iam.GetUserInput{})
		return err
	})
	_, err = w.ListUsers(ctx, &iam.ListUsersInput{})
	must(t, err)
	_, err = w.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("nope")}) // denied: not recorded
	wantCode(t, err, "AccessDenied")
	assumed, err := e.sts(key).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: role.Role.Arn, RoleSessionName: aws.String("s1")})
	must(t, err)
	cr := assumed.Credentials
	ri := iam.NewFromConfig(e.config(aws.Credentials{AccessKeyID: aws.ToString(cr.AccessKeyId), SecretAccessKey: aws.ToString(cr.SecretAccessKey), SessionToken: aws.ToString(cr.SessionToken)}),
		func(o *iam.Options) { o.BaseEndpoint = aws.String(e.url); o.Region = "eu-west-1" })
	_, err = ri.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("runner")})
	must(t, err)

	userARN := "arn:aws:iam::" + e.account + ":user/worker"
	roleARN := aws.ToString(role.Role.Arn)

	t.Run("user, action level", func(t *testing.T) {
		got := report(t, c, userARN, types.AccessAdvisorUsageGranularityTypeActionLevel)
		iamSvc, ok := got["iam"]
		if !ok || aws.ToString(iamSvc.ServiceName) != "AWS Identity and Access Management" {
			t.Fatalf("services %v", got)
		}
		if iamSvc.LastAuthenticated == nil || iamSvc.LastAuthenticated.Before(before) || aws.ToString(iamSvc.LastAuthenticatedEntity) != userARN ||
			aws.ToString(iamSvc.LastAuthenticatedRegion) != "us-east-1" || aws.ToInt32(iamSvc.TotalAuthenticatedEntities) != 1 {
			t.Errorf("iam: %+v", iamSvc)
		}
		actions := map[string]types.TrackedActionLastAccessed{}
		for _, a := range iamSvc.TrackedActionsLastAccessed {
			actions[aws.ToString(a.ActionName)] = a
		}
		for _, name := range []string{"GetUser", "ListUsers"} {
			if a, ok := actions[name]; !ok || a.LastAccessedTime == nil || aws.ToString(a.LastAccessedEntity) != userARN {
				t.Errorf("action %s: %+v", name, a)
			}
		}
		if _, ok := actions["CreateUser"]; ok {
			t.Error("denied CreateUser was recorded")
		}
		s3, ok := got["s3"]
		if !ok || s3.LastAuthenticated != nil || aws.ToInt32(s3.TotalAuthenticatedEntities) != 0 || aws.ToString(s3.ServiceName) != "Amazon S3" {
			t.Errorf("s3: %+v", s3)
		}
		if len(s3.TrackedActionsLastAccessed) != 1 || aws.ToString(s3.TrackedActionsLastAccessed[0].ActionName) != "GetObject" || s3.TrackedActionsLastAccessed[0].LastAccessedTime != nil {
			t.Errorf("s3 actions: %+v", s3.TrackedActionsLastAccessed)
		}
		if sts, ok := got["sts"]; !ok || sts.LastAuthenticated == nil {
			t.Errorf("sts (AssumeRole): %+v", sts)
		}
	})

	t.Run("role, service level", func(t *testing.T) {
		got := report(t, c, roleARN, "")
		r := got["iam"]
		if r.LastAuthenticated == nil || aws.ToString(r.LastAuthenticatedEntity) != roleARN || aws.ToString(r.LastAuthenticatedRegion) != "eu-west-1" {
			t.Errorf("role iam: %+v", r)
		}
		if r.TrackedActionsLastAccessed != nil {
			t.Errorf("service level with actions: %+v", r.TrackedActionsLastAccessed)
		}
		if ec2, ok := got["ec2"]; !ok || ec2.LastAuthenticated != nil {
			t.Errorf("ec2: %+v", ec2)
		}
	})

	t.Run("group and policy with entities", func(t *testing.T) {
		for _, arn := range []string{"arn:aws:iam::" + e.account + ":group/crew", aws.ToString(pol.Policy.Arn)} {
			gen, err := c.GenerateServiceLastAccessedDetails(ctx, &iam.GenerateServiceLastAccessedDetailsInput{Arn: aws.String(arn)})
			must(t, err)
			got, err := c.GetServiceLastAccessedDetails(ctx, &iam.GetServiceLastAccessedDetailsInput{JobId: gen.JobId})
			must(t, err)
			var found bool
			for _, s := range got.ServicesLastAccessed {
				if aws.ToString(s.ServiceNamespace) == "iam" {
					found = aws.ToString(s.LastAuthenticatedEntity) == userARN && aws.ToInt32(s.TotalAuthenticatedEntities) == 1
				}
			}
			if !found {
				t.Errorf("%s: %+v", arn, got.ServicesLastAccessed)
			}
			ents, err := c.GetServiceLastAccessedDetailsWithEntities(ctx, &iam.GetServiceLastAccessedDetailsWithEntitiesInput{JobId: gen.JobId, ServiceNamespace: aws.String("iam")})
			must(t, err)
			if len(ents.EntityDetailsList) != 1 || aws.ToString(ents.EntityDetailsList[0].EntityInfo.Arn) != userARN ||
				ents.EntityDetailsList[0].EntityInfo.Type != types.PolicyOwnerEntityTypeUser || ents.EntityDetailsList[0].LastAuthenticated == nil {
				t.Errorf("%s entities: %+v", arn, ents.EntityDetailsList)
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		_, err := c.GenerateServiceLastAccessedDetails(ctx, &iam.GenerateServiceLastAccessedDetailsInput{Arn: aws.String("arn:aws:s3:::bucket-name-long-enough")})
		wantCode(t, err, "InvalidInput")
		_, err = c.GenerateServiceLastAccessedDetails(ctx, &iam.GenerateServiceLastAccessedDetailsInput{Arn: aws.String("arn:aws:iam::" + e.account + ":user/ghost")})
		wantCode(t, err, "NoSuchEntity")
		_, err = c.GetServiceLastAccessedDetails(ctx, &iam.GetServiceLastAccessedDetailsInput{JobId: aws.String("00000000-0000-4000-8000-000000000000")})
		wantCode(t, err, "NoSuchEntity")
		_, err = w.GenerateServiceLastAccessedDetails(ctx, &iam.GenerateServiceLastAccessedDetailsInput{Arn: aws.String(userARN)})
		wantDenied(t, err, "iam:GenerateServiceLastAccessedDetails")
	})

	t.Run("persisted", func(t *testing.T) {
		var userID string
		e.srv.State().View.Read(e.account, func(a *iamstate.AccountView) {
			u, _ := a.User("worker")
			userID = u.V.ID
		})
		eventually(t, 5*time.Second, func() error {
			var r *iamstate.AccessRecord
			e.srv.State().View.Read(e.account, func(a *iamstate.AccountView) { r, _ = a.Access(userID) })
			if r == nil || r.Services["iam"].Actions["ListUsers"].Last.IsZero() {
				return errors.New("access record not flushed")
			}
			return nil
		})
	})

	t.Run("cli", func(t *testing.T) {
		out, err := e.cli(e.root, "iam", "generate-service-last-accessed-details", "--arn", userARN, "--granularity", "ACTION_LEVEL")
		must(t, err)
		var gen struct{ JobId string }
		must(t, json.Unmarshal([]byte(out), &gen))
		out, err = e.cli(e.root, "iam", "get-service-last-accessed-details", "--job-id", gen.JobId)
		must(t, err)
		var got struct {
			JobStatus            string
			ServicesLastAccessed []struct {
				ServiceNamespace, LastAuthenticatedEntity string
				TotalAuthenticatedEntities                int
			}
		}
		must(t, json.Unmarshal([]byte(out), &got))
		ok := false
		for _, s := range got.ServicesLastAccessed {
			ok = ok || s.ServiceNamespace == "iam" && s.LastAuthenticatedEntity == userARN && s.TotalAuthenticatedEntities == 1
		}
		if got.JobStatus != "COMPLETED" || !ok {
			t.Errorf("cli: %s", out)
		}
		out, err = e.cli(e.root, "iam", "get-service-last-accessed-details-with-entities", "--job-id", gen.JobId, "--service-namespace", "iam")
		must(t, err)
		if !json.Valid([]byte(out)) {
			t.Errorf("with entities: %s", out)
		}
	})

	t.Run("access key last used", func(t *testing.T) {
		got, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(key.AccessKeyID)})
		must(t, err)
		if got.AccessKeyLastUsed == nil || got.AccessKeyLastUsed.LastUsedDate == nil || aws.ToString(got.AccessKeyLastUsed.ServiceName) == "" {
			t.Errorf("last used %+v", got.AccessKeyLastUsed)
		}
	})
}
