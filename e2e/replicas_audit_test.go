package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/iamd/iamd/internal/policycli"
)

// replicaTrailPage is one page of LookupEvents.
type replicaTrailPage struct {
	Events    []replicaTrailEvent `json:"Events"`
	NextToken string              `json:"NextToken"`
}

type replicaTrailEvent struct {
	EventID   string `json:"EventId"`
	EventName string `json:"EventName"`
}

// lookupEvents calls LookupEvents on e, signed as root, with the lookup
// attribute key=value (none if key is empty).
func lookupEvents(ctx context.Context, e *env, key, value string, end time.Time, max int, token string) (*replicaTrailPage, error) {
	in := map[string]any{"MaxResults": max}
	if key != "" {
		in["LookupAttributes"] = []map[string]string{{"AttributeKey": key, "AttributeValue": value}}
	}
	if !end.IsZero() {
		in["EndTime"] = end.Unix()
	}
	if token != "" {
		in["NextToken"] = token
	}
	body, _ := json.Marshal(in)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.url+"/", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents")
	if err := v4.NewSigner().SignHTTP(ctx, e.root, req, sha256Hex(string(body)), "cloudtrail", "us-east-1", time.Now()); err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("LookupEvents: %d %s", resp.StatusCode, data)
	}
	var p replicaTrailPage
	return &p, json.Unmarshal(data, &p)
}

// allPages returns the event IDs of every page, and the pages' sizes.
func allPages(ctx context.Context, e *env, key, value string, end time.Time, max int) ([]string, []int, error) {
	var ids []string
	var sizes []int
	token := ""
	for range 200 {
		p, err := lookupEvents(ctx, e, key, value, end, max, token)
		if err != nil {
			return nil, nil, err
		}
		for _, ev := range p.Events {
			ids = append(ids, ev.EventID)
		}
		sizes = append(sizes, len(p.Events))
		if p.NextToken == "" {
			return ids, sizes, nil
		}
		token = p.NextToken
	}
	return nil, nil, fmt.Errorf("more than 200 pages")
}

// TestReplicasAuditTrail records events on two replicas of one PostgreSQL
// store and looks them up on both: an event recorded on one is found on
// the other, both answer the same pages for several lookup attributes
// (paging with tokens of either), and last-accessed data agrees.
func TestReplicasAuditTrail(t *testing.T) {
	dsn, master := postgresSchema(t), newMasterKey()
	a, b := startReplica(t, dsn, master), startReplica(t, dsn, master)
	ctx := context.Background()
	ra, rb := a.rootIAM(), b.rootIAM()
	began := time.Now().UTC().Add(-time.Second)

	// An event recorded on A is found on B.
	_, err := ra.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("trail-a0")})
	must(t, err)
	took := within(t, propagation, "CreateUser recorded on A, looked up on B", func() error {
		p, err := lookupEvents(ctx, b, "ResourceName", "trail-a0", time.Time{}, 5, "")
		if err != nil {
			return err
		}
		if len(p.Events) != 1 || p.Events[0].EventName != "CreateUser" {
			return fmt.Errorf("events %+v", p.Events)
		}
		return nil
	})
	t.Logf("visible on the other replica after %s", took)

	// Writes on both replicas, and a user whose use is tracked.
	for i := 1; i <= 4; i++ {
		_, err := ra.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(fmt.Sprintf("trail-a%d", i))})
		must(t, err)
		_, err = rb.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(fmt.Sprintf("trail-b%d", i))})
		must(t, err)
	}
	_, err = rb.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("trail-b1"), PolicyName: aws.String("p"),
		PolicyDocument: aws.String(allowDoc("iam:GetUser", "s3:GetObject"))})
	must(t, err)
	key, err := rb.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("trail-b1")})
	must(t, err)
	user := aws.Credentials{AccessKeyID: aws.ToString(key.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(key.AccessKey.SecretAccessKey)}
	within(t, propagation, "the access key on A", func() error {
		_, err := a.iam(user).GetUser(ctx, &iam.GetUserInput{})
		return err
	})
	// Every event so far is at or before end (whole seconds, as
	// LookupEvents' times are); the events of the lookups below come
	// after it.
	end := time.Now().Truncate(time.Second)
	waitUntil(t, end.Add(time.Second))

	// Both replicas see all ten users created, from either replica.
	within(t, propagation, "CreateUser of both replicas on both", func() error {
		for _, e := range []*env{a, b} {
			ids, _, err := allPages(ctx, e, "EventName", "CreateUser", end, 50)
			if err != nil {
				return err
			}
			if len(ids) != 9 {
				return fmt.Errorf("%s: %d CreateUser events, want 9", e.url, len(ids))
			}
		}
		return nil
	})
	for _, tc := range []struct{ key, value string }{
		{"", ""},
		{"EventName", "CreateUser"},
		{"EventSource", "iam.amazonaws.com"},
		{"ReadOnly", "false"},
		{"ReadOnly", "true"},
		{"ResourceType", "AWS::IAM::User"},
		{"ResourceName", "trail-b1"},
		{"AccessKeyId", aws.ToString(key.AccessKey.AccessKeyId)},
		{"Username", "trail-b1"},
	} {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			// The same pages, and a token from one replica continues on
			// the other.
			var ia []string
			within(t, propagation, "the same pages on A and B", func() error {
				var sa, sb []int
				var ib []string
				var err error
				if ia, sa, err = allPages(ctx, a, tc.key, tc.value, end, 3); err != nil {
					return err
				}
				if ib, sb, err = allPages(ctx, b, tc.key, tc.value, end, 3); err != nil {
					return err
				}
				if !slices.Equal(ia, ib) || !slices.Equal(sa, sb) || len(ia) == 0 {
					return fmt.Errorf("A: %v %v\nB: %v %v", ia, sa, ib, sb)
				}
				return nil
			})
			first, err := lookupEvents(ctx, a, tc.key, tc.value, end, 2, "")
			must(t, err)
			if first.NextToken != "" {
				next, err := lookupEvents(ctx, b, tc.key, tc.value, end, 2, first.NextToken)
				must(t, err)
				if len(next.Events) == 0 || next.Events[0].EventID != ia[2] {
					t.Fatalf("A's token on B: %+v, want %s first", next.Events, ia[2])
				}
			}
		})
	}
	ev, err := lookupEvents(ctx, a, "ResourceName", "trail-b4", end, 5, "")
	must(t, err)
	if len(ev.Events) != 1 {
		t.Fatalf("trail-b4 on A: %+v", ev.Events)
	}
	byID, err := lookupEvents(ctx, b, "EventId", ev.Events[0].EventID, end, 5, "")
	must(t, err)
	if len(byID.Events) != 1 || byID.Events[0].EventName != "CreateUser" {
		t.Fatalf("EventId on B: %+v", byID.Events)
	}

	// iamd policy generate --store reads every replica's events: trail-b1
	// (created on B) used iam:GetUser on A only.
	var stdout, stderr bytes.Buffer
	args := []string{"generate", "--account", testAccount, "--user", "trail-b1",
		"--since", began.Format(time.RFC3339), "--until", end.Add(time.Second).Format(time.RFC3339)}
	if code := policycli.Main(append(args, "--store", dsn), nil, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "iam:GetUser") {
		t.Fatalf("policy generate --store: exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := policycli.Main(append(args, "--data", filepath.Dir(b.srv.Audit().Dir())), nil, &stdout, &stderr); code == 0 {
		t.Fatalf("policy generate from B's directory alone found trail-b1's calls on A:\n%s", stdout.String())
	}

	// Last-accessed data (kept in the store, not in the trail) agrees.
	arn := "arn:aws:iam::" + testAccount + ":user/trail-b1"
	within(t, propagation, "last access of trail-b1 on B", func() error {
		services := make([]string, 2)
		for i, r := range []*iam.Client{ra, rb} {
			job, err := r.GenerateServiceLastAccessedDetails(ctx, &iam.GenerateServiceLastAccessedDetailsInput{Arn: aws.String(arn)})
			if err != nil {
				return err
			}
			got, err := r.GetServiceLastAccessedDetails(ctx, &iam.GetServiceLastAccessedDetailsInput{JobId: job.JobId})
			if err != nil {
				return err
			}
			if got.JobStatus != types.JobStatusTypeCompleted {
				return fmt.Errorf("job %s", got.JobStatus)
			}
			for _, s := range got.ServicesLastAccessed {
				services[i] += fmt.Sprintf("%s:%v ", aws.ToString(s.ServiceNamespace), s.LastAuthenticated != nil)
			}
		}
		if services[0] != services[1] || !strings.Contains(services[0], "iam:true") || !strings.Contains(services[0], "s3:false") {
			return fmt.Errorf("A: %s, B: %s", services[0], services[1])
		}
		return nil
	})
}

// waitUntil waits for the clock to pass at.
func waitUntil(t *testing.T, at time.Time) {
	t.Helper()
	<-time.After(time.Until(at))
}

// TestReplicasAuditVisibility measures how long an event recorded on one
// replica takes to be found by LookupEvents on the other, and, as a
// baseline of the same run, how long the user it created takes to be
// found by GetUser there (not asserted). It runs with
// IAMD_AUDIT_VISIBILITY_EVENTS=N (docs/benchmarks.md).
func TestReplicasAuditVisibility(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("IAMD_AUDIT_VISIBILITY_EVENTS"))
	if n <= 0 {
		t.Skip("set IAMD_AUDIT_VISIBILITY_EVENTS=200 to measure")
	}
	a, b := twoReplicas(t)
	ctx := context.Background()
	ra, rb := a.rootIAM(), b.rootIAM()
	var trail, user []time.Duration
	for i := range n {
		name := fmt.Sprintf("vis-%d", i)
		_, err := ra.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)})
		must(t, err)
		start := time.Now()
		var dt, du time.Duration
		within(t, propagation, name, func() error {
			if du == 0 {
				if _, err := rb.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(name)}); err == nil {
					du = time.Since(start)
				}
			}
			if dt == 0 {
				p, err := lookupEvents(ctx, b, "ResourceName", name, time.Time{}, 5, "")
				if err != nil {
					return err
				}
				// GetUser's own events name the user too.
				if slices.ContainsFunc(p.Events, func(ev replicaTrailEvent) bool { return ev.EventName == "CreateUser" }) {
					dt = time.Since(start)
				}
			}
			if dt == 0 || du == 0 {
				return fmt.Errorf("found by LookupEvents after %s, by GetUser after %s (0: not yet)", dt, du)
			}
			return nil
		})
		trail, user = append(trail, dt), append(user, du)
	}
	q := func(ds []time.Duration, p float64) time.Duration {
		slices.Sort(ds)
		return ds[int(p*float64(len(ds)-1))]
	}
	t.Logf("over %d events, on the other replica: LookupEvents finds the event after p50 %s, p99 %s, max %s; GetUser finds the user after p50 %s, p99 %s, max %s",
		n, q(trail, 0.5), q(trail, 0.99), q(trail, 1), q(user, 0.5), q(user, 0.99), q(user, 1))
}
