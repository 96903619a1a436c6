package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// prettyPolicy is laid out like the AWS CLI example for
// simulate-principal-policy, whose statement IAM reports at 3:19-9:10.
const prettyPolicy = `{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadBucket",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "*"
        },
        {
            "Sid": "TaggedOnly",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestTag/team": "blue"}, "Bool": {"aws:MultiFactorAuthPresent": "true"}}
        }
    ]
}`

func pos(p *types.Position) [2]int32 {
	if p == nil {
		return [2]int32{}
	}
	return [2]int32{p.Line, p.Column}
}

func TestSimulateCustomPolicy(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	deny := `{"Version":"2012-10-17","Statement":[{"Sid":"NoDelete","Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}`

	tests := []struct {
		name     string
		in       iam.SimulateCustomPolicyInput
		decision []types.PolicyEvaluationDecisionType
		matched  [][]string // SourcePolicyId per result
		missing  [][]string
	}{
		{
			name: "allowed with positions",
			in: iam.SimulateCustomPolicyInput{
				PolicyInputList: []string{prettyPolicy},
				ActionNames:     []string{"s3:GetObject", "s3:DeleteObject"},
			},
			decision: []types.PolicyEvaluationDecisionType{"allowed", "implicitDeny"},
			matched:  [][]string{{"PolicyInputList.1"}, nil},
			missing:  [][]string{nil, nil},
		},
		{
			name: "explicit deny wins and is the only match",
			in: iam.SimulateCustomPolicyInput{
				PolicyInputList: []string{allowDoc("s3:*"), deny},
				ActionNames:     []string{"s3:DeleteObject"},
			},
			decision: []types.PolicyEvaluationDecisionType{"explicitDeny"},
			matched:  [][]string{{"PolicyInputList.2"}},
			missing:  [][]string{nil},
		},
		{
			name: "missing context values",
			in: iam.SimulateCustomPolicyInput{
				PolicyInputList: []string{prettyPolicy},
				ActionNames:     []string{"s3:PutObject"},
			},
			decision: []types.PolicyEvaluationDecisionType{"implicitDeny"},
			matched:  [][]string{nil},
			missing:  [][]string{{"aws:MultiFactorAuthPresent"}},
		},
		{
			name: "typed context entries satisfy the conditions",
			in: iam.SimulateCustomPolicyInput{
				PolicyInputList: []string{prettyPolicy},
				ActionNames:     []string{"s3:PutObject"},
				ContextEntries: []types.ContextEntry{
					{ContextKeyName: aws.String("aws:RequestTag/team"), ContextKeyValues: []string{"blue"}, ContextKeyType: types.ContextKeyTypeEnumString},
					{ContextKeyName: aws.String("aws:MultiFactorAuthPresent"), ContextKeyValues: []string{"true"}, ContextKeyType: types.ContextKeyTypeEnumBoolean},
				},
			},
			decision: []types.PolicyEvaluationDecisionType{"allowed"},
			matched:  [][]string{{"PolicyInputList.1"}},
			missing:  [][]string{nil},
		},
		{
			name: "boundary limits",
			in: iam.SimulateCustomPolicyInput{
				PolicyInputList:                    []string{allowDoc("s3:*", "iam:*")},
				PermissionsBoundaryPolicyInputList: []string{allowDoc("iam:*")},
				ActionNames:                        []string{"iam:ListUsers", "s3:ListBucket"},
			},
			decision: []types.PolicyEvaluationDecisionType{"allowed", "implicitDeny"},
			matched:  [][]string{{"PolicyInputList.1"}, nil},
			missing:  [][]string{nil, nil},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := c.SimulateCustomPolicy(ctx, &tc.in)
			must(t, err)
			if len(out.EvaluationResults) != len(tc.decision) {
				t.Fatalf("%d results, want %d", len(out.EvaluationResults), len(tc.decision))
			}
			for i, r := range out.EvaluationResults {
				if r.EvalDecision != tc.decision[i] {
					t.Errorf("%s: decision %s, want %s", aws.ToString(r.EvalActionName), r.EvalDecision, tc.decision[i])
				}
				if got := aws.ToString(r.EvalResourceName); got != "*" {
					t.Errorf("resource %q, want *", got)
				}
				var ids []string
				for _, m := range r.MatchedStatements {
					ids = append(ids, aws.ToString(m.SourcePolicyId))
					if m.SourcePolicyType != "IAM Policy" {
						t.Errorf("SourcePolicyType %q", m.SourcePolicyType)
					}
				}
				if !reflect.DeepEqual(ids, tc.matched[i]) {
					t.Errorf("%s: matched %q, want %q", aws.ToString(r.EvalActionName), ids, tc.matched[i])
				}
				if len(r.MissingContextValues) != len(tc.missing[i]) || len(tc.missing[i]) > 0 && !reflect.DeepEqual(r.MissingContextValues, tc.missing[i]) {
					t.Errorf("missing %q, want %q", r.MissingContextValues, tc.missing[i])
				}
				if r.EvalDecisionDetails != nil || r.ResourceSpecificResults != nil {
					t.Errorf("details for resource *: %v %v", r.EvalDecisionDetails, r.ResourceSpecificResults)
				}
			}
		})
	}

	t.Run("statement positions", func(t *testing.T) {
		out, err := c.SimulateCustomPolicy(ctx, &iam.SimulateCustomPolicyInput{
			PolicyInputList: []string{prettyPolicy},
			ActionNames:     []string{"s3:GetObject"},
		})
		must(t, err)
		m := out.EvaluationResults[0].MatchedStatements[0]
		if got := [2][2]int32{pos(m.StartPosition), pos(m.EndPosition)}; got != [2][2]int32{{3, 19}, {9, 10}} {
			t.Errorf("positions %v, want 3:19-9:10", got)
		}
	})

	t.Run("pagination", func(t *testing.T) {
		actions := []string{"iam:ListUsers", "iam:ListRoles", "iam:ListGroups", "iam:GetUser", "iam:CreateUser"}
		var got []string
		var marker *string
		for pages := 0; ; pages++ {
			out, err := c.SimulateCustomPolicy(ctx, &iam.SimulateCustomPolicyInput{
				PolicyInputList: []string{allowDoc("iam:List*")}, ActionNames: actions,
				MaxItems: aws.Int32(2), Marker: marker,
			})
			must(t, err)
			for _, r := range out.EvaluationResults {
				got = append(got, aws.ToString(r.EvalActionName)+"="+string(r.EvalDecision))
			}
			if !out.IsTruncated {
				break
			}
			if len(out.EvaluationResults) != 2 || pages > 5 {
				t.Fatalf("page of %d", len(out.EvaluationResults))
			}
			marker = out.Marker
		}
		want := []string{"iam:ListUsers=allowed", "iam:ListRoles=allowed", "iam:ListGroups=allowed", "iam:GetUser=implicitDeny", "iam:CreateUser=implicitDeny"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("pages = %q, want %q", got, want)
		}
	})

	t.Run("resources and resource policy", func(t *testing.T) {
		rp := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/ann"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"}]}`
		out, err := c.SimulateCustomPolicy(ctx, &iam.SimulateCustomPolicyInput{
			PolicyInputList: []string{allowDoc("s3:ListBucket")},
			ActionNames:     []string{"s3:GetObject"},
			ResourceArns:    []string{"arn:aws:s3:::shared/k", "arn:aws:s3:::other/k"},
			ResourcePolicy:  aws.String(rp),
			CallerArn:       aws.String("arn:aws:iam::123456789012:user/ann"),
		})
		must(t, err)
		if len(out.EvaluationResults) != 2 {
			t.Fatalf("%d results", len(out.EvaluationResults))
		}
		shared, other := out.EvaluationResults[0], out.EvaluationResults[1]
		if shared.EvalDecision != "allowed" || other.EvalDecision != "implicitDeny" {
			t.Errorf("decisions %s %s", shared.EvalDecision, other.EvalDecision)
		}
		if len(shared.ResourceSpecificResults) != 1 || aws.ToString(shared.ResourceSpecificResults[0].EvalResourceName) != "arn:aws:s3:::shared/k" {
			t.Fatalf("resource results %+v", shared.ResourceSpecificResults)
		}
		m := shared.MatchedStatements
		if len(m) != 1 || aws.ToString(m[0].SourcePolicyId) != "ResourcePolicy" || m[0].SourcePolicyType != "Resource Policy" {
			t.Errorf("matched %+v", m)
		}
		if shared.EvalDecisionDetails == nil || len(shared.EvalDecisionDetails) != 0 {
			t.Errorf("same-account EvalDecisionDetails = %v, want present and empty", shared.EvalDecisionDetails)
		}
	})

	t.Run("cross account details", func(t *testing.T) {
		rp := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:user/arnav"},"Action":["s3:List*","s3:Put*"],"Resource":"arn:aws:s3:::mary/*"}}`
		out, err := c.SimulateCustomPolicy(ctx, &iam.SimulateCustomPolicyInput{
			PolicyInputList:                    []string{allowDoc("iam:*")},
			PermissionsBoundaryPolicyInputList: []string{allowDoc("iam:*")},
			ActionNames:                        []string{"s3:PutObject"},
			ResourceArns:                       []string{"arn:aws:s3:::mary/Test"},
			ResourceOwner:                      aws.String("arn:aws:iam::123456789012:root"),
			ResourcePolicy:                     aws.String(rp),
			CallerArn:                          aws.String("arn:aws:iam::444455556666:user/arnav"),
		})
		must(t, err)
		r := out.EvaluationResults[0]
		want := map[string]types.PolicyEvaluationDecisionType{"IAM Policy": "implicitDeny", "Resource Policy": "allowed", "Permissions Boundary Policy": "implicitDeny"}
		if r.EvalDecision != "implicitDeny" || !reflect.DeepEqual(r.EvalDecisionDetails, want) {
			t.Errorf("decision %s details %v", r.EvalDecision, r.EvalDecisionDetails)
		}
		if r.PermissionsBoundaryDecisionDetail == nil || r.PermissionsBoundaryDecisionDetail.AllowedByPermissionsBoundary {
			t.Errorf("boundary detail %+v", r.PermissionsBoundaryDecisionDetail)
		}
		if len(r.MatchedStatements) != 0 {
			t.Errorf("top-level matched %+v", r.MatchedStatements)
		}
		rs := r.ResourceSpecificResults[0]
		if len(rs.MatchedStatements) != 1 || aws.ToString(rs.MatchedStatements[0].SourcePolicyId) != "ResourcePolicy" {
			t.Errorf("resource matched %+v", rs.MatchedStatements)
		}
	})

	t.Run("errors", func(t *testing.T) {
		cases := []struct {
			name string
			in   iam.SimulateCustomPolicyInput
			code string
		}{
			{"malformed policy", iam.SimulateCustomPolicyInput{PolicyInputList: []string{`{"Statement":`}, ActionNames: []string{"s3:GetObject"}}, "InvalidInput"},
			{"bad numeric", iam.SimulateCustomPolicyInput{PolicyInputList: []string{allowDoc("s3:*")}, ActionNames: []string{"s3:GetObject"},
				ContextEntries: []types.ContextEntry{{ContextKeyName: aws.String("s3:max-keys"), ContextKeyValues: []string{"ten"}, ContextKeyType: types.ContextKeyTypeEnumNumeric}}}, "InvalidInput"},
			{"bad ip", iam.SimulateCustomPolicyInput{PolicyInputList: []string{allowDoc("s3:*")}, ActionNames: []string{"s3:GetObject"},
				ContextEntries: []types.ContextEntry{{ContextKeyName: aws.String("aws:SourceIp"), ContextKeyValues: []string{"10.0.0.300"}, ContextKeyType: types.ContextKeyTypeEnumIp}}}, "InvalidInput"},
			{"resource policy without caller", iam.SimulateCustomPolicyInput{PolicyInputList: []string{allowDoc("s3:*")}, ActionNames: []string{"s3:GetObject"},
				ResourcePolicy: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}`)}, "InvalidInput"},
			{"bad caller", iam.SimulateCustomPolicyInput{PolicyInputList: []string{allowDoc("s3:*")}, ActionNames: []string{"s3:GetObject"}, CallerArn: aws.String("arn:aws:sts::123456789012:assumed-role/r/s")}, "InvalidInput"},
			{"two boundaries", iam.SimulateCustomPolicyInput{PolicyInputList: []string{allowDoc("s3:*")}, PermissionsBoundaryPolicyInputList: []string{allowDoc("s3:*"), allowDoc("s3:*")}, ActionNames: []string{"s3:GetObject"}}, "InvalidInput"},
			{"bad resource handling", iam.SimulateCustomPolicyInput{PolicyInputList: []string{allowDoc("ec2:*")}, ActionNames: []string{"ec2:RunInstances"}, ResourceHandlingOption: aws.String("EC2-Nope")}, "InvalidInput"},
			{"bad marker", iam.SimulateCustomPolicyInput{PolicyInputList: []string{allowDoc("s3:*")}, ActionNames: []string{"s3:GetObject"}, Marker: aws.String("!!")}, "InvalidInput"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := c.SimulateCustomPolicy(ctx, &tc.in)
				wantCode(t, err, tc.code)
			})
		}
	})
}

// simUser makes dev (in group eng, with a boundary) and returns its ARN.
func simUser(t *testing.T, e *env) string {
	t.Helper()
	ctx := context.Background()
	c := e.rootIAM()
	boundary, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("DevBoundary"), PolicyDocument: aws.String(allowDoc("s3:*", "iam:Get*"))})
	must(t, err)
	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("dev"), PermissionsBoundary: boundary.Policy.Arn})
	must(t, err)
	_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("dev"), PolicyName: aws.String("Own"), PolicyDocument: aws.String(allowDoc("iam:GetUser", "ec2:DescribeInstances"))})
	must(t, err)
	_, err = c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("eng")})
	must(t, err)
	_, err = c.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: aws.String("eng"), PolicyName: aws.String("Storage"), PolicyDocument: aws.String(prettyPolicy)})
	must(t, err)
	_, err = c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("eng"), UserName: aws.String("dev")})
	must(t, err)
	_, err = c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("eng"), PolicyArn: aws.String("arn:aws:iam::aws:policy/IAMReadOnlyAccess")})
	must(t, err)
	return "arn:aws:iam::" + e.account + ":user/dev"
}

func TestSimulatePrincipalPolicy(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	dev := simUser(t, e)

	out, err := c.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{
		PolicySourceArn: aws.String(dev),
		ActionNames:     []string{"iam:GetUser", "s3:GetObject", "ec2:DescribeInstances", "iam:ListUsers", "iam:CreateUser"},
		ResourceArns:    []string{"arn:aws:s3:::b/k"},
	})
	must(t, err)
	type row struct {
		decision string
		ids      string
		boundary bool
	}
	var got []row
	for _, r := range out.EvaluationResults {
		var ids []string
		for _, m := range r.MatchedStatements {
			ids = append(ids, aws.ToString(m.SourcePolicyId))
		}
		b := r.PermissionsBoundaryDecisionDetail
		if b == nil {
			t.Fatalf("%s: no PermissionsBoundaryDecisionDetail", aws.ToString(r.EvalActionName))
		}
		got = append(got, row{string(r.EvalDecision), strings.Join(ids, ","), b.AllowedByPermissionsBoundary})
	}
	want := []row{
		{"allowed", "user_dev_Own,IAMReadOnlyAccess", true},
		{"allowed", "group_eng_Storage", true},
		{"implicitDeny", "", false}, // the boundary does not allow EC2
		{"implicitDeny", "", false}, // IAMReadOnlyAccess allows it; the boundary allows only iam:Get*
		{"implicitDeny", "", false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("results:\n got %+v\nwant %+v", got, want)
	}
	// The group's inline policy is the pretty document: its first statement
	// is at 3:19-9:10.
	m := out.EvaluationResults[1].MatchedStatements[0]
	if p := [2][2]int32{pos(m.StartPosition), pos(m.EndPosition)}; p != [2][2]int32{{3, 19}, {9, 10}} {
		t.Errorf("positions %v", p)
	}

	t.Run("boundary input replaces the entity's", func(t *testing.T) {
		out, err := c.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{
			PolicySourceArn:                    aws.String(dev),
			ActionNames:                        []string{"ec2:DescribeInstances"},
			PermissionsBoundaryPolicyInputList: []string{allowDoc("ec2:*")},
		})
		must(t, err)
		if d := out.EvaluationResults[0].EvalDecision; d != "allowed" {
			t.Errorf("decision %s", d)
		}
	})

	t.Run("group and role sources", func(t *testing.T) {
		out, err := c.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{
			PolicySourceArn: aws.String("arn:aws:iam::" + e.account + ":group/eng"),
			ActionNames:     []string{"iam:ListUsers", "iam:GetUser"},
		})
		must(t, err)
		for _, r := range out.EvaluationResults {
			if r.EvalDecision != "allowed" || r.PermissionsBoundaryDecisionDetail != nil {
				t.Errorf("%s: %s %+v", aws.ToString(r.EvalActionName), r.EvalDecision, r.PermissionsBoundaryDecisionDetail)
			}
		}
		_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"), AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
		must(t, err)
		_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("p"), PolicyDocument: aws.String(statementDoc("Deny", "s3:*"))})
		must(t, err)
		out, err = c.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{
			PolicySourceArn: aws.String("arn:aws:iam::" + e.account + ":role/app"),
			ActionNames:     []string{"s3:GetObject"},
			PolicyInputList: []string{allowDoc("s3:*")},
		})
		must(t, err)
		r := out.EvaluationResults[0]
		if r.EvalDecision != "explicitDeny" || len(r.MatchedStatements) != 1 || aws.ToString(r.MatchedStatements[0].SourcePolicyId) != "role_app_p" {
			t.Errorf("role: %s %+v", r.EvalDecision, r.MatchedStatements)
		}
	})

	t.Run("errors", func(t *testing.T) {
		cases := []struct{ arn, code string }{
			{"arn:aws:iam::" + e.account + ":user/nobody", "NoSuchEntity"},
			{"arn:aws:iam::" + e.account + ":role/nobody", "NoSuchEntity"},
			{"arn:aws:iam::" + e.account + ":policy/nobody", "InvalidInput"},
			{"arn:aws:s3:::bucket/key/that-is-long", "InvalidInput"},
		}
		for _, tc := range cases {
			_, err := c.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(tc.arn), ActionNames: []string{"s3:GetObject"}})
			wantCode(t, err, tc.code)
		}
	})

	t.Run("caller needs permission and nothing changes", func(t *testing.T) {
		_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("auditor")})
		must(t, err)
		key := userKey(t, e, "auditor")
		ai := e.iam(key)
		_, err = ai.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(dev), ActionNames: []string{"s3:GetObject"}})
		wantDenied(t, err, "iam:SimulatePrincipalPolicy")
		_, err = ai.SimulateCustomPolicy(ctx, &iam.SimulateCustomPolicyInput{PolicyInputList: []string{allowDoc("s3:*")}, ActionNames: []string{"s3:GetObject"}})
		wantDenied(t, err, "iam:SimulateCustomPolicy")
		_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("auditor"), PolicyName: aws.String("sim"), PolicyDocument: aws.String(allowDoc("iam:Simulate*", "iam:GetContextKeys*"))})
		must(t, err)
		eventually(t, 5*time.Second, func() error {
			_, err := ai.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(dev), ActionNames: []string{"iam:CreateUser"}})
			return err
		})
		// Simulating an allowed CreateUser created nothing.
		if _, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("x")}); errCode(err) != "NoSuchEntity" {
			t.Errorf("GetUser: %v", err)
		}
		// The simulation does not grant: auditor still cannot list users.
		_, err = ai.ListUsers(ctx, &iam.ListUsersInput{})
		wantDenied(t, err, "iam:ListUsers")
	})
}

func TestGetContextKeys(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.rootIAM()
	dev := simUser(t, e)

	custom, err := c.GetContextKeysForCustomPolicy(ctx, &iam.GetContextKeysForCustomPolicyInput{PolicyInputList: []string{
		`{"Version":"2012-10-17", "Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"arn:aws:dynamodb:us-west-2:123456789012:table/${aws:username}","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2015-08-16T12:00:00Z"}}}}`,
	}})
	must(t, err)
	if want := []string{"aws:username", "aws:CurrentTime"}; !reflect.DeepEqual(custom.ContextKeyNames, want) {
		t.Errorf("custom keys %q, want %q", custom.ContextKeyNames, want)
	}
	principal, err := c.GetContextKeysForPrincipalPolicy(ctx, &iam.GetContextKeysForPrincipalPolicyInput{
		PolicySourceArn: aws.String(dev),
		PolicyInputList: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}`},
	})
	must(t, err)
	for _, k := range []string{"aws:RequestTag/team", "aws:MultiFactorAuthPresent", "aws:SourceIp"} {
		found := false
		for _, g := range principal.ContextKeyNames {
			found = found || g == k
		}
		if !found {
			t.Errorf("principal keys %q lack %s", principal.ContextKeyNames, k)
		}
	}
	_, err = c.GetContextKeysForPrincipalPolicy(ctx, &iam.GetContextKeysForPrincipalPolicyInput{PolicySourceArn: aws.String("arn:aws:iam::" + e.account + ":user/ghost")})
	wantCode(t, err, "NoSuchEntity")
	_, err = c.GetContextKeysForCustomPolicy(ctx, &iam.GetContextKeysForCustomPolicyInput{PolicyInputList: []string{`nope`}})
	wantCode(t, err, "InvalidInput")
}

func TestSimulateCLI(t *testing.T) {
	e := start(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "p.json")
	// --policy-input-list takes a list of strings: the file holds a JSON
	// array of policy documents.
	b, _ := json.Marshal([]string{prettyPolicy})
	must(t, os.WriteFile(p, b, 0o600))
	out, err := e.cli(e.root, "iam", "simulate-custom-policy",
		"--policy-input-list", "file://"+p,
		"--action-names", "s3:GetObject", "s3:PutObject",
		"--resource-arns", "arn:aws:s3:::b/k",
		"--context-entries", "ContextKeyName=aws:RequestTag/team,ContextKeyValues=blue,ContextKeyType=string",
		"ContextKeyName=aws:MultiFactorAuthPresent,ContextKeyValues=false,ContextKeyType=boolean")
	must(t, err)
	var res struct {
		EvaluationResults []struct {
			EvalActionName, EvalResourceName, EvalDecision string
			MatchedStatements                              []struct {
				SourcePolicyId             string
				StartPosition, EndPosition struct{ Line, Column int }
			}
			ResourceSpecificResults []struct {
				EvalResourceName, EvalResourceDecision string
				MissingContextValues                   []string
			}
		}
	}
	must(t, json.Unmarshal([]byte(out), &res))
	if len(res.EvaluationResults) != 2 {
		t.Fatalf("output %s", out)
	}
	get, put := res.EvaluationResults[0], res.EvaluationResults[1]
	if get.EvalDecision != "allowed" || get.EvalResourceName != "arn:aws:s3:::b/k" || len(get.MatchedStatements) != 1 ||
		get.MatchedStatements[0].StartPosition.Line != 3 || get.MatchedStatements[0].EndPosition.Column != 10 {
		t.Errorf("GetObject: %+v", get)
	}
	if put.EvalDecision != "implicitDeny" || len(put.ResourceSpecificResults) != 1 || put.ResourceSpecificResults[0].EvalResourceDecision != "implicitDeny" {
		t.Errorf("PutObject: %+v", put)
	}

	simUser(t, e)
	out, err = e.cli(e.root, "iam", "simulate-principal-policy",
		"--policy-source-arn", "arn:aws:iam::"+e.account+":user/dev",
		"--action-names", "iam:GetUser", "ec2:DescribeInstances",
		"--query", "EvaluationResults[].[EvalActionName,EvalDecision]", "--output", "text")
	must(t, err)
	if got := strings.Fields(out); !reflect.DeepEqual(got, []string{"iam:GetUser", "allowed", "ec2:DescribeInstances", "implicitDeny"}) {
		t.Errorf("simulate-principal-policy: %q", out)
	}
	out, err = e.cli(e.root, "iam", "get-context-keys-for-principal-policy", "--policy-source-arn", "arn:aws:iam::"+e.account+":user/dev")
	must(t, err)
	if !strings.Contains(out, "aws:RequestTag/team") {
		t.Errorf("get-context-keys-for-principal-policy: %s", out)
	}
}

// TestSimulateAssumeRoleNeedsTrust: the simulator decides sts:AssumeRole
// as AssumeRole does: the role's trust policy must allow the principal,
// whatever the principal's identity-based policies allow.
func TestSimulateAssumeRoleNeedsTrust(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	userWithKey(t, root, "alice", allowAssumeAny)
	userWithKey(t, root, "bob", "")
	aliceARN := "arn:aws:iam::" + testAccount + ":user/alice"
	trusting := role(t, root, "trusts-alice", trustAWS(aliceARN, ""), "", 0)
	other := role(t, root, "trusts-bob", trustAWS("arn:aws:iam::"+testAccount+":user/bob", ""), "", 0)
	out, err := root.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{
		PolicySourceArn: aws.String(aliceARN),
		ActionNames:     []string{"sts:AssumeRole"},
		ResourceArns:    []string{trusting, other},
	})
	must(t, err)
	want := map[string]types.PolicyEvaluationDecisionType{trusting: types.PolicyEvaluationDecisionTypeAllowed, other: types.PolicyEvaluationDecisionTypeImplicitDeny}
	for _, r := range out.EvaluationResults {
		if got := r.EvalDecision; got != want[aws.ToString(r.EvalResourceName)] {
			t.Errorf("sts:AssumeRole on %s: %s, want %s", aws.ToString(r.EvalResourceName), got, want[aws.ToString(r.EvalResourceName)])
		}
	}
	// The real call agrees.
	alice, err := root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	must(t, err)
	creds := aws.Credentials{AccessKeyID: aws.ToString(alice.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(alice.AccessKey.SecretAccessKey)}
	_, err = e.sts(creds).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(other), RoleSessionName: aws.String("s1")})
	wantCode(t, err, "AccessDenied")
	_, err = e.sts(creds).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(trusting), RoleSessionName: aws.String("s1")})
	must(t, err)
}
