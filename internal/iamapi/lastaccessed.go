package iamapi

import (
	"context"
	"crypto/rand"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/iamd/iamd/internal/authz"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/policy"
)

// Last-accessed reports: GenerateServiceLastAccessedDetails computes, for a
// user, group, role or managed policy, which services its policies allow
// and when each was last used, from what the AccessTracker recorded on
// every allowed request; GetServiceLastAccessedDetails(WithEntities) page
// through the result.

// TrackingAuthorizer wraps the authorizer of the IAM and STS APIs so that
// every allowed request is recorded, per user or role, service and action,
// for the last-accessed reports. Authorization itself is unchanged.
type TrackingAuthorizer struct {
	Next interface {
		Authorize(ctx context.Context, c *authz.Caller, req *authz.Request) error
		AuthorizeTrust(ctx context.Context, c *authz.Caller, tr *authz.TrustRequest) error
		TrustAllows(fr *authz.FederatedTrustRequest) bool
	}
	Access *iam.AccessTracker
	// regions holds the region each access key last signed for.
	regions sync.Map
}

// DefaultAccessRegion is reported when a request's region is unknown.
const DefaultAccessRegion = "us-east-1"

// Observe notes the region a request signed with c's key was sent to.
func (t *TrackingAuthorizer) Observe(c *authz.Caller, region string) {
	if c == nil || c.AccessKeyID == "" || region == "" {
		return
	}
	if v, ok := t.regions.Load(c.AccessKeyID); ok && v.(string) == region {
		return
	}
	t.regions.Store(c.AccessKeyID, region)
}

func (t *TrackingAuthorizer) record(c *authz.Caller, action string) {
	if t.Access == nil || c == nil || c.Type == authz.Root || c.EntityID == "" {
		return
	}
	region := DefaultAccessRegion
	if v, ok := t.regions.Load(c.AccessKeyID); ok {
		region = v.(string)
	}
	at := c.Time
	if at.IsZero() {
		at = time.Now()
	}
	t.Access.Accessed(c.Account, c.EntityID, action, region, at)
}

// Authorize decides and records an allowed request.
func (t *TrackingAuthorizer) Authorize(ctx context.Context, c *authz.Caller, req *authz.Request) error {
	err := t.Next.Authorize(ctx, c, req)
	if err == nil {
		t.record(c, req.Action)
	}
	return err
}

// AuthorizeTrust decides a role assumption and records it when allowed.
func (t *TrackingAuthorizer) AuthorizeTrust(ctx context.Context, c *authz.Caller, tr *authz.TrustRequest) error {
	err := t.Next.AuthorizeTrust(ctx, c, tr)
	if err == nil {
		t.record(c, tr.Action)
	}
	return err
}

// TrustAllows evaluates a trust policy for a federated principal; there is
// no IAM entity to record.
func (t *TrackingAuthorizer) TrustAllows(fr *authz.FederatedTrustRequest) bool {
	return t.Next.TrustAllows(fr)
}

// serviceNames are the names IAM reports for common service namespaces;
// others are reported by namespace.
var serviceNames = map[string]string{
	"iam":                  "AWS Identity and Access Management",
	"sts":                  "AWS Security Token Service",
	"s3":                   "Amazon S3",
	"ec2":                  "Amazon EC2",
	"lambda":               "AWS Lambda",
	"dynamodb":             "Amazon DynamoDB",
	"sqs":                  "Amazon SQS",
	"sns":                  "Amazon SNS",
	"kms":                  "AWS Key Management Service",
	"cloudtrail":           "AWS CloudTrail",
	"cloudwatch":           "Amazon CloudWatch",
	"logs":                 "Amazon CloudWatch Logs",
	"rds":                  "Amazon RDS",
	"ecr":                  "Amazon Elastic Container Registry",
	"ecs":                  "Amazon Elastic Container Service",
	"eks":                  "Amazon Elastic Kubernetes Service",
	"secretsmanager":       "AWS Secrets Manager",
	"ssm":                  "AWS Systems Manager",
	"cloudformation":       "AWS CloudFormation",
	"organizations":        "AWS Organizations",
	"access-analyzer":      "IAM Access Analyzer",
	"codecommit":           "AWS CodeCommit",
	"route53":              "Amazon Route 53",
	"elasticloadbalancing": "Elastic Load Balancing",
	"autoscaling":          "Amazon EC2 Auto Scaling",
	"states":               "AWS Step Functions",
	"kinesis":              "Amazon Kinesis",
	"glue":                 "AWS Glue",
	"athena":               "Amazon Athena",
}

// ServiceName returns the name IAM reports for a service namespace.
func ServiceName(namespace string) string {
	if n, ok := serviceNames[namespace]; ok {
		return n
	}
	return namespace
}

// Granularities and job states.
const (
	granularityService = "SERVICE_LEVEL"
	granularityAction  = "ACTION_LEVEL"
	jobCompleted       = "COMPLETED"
)

// Last-accessed jobs are kept in the store (iam.Ephemeral), so that a job
// generated on one replica is found by GetServiceLastAccessedDetails on any
// other at once. A job records what was asked and when; its report is
// computed from the access records (replicated to every view) when read.
// The store holds at most accessJobBuckets*accessJobsPerBucket jobs (past
// that the oldest go), each for accessJobTTL.
const (
	accessJobKind       = "lastaccessed-job"
	accessJobBuckets    = 256
	accessJobsPerBucket = 16
	accessJobTTL        = 7 * 24 * time.Hour
)

// accessJobRecord is a job as stored.
type accessJobRecord struct {
	Account     string    `json:"a"`
	Arn         string    `json:"arn"`
	Granularity string    `json:"g"`
	Created     time.Time `json:"c"`
	Completed   time.Time `json:"d"`
	// Rev is the revision the generating replica's view had reached: a
	// replica reading the job waits (briefly) to have applied as much.
	Rev int64 `json:"r"`
}

// accessJobCatchUp bounds how long reading a young job waits for this
// replica's view to catch up with the one that generated it.
const (
	accessJobCatchUp = 2 * time.Second
	accessJobYoung   = time.Minute
)

func (s *Service) accessJobStore() *iam.Ephemeral[accessJobRecord] {
	return &iam.Ephemeral[accessJobRecord]{Store: s.writer.Store, Kind: accessJobKind, Buckets: accessJobBuckets, MaxPerBucket: accessJobsPerBucket}
}

// accessJob is a computed report.
type accessJob struct {
	id, account string
	granularity string
	created     time.Time
	completed   time.Time
	services    []ServiceLastAccessed
	// entities holds, per service namespace, the entities behind the
	// report that may use it, with when they last did.
	entities map[string][]EntityDetails
}

// accessJob returns the account's job id with its report, or ok=false if
// there is none.
func (s *Service) accessJob(ctx context.Context, account, id string) (*accessJob, bool, error) {
	rec, ok, err := s.accessJobStore().Get(ctx, id, s.now())
	if err != nil || !ok || rec.Account != account {
		return nil, false, err
	}
	job := &accessJob{id: id, account: account, granularity: rec.Granularity, created: rec.Created, completed: rec.Completed}
	if s.now().Sub(rec.Created) < accessJobYoung {
		// Generated a moment ago, perhaps on another replica, about a
		// subject perhaps created there just before.
		wait, cancel := context.WithTimeout(ctx, accessJobCatchUp)
		s.view.Await(wait, func() bool {
			if s.view.Rev() < rec.Rev {
				return false
			}
			_, _, err := s.reportSubject(account, rec.Arn)
			return err == nil
		})
		cancel()
	}
	docs, entities, err := s.reportSubject(account, rec.Arn)
	if err != nil {
		// The subject is gone since: its report is empty.
		docs, entities = nil, nil
	}
	s.computeReport(job, docs, entities)
	return job, true, nil
}

// accessEntity is a user or role a report covers.
type accessEntity struct {
	info EntityInfo
}

func newJobID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// GenerateServiceLastAccessedDetails computes the last-accessed report of a
// user, group, role or managed policy and returns its job ID.
func (s *Service) GenerateServiceLastAccessedDetails(ctx context.Context, in *GenerateServiceLastAccessedDetailsRequest) (*GenerateServiceLastAccessedDetailsResponse, error) {
	c, err := s.authorize(ctx, "iam:GenerateServiceLastAccessedDetails", in.Arn)
	if err != nil {
		return nil, err
	}
	granularity := in.Granularity
	if granularity == "" {
		granularity = granularityService
	}
	if _, _, err := s.reportSubject(c.Account, in.Arn); err != nil {
		return nil, err
	}
	now := s.timestamp()
	rec := accessJobRecord{Account: c.Account, Arn: in.Arn, Granularity: granularity, Created: now, Completed: now, Rev: s.view.Rev()}
	id := newJobID()
	if _, err := s.accessJobStore().Update(ctx, id, s.now(), func(accessJobRecord, bool) (accessJobRecord, time.Time, bool) {
		return rec, s.now().Add(accessJobTTL), true
	}); err != nil {
		return nil, err
	}
	return &GenerateServiceLastAccessedDetailsResponse{JobId: id}, nil
}

// reportSubject returns the policy documents and the entities a report
// covers.
func (s *Service) reportSubject(account, arn string) ([]string, []accessEntity, error) {
	bad := invalidInput("ARN %s is not valid.", arn)
	var (
		docs     []string
		entities []accessEntity
		verr     error
	)
	pa, isPolicy := iam.ParsePolicyARN(arn)
	acct, kind, isEntity := s.iamEntityARN(arn)
	switch {
	case isPolicy:
		if pa.Account != account && pa.Account != iam.AWSManagedAccount {
			return nil, nil, noSuchEntity("Policy %s does not exist or is not attachable.", arn)
		}
	case isEntity:
		if acct != account {
			return nil, nil, noSuchEntity("The %s with name %s cannot be found.", kind, iam.EntityName(arn))
		}
	default:
		return nil, nil, bad
	}
	if err := s.read(account, func(a *iam.AccountView) {
		userDocs := func(u *iam.User) {
			docs = append(docs, inlineDocs(u.Inline)...)
			docs = append(docs, s.attachedDocs(a, account, u.Attached)...)
			for _, gid := range u.Groups {
				if g, ok := a.GroupByID(gid); ok {
					docs = append(docs, inlineDocs(g.V.Inline)...)
					docs = append(docs, s.attachedDocs(a, account, g.V.Attached)...)
				}
			}
		}
		if isPolicy {
			mp, ok := s.resolvePolicy(a, account, arn)
			if !ok {
				verr = noSuchEntity("Policy %s does not exist or is not attachable.", arn)
				return
			}
			docs = []string{mp.Document}
			entities = s.policyEntities(a, account, arn)
			return
		}
		name := iam.EntityName(arn)
		switch kind {
		case "user":
			e, ok := a.User(name)
			if !ok {
				verr = noSuchEntity("The user with name %s cannot be found.", name)
				return
			}
			userDocs(e.V)
			entities = []accessEntity{s.userEntity(account, e.V)}
		case "role":
			e, ok := a.Role(name)
			if !ok {
				verr = noSuchEntity("The role with name %s cannot be found.", name)
				return
			}
			docs = append(docs, inlineDocs(e.V.Inline)...)
			docs = append(docs, s.attachedDocs(a, account, e.V.Attached)...)
			entities = []accessEntity{s.roleEntity(account, e.V)}
		case "group":
			e, ok := a.Group(name)
			if !ok {
				verr = noSuchEntity("The group with name %s cannot be found.", name)
				return
			}
			docs = append(docs, inlineDocs(e.V.Inline)...)
			docs = append(docs, s.attachedDocs(a, account, e.V.Attached)...)
			for _, m := range a.Members(e.V.ID) {
				entities = append(entities, s.userEntity(account, m.V))
			}
		}
	}); err != nil {
		return nil, nil, err
	}
	if verr != nil {
		return nil, nil, verr
	}
	return docs, entities, nil
}

func inlineDocs(in []iam.InlinePolicy) []string {
	out := make([]string, 0, len(in))
	for _, p := range in {
		out = append(out, p.Document)
	}
	return out
}

func (s *Service) attachedDocs(a *iam.AccountView, account string, arns []string) []string {
	var out []string
	for _, arn := range arns {
		if mp, ok := s.resolvePolicy(a, account, arn); ok {
			out = append(out, mp.Document)
		}
	}
	return out
}

func (s *Service) userEntity(account string, u *iam.User) accessEntity {
	return accessEntity{info: EntityInfo{Arn: s.partition.ARN(account, "user", u.Path, u.Name), Name: u.Name, Type: "USER", Id: u.ID, Path: u.Path}}
}

func (s *Service) roleEntity(account string, r *iam.Role) accessEntity {
	return accessEntity{info: EntityInfo{Arn: s.partition.ARN(account, "role", r.Path, r.Name), Name: r.Name, Type: "ROLE", Id: r.ID, Path: r.Path}}
}

// policyEntities returns the users and roles a managed policy applies to:
// attached directly or through a group.
func (s *Service) policyEntities(a *iam.AccountView, account, arn string) []accessEntity {
	var out []accessEntity
	seen := map[string]bool{}
	add := func(e accessEntity) {
		if !seen[e.info.Id] {
			seen[e.info.Id] = true
			out = append(out, e)
		}
	}
	for _, u := range allUsers(a) {
		if contains(u.Attached, arn) {
			add(s.userEntity(account, u))
			continue
		}
		for _, gid := range u.Groups {
			if g, ok := a.GroupByID(gid); ok && contains(g.V.Attached, arn) {
				add(s.userEntity(account, u))
				break
			}
		}
	}
	for _, r := range allRoles(a) {
		if contains(r.Attached, arn) {
			add(s.roleEntity(account, r))
		}
	}
	return out
}

func allUsers(a *iam.AccountView) []*iam.User {
	var out []*iam.User
	marker := ""
	for {
		page, next := a.Users(marker, 1000, nil)
		for _, e := range page {
			out = append(out, e.V)
		}
		if next == "" {
			return out
		}
		marker = next
	}
}

func allRoles(a *iam.AccountView) []*iam.Role {
	var out []*iam.Role
	marker := ""
	for {
		page, next := a.Roles(marker, 1000, nil)
		for _, e := range page {
			out = append(out, e.V)
		}
		if next == "" {
			return out
		}
		marker = next
	}
}

// AllowedServices returns the service namespaces (lower case) and the
// explicitly named actions ("svc:Action" as written) that the Allow
// statements of the documents grant. A wildcard service or a NotAction
// statement grants every service in known.
func AllowedServices(texts []string, known []string) (map[string]bool, map[string][]string) {
	services := map[string]bool{}
	actions := map[string][]string{}
	all := func() {
		for _, k := range known {
			services[k] = true
		}
	}
	for _, text := range texts {
		d, err := policy.Parse([]byte(text), policy.Identity)
		if err != nil {
			continue
		}
		for _, st := range d.Statements {
			if st.Effect != policy.Allow {
				continue
			}
			if st.NotAction != nil {
				all()
				continue
			}
			for _, a := range st.Action {
				svc, name, ok := strings.Cut(a, ":")
				svc = strings.ToLower(svc)
				if a == "*" || !ok || strings.ContainsAny(svc, "*?") {
					all()
					continue
				}
				services[svc] = true
				if !strings.ContainsAny(name, "*?") && !containsFold(actions[svc], name) {
					actions[svc] = append(actions[svc], name)
				}
			}
		}
	}
	return services, actions
}

// computeReport fills a job from the documents and the entities' recorded
// access.
func (s *Service) computeReport(job *accessJob, docs []string, entities []accessEntity) {
	records := make([]*iam.AccessRecord, len(entities))
	knownSet := map[string]bool{}
	for n := range serviceNames {
		knownSet[n] = true
	}
	for i, e := range entities {
		if s.access == nil {
			continue
		}
		if r, ok := s.access.Access(job.account, e.info.Id); ok {
			records[i] = r
		}
	}
	// Services anyone in the account used count as known for wildcards.
	if s.access != nil {
		_ = s.read(job.account, func(a *iam.AccountView) {
			for _, id := range a.AccessEntities() {
				if r, ok := a.Access(id); ok {
					for ns := range r.Services {
						knownSet[ns] = true
					}
				}
			}
		})
	}
	for _, r := range records {
		if r != nil {
			for ns := range r.Services {
				knownSet[ns] = true
			}
		}
	}
	known := make([]string, 0, len(knownSet))
	for k := range knownSet {
		known = append(known, k)
	}
	services, named := AllowedServices(docs, known)
	namespaces := make([]string, 0, len(services))
	for ns := range services {
		namespaces = append(namespaces, ns)
	}
	sort.Slice(namespaces, func(i, j int) bool {
		ni, nj := ServiceName(namespaces[i]), ServiceName(namespaces[j])
		if ni != nj {
			return ni < nj
		}
		return namespaces[i] < namespaces[j]
	})
	job.entities = make(map[string][]EntityDetails, len(namespaces))
	for _, ns := range namespaces {
		sla := ServiceLastAccessed{ServiceName: ServiceName(ns), ServiceNamespace: ns}
		var total int32
		var details []EntityDetails
		lastAction := map[string]TrackedActionLastAccessed{}
		for i, e := range entities {
			d := EntityDetails{EntityInfo: e.info}
			if r := records[i]; r != nil {
				if sa, ok := r.Services[ns]; ok {
					total++
					d.LastAuthenticated = sa.Last
					if sa.Last.After(sla.LastAuthenticated) {
						sla.LastAuthenticated, sla.LastAuthenticatedEntity, sla.LastAuthenticatedRegion = sa.Last, e.info.Arn, sa.Region
					}
					for name, aa := range sa.Actions {
						if cur, ok := lastAction[name]; !ok || aa.Last.After(cur.LastAccessedTime) {
							lastAction[name] = TrackedActionLastAccessed{ActionName: name, LastAccessedEntity: e.info.Arn, LastAccessedTime: aa.Last, LastAccessedRegion: aa.Region}
						}
					}
				}
			}
			details = append(details, d)
		}
		sla.TotalAuthenticatedEntities = &total
		if job.granularity == granularityAction {
			tracked := []TrackedActionLastAccessed{}
			for _, name := range named[ns] {
				if _, ok := lastAction[name]; !ok {
					tracked = append(tracked, TrackedActionLastAccessed{ActionName: name})
				}
			}
			for _, ta := range lastAction {
				tracked = append(tracked, ta)
			}
			sort.Slice(tracked, func(i, j int) bool { return tracked[i].ActionName < tracked[j].ActionName })
			sla.TrackedActionsLastAccessed = tracked
		}
		sort.SliceStable(details, func(i, j int) bool {
			if !details[i].LastAuthenticated.Equal(details[j].LastAuthenticated) {
				return details[i].LastAuthenticated.After(details[j].LastAuthenticated)
			}
			return details[i].EntityInfo.Name < details[j].EntityInfo.Name
		})
		job.services = append(job.services, sla)
		job.entities[ns] = details
	}
}

// GetServiceLastAccessedDetails returns a generated report, a page at a
// time.
func (s *Service) GetServiceLastAccessedDetails(ctx context.Context, in *GetServiceLastAccessedDetailsRequest) (*GetServiceLastAccessedDetailsResponse, error) {
	c, err := s.authorize(ctx, "iam:GetServiceLastAccessedDetails", "*")
	if err != nil {
		return nil, err
	}
	job, ok, err := s.accessJob(ctx, c.Account, in.JobId)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, noSuchJob(in.JobId)
	}
	page, next, err := pageOf(job.services, in.Marker, maxItems(in.MaxItems))
	if err != nil {
		return nil, err
	}
	if page == nil {
		page = []ServiceLastAccessed{}
	}
	return &GetServiceLastAccessedDetailsResponse{
		JobStatus: jobCompleted, JobType: job.granularity, JobCreationDate: job.created, JobCompletionDate: job.completed,
		ServicesLastAccessed: page, IsTruncated: next != "", Marker: next,
	}, nil
}

func noSuchJob(id string) error {
	return noSuchEntity("No job with ID %s was found.", id)
}

// GetServiceLastAccessedDetailsWithEntities lists, for one service of a
// generated report, the users and roles behind it and when each last used
// the service.
func (s *Service) GetServiceLastAccessedDetailsWithEntities(ctx context.Context, in *GetServiceLastAccessedDetailsWithEntitiesRequest) (*GetServiceLastAccessedDetailsWithEntitiesResponse, error) {
	c, err := s.authorize(ctx, "iam:GetServiceLastAccessedDetailsWithEntities", "*")
	if err != nil {
		return nil, err
	}
	job, ok, err := s.accessJob(ctx, c.Account, in.JobId)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, noSuchJob(in.JobId)
	}
	details, ok := job.entities[strings.ToLower(in.ServiceNamespace)]
	if !ok {
		return nil, invalidInput("The service namespace %s is not in the report.", in.ServiceNamespace)
	}
	page, next, err := pageOf(details, in.Marker, maxItems(in.MaxItems))
	if err != nil {
		return nil, err
	}
	if page == nil {
		page = []EntityDetails{}
	}
	return &GetServiceLastAccessedDetailsWithEntitiesResponse{
		JobStatus: jobCompleted, JobCreationDate: job.created, JobCompletionDate: job.completed,
		EntityDetailsList: page, IsTruncated: next != "", Marker: next,
	}, nil
}

// Explainer decides and explains requests, as the authorization API's
// decider does; *authz.Authorizer implements it.
type Explainer interface {
	Authorize(ctx context.Context, c *authz.Caller, req *authz.Request) error
	Explain(c *authz.Caller, req *authz.Request) (*policy.Explanation, error)
}

// TrackingDecider records the requests next allows, like
// TrackingAuthorizer, for deciders that also explain.
type TrackingDecider struct {
	next Explainer
	t    *TrackingAuthorizer
}

// Decider wraps next so that its allowed requests are recorded too.
func (t *TrackingAuthorizer) Decider(next Explainer) *TrackingDecider {
	return &TrackingDecider{next: next, t: t}
}

// Authorize decides and records an allowed request.
func (d *TrackingDecider) Authorize(ctx context.Context, c *authz.Caller, req *authz.Request) error {
	err := d.next.Authorize(ctx, c, req)
	if err == nil {
		d.t.record(c, req.Action)
	}
	return err
}

// Explain explains a decision and records an allowed request.
func (d *TrackingDecider) Explain(c *authz.Caller, req *authz.Request) (*policy.Explanation, error) {
	ex, err := d.next.Explain(c, req)
	if err == nil && ex != nil && ex.Decision == policy.Allowed {
		d.t.record(c, req.Action)
	}
	return ex, err
}
