// Command iamd-load is a SigV4-signing load generator for iamd's IAM API. It
// signs every request (nothing is replayed), keeps connections alive, and
// reports throughput and latency percentiles.
//
//	iamd-load -endpoint http://127.0.0.1:8080 -op GetUser -c 32 -d 10s
//	iamd-load -op seed -n 100000            # create users load-000000...
//	iamd-load -op CreateUser -c 64 -d 10s
//	iamd-load -op ListUsers -c 8 -d 10s     # pages of 100, following markers
//	iamd-load -op Authorize -c 16 -d 10s    # POST /_iamd/authorize with forwarded s3 requests
//	iamd-load -floor 127.0.0.1:18200        # serve the floor: SigV4 + one decision + a GetUser answer
//
// Credentials come from -access-key/-secret-key or AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY.
package main

import (
	"context"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iamd/iamd/internal/sigv4"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "iamd-load:", err)
		os.Exit(1)
	}
}

type config struct {
	endpoint string
	op       string
	conc     int
	duration time.Duration
	n        int
	users    int
	prefix   string
	roleARN  string
	wrk      string // write a wrk script instead of running
	raw      bool   // one plain connection per worker instead of http.Client
	signer   *sigv4.Signer
	client   *http.Client
}

func run() error {
	var cfg config
	flag.StringVar(&cfg.endpoint, "endpoint", "http://127.0.0.1:8080", "iamd endpoint")
	flag.StringVar(&cfg.op, "op", "GetUser", "GetUser, CreateUser, ListUsers, GetCallerIdentity, Authorize or seed")
	flag.IntVar(&cfg.conc, "c", 32, "concurrent workers")
	flag.DurationVar(&cfg.duration, "d", 10*time.Second, "duration of the run")
	flag.IntVar(&cfg.n, "n", 0, "number of requests (seed: users to create); 0 means run for -d")
	flag.IntVar(&cfg.users, "users", 1000, "GetUser: pick users load-000000 .. load-(users-1)")
	flag.StringVar(&cfg.roleARN, "role-arn", "", "AssumeRole: the role to assume")
	flag.StringVar(&cfg.prefix, "prefix", "", "CreateUser: name prefix (default: unique per run)")
	wrkScript := flag.String("wrk-script", "", "instead of running, sign one request of -op and write it as a wrk Lua script to this file (the signature stays valid for 15 minutes)")
	accessKey := flag.String("access-key", os.Getenv("AWS_ACCESS_KEY_ID"), "access key ID")
	secretKey := flag.String("secret-key", os.Getenv("AWS_SECRET_ACCESS_KEY"), "secret access key")
	flag.BoolVar(&cfg.raw, "raw", false, "give each worker its own keep-alive connection, written and read without http.Client (several times cheaper per request, so that the server is what is measured)")
	floor := flag.String("floor", "", "instead of generating load, serve the floor server on this address: iamd's SigV4 verification and one policy decision, answering GetUser for the given credentials (a measuring baseline, see floor.go)")
	authzOpts := authorizeFlags()
	flag.Parse()
	if *accessKey == "" || *secretKey == "" {
		return fmt.Errorf("credentials required: -access-key/-secret-key or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
	}
	if *floor != "" {
		return serveFloor(*floor, *accessKey, *secretKey)
	}
	service := "iam"
	if cfg.op == "GetCallerIdentity" || cfg.op == "AssumeRole" {
		service = "sts"
	}
	cfg.signer = &sigv4.Signer{
		Credentials: sigv4.Credentials{AccessKeyID: *accessKey, SecretAccessKey: *secretKey},
		Region:      "us-east-1", Service: service,
	}
	cfg.client = &http.Client{Transport: &http.Transport{
		MaxIdleConns: cfg.conc * 2, MaxIdleConnsPerHost: cfg.conc * 2, IdleConnTimeout: time.Minute,
	}, Timeout: 30 * time.Second}
	if cfg.prefix == "" {
		cfg.prefix = fmt.Sprintf("c%x-", time.Now().UnixNano()&0xffffff)
	}

	var next func(w *worker) url.Values
	switch cfg.op {
	case "GetUser":
		next = func(w *worker) url.Values {
			return url.Values{"Action": {"GetUser"}, "Version": {"2010-05-08"},
				"UserName": {fmt.Sprintf("load-%06d", w.rng.IntN(cfg.users))}}
		}
	case "CreateUser":
		var seq atomic.Int64
		next = func(*worker) url.Values {
			return url.Values{"Action": {"CreateUser"}, "Version": {"2010-05-08"},
				"UserName": {fmt.Sprintf("%s%08d", cfg.prefix, seq.Add(1))}}
		}
	case "seed":
		var seq atomic.Int64
		if cfg.n == 0 {
			return fmt.Errorf("seed needs -n")
		}
		next = func(*worker) url.Values {
			return url.Values{"Action": {"CreateUser"}, "Version": {"2010-05-08"},
				"UserName": {fmt.Sprintf("load-%06d", seq.Add(1)-1)}}
		}
	case "ListUsers":
		next = func(w *worker) url.Values {
			v := url.Values{"Action": {"ListUsers"}, "Version": {"2010-05-08"}, "MaxItems": {"100"}}
			if w.marker != "" {
				v.Set("Marker", w.marker)
			}
			return v
		}
	case "GetCallerIdentity":
		next = func(*worker) url.Values {
			return url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}}
		}
	case "AssumeRole":
		next = func(w *worker) url.Values {
			return url.Values{"Action": {"AssumeRole"}, "Version": {"2011-06-15"},
				"RoleArn": {cfg.roleARN}, "RoleSessionName": {fmt.Sprintf("load-%d", w.rng.IntN(1000))}}
		}
	case "Authorize":
		cfg.wrk = *wrkScript
		do, err := authorizeOp(&cfg, *accessKey, *secretKey, *authzOpts)
		if err != nil || do == nil {
			return err
		}
		return load(cfg, do)
	default:
		return fmt.Errorf("unknown -op %q", cfg.op)
	}
	if *wrkScript != "" {
		return writeWrkScript(cfg, next(&worker{rng: rand.New(rand.NewPCG(1, 2))}), *wrkScript)
	}
	if cfg.raw {
		return load(cfg, func(w *worker) (int, []byte, error) { return callRaw(cfg, w, next(w)) })
	}
	return load(cfg, func(w *worker) (int, []byte, error) { return call(cfg, next(w)) })
}

// writeWrkScript signs one request and writes a wrk script replaying it, so
// that a C load generator can measure the server without Go's HTTP client
// and signer competing for the same two cores. Every replay is verified in
// full by the server; SigV4 has no nonce, so a replay within the clock
// window is as valid as the original.
func writeWrkScript(cfg config, form url.Values, path string) error {
	body := form.Encode()
	req, err := http.NewRequest(http.MethodPost, cfg.endpoint+"/", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if err := cfg.signer.Sign(req, []byte(body)); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "wrk.method = \"POST\"\nwrk.body = %q\n", body)
	for k, vs := range req.Header {
		fmt.Fprintf(&b, "wrk.headers[%q] = %q\n", k, vs[0])
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

type worker struct {
	rng       *rand.Rand
	marker    string
	latencies []time.Duration
	errors    map[string]int
	decisions map[string]int // Authorize: answers by decision
	raw       *rawConn       // -raw: the worker's connection
}

func load(cfg config, do func(*worker) (int, []byte, error)) error {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.duration)
	if cfg.n > 0 {
		ctx, cancel = context.WithCancel(context.Background())
	}
	defer cancel()
	var (
		issued  atomic.Int64
		wg      sync.WaitGroup
		workers = make([]*worker, cfg.conc)
	)
	start := time.Now()
	for i := range workers {
		w := &worker{rng: rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano()))), errors: map[string]int{}, decisions: map[string]int{}}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if cfg.n > 0 && issued.Add(1) > int64(cfg.n) {
					return
				}
				t0 := time.Now()
				code, body, err := do(w)
				w.latencies = append(w.latencies, time.Since(t0))
				switch {
				case err != nil:
					if ctx.Err() == nil {
						w.errors[err.Error()]++
					}
				case code != http.StatusOK:
					w.errors[fmt.Sprintf("HTTP %d %s", code, errorCode(body))]++
				case cfg.op == "ListUsers":
					w.marker = listMarker(body)
				case cfg.op == "Authorize":
					w.decisions[decisionOf(body)]++
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	errs := map[string]int{}
	decisions := map[string]int{}
	for _, w := range workers {
		all = append(all, w.latencies...)
		for k, v := range w.errors {
			errs[k] += v
		}
		for k, v := range w.decisions {
			decisions[k] += v
		}
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[min(len(all)-1, int(float64(len(all))*p))]
	}
	fmt.Printf("op=%s c=%d requests=%d elapsed=%s rate=%.0f req/s p50=%s p90=%s p99=%s max=%s errors=%d\n",
		cfg.op, cfg.conc, len(all), elapsed.Round(time.Millisecond), float64(len(all))/elapsed.Seconds(),
		pct(0.50), pct(0.90), pct(0.99), pct(1), sum(errs))
	for k, v := range errs {
		fmt.Printf("  %6d × %s\n", v, k)
	}
	for k, v := range decisions {
		fmt.Printf("  %6d × decision %s\n", v, k)
	}
	return nil
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func call(cfg config, form url.Values) (int, []byte, error) {
	body := []byte(form.Encode())
	req, err := http.NewRequest(http.MethodPost, cfg.endpoint+"/", strings.NewReader(string(body)))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if err := cfg.signer.Sign(req, body); err != nil {
		return 0, nil, err
	}
	resp, err := cfg.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func errorCode(body []byte) string {
	var e struct {
		Error struct{ Code string } `xml:"Error"`
	}
	_ = xml.Unmarshal(body, &e)
	return e.Error.Code
}

func listMarker(body []byte) string {
	var r struct {
		Result struct {
			IsTruncated bool
			Marker      string
		} `xml:"ListUsersResult"`
	}
	if xml.Unmarshal(body, &r) != nil || !r.Result.IsTruncated {
		return ""
	}
	return r.Result.Marker
}
