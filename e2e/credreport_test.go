package e2e

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

const credentialReportHeader = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated"

var reportTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$`)

// reportRows parses a credential report into rows keyed by user, checking
// the header.
func reportRows(t *testing.T, content []byte) ([]string, map[string]map[string]string) {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(string(content))).ReadAll()
	if err != nil {
		t.Fatalf("report %q: %v", content, err)
	}
	if got := strings.Join(recs[0], ","); got != credentialReportHeader {
		t.Fatalf("header:\n%s\nwant\n%s", got, credentialReportHeader)
	}
	var order []string
	rows := map[string]map[string]string{}
	for _, r := range recs[1:] {
		row := map[string]string{}
		for i, col := range recs[0] {
			row[col] = r[i]
		}
		order = append(order, r[0])
		rows[r[0]] = row
	}
	return order, rows
}

func TestCredentialReport(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()

	_, err := root.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	wantCode(t, err, "ReportNotPresent")

	// alice: password and two keys, one used and one inactive; bob: nothing.
	_, err = root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")})
	must(t, err)
	_, err = root.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("alice"), Password: aws.String("Correct-Horse-9")})
	must(t, err)
	_, err = root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{
		UserName: aws.String("alice"), PolicyName: aws.String("self"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}`),
	})
	must(t, err)
	k1, err := root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	must(t, err)
	k2, err := root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	must(t, err)
	_, err = root.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: k2.AccessKey.AccessKeyId, Status: types.StatusTypeInactive})
	must(t, err)
	alice := aws.Credentials{AccessKeyID: aws.ToString(k1.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(k1.AccessKey.SecretAccessKey)}
	_, err = e.iam(alice).GetUser(ctx, &iam.GetUserInput{})
	must(t, err)
	_, err = root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")})
	must(t, err)
	_, err = root.UpdateAccountPasswordPolicy(ctx, &iam.UpdateAccountPasswordPolicyInput{MaxPasswordAge: aws.Int32(90)})
	must(t, err)

	gen, err := root.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
	must(t, err)
	if gen.State != types.ReportStateTypeStarted || aws.ToString(gen.Description) != "No report exists. Starting a new report generation task" {
		t.Fatalf("first generate: %s %q", gen.State, aws.ToString(gen.Description))
	}
	gen, err = root.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
	must(t, err)
	if gen.State != types.ReportStateTypeComplete || gen.Description != nil {
		t.Fatalf("second generate: %s %q", gen.State, aws.ToString(gen.Description))
	}
	rep, err := root.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	must(t, err)
	if rep.ReportFormat != types.ReportFormatTypeTextCsv || time.Since(aws.ToTime(rep.GeneratedTime)) > time.Minute {
		t.Fatalf("format %s generated %v", rep.ReportFormat, rep.GeneratedTime)
	}
	order, rows := reportRows(t, rep.Content)
	if strings.Join(order, ",") != "<root_account>,alice,bob" {
		t.Fatalf("rows: %v", order)
	}

	tests := []struct {
		user string
		want map[string]string // exact values; "DATE" means an ISO 8601 time
	}{
		{"<root_account>", map[string]string{
			"arn": "arn:aws:iam::" + testAccount + ":root", "user_creation_time": "DATE",
			"password_enabled": "not_supported", "password_last_changed": "not_supported", "password_next_rotation": "not_supported",
			"mfa_active": "false", "access_key_1_active": "true", "access_key_1_last_rotated": "DATE",
			"access_key_1_last_used_date": "DATE", "access_key_1_last_used_region": "us-east-1", "access_key_1_last_used_service": "iam",
			"access_key_2_active": "false", "access_key_2_last_rotated": "N/A",
			"cert_1_active": "false", "cert_1_last_rotated": "N/A", "cert_2_active": "false", "cert_2_last_rotated": "N/A",
		}},
		{"alice", map[string]string{
			"arn": "arn:aws:iam::" + testAccount + ":user/alice", "user_creation_time": "DATE",
			"password_enabled": "true", "password_last_used": "no_information", "password_last_changed": "DATE", "password_next_rotation": "DATE",
			"mfa_active":          "false",
			"access_key_1_active": "true", "access_key_1_last_rotated": "DATE", "access_key_1_last_used_date": "DATE",
			"access_key_1_last_used_region": "us-east-1", "access_key_1_last_used_service": "iam",
			"access_key_2_active": "false", "access_key_2_last_rotated": "DATE", "access_key_2_last_used_date": "N/A",
			"access_key_2_last_used_region": "N/A", "access_key_2_last_used_service": "N/A",
		}},
		{"bob", map[string]string{
			"password_enabled": "false", "password_last_used": "N/A", "password_last_changed": "N/A", "password_next_rotation": "N/A",
			"mfa_active": "false", "access_key_1_active": "false", "access_key_1_last_rotated": "N/A", "access_key_1_last_used_date": "N/A",
			"access_key_1_last_used_region": "N/A", "access_key_1_last_used_service": "N/A", "access_key_2_active": "false",
			"cert_1_active": "false", "cert_2_last_rotated": "N/A",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.user, func(t *testing.T) {
			row := rows[tc.user]
			for col, want := range tc.want {
				got := row[col]
				if want == "DATE" && reportTime.MatchString(got) || got == want {
					continue
				}
				t.Errorf("%s = %q, want %q", col, got, want)
			}
		})
	}
	// password_next_rotation is 90 days after the password was set.
	changed, _ := time.Parse(time.RFC3339, rows["alice"]["password_last_changed"])
	next, _ := time.Parse(time.RFC3339, rows["alice"]["password_next_rotation"])
	if next.Sub(changed) != 90*24*time.Hour {
		t.Fatalf("rotation %v after change %v", next, changed)
	}

	t.Run("permissions", func(t *testing.T) {
		_, err := e.iam(alice).GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		wantCode(t, err, "AccessDenied")
		_, err = e.iam(alice).GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
		wantCode(t, err, "AccessDenied")
	})
}

func TestCredentialReportCLI(t *testing.T) {
	e := start(t)
	if _, err := e.cli(e.root, "iam", "get-credential-report"); err == nil || !strings.Contains(err.Error(), "(ReportNotPresent)") {
		t.Fatalf("get before generate: %v", err)
	}
	out, err := e.cli(e.root, "iam", "generate-credential-report")
	must(t, err)
	var gen struct{ State, Description string }
	must(t, json.Unmarshal([]byte(out), &gen))
	if gen.State != "STARTED" {
		t.Fatalf("generate: %s", out)
	}
	out, err = e.cli(e.root, "iam", "get-credential-report")
	must(t, err)
	var rep struct{ Content, ReportFormat, GeneratedTime string }
	must(t, json.Unmarshal([]byte(out), &rep))
	content, err := base64.StdEncoding.DecodeString(rep.Content)
	must(t, err)
	order, rows := reportRows(t, content)
	if rep.ReportFormat != "text/csv" || len(order) != 1 || rows["<root_account>"]["arn"] != "arn:aws:iam::"+testAccount+":root" {
		t.Fatalf("report %s: %s", out, content)
	}
}
