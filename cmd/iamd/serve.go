package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/audit"
	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/iamapi"
	"github.com/iamd/iamd/internal/server"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("iamd serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := server.Config{Getenv: getenv}
	fs.StringVar(&cfg.Addr, "addr", envOr(getenv, "IAMD_ADDR", "127.0.0.1:8080"), "listen address (env IAMD_ADDR)")
	fs.StringVar(&cfg.DataDir, "data", envOr(getenv, "IAMD_DATA", "iamd-data"), "data directory: SQLite database, master key, root credentials (env IAMD_DATA)")
	fs.StringVar(&cfg.StoreURL, "store", getenv(server.EnvStore), "store URL: sqlite:PATH or postgres://... (env IAMD_STORE; default SQLite in the data directory)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "TLS certificate file (PEM); serves HTTPS when set with --tls-key")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "TLS private key file (PEM)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	logFormat := fs.String("log-format", envOr(getenv, "IAMD_LOG_FORMAT", "text"), "log format: text (logfmt) or json (env IAMD_LOG_FORMAT)")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", getenv("IAMD_METRICS_ADDR"), "serve Prometheus metrics on this address at /metrics, e.g. 127.0.0.1:9090 (off when empty; env IAMD_METRICS_ADDR)")
	maxLag := durationFlag(fs, getenv, "max-follow-lag", "IAMD_MAX_FOLLOW_LAG", server.DefaultMaxFollowLag,
		"answer /readyz with 503 when the view lags the store, or the store cannot be read, for longer than this (0: no bound)")
	shutdownTimeout := durationFlag(fs, getenv, "shutdown-timeout", "IAMD_SHUTDOWN_TIMEOUT", server.DefaultShutdownTimeout,
		"on SIGTERM or SIGINT, how long requests in flight may take to finish")
	shutdownDelay := durationFlag(fs, getenv, "shutdown-delay", "IAMD_SHUTDOWN_DELAY", 0,
		"on SIGTERM or SIGINT, keep serving this long with /readyz answering 503 before closing the listener (time for a load balancer to notice)")
	debugAddr := fs.String("debug-addr", getenv("IAMD_DEBUG_ADDR"), "serve Go's pprof profiles on this address, e.g. 127.0.0.1:6060 (off when empty; env IAMD_DEBUG_ADDR)")
	quotas := fs.String("quotas", getenv("IAMD_QUOTAS"), "raise per-account quotas above AWS's defaults, e.g. users=100000,roles=5000 (keys: users, groups, roles, policies, instance-profiles; env IAMD_QUOTAS)")
	allowInsecure := fs.Bool("allow-insecure-permissions", false, "start even if group or others can access the data directory, master key or database, with a warning (env "+server.EnvAllowInsecurePermissions+")")
	fs.StringVar(&cfg.PublicURL, "public-url", getenv("IAMD_PUBLIC_URL"), "the URL clients reach iamd at, e.g. https://iam.example.com: the base of outbound web identity federation's issuer URLs (default http(s)://ADDR; env IAMD_PUBLIC_URL)")
	trustedProxies := fs.String("trusted-proxies", getenv("IAMD_TRUSTED_PROXIES"), "load balancers (addresses or CIDR prefixes, comma-separated) whose X-Forwarded-For header gives the client's address; from other peers it is ignored (env IAMD_TRUSTED_PROXIES)")
	retention := fs.String("audit-retention", getenv(audit.EnvRetention), "remove audit events older than this, online: days (90d), a duration (36h), or 0 to keep everything (default 90d; env "+audit.EnvRetention+")")
	deliver := deliveryFlags(fs, getenv)
	partition := fs.String("partition", envOr(getenv, iam.EnvPartition, "aws"), "the AWS partition iamd answers as: aws, aws-cn, aws-us-gov, aws-iso or aws-iso-b; it drives every ARN and the regions requests may be signed for (env "+iam.EnvPartition+")")
	consoleOIDC := consoleOIDCFlagSet(fs, getenv)
	oidcCAFile := fs.String("oidc-ca-file", getenv("IAMD_OIDC_CA_FILE"), "PEM certificates to trust, besides the system's roots, when fetching OpenID Connect providers' discovery documents and keys for AssumeRoleWithWebIdentity, e.g. a private CA (env IAMD_OIDC_CA_FILE)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	oidcClient, err := oidcHTTPClient(*oidcCAFile)
	if err != nil {
		fmt.Fprintf(stderr, "iamd serve: --oidc-ca-file: %v\n", err)
		return 2
	}
	cfg.HTTPClient = oidcClient
	if cfg.ConsoleOIDC, err = consoleOIDC.config(); err != nil {
		fmt.Fprintf(stderr, "iamd serve: %v\n", err)
		return 2
	}
	part, err := iam.ParsePartition(*partition)
	if err != nil {
		fmt.Fprintf(stderr, "iamd serve: --partition: %v\n", err)
		return 2
	}
	cfg.Partition = part
	proxies, err := server.ParseTrustedProxies(*trustedProxies)
	if err != nil {
		fmt.Fprintf(stderr, "iamd serve: --trusted-proxies: %v\n", err)
		return 2
	}
	cfg.TrustedProxies = proxies
	if _, err := audit.ParseRetention(*retention); err != nil {
		fmt.Fprintf(stderr, "iamd serve: --audit-retention: %v\n", err)
		return 2
	}
	if *allowInsecure {
		// The environment variable is the one switch OpenState reads, so
		// that every command that opens the data honours it.
		cfg.Getenv = withEnv(getenv, server.EnvAllowInsecurePermissions, "true")
	}
	if *retention != "" {
		cfg.Getenv = withEnv(cfg.Getenv, audit.EnvRetention, *retention)
	}
	q, err := parseQuotas(*quotas)
	if err != nil {
		fmt.Fprintf(stderr, "iamd serve: --quotas: %v\n", err)
		return 2
	}
	cfg.Quotas = q
	for _, d := range []*durationValue{maxLag, shutdownTimeout, shutdownDelay} {
		if d.err != nil {
			fmt.Fprintf(stderr, "iamd serve: %v\n", d.err)
			return 2
		}
	}
	cfg.MaxFollowLag = maxLag.d
	if cfg.MaxFollowLag == 0 {
		cfg.MaxFollowLag = -1 // no bound; Config's zero means the default
	}
	cfg.ShutdownTimeout, cfg.ShutdownDelay = shutdownTimeout.d, shutdownDelay.d
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "iamd serve: --log-level: %v\n", err)
		return 2
	}
	opts := &slog.HandlerOptions{Level: level}
	switch *logFormat {
	case "text":
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, opts))
	case "json":
		cfg.Logger = slog.New(slog.NewJSONHandler(stderr, opts))
	default:
		fmt.Fprintf(stderr, "iamd serve: --log-format %q: want text or json\n", *logFormat)
		return 2
	}
	if cfg.Background, err = deliver.start(ctx, cfg.Logger); err != nil {
		fmt.Fprintf(stderr, "iamd serve: %v\n", err)
		return 2
	}
	if *debugAddr != "" {
		if err := serveDebug(ctx, *debugAddr, cfg.Logger); err != nil {
			fmt.Fprintf(stderr, "iamd serve: %v\n", err)
			return 1
		}
	}
	if err := server.Run(ctx, cfg); err != nil {
		fmt.Fprintf(stderr, "iamd serve: %v\n", err)
		return 1
	}
	return 0
}

func account(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) > 0 && args[0] == "export" {
		return accountExport(ctx, args[1:], stdout, stderr, getenv)
	}
	if len(args) > 0 && args[0] == "import" {
		return accountImport(ctx, args[1:], stdout, stderr, getenv)
	}
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, "usage: iamd account create [--data DIR] [--store URL] [--id ACCOUNT] [--email EMAIL] [--credentials FILE]\n       iamd account export --account ID [--data DIR] [--store URL] [--out FILE]\n       iamd account import --account ID [--data DIR] [--store URL] FILE.json")
		return 2
	}
	fs := flag.NewFlagSet("iamd account create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", envOr(getenv, "IAMD_DATA", "iamd-data"), "data directory (env IAMD_DATA)")
	storeURL := fs.String("store", getenv(server.EnvStore), "store URL (env IAMD_STORE)")
	id := fs.String("id", "", "12-digit account ID (random when empty)")
	email := fs.String("email", "", "root user's email address")
	credFile := fs.String("credentials", "", "write the root access key to this file (0600) instead of standard output")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	st, err := server.OpenState(ctx, *dataDir, *storeURL, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "iamd account create: %v\n", err)
		return 1
	}
	defer st.Close()
	res, err := server.CreateAccount(ctx, st, *id, *email, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "iamd account create: %v\n", err)
		return 1
	}
	if *credFile != "" {
		if err := server.WriteRootCredentials(*credFile, res); err != nil {
			fmt.Fprintf(stderr, "iamd account create: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "account %s created; root credentials written to %s\n", res.Account.ID, *credFile)
		return 0
	}
	fmt.Fprintf(stdout, "account %s created\nroot access key ID:     %s\nroot secret access key: %s\n(shown once; root access keys are discouraged: create IAM users, then delete this key)\n",
		res.Account.ID, res.RootAccessKeyID, res.RootSecretAccessKey)
	return 0
}

// durationValue is a duration flag whose default comes from the
// environment; err is a malformed environment value, reported after
// parsing.
type durationValue struct {
	d   time.Duration
	err error
}

func (v *durationValue) String() string { return v.d.String() }

func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return fmt.Errorf("want a duration such as 30s")
	}
	v.d, v.err = d, nil
	return nil
}

// durationFlag defines --name, defaulting to the environment variable env,
// else def.
func durationFlag(fs *flag.FlagSet, getenv func(string) string, name, env string, def time.Duration, usage string) *durationValue {
	v := &durationValue{d: def}
	if e := getenv(env); e != "" {
		if err := v.Set(e); err != nil {
			v.err = fmt.Errorf("%s=%q: %v", env, e, err)
		}
	}
	fs.Var(v, name, usage+" (env "+env+"; default "+def.String()+")")
	return v
}

// withEnv returns getenv with key set to value.
func withEnv(getenv func(string) string, key, value string) func(string) string {
	return func(k string) string {
		if k == key {
			return value
		}
		return getenv(k)
	}
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// parseQuotas reads "key=N,..." over AWS's default quotas.
func parseQuotas(s string) (iamapi.Quotas, error) {
	q := iamapi.DefaultQuotas
	if s == "" {
		return q, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 1 {
			return q, fmt.Errorf("%q: want key=positive number", kv)
		}
		switch k {
		case "users":
			q.UsersPerAccount = n
		case "groups":
			q.GroupsPerAccount = n
		case "roles":
			q.RolesPerAccount = n
		case "policies":
			q.PoliciesPerAccount = n
		case "instance-profiles":
			q.InstanceProfilesPerAccount = n
		default:
			return q, fmt.Errorf("unknown quota %q", k)
		}
	}
	return q, nil
}
