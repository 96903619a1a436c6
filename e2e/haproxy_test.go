package e2e

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/iamd/iamd/internal/secrets"
	"github.com/iamd/iamd/internal/server"
)

// lbReplica is one `iamd serve` process behind the balancer. It keeps its
// address and data directory across restarts, as a replica in a deployment
// does.
type lbReplica struct {
	name, addr, dir string
	env             []string
	mu              sync.Mutex
	proc            *iamdProcess // the current process; url, logs, exited, err
}

func newLBReplica(t *testing.T, name, storeURL, masterKey string) *lbReplica {
	t.Helper()
	r := &lbReplica{
		name: name, addr: freeAddr(t), dir: t.TempDir(),
		env: append(os.Environ(), server.EnvAccountID+"="+testAccount, server.EnvRootAccessKey+"="+rootKeyID,
			server.EnvRootSecretKey+"="+rootSecretKey, secrets.EnvMasterKey+"="+masterKey, "IAMD_STORE="+storeURL),
	}
	t.Cleanup(func() {
		p := r.current()
		if p == nil {
			return
		}
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("%s's log:\n%s", r.name, p.logs.String())
		}
	})
	return r
}

func (r *lbReplica) current() *iamdProcess {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.proc
}

// start runs the replica and waits until its /readyz answers 200.
func (r *lbReplica) start(t *testing.T) {
	t.Helper()
	// --shutdown-delay covers the balancer's check interval times its fall
	// count (100 ms × 2 below), with a margin.
	cmd := exec.Command(iamdBinary(t), "serve", "--addr", r.addr, "--data", r.dir,
		"--trusted-proxies", "127.0.0.1", "--shutdown-delay", "1s", "--log-format", "json", "--log-level", "warn")
	cmd.Env = r.env
	p := &iamdProcess{cmd: cmd, url: "http://" + r.addr, logs: new(lockedBuffer), exited: make(chan struct{})}
	cmd.Stderr = p.logs
	must(t, cmd.Start())
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	r.mu.Lock()
	r.proc = p
	r.mu.Unlock()
	eventually(t, 30*time.Second, func() error {
		select {
		case <-p.exited:
			t.Fatalf("%s exited at start: %v\n%s", r.name, p.err, p.logs.String())
		default:
		}
		resp, err := http.Get(p.url + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("%s /readyz: %d", r.name, resp.StatusCode)
		}
		return nil
	})
}

// kill sends SIGKILL and waits for the process to go.
func (r *lbReplica) kill(t *testing.T) {
	t.Helper()
	p := r.current()
	must(t, p.cmd.Process.Kill())
	<-p.exited
}

// stop sends SIGTERM and waits for a clean exit.
func (r *lbReplica) stop(t *testing.T) {
	t.Helper()
	p := r.current()
	must(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.exited:
	case <-time.After(40 * time.Second):
		t.Fatalf("%s did not exit after SIGTERM\n%s", r.name, p.logs.String())
	}
	if p.err != nil {
		t.Fatalf("%s exited with %v after SIGTERM\n%s", r.name, p.err, p.logs.String())
	}
}

// haproxyProcess is `haproxy -db` in front of the replicas, with a stats page
// that tells which servers it considers up.
type haproxyProcess struct {
	url, stats string
	logs       *lockedBuffer
}

func startHAProxy(t *testing.T, replicas []*lbReplica) *haproxyProcess {
	t.Helper()
	addr, statsAddr := freeAddr(t), freeAddr(t)
	var servers strings.Builder
	for _, r := range replicas {
		fmt.Fprintf(&servers, "    server %s %s\n", r.name, r.addr)
	}
	// docs/replicas.md's example, on loopback, in plain HTTP, with faster
	// health checks.
	cfg := `global
    nbthread 1
    log stdout format raw local0

defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client  65s
    timeout server  65s
    retries 3
    option redispatch 1
    retry-on conn-failure

frontend iam
    bind ` + addr + `
    default_backend iamd

frontend stats
    bind ` + statsAddr + `
    no log
    stats enable
    stats uri /stats

backend iamd
    balance roundrobin
    option forwardfor
    option httpchk
    http-check send meth GET uri /readyz
    http-check expect status 200
    default-server check inter 100ms fall 2 rise 2
` + servers.String()
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	must(t, os.WriteFile(path, []byte(cfg), 0o600))
	h := &haproxyProcess{url: "http://" + addr, stats: "http://" + statsAddr + "/stats;csv", logs: new(lockedBuffer)}
	cmd := exec.Command("haproxy", "-f", path, "-db")
	cmd.Stdout, cmd.Stderr = h.logs, h.logs
	must(t, cmd.Start())
	exited := make(chan struct{})
	var werr error
	go func() { werr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("haproxy's log (last 8 KiB):\n%s", tail(h.logs.String(), 8<<10))
		}
	})
	eventually(t, 20*time.Second, func() error {
		select {
		case <-exited:
			t.Fatalf("haproxy exited: %v\n%s", werr, h.logs.String())
		default:
		}
		_, err := h.states()
		return err
	})
	return h
}

// states returns the status HAProxy gives each server of the backend: UP,
// DOWN, or a transition such as "UP 1/2".
func (h *haproxyProcess) states() (map[string]string, error) {
	resp, err := http.Get(h.stats)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("haproxy stats: %d", resp.StatusCode)
	}
	r := csv.NewReader(resp.Body)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("haproxy stats: %w", err)
	}
	if len(rows) == 0 {
		return nil, errors.New("haproxy stats: empty")
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[strings.TrimPrefix(strings.TrimSpace(name), "# ")] = i
	}
	px, sv, st := col["pxname"], col["svname"], col["status"]
	out := map[string]string{}
	for _, row := range rows[1:] {
		if len(row) > st && row[px] == "iamd" && row[sv] != "BACKEND" {
			out[row[sv]] = row[st]
		}
	}
	return out, nil
}

// waitState waits until HAProxy reports server name as want (UP or DOWN).
func (h *haproxyProcess) waitState(t *testing.T, name, want string) {
	t.Helper()
	eventually(t, 20*time.Second, func() error {
		s, err := h.states()
		if err != nil {
			return err
		}
		if s[name] != want {
			return fmt.Errorf("haproxy: server %s is %q, want %s", name, s[name], want)
		}
		return nil
	})
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// attemptsKey holds, in a call's context, the number of HTTP attempts the
// SDK made for it.
type attemptsKey struct{}

// countingClient is the SDK's HTTP client, counting each call's attempts and
// the transient failures it retried.
type countingClient struct {
	next       aws.HTTPClient
	mu         sync.Mutex
	transients map[string]int // "502", "503", "transport error", ...
	errs       []string       // the first transport errors
	phase      string         // what the test is doing, to attribute them
}

func (c *countingClient) Do(req *http.Request) (*http.Response, error) {
	if n, ok := req.Context().Value(attemptsKey{}).(*atomic.Int32); ok {
		n.Add(1)
	}
	resp, err := c.next.Do(req)
	what := ""
	switch {
	case err != nil:
		what = "transport error"
		c.mu.Lock()
		if len(c.errs) < 5 {
			c.errs = append(c.errs, err.Error())
		}
		c.mu.Unlock()
	case resp.StatusCode >= 500:
		what = fmt.Sprint(resp.StatusCode)
	}
	if what != "" {
		c.mu.Lock()
		c.transients[c.phase+": "+what]++
		c.mu.Unlock()
	}
	return resp, err
}

// setPhase names what the test does from now on.
func (c *countingClient) setPhase(p string) {
	c.mu.Lock()
	c.phase = p
	c.mu.Unlock()
}

func (c *countingClient) summary() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.transients) == 0 {
		return "none"
	}
	var parts []string
	for k, v := range c.transients {
		parts = append(parts, fmt.Sprintf("%s×%d", k, v))
	}
	sort.Strings(parts)
	if len(c.errs) > 0 {
		parts = append(parts, fmt.Sprintf("first transport errors: %q", c.errs))
	}
	return strings.Join(parts, ", ")
}

// withAttempts returns a context that counts the SDK's attempts for a call.
func withAttempts(ctx context.Context) (context.Context, *atomic.Int32) {
	n := new(atomic.Int32)
	return context.WithValue(ctx, attemptsKey{}, n), n
}

// lbClients builds SDK clients for one endpoint with the SDK's standard
// retryer on (5 attempts: connection errors, 5xx and throttling are retried).
type lbClients struct {
	url  string
	http *countingClient
}

func (l *lbClients) config(c aws.Credentials) aws.Config {
	return aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.StaticCredentialsProvider{Value: c},
		RetryMaxAttempts: 5,
		HTTPClient:       l.http,
	}
}

func (l *lbClients) iam(c aws.Credentials) *iam.Client {
	return iam.NewFromConfig(l.config(c), func(o *iam.Options) { o.BaseEndpoint = aws.String(l.url) })
}

func (l *lbClients) sts(c aws.Credentials) *sts.Client {
	return sts.NewFromConfig(l.config(c), func(o *sts.Options) { o.BaseEndpoint = aws.String(l.url) })
}

func newLBClients(url string) *lbClients {
	return &lbClients{url: url, http: &countingClient{next: awshttp.NewBuildableClient(), transients: map[string]int{}}}
}

// iamSnapshot is what a client reads back of the workload's entities, in a
// canonical form: the same string from any replica means the same answers.
func iamSnapshot(ctx context.Context, c *iam.Client, users, groups []string) (string, error) {
	var b strings.Builder
	lu, err := c.ListUsers(ctx, &iam.ListUsersInput{PathPrefix: aws.String("/hx/")})
	if err != nil {
		return "", err
	}
	var names []string
	for _, u := range lu.Users {
		names = append(names, aws.ToString(u.UserName)+"@"+aws.ToString(u.Arn))
	}
	sort.Strings(names)
	fmt.Fprintf(&b, "users %v\n", names)
	for _, g := range groups {
		gg, err := c.GetGroup(ctx, &iam.GetGroupInput{GroupName: aws.String(g)})
		if err != nil {
			return "", err
		}
		var members []string
		for _, u := range gg.Users {
			members = append(members, aws.ToString(u.UserName))
		}
		sort.Strings(members)
		ap, err := c.ListAttachedGroupPolicies(ctx, &iam.ListAttachedGroupPoliciesInput{GroupName: aws.String(g)})
		if err != nil {
			return "", err
		}
		var pols []string
		for _, p := range ap.AttachedPolicies {
			pols = append(pols, aws.ToString(p.PolicyArn))
		}
		sort.Strings(pols)
		fmt.Fprintf(&b, "group %s members %v policies %v\n", g, members, pols)
	}
	for _, u := range users {
		ap, err := c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String(u)})
		if err != nil {
			return "", err
		}
		var pols []string
		for _, p := range ap.AttachedPolicies {
			pols = append(pols, aws.ToString(p.PolicyArn))
		}
		sort.Strings(pols)
		ak, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(u)})
		if err != nil {
			return "", err
		}
		var keys []string
		for _, k := range ak.AccessKeyMetadata {
			keys = append(keys, aws.ToString(k.AccessKeyId)+":"+string(k.Status))
		}
		sort.Strings(keys)
		fmt.Fprintf(&b, "user %s policies %v keys %v\n", u, pols, keys)
	}
	return b.String(), nil
}

// listUserNames lists every user under path, following the pages.
func listUserNames(ctx context.Context, c *iam.Client, path string) (map[string]bool, error) {
	out := map[string]bool{}
	p := iam.NewListUsersPaginator(c, &iam.ListUsersInput{PathPrefix: aws.String(path)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, u := range page.Users {
			out[aws.ToString(u.UserName)] = true
		}
	}
	return out, nil
}

// TestHAProxyReplicas runs three iamd replicas on PostgreSQL behind a real
// HAProxy, round-robin on every request, and drives them with the SDK, its
// retries on: a workload of IAM and STS calls reads back what one replica
// would answer; then, under load, one replica is killed with SIGKILL and
// every replica is restarted in turn with SIGTERM. No call fails and no
// acknowledged write is lost.
func TestHAProxyReplicas(t *testing.T) {
	if _, err := exec.LookPath("haproxy"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("haproxy is not on PATH: .ci/run installs it (apt-get install haproxy)")
		}
		t.Skip("HAProxy test skipped: haproxy is not on PATH; install it with apt-get install haproxy")
	}
	dsn := postgresSchema(t) // skips without IAMD_TEST_POSTGRES
	masterKey := newMasterKey()
	replicas := make([]*lbReplica, 3)
	for i := range replicas {
		replicas[i] = newLBReplica(t, fmt.Sprintf("iamd%d", i+1), dsn, masterKey)
	}
	// The first start bootstraps the account; the others find it.
	for _, r := range replicas {
		r.start(t)
	}
	lb := startHAProxy(t, replicas)
	for _, r := range replicas {
		lb.waitState(t, r.name, "UP")
	}

	ctx := context.Background()
	root := aws.Credentials{AccessKeyID: rootKeyID, SecretAccessKey: rootSecretKey}
	clients := newLBClients(lb.url)
	clients.http.setPhase("workload")
	c := clients.iam(root)
	direct := make([]*iam.Client, len(replicas))
	for i, r := range replicas {
		direct[i] = newLBClients("http://" + r.addr).iam(root)
	}

	// propagated waits until every replica, asked directly, passes check, and
	// returns how long the slowest took: the propagation latency, logged, not
	// asserted (the bound is a liveness bound).
	propagated := func(check func(*iam.Client) error) time.Duration {
		t.Helper()
		start := time.Now()
		seen := make([]bool, len(direct))
		var slowest time.Duration
		eventually(t, propagation, func() error {
			for i, d := range direct {
				if seen[i] {
					continue
				}
				if err := check(d); err != nil {
					return fmt.Errorf("%s: %w", replicas[i].name, err)
				}
				seen[i], slowest = true, time.Since(start)
			}
			return nil
		})
		return slowest
	}

	// 1. A workload through the balancer.
	users := []string{"hx-user-0", "hx-user-1", "hx-user-2", "hx-user-3", "hx-user-4", "hx-user-5"}
	groups := []string{"hx-readers", "hx-writers"}
	var lat []time.Duration
	for _, u := range users {
		_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(u), Path: aws.String("/hx/")})
		must(t, err)
		lat = append(lat, propagated(func(d *iam.Client) error {
			_, err := d.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(u)})
			return err
		}))
	}
	for _, g := range groups {
		_, err := c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String(g)})
		must(t, err)
	}
	pol, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{
		PolicyName:     aws.String("hx-read"),
		PolicyDocument: aws.String(allowDoc("iam:GetUser", "iam:ListUsers", "sts:AssumeRole", "sts:GetCallerIdentity")),
	})
	must(t, err)
	trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"sts:AssumeRole"}]}`, testAccount)
	role, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("hx-role"), AssumeRolePolicyDocument: aws.String(trust)})
	must(t, err)
	// The writes above that later ones depend on have reached every replica
	// (read-after-write across replicas is eventually consistent, as in AWS).
	lat = append(lat, propagated(func(d *iam.Client) error {
		for _, g := range groups {
			if _, err := d.GetGroup(ctx, &iam.GetGroupInput{GroupName: aws.String(g)}); err != nil {
				return err
			}
		}
		if _, err := d.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: pol.Policy.Arn}); err != nil {
			return err
		}
		_, err := d.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("hx-role")})
		return err
	}))
	_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("hx-role"), PolicyName: aws.String("list"),
		PolicyDocument: aws.String(allowDoc("iam:ListUsers", "iam:GetRole"))})
	must(t, err)
	var want strings.Builder
	var names []string
	for _, u := range users {
		names = append(names, u+"@arn:aws:iam::"+testAccount+":user/hx/"+u)
	}
	fmt.Fprintf(&want, "users %v\n", names)
	members := map[string][]string{}
	for i, u := range users {
		g := groups[i%2]
		_, err := c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String(g), UserName: aws.String(u)})
		must(t, err)
		members[g] = append(members[g], u)
	}
	_, err = c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("hx-readers"), PolicyArn: pol.Policy.Arn})
	must(t, err)
	fmt.Fprintf(&want, "group hx-readers members %v policies %v\n", members["hx-readers"], []string{aws.ToString(pol.Policy.Arn)})
	fmt.Fprintf(&want, "group hx-writers members %v policies %v\n", members["hx-writers"], []string(nil))
	keys := map[string]aws.Credentials{}
	for i, u := range users {
		var pols, ids []string
		if i == 1 {
			_, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(u), PolicyArn: pol.Policy.Arn})
			must(t, err)
			pols = []string{aws.ToString(pol.Policy.Arn)}
		}
		if i < 2 {
			k, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(u)})
			must(t, err)
			keys[u] = aws.Credentials{AccessKeyID: aws.ToString(k.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(k.AccessKey.SecretAccessKey)}
			ids = []string{aws.ToString(k.AccessKey.AccessKeyId) + ":Active"}
		}
		fmt.Fprintf(&want, "user %s policies %v keys %v\n", u, pols, ids)
	}
	lat = append(lat, propagated(func(d *iam.Client) error {
		if _, err := d.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("hx-role"), PolicyName: aws.String("list")}); err != nil {
			return err
		}
		got, err := iamSnapshot(ctx, d, users, groups)
		if err != nil {
			return err
		}
		if got != want.String() {
			return fmt.Errorf("read back:\n%s\nwant:\n%s", got, want.String())
		}
		return nil
	}))
	slices.Sort(lat)
	t.Logf("propagation to all three replicas, %d writes: min %s, median %s, max %s",
		len(lat), lat[0].Round(time.Millisecond), lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	// Through the balancer, each read lands on another replica: the same answers.
	for range 2 * len(replicas) {
		got, err := iamSnapshot(ctx, c, users, groups)
		must(t, err)
		if got != want.String() {
			t.Fatalf("read back through the balancer:\n%s\nwant:\n%s", got, want.String())
		}
	}
	// The users' keys and an assumed role's session work on every replica.
	var session aws.Credentials
	for i := range 2 * len(replicas) {
		for _, u := range users[:2] {
			out, err := clients.iam(keys[u]).GetUser(ctx, &iam.GetUserInput{})
			must(t, err)
			if got := aws.ToString(out.User.UserName); got != u {
				t.Fatalf("GetUser with %s's key: %s", u, got)
			}
		}
		ar, err := clients.sts(keys["hx-user-0"]).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: role.Role.Arn, RoleSessionName: aws.String(fmt.Sprintf("s%d", i))})
		must(t, err)
		session = aws.Credentials{AccessKeyID: aws.ToString(ar.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(ar.Credentials.SecretAccessKey), SessionToken: aws.ToString(ar.Credentials.SessionToken)}
		for range len(replicas) {
			id, err := clients.sts(session).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			must(t, err)
			if want := fmt.Sprintf("arn:aws:sts::%s:assumed-role/hx-role/s%d", testAccount, i); aws.ToString(id.Arn) != want {
				t.Fatalf("GetCallerIdentity of the session: %s, want %s", aws.ToString(id.Arn), want)
			}
			lu, err := clients.iam(session).ListUsers(ctx, &iam.ListUsersInput{PathPrefix: aws.String("/hx/")})
			must(t, err)
			if len(lu.Users) != len(users) {
				t.Fatalf("ListUsers with the session: %d users, want %d", len(lu.Users), len(users))
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("workload done; transient failures the SDK retried: %s", clients.http.summary())

	// 2. Load through the balancer while replicas are killed and restarted.
	var (
		mu        sync.Mutex
		acked     []string // users whose CreateUser succeeded
		ambiguous []string // CreateUser retried after a response was lost: the write may have been committed by the lost attempt
		failures  []string
		progress  atomic.Int64
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	stop := make(chan struct{})
	var load sync.WaitGroup
	const workers = 4
	for w := range workers {
		load.Go(func() {
			wc, ws := clients.iam(root), clients.sts(session)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("hx-load-%d-%d", w, i)
				actx, attempts := withAttempts(ctx)
				_, err := wc.CreateUser(actx, &iam.CreateUserInput{UserName: aws.String(name), Path: aws.String("/load/")})
				switch {
				case err == nil:
					mu.Lock()
					acked = append(acked, name)
					mu.Unlock()
				case errCode(err) == "EntityAlreadyExists" && attempts.Load() > 1:
					// An attempt in flight on the replica killed may have
					// committed before its response was lost (HAProxy then
					// answers 502, or closes the client's connection); the
					// SDK's retry finds the user it made, as it would on
					// AWS. The user must be listed below like any other.
					mu.Lock()
					ambiguous = append(ambiguous, name)
					mu.Unlock()
				default:
					fail("CreateUser %s (%d attempts): %v", name, attempts.Load(), err)
				}
				if _, err := wc.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("hx-user-0")}); err != nil {
					fail("GetUser: %v", err)
				}
				if _, err := ws.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
					fail("GetCallerIdentity: %v", err)
				}
				progress.Add(1)
			}
		})
	}
	stopLoad := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		load.Wait()
	}
	t.Cleanup(stopLoad)
	// underLoad waits until the workers have completed n more iterations.
	underLoad := func(n int64) {
		t.Helper()
		target := progress.Load() + n
		eventually(t, 30*time.Second, func() error {
			if got := progress.Load(); got < target {
				return fmt.Errorf("load: %d iterations, waiting for %d", got, target)
			}
			return nil
		})
	}
	underLoad(20)
	killed := replicas[1]
	clients.http.setPhase("SIGKILL " + killed.name)
	killed.kill(t)
	t.Logf("killed %s with SIGKILL under load", killed.name)
	lb.waitState(t, killed.name, "DOWN")
	underLoad(20)
	clients.http.setPhase("restart " + killed.name)
	killed.start(t)
	lb.waitState(t, killed.name, "UP")
	underLoad(20)
	for _, r := range replicas {
		clients.http.setPhase("SIGTERM " + r.name)
		r.stop(t)
		underLoad(10) // served by the other two
		clients.http.setPhase("restart " + r.name)
		r.start(t)
		lb.waitState(t, r.name, "UP")
		underLoad(10)
		t.Logf("restarted %s with SIGTERM under load", r.name)
	}
	stopLoad()

	mu.Lock()
	defer mu.Unlock()
	t.Logf("load: %d iterations of 3 calls, %d users acknowledged, %d CreateUser retried after a lost response; transient failures the SDK retried: %s",
		progress.Load(), len(acked), len(ambiguous), clients.http.summary())
	for i, f := range failures {
		if i == 20 {
			t.Errorf("... and %d more", len(failures)-20)
			break
		}
		t.Errorf("call failed under load: %s", f)
	}
	// No acknowledged write is lost: each is listed, through the balancer
	// and on every replica.
	mustExist := append(slices.Clone(acked), ambiguous...)
	check := func(cl *iam.Client) error {
		got, err := listUserNames(ctx, cl, "/load/")
		if err != nil {
			return err
		}
		for _, n := range mustExist {
			if !got[n] {
				return fmt.Errorf("user %s, acknowledged, is not listed", n)
			}
		}
		return nil
	}
	for _, cl := range append([]*iam.Client{c}, direct...) {
		eventually(t, propagation, func() error { return check(cl) })
	}
}
