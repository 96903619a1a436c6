// Command iamd-seed fills a store with a large account for scale
// benchmarks, and measures how long a change takes to reach another
// replica.
//
//	iamd-seed seed -data DIR [-store URL] -users 1000000 -groups 100000 -policies 200000
//	iamd-seed propagation -a http://HOST:PORT -b http://HOST:PORT -n 500
//
// seed commits records directly through iam.Writer in large batches (the
// API would take hours for a million users): users load-000000 ... each in
// one group, groups g-000000 ... with two managed policies and an inline
// one, policies p-000000 .... It also creates a user "bench" in ten groups
// holding twenty policies, only one of which allows iam:GetUser on
// load-*, and prints its access key: GetUser signed with it measures an
// authorization decision that has to look at every one of them.
//
// propagation creates users through replica a and polls replica b until
// each is visible, reporting the delay percentiles.
package main

import (
	"context"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/secrets"
	"github.com/iamd/iamd/internal/server"
	"github.com/iamd/iamd/internal/sigv4"
	"github.com/iamd/iamd/internal/store"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: iamd-seed seed|propagation [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "seed":
		err = seed(os.Args[2:])
	case "propagation":
		err = propagation(os.Args[2:])
	case "load":
		err = load(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: seed or propagation", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "iamd-seed:", err)
		os.Exit(1)
	}
}

func seed(args []string) (err error) {
	fs := flag.NewFlagSet("seed", flag.ExitOnError)
	dataDir := fs.String("data", "iamd-data", "data directory (master key; SQLite database unless -store)")
	storeURL := fs.String("store", os.Getenv(server.EnvStore), "store URL (env IAMD_STORE)")
	account := fs.String("account", "123456789012", "account to create and fill")
	rootKey := fs.String("root-key", "AKIAIOSFODNN7EXAMPLE", "root access key ID to create")
	rootSecret := fs.String("root-secret", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "root secret access key")
	users := fs.Int("users", 1000, "users load-000000 ...")
	groups := fs.Int("groups", 100, "groups g-000000 ...")
	policies := fs.Int("policies", 200, "customer-managed policies p-000000 ...")
	batch := fs.Int("batch", 5000, "records per commit")
	partitionName := fs.String("partition", os.Getenv(iam.EnvPartition), "partition of the ARNs written, as iamd serve --partition (env IAMD_PARTITION)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	partition, err := iam.ParsePartition(*partitionName)
	if err != nil {
		return err
	}
	if *groups < 10 || *policies < 20 {
		return fmt.Errorf("need at least 10 groups and 20 policies")
	}
	ctx := context.Background()
	getenv := func(k string) string { return os.Getenv(k) }
	st, err := server.OpenState(ctx, *dataDir, *storeURL, getenv)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	now := time.Now().UTC().Truncate(time.Second)
	if _, ok := st.View.Account(*account); !ok {
		if _, err := st.Writer.CreateAccount(ctx, st.Keyring, iam.NewAccount{ID: *account, RootAccessKeyID: *rootKey, RootSecretAccessKey: *rootSecret}, now); err != nil {
			return err
		}
	}
	acct := *account
	acctARN := partition.Prefix("iam") + acct // arn:PARTITION:iam::ACCOUNT
	var pending []iam.Mutation
	written := 0
	start := time.Now()
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		if err := st.Writer.Commit(ctx, pending...); err != nil {
			return err
		}
		written += len(pending)
		pending = pending[:0]
		return nil
	}
	add := func(m iam.Mutation) error {
		pending = append(pending, m)
		if len(pending) >= *batch {
			return flush()
		}
		return nil
	}
	report := func(what string) {
		fmt.Fprintf(os.Stderr, "%s: %d records in %s\n", what, written, time.Since(start).Round(time.Millisecond))
	}

	policyARN := func(i int) string { return partition.ARN(acct, "policy", "/", fmt.Sprintf("p-%06d", i)) }
	for i := range *policies {
		name := fmt.Sprintf("p-%06d", i)
		doc := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"Team%d","Effect":"Allow","Action":["iam:GetUser","iam:ListGroupsForUser","iam:ListAttachedUserPolicies"],"Resource":"%s:user/team-%d/*"},{"Effect":"Deny","Action":"iam:DeleteUser","Resource":"%s:user/protected-%d"}]}`, i, acctARN, i, acctARN, i)
		p := &iam.Policy{Name: name, Path: "/", ID: secrets.NewUniqueID("ANPA"), Created: now, Updated: now, DefaultVersion: "v1",
			Versions: []iam.PolicyVersion{{ID: "v1", Document: doc, Created: now}}, NextVersion: 2}
		if err := add(iam.Put(iam.KindPolicy, acct, iam.Key(name), p, store.Any)); err != nil {
			return err
		}
	}
	if err := flush(); err != nil {
		return err
	}
	report("policies")
	groupIDs := make([]string, *groups)
	for i := range *groups {
		name := fmt.Sprintf("g-%06d", i)
		groupIDs[i] = secrets.NewUniqueID("AGPA")
		g := &iam.Group{Name: name, Path: "/", ID: groupIDs[i], Created: now,
			Attached: []string{policyARN((2 * i) % *policies), policyARN((2*i + 1) % *policies)},
			Inline:   []iam.InlinePolicy{{Name: "inline", Document: fmt.Sprintf(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:ListGroups","Resource":"%s:group/g-%06d"}}`, acctARN, i)}}}
		if err := add(iam.Put(iam.KindGroup, acct, iam.Key(name), g, store.Any)); err != nil {
			return err
		}
	}
	if err := flush(); err != nil {
		return err
	}
	report("groups")
	for i := range *users {
		name := fmt.Sprintf("load-%06d", i)
		u := &iam.User{Name: name, Path: "/", ID: secrets.NewUniqueID("AIDA"), Created: now,
			Groups: []string{groupIDs[i%*groups]}, Tags: []iam.Tag{{Key: "team", Value: fmt.Sprintf("t%d", i%100)}}}
		if err := add(iam.Put(iam.KindUser, acct, iam.Key(name), u, store.Any)); err != nil {
			return err
		}
		if (i+1)%200_000 == 0 {
			report("users")
		}
	}
	if err := flush(); err != nil {
		return err
	}
	report("users")

	// The benchmark principal: ten groups, twenty policies, one of which
	// allows GetUser on load-*.
	allow := &iam.Policy{Name: "bench-allow", Path: "/", ID: secrets.NewUniqueID("ANPA"), Created: now, Updated: now, DefaultVersion: "v1",
		Versions: []iam.PolicyVersion{{ID: "v1", Created: now, Document: fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GetUser","iam:ListUsers"],"Resource":"%s:user/load-*"}]}`, acctARN)}}, NextVersion: 2}
	benchGroup := &iam.Group{Name: "bench", Path: "/", ID: secrets.NewUniqueID("AGPA"), Created: now, Attached: []string{partition.ARN(acct, "policy", "/", "bench-allow")}}
	benchUser := &iam.User{Name: "bench", Path: "/", ID: secrets.NewUniqueID("AIDA"), Created: now, Groups: []string{benchGroup.ID}}
	for i := 1; i < 10; i++ {
		benchUser.Groups = append(benchUser.Groups, groupIDs[i])
	}
	keyID, secret := secrets.NewAccessKeyID("AKIA"), secrets.NewSecretAccessKey()
	sealed, err := st.Keyring.Seal([]byte(secret), []byte(keyID))
	if err != nil {
		return err
	}
	key := &iam.AccessKey{ID: keyID, Account: acct, UserID: benchUser.ID, Status: "Active", Created: now, Secret: sealed}
	pending = append(pending,
		iam.Put(iam.KindPolicy, acct, "bench-allow", allow, store.Any),
		iam.Put(iam.KindGroup, acct, "bench", benchGroup, store.Any),
		iam.Put(iam.KindUser, acct, "bench", benchUser, store.Any),
		iam.Put(iam.KindAccessKey, "", keyID, key, store.Absent))
	if err := flush(); err != nil {
		return err
	}
	report("done")
	fmt.Printf("account %s: %d users, %d groups, %d policies\n", acct, *users+1, *groups+1, *policies+1)
	fmt.Printf("root:  -access-key %s -secret-key %s\n", *rootKey, *rootSecret)
	fmt.Printf("bench: -access-key %s -secret-key %s\n", keyID, secret)
	return nil
}

// load opens the state as a replica does at start-up and reports the time
// and memory it took, optionally with a CPU profile.
func load(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	dataDir := fs.String("data", "iamd-data", "data directory")
	storeURL := fs.String("store", os.Getenv(server.EnvStore), "store URL (env IAMD_STORE)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	st, err := server.OpenState(context.Background(), *dataDir, *storeURL, os.Getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	took := time.Since(start)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("load: %s, heap in use after GC %d MiB, revision %d\n", took.Round(time.Millisecond), ms.HeapInuse>>20, st.View.Rev())
	return nil
}

// propagation creates users on replica a and measures when replica b
// serves them.
func propagation(args []string) error {
	fs := flag.NewFlagSet("propagation", flag.ExitOnError)
	a := fs.String("a", "http://127.0.0.1:8080", "replica written to")
	b := fs.String("b", "http://127.0.0.1:8081", "replica polled")
	n := fs.Int("n", 200, "writes")
	poll := fs.Duration("poll", time.Millisecond, "interval between polls of b")
	accessKey := fs.String("access-key", os.Getenv("AWS_ACCESS_KEY_ID"), "access key ID")
	secretKey := fs.String("secret-key", os.Getenv("AWS_SECRET_ACCESS_KEY"), "secret access key")
	if err := fs.Parse(args); err != nil {
		return err
	}
	signer := &sigv4.Signer{Credentials: sigv4.Credentials{AccessKeyID: *accessKey, SecretAccessKey: *secretKey}, Region: "us-east-1", Service: "iam"}
	client := &http.Client{Timeout: 30 * time.Second}
	prefix := fmt.Sprintf("prop-%x-", time.Now().UnixNano()&0xffffff)
	var delays []time.Duration
	var polls atomic.Int64
	for i := range *n {
		name := fmt.Sprintf("%s%05d", prefix, i)
		code, body, err := call(client, signer, *a, url.Values{"Action": {"CreateUser"}, "Version": {"2010-05-08"}, "UserName": {name}})
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("CreateUser on %s: %d %s %v", *a, code, body, err)
		}
		written := time.Now()
		deadline := written.Add(30 * time.Second)
		for {
			polls.Add(1)
			code, body, err := call(client, signer, *b, url.Values{"Action": {"GetUser"}, "Version": {"2010-05-08"}, "UserName": {name}})
			if err == nil && code == http.StatusOK {
				break
			}
			if err == nil && body != "NoSuchEntity" {
				return fmt.Errorf("GetUser on %s: %d %s", *b, code, body)
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s not visible on %s after 30s", name, *b)
			}
			time.Sleep(*poll)
		}
		delays = append(delays, time.Since(written))
	}
	slices.Sort(delays)
	pct := func(p float64) time.Duration { return delays[min(len(delays)-1, int(float64(len(delays))*p))] }
	fmt.Printf("propagation writes=%d p50=%s p90=%s p99=%s max=%s polls=%d (delay from the write's response on a to the first successful read on b)\n",
		len(delays), pct(0.5), pct(0.9), pct(0.99), delays[len(delays)-1], polls.Load())
	return nil
}

func call(client *http.Client, signer *sigv4.Signer, endpoint string, form url.Values) (int, string, error) {
	body := []byte(form.Encode())
	req, err := http.NewRequest(http.MethodPost, endpoint+"/", strings.NewReader(string(body)))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if err := signer.Sign(req, body); err != nil {
		return 0, "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code string } `xml:"Error"`
		}
		_ = xml.Unmarshal(b, &e)
		return resp.StatusCode, e.Error.Code, err
	}
	return resp.StatusCode, "", err
}
