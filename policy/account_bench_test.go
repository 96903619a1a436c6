package policy

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/cputime"
	"github.com/iamd/iamd/internal/managedpolicies"
)

// This file holds the realistic-account benchmark of docs/benchmarks.md:
// a generated account (1,000 users in 1-5 of 40 groups, ~200 distinct
// policies: customer-managed, AWS-managed from the catalogue, group and
// user inline policies; permissions boundaries; bucket policies) and
// 10,000 mixed requests, decided by the engine and by a straightforward
// interpreter (the baseline) that walks the parsed documents' statements
// on every request. The two must agree on every request.

const (
	acctID       = "123456789012"
	acctTeams    = 40
	acctGroups   = 40
	acctUsers    = 1000
	acctCustomer = 105 // customer-managed policies, boundaries excluded
	acctBounds   = 5   // permissions boundaries (customer-managed)
	acctRequests = 10000
)

// acctAWSManaged are the AWS-managed policies the groups attach, from the
// catalogue: the common human-facing ones, ReadOnlyAccess (88 KB) and
// SecurityAudit (30 KB) included.
var acctAWSManaged = []string{"AdministratorAccess", "ReadOnlyAccess", "PowerUserAccess", "AmazonS3ReadOnlyAccess",
	"AmazonS3FullAccess", "IAMUserChangePassword", "IAMReadOnlyAccess", "AmazonEC2ReadOnlyAccess",
	"AmazonDynamoDBReadOnlyAccess", "CloudWatchReadOnlyAccess", "AmazonSQSFullAccess",
	"IAMSelfManageServiceSpecificCredentials", "AWSLambda_ReadOnlyAccess", "AmazonSNSReadOnlyAccess",
	"AmazonSQSReadOnlyAccess", "AmazonDynamoDBFullAccess", "AWSLambda_FullAccess", "AmazonEC2FullAccess",
	"CloudWatchLogsReadOnlyAccess", "AWSKeyManagementServicePowerUser", "AmazonSNSFullAccess",
	"CloudWatchFullAccess", "AmazonRDSReadOnlyAccess", "AWSCloudFormationReadOnlyAccess",
	"AmazonVPCReadOnlyAccess", "AmazonRoute53ReadOnlyAccess", "IAMFullAccess", "CloudWatchLogsFullAccess",
	"job-function/ViewOnlyAccess", "SecurityAudit"}

// acctDoc is one distinct document of the account.
type acctDoc struct {
	name string // the label explanations use (a policy ARN, "group/g3 inline policy P")
	text string
	team int
	doc  *Document
}

type acctUser struct {
	name     string
	arn      string
	team     int
	docs     []int // identity documents (indexes into account.docs)
	boundary int   // -1 for none
}

type acctRequest struct {
	user   int
	req    Request
	bucket int // index into account.buckets, -1 for none
	ctx    map[string][]string
}

type account struct {
	docs     []acctDoc
	users    []acctUser
	buckets  []acctDoc // bucket policies (resource-based)
	requests []acctRequest
}

// Service vocabularies of the generated policies and requests.
var acctActions = map[string][]string{
	"s3":         {"GetObject", "PutObject", "DeleteObject", "ListBucket", "GetBucketPolicy", "GetObjectTagging"},
	"dynamodb":   {"GetItem", "PutItem", "Query", "Scan", "DeleteItem", "DescribeTable"},
	"sqs":        {"SendMessage", "ReceiveMessage", "DeleteMessage", "GetQueueAttributes"},
	"sns":        {"Publish", "GetTopicAttributes", "Subscribe"},
	"lambda":     {"InvokeFunction", "GetFunction", "UpdateFunctionCode", "ListFunctions"},
	"ec2":        {"DescribeInstances", "StartInstances", "StopInstances", "RunInstances", "TerminateInstances"},
	"iam":        {"GetUser", "ChangePassword", "CreateAccessKey", "ListAccessKeys", "CreateUser", "DeleteUser", "ListUsers"},
	"kms":        {"Decrypt", "Encrypt", "GenerateDataKey", "DescribeKey"},
	"logs":       {"PutLogEvents", "CreateLogStream", "GetLogEvents", "DescribeLogGroups"},
	"cloudwatch": {"GetMetricData", "PutMetricData", "DescribeAlarms"},
}

var acctServices = []string{"s3", "s3", "s3", "dynamodb", "dynamodb", "sqs", "sns", "lambda", "ec2", "ec2", "iam", "kms", "logs", "cloudwatch"}

// acctResource returns a resource of the service for team t and user u.
func acctResource(svc, action string, t int, user string, r *rand.Rand) string {
	switch svc {
	case "s3":
		if action == "ListBucket" || action == "GetBucketPolicy" {
			return fmt.Sprintf("arn:aws:s3:::team-%d-data", t)
		}
		switch r.IntN(3) {
		case 0:
			return fmt.Sprintf("arn:aws:s3:::team-%d-data/home/%s/file-%d.csv", t, user, r.IntN(100))
		case 1:
			return fmt.Sprintf("arn:aws:s3:::team-%d-data/reports/2026/q%d.csv", t, 1+r.IntN(4))
		}
		return fmt.Sprintf("arn:aws:s3:::team-%d-data/shared/asset-%d.bin", t, r.IntN(1000))
	case "dynamodb":
		return fmt.Sprintf("arn:aws:dynamodb:us-east-1:%s:table/team-%d-orders", acctID, t)
	case "sqs":
		return fmt.Sprintf("arn:aws:sqs:us-east-1:%s:team-%d-jobs", acctID, t)
	case "sns":
		return fmt.Sprintf("arn:aws:sns:us-east-1:%s:team-%d-alerts", acctID, t)
	case "lambda":
		if action == "ListFunctions" {
			return "*"
		}
		return fmt.Sprintf("arn:aws:lambda:us-east-1:%s:function:team-%d-api", acctID, t)
	case "ec2":
		if action == "DescribeInstances" {
			return "*"
		}
		return fmt.Sprintf("arn:aws:ec2:us-east-1:%s:instance/i-%08x", acctID, t*1000+r.IntN(20))
	case "iam":
		switch action {
		case "CreateUser", "DeleteUser":
			return fmt.Sprintf("arn:aws:iam::%s:user/new-%d", acctID, r.IntN(100))
		case "ListUsers":
			return fmt.Sprintf("arn:aws:iam::%s:user/", acctID)
		}
		return fmt.Sprintf("arn:aws:iam::%s:user/%s", acctID, user)
	case "kms":
		return fmt.Sprintf("arn:aws:kms:us-east-1:%s:key/team-%d", acctID, t)
	case "logs":
		if action == "DescribeLogGroups" {
			return "*"
		}
		return fmt.Sprintf("arn:aws:logs:us-east-1:%s:log-group:/team/%d:log-stream:app", acctID, t)
	}
	return "*"
}

// acctStatement returns a statement of a customer-managed or inline policy
// for team t, in the shapes such policies take.
func acctStatement(t int, r *rand.Rand) string {
	ips := `"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}`
	switch r.IntN(12) {
	case 0:
		return fmt.Sprintf(`{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::team-%d-data/*"}`, t)
	case 1:
		return fmt.Sprintf(`{"Effect":"Allow","Action":"s3:*","Resource":["arn:aws:s3:::team-%d-data/home/${aws:username}/*","arn:aws:s3:::team-%d-data"]}`, t, t)
	case 2:
		return fmt.Sprintf(`{"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:Query","dynamodb:PutItem"],"Resource":"arn:aws:dynamodb:us-east-1:%s:table/team-%d-*","Condition":{%s}}`, acctID, t, ips)
	case 3:
		return `{"Effect":"Deny","Action":["dynamodb:DeleteItem","s3:DeleteObject"],"Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}`
	case 4:
		return fmt.Sprintf(`{"Effect":"Allow","Action":["sqs:SendMessage","sqs:ReceiveMessage","sqs:DeleteMessage"],"Resource":"arn:aws:sqs:us-east-1:%s:team-%d-*"}`, acctID, t)
	case 5:
		return fmt.Sprintf(`{"Effect":"Allow","Action":["sns:Publish","lambda:InvokeFunction","lambda:Get*"],"Resource":["arn:aws:sns:us-east-1:%s:team-%d-alerts","arn:aws:lambda:us-east-1:%s:function:team-%d-*"]}`, acctID, t, acctID, t)
	case 6:
		return fmt.Sprintf(`{"Effect":"Allow","Action":["ec2:StartInstances","ec2:StopInstances"],"Resource":"arn:aws:ec2:us-east-1:%s:instance/*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"%d"}}}`, acctID, t)
	case 7:
		return `{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]},"Bool":{"aws:ViaAWSService":"false"}}}`
	case 8:
		return fmt.Sprintf(`{"Effect":"Allow","Action":["kms:Decrypt","kms:Encrypt","kms:GenerateDataKey"],"Resource":"arn:aws:kms:us-east-1:%s:key/team-%d","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}`, acctID, t)
	case 9:
		return fmt.Sprintf(`{"Effect":"Allow","Action":["logs:PutLogEvents","logs:CreateLogStream","logs:GetLogEvents"],"Resource":"arn:aws:logs:us-east-1:%s:log-group:/team/%d:*"}`, acctID, t)
	case 10:
		return fmt.Sprintf(`{"Effect":"Allow","Action":["iam:GetUser","iam:ChangePassword","iam:CreateAccessKey","iam:ListAccessKeys"],"Resource":"arn:aws:iam::%s:user/${aws:username}"}`, acctID)
	}
	return `{"Effect":"Allow","Action":["ec2:Describe*","cloudwatch:GetMetricData","cloudwatch:DescribeAlarms","logs:Describe*"],"Resource":"*"}`
}

func acctPolicyText(t, n int, r *rand.Rand) string {
	stmts := make([]string, n)
	for i := range stmts {
		stmts[i] = acctStatement(t, r)
	}
	return doc(stmts...)
}

func acctBoundaryText(i int) string {
	svcs := []string{"s3:*", "dynamodb:*", "sqs:*", "sns:*", "lambda:*", "logs:*", "cloudwatch:*", "kms:*", "ec2:*"}
	allowed := `"` + strings.Join(svcs[:4+i], `","`) + `"`
	return doc(
		`{"Effect":"Allow","Action":[`+allowed+`,"ec2:Describe*"],"Resource":"*"}`,
		`{"Effect":"Allow","Action":["iam:GetUser","iam:ChangePassword","iam:ListAccessKeys","iam:CreateAccessKey"],"Resource":"arn:aws:iam::`+acctID+`:user/${aws:username}"}`,
		`{"Effect":"Deny","Action":["iam:CreateUser","iam:DeleteUser"],"Resource":"*"}`)
}

// newAccount generates the account deterministically.
func newAccount(tb testing.TB) *account {
	tb.Helper()
	r := rand.New(rand.NewPCG(2026, 12))
	a := &account{}
	add := func(name, text string, team int, kind Kind) int {
		d, err := Parse([]byte(text), kind)
		if err != nil {
			tb.Fatalf("%s: %v\n%s", name, err, text)
		}
		a.docs = append(a.docs, acctDoc{name: name, text: text, team: team, doc: d})
		return len(a.docs) - 1
	}
	var customer, bounds, aws []int
	for i := 0; i < acctCustomer; i++ {
		t := r.IntN(acctTeams)
		customer = append(customer, add(fmt.Sprintf("arn:aws:iam::%s:policy/team-%d-policy-%d", acctID, t, i), acctPolicyText(t, 2+r.IntN(7), r), t, Identity))
	}
	for i := 0; i < acctBounds; i++ {
		bounds = append(bounds, add(fmt.Sprintf("arn:aws:iam::%s:policy/boundary-%d", acctID, i), acctBoundaryText(i), -1, Boundary))
	}
	cat, err := managedpolicies.Load()
	if err != nil {
		tb.Fatal(err)
	}
	for _, name := range acctAWSManaged {
		arn := "arn:aws:iam::aws:policy/" + name
		p, ok := cat.Get(arn)
		if !ok {
			tb.Fatalf("managed policy %s is not in the catalogue", arn)
		}
		aws = append(aws, add(arn, p.Document, -1, Identity))
	}
	// Groups: 1-3 attached policies (mostly customer-managed, a third of
	// them with an AWS-managed one), half with an inline policy.
	type group struct {
		docs  []int
		teams []int
	}
	groups := make([]group, acctGroups)
	for g := range groups {
		for n := 1 + r.IntN(3); n > 0; n-- {
			if r.IntN(3) == 0 {
				// AdministratorAccess only in group 0 (the admins).
				i := 1 + r.IntN(len(aws)-1)
				if g == 0 {
					i = 0
				}
				groups[g].docs = append(groups[g].docs, aws[i])
				continue
			}
			i := customer[r.IntN(len(customer))]
			groups[g].docs = append(groups[g].docs, i)
			groups[g].teams = append(groups[g].teams, a.docs[i].team)
		}
		if g%2 == 0 {
			t := g % acctTeams
			groups[g].docs = append(groups[g].docs, add(fmt.Sprintf("group/g%d inline policy Team", g), acctPolicyText(t, 1+r.IntN(4), r), t, Identity))
			groups[g].teams = append(groups[g].teams, t)
		}
	}
	// Users: in 1-5 groups (fewer more often), 4% with an inline policy,
	// 10% with an attached policy, 30% with a boundary.
	for u := 0; u < acctUsers; u++ {
		name := fmt.Sprintf("user%04d", u)
		user := acctUser{name: name, arn: "arn:aws:iam::" + acctID + ":user/" + name, team: -1, boundary: -1}
		var teams []int
		n := []int{1, 1, 1, 2, 2, 2, 3, 3, 4, 5}[r.IntN(10)]
		for _, g := range r.Perm(acctGroups)[:n] {
			if g == 0 && r.IntN(5) != 0 {
				g = 1 + r.IntN(acctGroups-1) // few admins
			}
			user.docs = append(user.docs, groups[g].docs...)
			teams = append(teams, groups[g].teams...)
		}
		if u%25 == 0 {
			t := r.IntN(acctTeams)
			user.docs = append(user.docs, add("user/"+name+" inline policy Own", acctPolicyText(t, 1+r.IntN(3), r), t, Identity))
			teams = append(teams, t)
		}
		if r.IntN(10) == 0 {
			i := customer[r.IntN(len(customer))]
			user.docs = append(user.docs, i)
			teams = append(teams, a.docs[i].team)
		}
		if r.IntN(10) < 3 {
			user.boundary = bounds[r.IntN(len(bounds))]
		}
		if len(teams) > 0 {
			user.team = teams[r.IntN(len(teams))]
		} else {
			user.team = r.IntN(acctTeams)
		}
		a.users = append(a.users, user)
	}
	// Bucket policies on half the team buckets: some users granted
	// directly, the account granted listing (identity policies must then
	// allow), and a deny of insecure transport.
	bucketOf := map[int]int{}
	for t := 0; t < acctTeams; t += 2 {
		var arns []string
		for k := 0; k < 3; k++ {
			arns = append(arns, a.users[r.IntN(len(a.users))].arn)
		}
		text := doc(
			fmt.Sprintf(`{"Sid":"Readers","Effect":"Allow","Principal":{"AWS":["%s"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::team-%d-data/reports/*"}`, strings.Join(arns, `","`), t),
			fmt.Sprintf(`{"Sid":"Account","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::team-%d-data"}`, acctID, t),
			fmt.Sprintf(`{"Sid":"TLS","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::team-%d-data","arn:aws:s3:::team-%d-data/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}`, t, t))
		d, err := Parse([]byte(text), Resource)
		if err != nil {
			tb.Fatalf("bucket policy %d: %v", t, err)
		}
		bucketOf[t] = len(a.buckets)
		a.buckets = append(a.buckets, acctDoc{name: fmt.Sprintf("arn:aws:s3:::team-%d-data", t), text: text, team: t, doc: d})
	}
	// Requests: a random user, a service and action; the resource belongs
	// to one of the user's teams 70% of the time.
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	// Action names are interned, as a server's come from its operation
	// tables; resources and contexts are the request's own.
	actions := map[string]string{}
	for i := 0; i < acctRequests; i++ {
		ui := r.IntN(len(a.users))
		u := &a.users[ui]
		svc := acctServices[r.IntN(len(acctServices))]
		act := acctActions[svc][r.IntN(len(acctActions[svc]))]
		t := u.team
		if r.IntN(10) >= 7 {
			t = r.IntN(acctTeams)
		}
		ctx := &Context{
			CurrentTime:      now,
			SourceIP:         netip.AddrFrom4([4]byte{10, byte(r.IntN(256)), byte(r.IntN(256)), 7}),
			SecureTransport:  True,
			Username:         u.name,
			UserID:           fmt.Sprintf("AIDA%016d", ui),
			PrincipalARN:     u.arn,
			PrincipalAccount: acctID,
			PrincipalType:    "User",
		}
		if r.IntN(10) == 0 {
			ctx.SourceIP = netip.AddrFrom4([4]byte{203, 0, 113, byte(r.IntN(256))})
		}
		if r.IntN(20) == 0 {
			ctx.SecureTransport = False
		}
		switch r.IntN(3) {
		case 0:
			ctx.MultiFactorAuthPresent = True
		case 1:
			ctx.MultiFactorAuthPresent = False
		}
		ctx.Add("aws:PrincipalTag/team", strconv.Itoa(u.team))
		ctx.Add("aws:ViaAWSService", "false")
		action, ok := actions[svc+":"+act]
		if !ok {
			action = svc + ":" + act
			actions[action] = action
		}
		req := acctRequest{user: ui, bucket: -1, req: Request{
			Action:    action,
			Resource:  acctResource(svc, act, t, u.name, r),
			Principal: Principal{Type: PrincipalUser, ARN: u.arn, Account: acctID},
			Context:   ctx,
		}}
		if b, ok := bucketOf[t]; ok && svc == "s3" {
			req.bucket = b
		}
		req.ctx = baselineContext(ctx)
		a.requests = append(a.requests, req)
	}
	return a
}

// compileShared compiles each distinct document once and composes the
// users from them, as the server does.
func (a *account) compileShared(tb testing.TB) ([]*Compiled, []*ResourcePolicy) {
	docs := make([]*CompiledDocument, len(a.docs))
	for i := range a.docs {
		d, err := CompileDocument(a.docs[i].doc)
		if err != nil {
			tb.Fatal(err)
		}
		docs[i] = d
	}
	return a.compose(tb, docs), a.compileBuckets(tb)
}

// compose composes every user from the compiled documents.
func (a *account) compose(tb testing.TB, docs []*CompiledDocument) []*Compiled {
	users := make([]*Compiled, len(a.users))
	for i := range a.users {
		u := &a.users[i]
		set := CompiledSet{Identity: make([]NamedCompiled, len(u.docs))}
		for j, d := range u.docs {
			set.Identity[j] = NamedCompiled{Name: a.docs[d].name, Doc: docs[d]}
		}
		if u.boundary >= 0 {
			set.Boundary = &NamedCompiled{Name: a.docs[u.boundary].name, Doc: docs[u.boundary]}
		}
		c, err := Compose(set)
		if err != nil {
			tb.Fatal(err)
		}
		users[i] = c
	}
	return users
}

// compilePerPrincipal compiles the first n users' policies each on their
// own with Compile, every document again for every user that has it.
func (a *account) compilePerPrincipal(tb testing.TB, n int) ([]*Compiled, []*ResourcePolicy) {
	users := make([]*Compiled, n)
	for i := range users {
		u := &a.users[i]
		var set PolicySet
		for _, d := range u.docs {
			set.Identity = append(set.Identity, NamedDocument{Name: a.docs[d].name, Doc: a.docs[d].doc})
		}
		if u.boundary >= 0 {
			set.Boundary = &NamedDocument{Name: a.docs[u.boundary].name, Doc: a.docs[u.boundary].doc}
		}
		c, err := Compile(set)
		if err != nil {
			tb.Fatal(err)
		}
		users[i] = c
	}
	return users, a.compileBuckets(tb)
}

func (a *account) compileBuckets(tb testing.TB) []*ResourcePolicy {
	out := make([]*ResourcePolicy, len(a.buckets))
	for i := range a.buckets {
		rp, err := CompileResource(a.buckets[i].name, a.buckets[i].doc)
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = rp
	}
	return out
}

// attach sets the requests' resource policies.
func (a *account) attach(buckets []*ResourcePolicy) {
	for i := range a.requests {
		if b := a.requests[i].bucket; b >= 0 {
			a.requests[i].req.ResourcePolicy = buckets[b]
		} else {
			a.requests[i].req.ResourcePolicy = nil
		}
	}
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestAccountAgreesWithBaseline checks the engine against the baseline
// interpreter on every request of the generated account, with shared and
// per-principal compilation, and that the workload is mixed.
func TestAccountAgreesWithBaseline(t *testing.T) {
	t.Parallel()
	a := newAccount(t)
	shared, buckets := a.compileShared(t)
	per, _ := a.compilePerPrincipal(t, 50) // slow: a sample
	a.attach(buckets)
	base := a.baseline()
	var counts [3]int
	for i := range a.requests {
		rq := &a.requests[i]
		want := base.decide(rq)
		got := shared[rq.user].Decide(&rq.req)
		if got != want {
			t.Fatalf("request %d (%s %s on %s): engine %v, baseline %v\n%+v", i, a.users[rq.user].name, rq.req.Action, rq.req.Resource, got, want, shared[rq.user].Explain(&rq.req))
		}
		if rq.user < len(per) {
			if p := per[rq.user].Decide(&rq.req); p != got {
				t.Fatalf("request %d: per-principal compilation decides %v, shared %v", i, p, got)
			}
		}
		counts[got]++
	}
	t.Logf("%d requests: %d allowed, %d implicitly denied, %d explicitly denied", len(a.requests), counts[Allowed], counts[ImplicitDeny], counts[ExplicitDeny])
	for d, n := range counts {
		if n < len(a.requests)/20 {
			t.Errorf("only %d %v decisions: the workload is not mixed", n, Decision(d))
		}
	}
}

// BenchmarkAccount decides the account's requests round-robin (ns/op is
// per decision) with the engine (shared documents, and each user compiled
// on its own) and with the baseline interpreter; and measures compiling
// the account. Run it at one core:
//
//	go test ./policy/ -run '^$' -bench Account -benchmem -cpu 1 -count 5
func BenchmarkAccount(b *testing.B) {
	a := newAccount(b)
	decide := func(b *testing.B, users []*Compiled) {
		b.ReportAllocs()
		i := 0
		cpu := cputime.Process()
		for b.Loop() {
			rq := &a.requests[i]
			users[rq.user].Decide(&rq.req)
			if i++; i == len(a.requests) {
				i = 0
			}
		}
		b.ReportMetric(float64(cputime.Process()-cpu)/float64(b.N), "cpu-ns/op")
	}
	b.Run("decide=shared", func(b *testing.B) {
		users, buckets := a.compileShared(b)
		a.attach(buckets)
		decide(b, users)
	})
	b.Run("decide=per-principal", func(b *testing.B) {
		users, buckets := a.compilePerPrincipal(b, len(a.users))
		a.attach(buckets)
		decide(b, users)
	})
	b.Run("decide=baseline", func(b *testing.B) {
		base := a.baseline()
		b.ReportAllocs()
		i := 0
		cpu := cputime.Process()
		for b.Loop() {
			base.decide(&a.requests[i])
			if i++; i == len(a.requests) {
				i = 0
			}
		}
		b.ReportMetric(float64(cputime.Process()-cpu)/float64(b.N), "cpu-ns/op")
	})
	// Compilation: parsed documents in, compiled account out. The heap
	// figure is what the compiled account keeps beyond the parsed
	// documents (which the server keeps anyway, and which compiled
	// documents reference).
	b.Run("compile=shared", func(b *testing.B) {
		var users []*Compiled
		before := heapInUse()
		cpu := cputime.Process()
		for b.Loop() {
			users, _ = a.compileShared(b)
		}
		b.ReportMetric(float64(cputime.Process()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
		b.ReportMetric(float64(heapInUse()-before)/(1<<20), "heap-MiB")
		runtime.KeepAlive(users)
	})
	b.Run("compile=per-principal", func(b *testing.B) {
		var users []*Compiled
		before := heapInUse()
		cpu := cputime.Process()
		for b.Loop() {
			users, _ = a.compilePerPrincipal(b, len(a.users))
		}
		b.ReportMetric(float64(cputime.Process()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
		b.ReportMetric(float64(heapInUse()-before)/(1<<20), "heap-MiB")
		runtime.KeepAlive(users)
	})
	// A change of one managed policy: that document compiled again, and
	// every user composed again (the server recomposes only those that
	// have it).
	b.Run("recompile-one-document", func(b *testing.B) {
		docs := make([]*CompiledDocument, len(a.docs))
		for i := range a.docs {
			d, err := CompileDocument(a.docs[i].doc)
			if err != nil {
				b.Fatal(err)
			}
			docs[i] = d
		}
		changed := a.users[0].docs[0]
		b.ReportAllocs()
		cpu := cputime.Process()
		for b.Loop() {
			d, err := CompileDocument(a.docs[changed].doc)
			if err != nil {
				b.Fatal(err)
			}
			docs[changed] = d
			a.compose(b, docs)
		}
		b.ReportMetric(float64(cputime.Process()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
	})
	b.Run("parse", func(b *testing.B) {
		for b.Loop() {
			for i := range a.docs {
				if _, err := Parse([]byte(a.docs[i].text), Identity); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// baseline is the yardstick: a straightforward interpreter that keeps
// the parsed documents (parsed once, shared between users) and, for each
// request, walks every statement of every document of the user, matching
// actions and resources with wildcards and evaluating conditions against
// a map of context keys. It implements what the generated account uses:
// identity policies, boundaries and bucket policies for IAM users of the
// account.
type baseline struct {
	a *account
}

func (a *account) baseline() *baseline { return &baseline{a: a} }

// baselineContext is the context as the baseline reads it: lower-cased
// keys to values.
func baselineContext(c *Context) map[string][]string {
	m := map[string][]string{
		"aws:currenttime":      {c.CurrentTime.Format(time.RFC3339)},
		"aws:sourceip":         {c.SourceIP.String()},
		"aws:username":         {c.Username},
		"aws:userid":           {c.UserID},
		"aws:principalarn":     {c.PrincipalARN},
		"aws:principalaccount": {c.PrincipalAccount},
		"aws:principaltype":    {c.PrincipalType},
	}
	if c.SecureTransport != Unset {
		m["aws:securetransport"] = []string{strconv.FormatBool(c.SecureTransport == True)}
	}
	if c.MultiFactorAuthPresent != Unset {
		m["aws:multifactorauthpresent"] = []string{strconv.FormatBool(c.MultiFactorAuthPresent == True)}
	}
	for _, kv := range c.Values {
		m[strings.ToLower(kv.Key)] = kv.Values
	}
	return m
}

func (bl *baseline) decide(rq *acctRequest) Decision {
	u := &bl.a.users[rq.user]
	r := &rq.req
	denied, idAllow, bAllow := false, false, true
	for _, d := range u.docs {
		deny, allow, _ := baseDoc(bl.a.docs[d].doc, r, rq.ctx, false)
		denied, idAllow = denied || deny, idAllow || allow
	}
	if u.boundary >= 0 {
		deny, allow, _ := baseDoc(bl.a.docs[u.boundary].doc, r, rq.ctx, false)
		denied, bAllow = denied || deny, allow
	}
	resDirect := false
	if rq.bucket >= 0 {
		deny, allow, direct := baseDoc(bl.a.buckets[rq.bucket].doc, r, rq.ctx, true)
		denied, resDirect = denied || deny, allow && direct
	}
	switch {
	case denied:
		return ExplicitDeny
	case resDirect:
		return Allowed
	case idAllow && bAllow:
		return Allowed
	}
	return ImplicitDeny
}

// baseDoc walks the document's statements: whether one denies, one
// allows, and (resource-based) whether an allowing one names the caller
// itself rather than its account.
func baseDoc(d *Document, r *Request, ctx map[string][]string, principals bool) (deny, allow, direct bool) {
	vars := d.Version == "2012-10-17"
	for i := range d.Statements {
		s := &d.Statements[i]
		acts, neg := s.Action, false
		if s.NotAction != nil {
			acts, neg = s.NotAction, true
		}
		if baseAny(acts, func(p string) bool { return baseGlob(p, r.Action, true) }) == neg {
			continue
		}
		res, neg := s.Resource, false
		if s.NotResource != nil {
			res, neg = s.NotResource, true
		}
		if s.Resource != nil || s.NotResource != nil {
			resource := r.Resource
			if resource == "" {
				resource = "*"
			}
			m := baseAny(res, func(p string) bool {
				p, ok := baseSubst(p, ctx, vars)
				return ok && baseARN(p, resource)
			})
			if m == neg {
				continue
			}
		}
		dir := false
		if principals {
			p := s.Principal
			switch {
			case p == nil:
				continue
			case p.Wildcard || baseAny(p.AWS, func(a string) bool { return a == "*" || a == r.Principal.ARN }):
				dir = true
			case !baseAny(p.AWS, func(a string) bool {
				return a == r.Principal.Account || a == "arn:aws:iam::"+r.Principal.Account+":root"
			}):
				continue
			}
		}
		ok := true
		for j := range s.Conditions {
			if !baseCond(&s.Conditions[j], ctx, vars) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		if s.Effect == Deny {
			deny = true
		} else {
			allow = true
			direct = direct || dir
		}
	}
	return deny, allow, direct
}

func baseAny(list []string, f func(string) bool) bool {
	for _, s := range list {
		if f(s) {
			return true
		}
	}
	return false
}

// baseGlob matches s against a pattern with * and ?, ASCII
// case-insensitively when fold is set.
func baseGlob(p, s string, fold bool) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for k := 0; k <= len(s); k++ {
				if baseGlob(p[1:], s[k:], fold) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != p[0] && !(fold && baseLower(s[0]) == baseLower(p[0])) {
				return false
			}
		}
		p, s = p[1:], s[1:]
	}
	return s == ""
}

func baseLower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// baseARN matches an ARN pattern field by field: wildcards in the first
// five fields do not cross a colon.
func baseARN(p, s string) bool {
	if p == "*" {
		return true
	}
	if !strings.HasPrefix(p, "arn:") {
		return baseGlob(p, s, false)
	}
	for i := 0; i < 5; i++ {
		pf, prest, ok1 := strings.Cut(p, ":")
		sf, srest, ok2 := strings.Cut(s, ":")
		if !ok1 || !ok2 || !baseGlob(pf, sf, false) {
			return false
		}
		p, s = prest, srest
	}
	return baseGlob(p, s, false)
}

// baseLookup reads a context key case-insensitively.
func baseLookup(ctx map[string][]string, key string) ([]string, bool) {
	var buf [128]byte
	k := buf[:0]
	for i := 0; i < len(key); i++ {
		k = append(k, baseLower(key[i]))
	}
	v, ok := ctx[string(k)]
	return v, ok
}

// baseSubst replaces ${key} policy variables with their single value.
func baseSubst(p string, ctx map[string][]string, vars bool) (string, bool) {
	if !vars || !strings.Contains(p, "${") {
		return p, true
	}
	var b strings.Builder
	for {
		i := strings.Index(p, "${")
		if i < 0 {
			b.WriteString(p)
			return b.String(), true
		}
		j := strings.IndexByte(p[i:], '}')
		if j < 0 {
			b.WriteString(p)
			return b.String(), true
		}
		v, _ := baseLookup(ctx, p[i+2:i+j])
		if len(v) != 1 {
			return "", false
		}
		b.WriteString(p[:i])
		b.WriteString(v[0])
		p = p[i+j+1:]
	}
}

// baseCond evaluates one condition as AWS documents it.
func baseCond(c *Condition, ctx map[string][]string, vars bool) bool {
	op := c.Operator
	set := ""
	if rest, ok := strings.CutPrefix(op, "ForAnyValue:"); ok {
		set, op = "any", rest
	} else if rest, ok := strings.CutPrefix(op, "ForAllValues:"); ok {
		set, op = "all", rest
	}
	ifExists := strings.HasSuffix(op, "IfExists")
	op = strings.TrimSuffix(op, "IfExists")
	vals, present := baseLookup(ctx, c.Key)
	if op == "Null" {
		return baseAny(c.Values, func(v string) bool { return strings.EqualFold(v, "true") == (len(vals) == 0) })
	}
	negated := strings.Contains(op, "Not")
	match := func(v string) bool {
		return baseAny(c.Values, func(pv string) bool {
			switch op {
			case "StringEquals", "StringNotEquals":
				pv, ok := baseSubst(pv, ctx, vars)
				return ok && pv == v
			case "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase":
				pv, ok := baseSubst(pv, ctx, vars)
				return ok && strings.EqualFold(pv, v)
			case "StringLike", "StringNotLike":
				pv, ok := baseSubst(pv, ctx, vars)
				return ok && baseGlob(pv, v, false)
			case "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike":
				pv, ok := baseSubst(pv, ctx, vars)
				return ok && baseARN(pv, v)
			case "Bool":
				return strings.EqualFold(pv, v)
			case "IpAddress", "NotIpAddress":
				pfx, err := netip.ParsePrefix(pv)
				if err != nil {
					a, err := netip.ParseAddr(pv)
					if err != nil {
						return false
					}
					pfx = netip.PrefixFrom(a, a.BitLen())
				}
				a, err := netip.ParseAddr(v)
				return err == nil && pfx.Contains(a)
			case "NumericGreaterThanEquals":
				x, err1 := strconv.ParseFloat(v, 64)
				y, err2 := strconv.ParseFloat(pv, 64)
				return err1 == nil && err2 == nil && x >= y
			}
			panic("baseline: operator " + c.Operator + " not implemented")
		})
	}
	switch set {
	case "any":
		if len(vals) == 0 {
			return !present && ifExists
		}
		return baseAny(vals, func(v string) bool { return match(v) != negated })
	case "all":
		return !baseAny(vals, func(v string) bool { return match(v) == negated })
	}
	if len(vals) == 0 {
		return ifExists || negated
	}
	return baseAny(vals, match) != negated
}

// BenchmarkAccountScale composes n users from the account's 200 compiled
// documents (user i has the policies of the account's user i mod 1,000)
// and reports the heap the composed users take beyond the documents, per
// user and in all: what grows with the number of users is references, not
// compiled statements.
//
//	go test ./policy/ -run '^$' -bench AccountScale -benchtime 1x -cpu 1
func BenchmarkAccountScale(b *testing.B) {
	a := newAccount(b)
	docs := make([]*CompiledDocument, len(a.docs))
	for i := range a.docs {
		d, err := CompileDocument(a.docs[i].doc)
		if err != nil {
			b.Fatal(err)
		}
		docs[i] = d
	}
	for _, n := range []int{1000, 100000, 1000000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			for b.Loop() {
				before := heapInUse()
				users := make([]*Compiled, n)
				for i := range users {
					u := &a.users[i%len(a.users)]
					set := CompiledSet{Identity: make([]NamedCompiled, len(u.docs))}
					for j, d := range u.docs {
						set.Identity[j] = NamedCompiled{Name: a.docs[d].name, Doc: docs[d]}
					}
					if u.boundary >= 0 {
						set.Boundary = &NamedCompiled{Name: a.docs[u.boundary].name, Doc: docs[u.boundary]}
					}
					c, err := Compose(set)
					if err != nil {
						b.Fatal(err)
					}
					users[i] = c
				}
				heap := heapInUse() - before
				b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
				b.ReportMetric(float64(heap)/float64(n), "B/user")
				runtime.KeepAlive(users)
			}
		})
	}
}
