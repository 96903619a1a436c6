package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamd/iamd/internal/server"
	"github.com/iamd/iamd/internal/sigv4"
)

// iamdProcess is `iamd serve` running as a separate process, logging JSON.
type iamdProcess struct {
	cmd     *exec.Cmd
	url     string
	metrics string // the metrics endpoint's URL
	logs    *lockedBuffer
	exited  chan struct{}
	err     error // cmd.Wait's, once exited is closed
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// startIamd runs `iamd serve` on dir with metrics and JSON logs, and waits
// until /readyz answers 200.
func startIamd(t *testing.T, dir string, args ...string) *iamdProcess {
	t.Helper()
	addr, maddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(iamdBinary(t), append([]string{"serve", "--addr", addr, "--data", dir,
		"--metrics-addr", maddr, "--log-format", "json", "--log-level", "debug"}, args...)...)
	cmd.Env = append(os.Environ(), server.EnvAccountID+"="+testAccount, server.EnvRootAccessKey+"="+rootKeyID,
		server.EnvRootSecretKey+"="+rootSecretKey, "IAMD_MASTER_KEY=", "IAMD_STORE=")
	p := &iamdProcess{cmd: cmd, url: "http://" + addr, metrics: "http://" + maddr + "/metrics", logs: new(lockedBuffer), exited: make(chan struct{})}
	cmd.Stderr = p.logs
	must(t, cmd.Start())
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = cmd.Process.Kill()
			<-p.exited
		}
	})
	eventually(t, 30*time.Second, func() error {
		select {
		case <-p.exited:
			t.Fatalf("iamd exited: %v\n%s", p.err, p.logs.String())
		default:
		}
		resp, err := http.Get(p.url + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("/readyz: %d", resp.StatusCode)
		}
		return nil
	})
	return p
}

// logLines returns the process's JSON log records.
func (p *iamdProcess) logLines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		out = append(out, m)
	}
	return out
}

func (p *iamdProcess) logged(t *testing.T, msg string) bool {
	for _, l := range p.logLines(t) {
		if s, _ := l["msg"].(string); strings.HasPrefix(s, msg) {
			return true
		}
	}
	return false
}

// slowRequest is a signed IAM request whose body is sent in two parts, so
// that it is in flight on the server until finish is called.
type slowRequest struct {
	rest   []byte
	pw     *io.PipeWriter
	result chan slowResult
}

type slowResult struct {
	status int
	body   string
	err    error
}

func startSlowRequest(t *testing.T, endpoint string, form url.Values) *slowRequest {
	t.Helper()
	body := []byte(form.Encode())
	req, err := http.NewRequest(http.MethodPost, endpoint+"/", nil)
	must(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	signer := &sigv4.Signer{Credentials: sigv4.Credentials{AccessKeyID: rootKeyID, SecretAccessKey: rootSecretKey}, Region: "us-east-1", Service: "iam"}
	must(t, signer.Sign(req, body))
	pr, pw := io.Pipe()
	half := len(body) / 2
	req.Body, req.ContentLength = io.NopCloser(io.MultiReader(bytes.NewReader(body[:half]), pr)), int64(len(body))
	s := &slowRequest{rest: body[half:], pw: pw, result: make(chan slowResult, 1)}
	// A client of its own: a connection per request.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			s.result <- slowResult{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		s.result <- slowResult{status: resp.StatusCode, body: string(b)}
	}()
	return s
}

func (s *slowRequest) finish() slowResult {
	_, err := s.pw.Write(s.rest)
	s.pw.Close()
	r := <-s.result
	if r.err == nil && err != nil {
		r.err = err
	}
	return r
}

// TestSIGTERMFinishesRequestsInFlight: iamd, sent SIGTERM while a burst of
// requests is in flight (their bodies still arriving), answers every one of
// them, then flushes, closes and exits 0; everything it answered is in the
// store and in an audit trail that verifies, and each response's request ID
// is its audit event's.
func TestSIGTERMFinishesRequestsInFlight(t *testing.T) {
	dir := t.TempDir()
	p := startIamd(t, dir)
	const n = 12
	reqs := make([]*slowRequest, n)
	for i := range reqs {
		reqs[i] = startSlowRequest(t, p.url, url.Values{"Action": {"CreateUser"}, "Version": {"2010-05-08"}, "UserName": {fmt.Sprintf("inflight-%02d", i)}})
	}
	eventually(t, 20*time.Second, func() error {
		fams := scrape(t, p.metrics)
		if got := gaugeValue(fams, "iamd_requests_in_flight"); got != n {
			return fmt.Errorf("iamd_requests_in_flight = %v, want %d", got, n)
		}
		return nil
	})
	must(t, p.cmd.Process.Signal(syscall.SIGTERM))
	eventually(t, 20*time.Second, func() error {
		if !p.logged(t, "shutting down") {
			return errors.New("iamd has not started shutting down")
		}
		return nil
	})
	// The listener closes: no new request gets in.
	eventually(t, 20*time.Second, func() error {
		resp, err := http.Get(p.url + "/healthz")
		if err != nil {
			return nil //nolint:nilerr // refused: what the test waits for
		}
		resp.Body.Close()
		return errors.New("iamd still accepts connections while shutting down")
	})
	ids := make([]string, n)
	var wg sync.WaitGroup
	var failed sync.Map
	for i, r := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := r.finish()
			if res.err != nil || res.status != 200 {
				failed.Store(i, fmt.Sprintf("%v %d %s", res.err, res.status, res.body))
				return
			}
			ids[i] = textBetween(res.body, "<RequestId>", "</RequestId>")
		}()
	}
	wg.Wait()
	failed.Range(func(k, v any) bool { t.Errorf("request %v in flight at SIGTERM: %v", k, v); return true })
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("iamd did not exit after SIGTERM\n%s", p.logs.String())
	}
	if p.err != nil {
		t.Fatalf("iamd exited with %v\n%s", p.err, p.logs.String())
	}
	if !p.logged(t, "stopped serving") {
		t.Errorf("no 'stopped serving' log record:\n%s", p.logs.String())
	}
	if strings.Contains(p.logs.String(), rootSecretKey) {
		t.Error("the root secret access key is in the logs")
	}

	if code, out := verifyAudit(t, dir); code != 0 {
		t.Fatalf("audit verify: exit %d\n%s", code, out)
	}
	q := startIamd(t, dir)
	e := &env{t: t, url: q.url, account: testAccount, root: aws.Credentials{AccessKeyID: rootKeyID, SecretAccessKey: rootSecretKey}}
	ctx := context.Background()
	for i := range n {
		if _, err := e.rootIAM().GetUser(ctx, &iam.GetUserInput{UserName: aws.String(fmt.Sprintf("inflight-%02d", i))}); err != nil {
			t.Errorf("user created by a request in flight at SIGTERM: %v", err)
		}
	}
	// Each response's request ID is its audit event's.
	logged := map[string]bool{}
	for _, ev := range e.lookup(t, e.root, "--lookup-attributes", "AttributeKey=EventName,AttributeValue=CreateUser").Events {
		id, _ := ev.record(t)["requestID"].(string)
		logged[id] = true
	}
	inLog := map[string]bool{}
	for _, l := range p.logLines(t) {
		if id, ok := l["request_id"].(string); ok && l["action"] == "CreateUser" {
			inLog[id] = true
		}
	}
	for i, id := range ids {
		if id != "" && !logged[id] {
			t.Errorf("request %d: no CreateUser audit event with request ID %s", i, id)
		}
		if id != "" && !inLog[id] {
			t.Errorf("request %d: no log record with request_id %s", i, id)
		}
	}
}

// textBetween returns the text of s between from and to.
func textBetween(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	s = s[i+len(from):]
	j := strings.Index(s, to)
	if j < 0 {
		return ""
	}
	return s[:j]
}
