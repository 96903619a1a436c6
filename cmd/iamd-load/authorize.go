package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/iamd/iamd/internal/sigv4"
)

// authzOptions configures -op Authorize: the load generator plays an
// S3-compatible store that forwards its clients' signed requests to
// POST /_iamd/authorize.
type authzOptions struct {
	principalKey, principalSecret string
	account                       string
	policyFile                    string
	requests                      int
	explain                       bool
}

func authorizeFlags() *authzOptions {
	o := &authzOptions{}
	flag.StringVar(&o.principalKey, "principal-access-key", "", "Authorize: access key that signs the forwarded s3 requests (default: -access-key)")
	flag.StringVar(&o.principalSecret, "principal-secret-key", "", "Authorize: its secret key (default: -secret-key)")
	flag.StringVar(&o.account, "resource-account", "", "Authorize: account owning the bucket (default: the principal's, from GetCallerIdentity)")
	flag.StringVar(&o.policyFile, "resource-policy", "", "Authorize: bucket policy file (default: one allowing the principal's account s3:GetObject from 203.0.113.0/24); \"none\" for none")
	flag.IntVar(&o.requests, "forwarded", 256, "Authorize: distinct forwarded requests, signed once and reused")
	flag.BoolVar(&o.explain, "explain", true, "Authorize: ask for the explanation of every decision")
	return o
}

// authorizeOp prepares the forwarded requests and returns the per-request
// function: every call is signed anew (service "iamd"); the forwarded s3
// requests were signed once, as a store receives many requests signed by
// its clients.
func authorizeOp(cfg *config, accessKey, secretKey string, o authzOptions) (func(*worker) (int, []byte, error), error) {
	if o.principalKey == "" {
		o.principalKey, o.principalSecret = accessKey, secretKey
	}
	if o.account == "" {
		acct, err := callerAccount(cfg, o.principalKey, o.principalSecret)
		if err != nil {
			return nil, fmt.Errorf("resource account: %w", err)
		}
		o.account = acct
	}
	bucketPolicy := `{"Version":"2012-10-17","Statement":[{"Sid":"AccountReads","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + o.account +
		`:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::load-bucket/*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}]}`
	switch o.policyFile {
	case "":
	case "none":
		bucketPolicy = ""
	default:
		b, err := os.ReadFile(o.policyFile)
		if err != nil {
			return nil, err
		}
		bucketPolicy = string(b)
	}
	s3 := &sigv4.Signer{Credentials: sigv4.Credentials{AccessKeyID: o.principalKey, SecretAccessKey: o.principalSecret}, Region: "us-east-1", Service: "s3"}
	type fwd struct {
		Method  string      `json:"method"`
		Path    string      `json:"path"`
		Query   string      `json:"query,omitempty"`
		Host    string      `json:"host"`
		Headers http.Header `json:"headers"`
	}
	type call struct {
		Request         fwd    `json:"request"`
		Action          string `json:"action"`
		Resource        string `json:"resource"`
		ResourcePolicy  string `json:"resourcePolicy,omitempty"`
		ResourceAccount string `json:"resourceAccount"`
		SourceIP        string `json:"sourceIp"`
		SecureTransport bool   `json:"secureTransport"`
		Explain         bool   `json:"explain"`
	}
	bodies := make([][]byte, max(o.requests, 1))
	for i := range bodies {
		key := fmt.Sprintf("photos/%04d/img-%06d.jpg", i%100, i)
		r, err := http.NewRequest(http.MethodGet, "http://store.example:9000/load-bucket/"+key, nil)
		if err != nil {
			return nil, err
		}
		r.Header.Set("User-Agent", "iamd-load")
		if err := s3.Sign(r, nil); err != nil {
			return nil, err
		}
		b, err := json.Marshal(call{
			Request: fwd{Method: r.Method, Path: r.URL.EscapedPath(), Host: r.URL.Host, Headers: r.Header},
			Action:  "s3:GetObject", Resource: "arn:aws:s3:::load-bucket/" + key,
			ResourcePolicy: bucketPolicy, ResourceAccount: o.account,
			SourceIP: fmt.Sprintf("203.0.113.%d", 1+i%250), SecureTransport: true, Explain: o.explain,
		})
		if err != nil {
			return nil, err
		}
		bodies[i] = b
	}
	caller := &sigv4.Signer{Credentials: sigv4.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey}, Region: "us-east-1", Service: "iamd"}
	target := strings.TrimSuffix(cfg.endpoint, "/") + "/_iamd/authorize"
	if cfg.wrk != "" {
		// One signed call, replayed by wrk (see writeWrkScript).
		req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(bodies[0]))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		if err := caller.Sign(req, bodies[0]); err != nil {
			return nil, err
		}
		var b strings.Builder
		fmt.Fprintf(&b, "wrk.method = \"POST\"\nwrk.path = \"/_iamd/authorize\"\nwrk.body = %q\n", bodies[0])
		for k, vs := range req.Header {
			fmt.Fprintf(&b, "wrk.headers[%q] = %q\n", k, vs[0])
		}
		return nil, os.WriteFile(cfg.wrk, []byte(b.String()), 0o600)
	}
	return func(w *worker) (int, []byte, error) {
		body := bodies[w.rng.IntN(len(bodies))]
		req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		if err := caller.Sign(req, body); err != nil {
			return 0, nil, err
		}
		resp, err := cfg.client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}, nil
}

// callerAccount asks STS for the account of a key.
func callerAccount(cfg *config, accessKey, secretKey string) (string, error) {
	form := url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}}
	body := []byte(form.Encode())
	req, err := http.NewRequest(http.MethodPost, strings.TrimSuffix(cfg.endpoint, "/")+"/", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	s := &sigv4.Signer{Credentials: sigv4.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey}, Region: "us-east-1", Service: "sts"}
	if err := s.Sign(req, body); err != nil {
		return "", err
	}
	resp, err := cfg.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		Account string `xml:"GetCallerIdentityResult>Account"`
	}
	if resp.StatusCode != http.StatusOK || xml.Unmarshal(b, &out) != nil || out.Account == "" {
		return "", fmt.Errorf("GetCallerIdentity: HTTP %d %s", resp.StatusCode, errorCode(b))
	}
	return out.Account, nil
}

// decisionOf extracts "decision" from an authorization API answer without
// decoding it all.
func decisionOf(body []byte) string {
	const key = `"decision":"`
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return "?"
	}
	rest := body[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return "?"
	}
	return string(rest[:j])
}
