package e2e

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/iamd/iamd/internal/server"
	"github.com/iamd/iamd/internal/totp"
)

// startWith runs iamd like start, with changes to its configuration (a
// clock, an HTTP client for identity providers).
func startWith(t *testing.T, change func(*server.Config)) *env {
	t.Helper()
	vars := map[string]string{
		server.EnvAccountID:     testAccount,
		server.EnvRootAccessKey: rootKeyID,
		server.EnvRootSecretKey: rootSecretKey,
	}
	cfg := server.Config{
		DataDir:        t.TempDir(),
		Getenv:         func(k string) string { return vars[k] },
		FollowInterval: 50 * time.Millisecond,
	}
	change(&cfg)
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	return &env{
		t: t, url: "http://" + ln.Addr().String(), srv: srv, account: testAccount,
		root: aws.Credentials{AccessKeyID: rootKeyID, SecretAccessKey: rootSecretKey},
	}
}

// userWithKey creates an IAM user with an access key and an optional
// inline policy.
func userWithKey(t *testing.T, c *iam.Client, name, policy string) aws.Credentials {
	t.Helper()
	ctx := context.Background()
	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)})
	must(t, err)
	if policy != "" {
		_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String("p"), PolicyDocument: aws.String(policy)})
		must(t, err)
	}
	k, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	must(t, err)
	return aws.Credentials{AccessKeyID: aws.ToString(k.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(k.AccessKey.SecretAccessKey)}
}

// role creates a role with a trust policy, an optional inline policy and a
// maximum session duration (0: default), and returns its ARN.
func role(t *testing.T, c *iam.Client, name, trust, policy string, maxSession int32) string {
	t.Helper()
	ctx := context.Background()
	in := &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)}
	if maxSession > 0 {
		in.MaxSessionDuration = aws.Int32(maxSession)
	}
	out, err := c.CreateRole(ctx, in)
	must(t, err)
	if policy != "" {
		_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String("p"), PolicyDocument: aws.String(policy)})
		must(t, err)
	}
	return aws.ToString(out.Role.Arn)
}

func trustAWS(principal string, extra string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + principal +
		`"},"Action":"sts:AssumeRole"` + extra + `}]}`
}

const (
	allowListUsers = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:ListUsers","iam:ListRoles"],"Resource":"*"}]}`
	allowAssumeAny = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}`
)

func tempCreds(c *ststypes.Credentials) aws.Credentials {
	return aws.Credentials{
		AccessKeyID: aws.ToString(c.AccessKeyId), SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken: aws.ToString(c.SessionToken), CanExpire: true, Expires: aws.ToTime(c.Expiration),
	}
}

func TestAssumeRoleSameAccount(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	alice := userWithKey(t, root, "alice", allowAssumeAny)
	bob := userWithKey(t, root, "bob", "")
	viaAccount := role(t, root, "reader", trustAWS("arn:aws:iam::"+testAccount+":root", ""), allowListUsers, 0)
	viaUser := role(t, root, "bobs", trustAWS("arn:aws:iam::"+testAccount+":user/bob", ""), allowListUsers, 0)

	out, err := e.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(viaAccount), RoleSessionName: aws.String("s1")})
	must(t, err)
	if got, want := aws.ToString(out.AssumedRoleUser.Arn), "arn:aws:sts::"+testAccount+":assumed-role/reader/s1"; got != want {
		t.Errorf("AssumedRoleUser.Arn = %s, want %s", got, want)
	}
	if id := aws.ToString(out.AssumedRoleUser.AssumedRoleId); !strings.HasPrefix(id, "AROA") || !strings.HasSuffix(id, ":s1") {
		t.Errorf("AssumedRoleId = %s", id)
	}
	creds := tempCreds(out.Credentials)
	if !strings.HasPrefix(creds.AccessKeyID, "ASIA") || len(creds.AccessKeyID) != 20 {
		t.Errorf("AccessKeyId = %s", creds.AccessKeyID)
	}
	if d := time.Until(creds.Expires); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("Expiration in %v, want 1h", d)
	}
	who, err := e.sts(creds).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(t, err)
	if aws.ToString(who.Arn) != aws.ToString(out.AssumedRoleUser.Arn) || aws.ToString(who.UserId) != aws.ToString(out.AssumedRoleUser.AssumedRoleId) {
		t.Errorf("GetCallerIdentity = %+v", who)
	}
	info, err := e.sts(e.root).GetAccessKeyInfo(ctx, &sts.GetAccessKeyInfoInput{AccessKeyId: aws.String(creds.AccessKeyID)})
	must(t, err)
	if aws.ToString(info.Account) != testAccount {
		t.Errorf("GetAccessKeyInfo(ASIA) = %s", aws.ToString(info.Account))
	}
	// The role's policy allows listing users, nothing else.
	_, err = e.iam(creds).ListUsers(ctx, &iam.ListUsersInput{})
	must(t, err)
	_, err = e.iam(creds).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("nope")})
	wantCode(t, err, "AccessDenied")

	// Trust naming the account needs the caller's identity policy too.
	_, err = e.sts(bob).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(viaAccount), RoleSessionName: aws.String("ss")})
	wantCode(t, err, "AccessDenied")
	wantAWSMessage(t, err, "User: arn:aws:iam::"+testAccount+":user/bob is not authorized to perform: sts:AssumeRole on resource: "+viaAccount)
	// Trust naming the user directly does not.
	_, err = e.sts(bob).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(viaUser), RoleSessionName: aws.String("ss")})
	must(t, err)
	// An identity policy alone is not enough: the trust policy must allow.
	_, err = e.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(viaUser), RoleSessionName: aws.String("ss")})
	wantCode(t, err, "AccessDenied")
	// A role that does not exist is indistinguishable from a denial.
	missing := "arn:aws:iam::" + testAccount + ":role/missing"
	_, err = e.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(missing), RoleSessionName: aws.String("ss")})
	wantCode(t, err, "AccessDenied")

	// Durations.
	_, err = e.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(viaAccount), RoleSessionName: aws.String("ss"), DurationSeconds: aws.Int32(7200)})
	wantCode(t, err, "ValidationError")
	wantAWSMessage(t, err, "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	_, err = e.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(viaAccount), RoleSessionName: aws.String("ss"), DurationSeconds: aws.Int32(600)})
	wantCode(t, err, "ValidationError")

	// Role usage is recorded.
	eventually(t, 5*time.Second, func() error {
		r, err := root.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("reader")})
		if err != nil {
			return err
		}
		if r.Role.RoleLastUsed == nil || r.Role.RoleLastUsed.LastUsedDate == nil {
			return fmt.Errorf("RoleLastUsed = %+v", r.Role.RoleLastUsed)
		}
		return nil
	})
}

func TestAssumeRoleSessionPoliciesAndTags(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	alice := userWithKey(t, root, "alice", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole","sts:TagSession"],"Resource":"*"}]}`)
	plain := role(t, root, "plain", trustAWS("arn:aws:iam::"+testAccount+":root", ""), allowListUsers, 0)
	tagging := role(t, root, "tagging", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+testAccount+`"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"blue"}}}]}`, 0)

	// A session policy narrows the role's permissions.
	out, err := e.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(plain), RoleSessionName: aws.String("narrow"),
		Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*"}]}`),
	})
	must(t, err)
	// The SDK deprecates PackedPolicySize, but AWS still returns it.
	packed := out.PackedPolicySize //nolint:staticcheck // see above
	if packed == nil || *packed <= 0 || *packed > 100 {
		t.Errorf("PackedPolicySize = %v", packed)
	}
	narrow := tempCreds(out.Credentials)
	_, err = e.iam(narrow).ListRoles(ctx, &iam.ListRolesInput{})
	must(t, err)
	_, err = e.iam(narrow).ListUsers(ctx, &iam.ListUsersInput{})
	wantCode(t, err, "AccessDenied")

	_, err = e.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(plain), RoleSessionName: aws.String("bad"), Policy: aws.String(`{"Statement":[]}`)})
	wantCode(t, err, "MalformedPolicyDocument")

	// Session tags need sts:TagSession in the trust policy.
	tags := []ststypes.Tag{{Key: aws.String("team"), Value: aws.String("blue")}}
	_, err = e.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(plain), RoleSessionName: aws.String("tt"), Tags: tags})
	wantCode(t, err, "AccessDenied")
	out, err = e.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(tagging), RoleSessionName: aws.String("tt"), Tags: tags})
	must(t, err)
	// ... and feed aws:PrincipalTag.
	_, err = e.iam(tempCreds(out.Credentials)).ListUsers(ctx, &iam.ListUsersInput{})
	must(t, err)
	out, err = e.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(tagging), RoleSessionName: aws.String("tt"),
		Tags: []ststypes.Tag{{Key: aws.String("team"), Value: aws.String("red")}}})
	must(t, err)
	_, err = e.iam(tempCreds(out.Credentials)).ListUsers(ctx, &iam.ListUsersInput{})
	wantCode(t, err, "AccessDenied")
}

func TestAssumeRoleExternalIDAndSourceIdentity(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	alice := userWithKey(t, root, "alice", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole","sts:SetSourceIdentity"],"Resource":"*"}]}`)
	ext := role(t, root, "ext", trustAWS(testAccount, `,"Condition":{"StringEquals":{"sts:ExternalId":"secret-123"}}`), allowListUsers, 0)

	_, err := e.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(ext), RoleSessionName: aws.String("ss")})
	wantCode(t, err, "AccessDenied")
	_, err = e.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(ext), RoleSessionName: aws.String("ss"), ExternalId: aws.String("wrong-1")})
	wantCode(t, err, "AccessDenied")
	_, err = e.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(ext), RoleSessionName: aws.String("ss"), ExternalId: aws.String("secret-123")})
	must(t, err)

	src := role(t, root, "src", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+testAccount+`"},"Action":["sts:AssumeRole","sts:SetSourceIdentity"]}]}`, allowListUsers, 0)
	out, err := e.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(src), RoleSessionName: aws.String("ss"), SourceIdentity: aws.String("alice@example.com")})
	must(t, err)
	if aws.ToString(out.SourceIdentity) != "alice@example.com" {
		t.Errorf("SourceIdentity = %q", aws.ToString(out.SourceIdentity))
	}
	// Without sts:SetSourceIdentity in the trust policy it is refused.
	_, err = e.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(ext), RoleSessionName: aws.String("ss"),
		ExternalId: aws.String("secret-123"), SourceIdentity: aws.String("alice")})
	wantCode(t, err, "AccessDenied")
}

func TestAssumeRoleCrossAccount(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	const other = "210987654321"
	created, err := server.CreateAccount(ctx, e.srv.State(), other, "other@example.com", time.Now())
	must(t, err)
	otherRoot := e.iam(aws.Credentials{AccessKeyID: created.RootAccessKeyID, SecretAccessKey: created.RootSecretAccessKey})
	target := role(t, otherRoot, "partner", trustAWS("arn:aws:iam::"+testAccount+":root", ""), allowListUsers, 0)

	root := e.rootIAM()
	alice := userWithKey(t, root, "alice", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"`+target+`"}]}`)
	bob := userWithKey(t, root, "bob", "")

	out, err := e.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(target), RoleSessionName: aws.String("xx")})
	must(t, err)
	if got := aws.ToString(out.AssumedRoleUser.Arn); got != "arn:aws:sts::"+other+":assumed-role/partner/xx" {
		t.Errorf("Arn = %s", got)
	}
	creds := tempCreds(out.Credentials)
	who, err := e.sts(creds).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(t, err)
	if aws.ToString(who.Account) != other {
		t.Errorf("Account = %s", aws.ToString(who.Account))
	}
	// The temporary credentials act in the other account.
	_, err = otherRoot.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("there")})
	must(t, err)
	users, err := e.iam(creds).ListUsers(ctx, &iam.ListUsersInput{})
	must(t, err)
	if len(users.Users) != 1 || aws.ToString(users.Users[0].UserName) != "there" {
		t.Errorf("ListUsers in the other account = %+v", users.Users)
	}
	// Across accounts the caller's identity policy must allow too.
	_, err = e.sts(bob).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(target), RoleSessionName: aws.String("xx")})
	wantCode(t, err, "AccessDenied")
	wantAWSMessage(t, err, "User: arn:aws:iam::"+testAccount+":user/bob is not authorized to perform: sts:AssumeRole on resource: "+target)

	// stscreds drives the same exchange and refreshes as needed.
	provider := stscreds.NewAssumeRoleProvider(e.sts(alice), target, func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = "sdk" })
	cfg := e.config(aws.Credentials{})
	cfg.Credentials = aws.NewCredentialsCache(provider)
	c := iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = aws.String(e.url) })
	_, err = c.ListUsers(ctx, &iam.ListUsersInput{})
	must(t, err)
}

func TestRoleChaining(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	alice := userWithKey(t, root, "alice", allowAssumeAny)
	first := role(t, root, "first", trustAWS(testAccount, ""), allowAssumeAny, 43200)
	second := role(t, root, "second", trustAWS(testAccount, ""), allowListUsers, 43200)

	// Directly, the role's maximum applies.
	out, err := e.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(first), RoleSessionName: aws.String("aa"), DurationSeconds: aws.Int32(7200)})
	must(t, err)
	chained := tempCreds(out.Credentials)
	// Chained, at most one hour.
	_, err = e.sts(chained).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(second), RoleSessionName: aws.String("bb"), DurationSeconds: aws.Int32(7200)})
	wantCode(t, err, "ValidationError")
	wantAWSMessage(t, err, "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	out, err = e.sts(chained).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(second), RoleSessionName: aws.String("bb"), DurationSeconds: aws.Int32(3600)})
	must(t, err)
	_, err = e.iam(tempCreds(out.Credentials)).ListUsers(ctx, &iam.ListUsersInput{})
	must(t, err)
}

func TestTemporaryCredentialErrors(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	alice := userWithKey(t, root, "alice", allowAssumeAny)
	arn := role(t, root, "r", trustAWS(testAccount, ""), allowListUsers, 0)
	out, err := e.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(arn), RoleSessionName: aws.String("ss")})
	must(t, err)
	good := tempCreds(out.Credentials)

	tamper := func(tok string) string {
		b := []byte(tok)
		i := len(b) / 2
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for _, tc := range []struct {
		name  string
		creds aws.Credentials
	}{
		{"tampered token", aws.Credentials{AccessKeyID: good.AccessKeyID, SecretAccessKey: good.SecretAccessKey, SessionToken: tamper(good.SessionToken)}},
		{"garbage token", aws.Credentials{AccessKeyID: good.AccessKeyID, SecretAccessKey: good.SecretAccessKey, SessionToken: "not-a-token"}},
		{"token of another key", aws.Credentials{AccessKeyID: "ASIAIOSFODNN7EXAMPLE", SecretAccessKey: good.SecretAccessKey, SessionToken: good.SessionToken}},
		{"no token", aws.Credentials{AccessKeyID: good.AccessKeyID, SecretAccessKey: good.SecretAccessKey}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.sts(tc.creds).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			wantCode(t, err, "InvalidClientTokenId")
		})
	}
	// A long-term key with a session token is refused too.
	_, err = e.sts(aws.Credentials{AccessKeyID: alice.AccessKeyID, SecretAccessKey: alice.SecretAccessKey, SessionToken: good.SessionToken}).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "InvalidClientTokenId")
	// Wrong secret: the signature does not match.
	_, err = e.sts(aws.Credentials{AccessKeyID: good.AccessKeyID, SecretAccessKey: alice.SecretAccessKey, SessionToken: good.SessionToken}).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "SignatureDoesNotMatch")

	// Temporary credentials cannot get session or federation tokens.
	_, err = e.sts(good).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	wantCode(t, err, "AccessDenied")
	wantAWSMessage(t, err, "Cannot call GetSessionToken with session credentials")
	_, err = e.sts(good).GetFederationToken(ctx, &sts.GetFederationTokenInput{Name: aws.String("fed")})
	wantCode(t, err, "AccessDenied")
}

// clock is a settable offset from the real time.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time           { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) set(offset time.Duration) { c.offset.Store(int64(offset)) }

func TestSessionExpires(t *testing.T) {
	// Requests are signed with the real time, which must stay within 15
	// minutes of the server's: the server starts 14 minutes behind, issues
	// a 15-minute session, then moves 2 minutes ahead, past its expiry.
	var clk clock
	clk.set(-14 * time.Minute)
	e := startWith(t, func(c *server.Config) { c.Now = clk.now })
	ctx := context.Background()
	root := e.rootIAM()
	alice := userWithKey(t, root, "alice", allowAssumeAny)
	arn := role(t, root, "r", trustAWS(testAccount, ""), allowListUsers, 0)
	out, err := e.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(arn), RoleSessionName: aws.String("ss"), DurationSeconds: aws.Int32(900)})
	must(t, err)
	creds := tempCreds(out.Credentials)
	_, err = e.iam(creds).ListUsers(ctx, &iam.ListUsersInput{})
	must(t, err)

	clk.set(2 * time.Minute)
	_, err = e.iam(creds).ListUsers(ctx, &iam.ListUsersInput{})
	wantCode(t, err, "ExpiredToken")
	_, err = e.sts(creds).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "ExpiredToken")
}

func TestGetSessionTokenWithMFA(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	mfaOnly := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"},"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}}]}`
	mia := userWithKey(t, root, "mia", mfaOnly)
	dev, err := root.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("mia-phone")})
	must(t, err)
	serial := aws.ToString(dev.VirtualMFADevice.SerialNumber)
	seed, err := totp.DecodeSeed(string(dev.VirtualMFADevice.Base32StringSeed))
	must(t, err)
	now := totp.Counter(time.Now())
	c1, c2 := codes(seed, now-1) // steps now-2 and now-1, leaving now for the session
	_, err = root.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String("mia"), SerialNumber: aws.String(serial),
		AuthenticationCode1: aws.String(c1), AuthenticationCode2: aws.String(c2)})
	must(t, err)

	_, err = e.iam(mia).ListUsers(ctx, &iam.ListUsersInput{})
	wantCode(t, err, "AccessDenied")
	plain, err := e.sts(mia).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	must(t, err)
	if d := time.Until(aws.ToTime(plain.Credentials.Expiration)); d < 11*time.Hour || d > 13*time.Hour {
		t.Errorf("default GetSessionToken duration %v, want 12h", d)
	}
	_, err = e.iam(tempCreds(plain.Credentials)).ListUsers(ctx, &iam.ListUsersInput{})
	wantCode(t, err, "InvalidClientTokenId")

	_, err = e.sts(mia).GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(serial), TokenCode: aws.String(c2)})
	wantCode(t, err, "AccessDenied")
	wantAWSMessage(t, err, "MultiFactorAuthentication failed with invalid MFA one time pass code. ")
	_, err = e.sts(mia).GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String("arn:aws:iam::" + testAccount + ":mfa/nope"), TokenCode: aws.String("123456")})
	wantCode(t, err, "AccessDenied")

	code := totp.HOTP(seed, now, totp.Digits)
	withMFA, err := e.sts(mia).GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(serial), TokenCode: aws.String(code), DurationSeconds: aws.Int32(900)})
	must(t, err)
	creds := tempCreds(withMFA.Credentials)
	_, err = e.iam(creds).ListUsers(ctx, &iam.ListUsersInput{})
	must(t, err)
	who, err := e.sts(creds).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(t, err)
	if aws.ToString(who.Arn) != "arn:aws:iam::"+testAccount+":user/mia" {
		t.Errorf("GetCallerIdentity = %s", aws.ToString(who.Arn))
	}
	// The same code is not accepted twice.
	_, err = e.sts(mia).GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(serial), TokenCode: aws.String(code)})
	wantCode(t, err, "AccessDenied")

	// The root user's sessions last at most an hour.
	rootSess, err := e.sts(e.root).GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(7200)})
	must(t, err)
	if d := time.Until(aws.ToTime(rootSess.Credentials.Expiration)); d > 61*time.Minute {
		t.Errorf("root session lasts %v", d)
	}
}

func TestGetFederationToken(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	fed := userWithKey(t, root, "broker", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:*","iam:*"],"Resource":"*"}]}`)
	all := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","sts:*"],"Resource":"*"}]}`
	out, err := e.sts(fed).GetFederationToken(ctx, &sts.GetFederationTokenInput{Name: aws.String("carol"), Policy: aws.String(all)})
	must(t, err)
	if got := aws.ToString(out.FederatedUser.Arn); got != "arn:aws:sts::"+testAccount+":federated-user/carol" {
		t.Errorf("FederatedUser.Arn = %s", got)
	}
	if got := aws.ToString(out.FederatedUser.FederatedUserId); got != testAccount+":carol" {
		t.Errorf("FederatedUserId = %s", got)
	}
	creds := tempCreds(out.Credentials)
	// Whatever the policies allow, GetFederationToken credentials cannot
	// call IAM (its endpoint does not accept the token), nor STS but for
	// GetCallerIdentity.
	_, err = e.iam(creds).ListUsers(ctx, &iam.ListUsersInput{})
	wantCode(t, err, "InvalidClientTokenId")
	wantAWSMessage(t, err, "The security token included in the request is invalid.")
	_, err = e.iam(creds).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("escalate")})
	wantCode(t, err, "InvalidClientTokenId")
	_, err = e.iam(creds).CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("broker")})
	wantCode(t, err, "InvalidClientTokenId")
	arn := role(t, root, "target", trustAWS(testAccount, ""), allowListUsers, 0)
	_, err = e.sts(creds).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(arn), RoleSessionName: aws.String("xy")})
	wantCode(t, err, "AccessDenied")
	_, err = e.sts(creds).GetAccessKeyInfo(ctx, &sts.GetAccessKeyInfoInput{AccessKeyId: aws.String(fed.AccessKeyID)})
	wantCode(t, err, "AccessDenied")
	if _, err := root.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("escalate")}); errCode(err) != "NoSuchEntity" {
		t.Errorf("GetUser escalate: %v, want NoSuchEntity", err)
	}
	who, err := e.sts(creds).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(t, err)
	if aws.ToString(who.Arn) != "arn:aws:sts::"+testAccount+":federated-user/carol" {
		t.Errorf("GetCallerIdentity = %s", aws.ToString(who.Arn))
	}
	// The AWS CLI sees the same refusal.
	if _, err := e.cli(creds, "iam", "list-users"); err == nil || !strings.Contains(err.Error(), "InvalidClientTokenId") {
		t.Errorf("aws iam list-users with a federation token: %v, want InvalidClientTokenId", err)
	}
	// Without a session policy the federated user has no permissions, but
	// GetCallerIdentity needs none.
	out, err = e.sts(fed).GetFederationToken(ctx, &sts.GetFederationTokenInput{Name: aws.String("dave")})
	must(t, err)
	who, err = e.sts(tempCreds(out.Credentials)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(t, err)
	if aws.ToString(who.Arn) != "arn:aws:sts::"+testAccount+":federated-user/dave" {
		t.Errorf("GetCallerIdentity = %s", aws.ToString(who.Arn))
	}
}

// TestSessionTokenLimits: GetSessionToken credentials without MFA cannot
// call IAM, and of STS only AssumeRole and GetCallerIdentity, whatever the
// policies allow.
func TestSessionTokenLimits(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	bob := userWithKey(t, root, "bob", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:*","iam:*"],"Resource":"*"}]}`)
	out, err := e.sts(bob).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	must(t, err)
	creds := tempCreds(out.Credentials)
	_, err = e.iam(creds).ListUsers(ctx, &iam.ListUsersInput{})
	wantCode(t, err, "InvalidClientTokenId")
	_, err = e.iam(creds).CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")})
	wantCode(t, err, "InvalidClientTokenId")
	_, err = e.sts(creds).GetAccessKeyInfo(ctx, &sts.GetAccessKeyInfoInput{AccessKeyId: aws.String(bob.AccessKeyID)})
	wantCode(t, err, "AccessDenied")
	_, err = e.sts(creds).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(t, err)
	arn := role(t, root, "target", trustAWS(testAccount, ""), allowListUsers, 0)
	assumed, err := e.sts(creds).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(arn), RoleSessionName: aws.String("xy")})
	must(t, err)
	// The role session is not limited.
	_, err = e.iam(tempCreds(assumed.Credentials)).ListUsers(ctx, &iam.ListUsersInput{})
	must(t, err)
	// The root user's session tokens are limited the same way.
	rootSess, err := e.sts(e.root).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	must(t, err)
	_, err = e.iam(tempCreds(rootSess.Credentials)).ListUsers(ctx, &iam.ListUsersInput{})
	wantCode(t, err, "InvalidClientTokenId")
}

func TestDecodeAuthorizationMessageErrors(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	_, err := e.sts(e.root).DecodeAuthorizationMessage(ctx, &sts.DecodeAuthorizationMessageInput{EncodedMessage: aws.String("garbage")})
	wantCode(t, err, "InvalidAuthorizationMessageException")
	nobody := userWithKey(t, e.rootIAM(), "nobody", "")
	_, err = e.sts(nobody).DecodeAuthorizationMessage(ctx, &sts.DecodeAuthorizationMessageInput{EncodedMessage: aws.String("garbage")})
	wantCode(t, err, "AccessDenied")
}

func TestAssumeRoleCLI(t *testing.T) {
	e := start(t)
	root := e.rootIAM()
	alice := userWithKey(t, root, "alice", allowAssumeAny)
	arn := role(t, root, "cli-role", trustAWS(testAccount, ""), allowListUsers, 0)

	out, err := e.cli(alice, "sts", "assume-role", "--role-arn", arn, "--role-session-name", "cli")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Credentials struct {
			AccessKeyId, SecretAccessKey, SessionToken, Expiration string
		}
		AssumedRoleUser struct{ Arn string }
	}
	must(t, json.Unmarshal([]byte(out), &res))
	if res.AssumedRoleUser.Arn != "arn:aws:sts::"+testAccount+":assumed-role/cli-role/cli" {
		t.Errorf("AssumedRoleUser = %+v", res.AssumedRoleUser)
	}
	creds := aws.Credentials{AccessKeyID: res.Credentials.AccessKeyId, SecretAccessKey: res.Credentials.SecretAccessKey, SessionToken: res.Credentials.SessionToken}
	who, err := e.cli(creds, "sts", "get-caller-identity")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(who, "assumed-role/cli-role/cli") {
		t.Errorf("get-caller-identity = %s", who)
	}
	if _, err := e.cli(creds, "iam", "list-users"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cli(creds, "iam", "create-user", "--user-name", "x"); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("create-user with the role's credentials: %v", err)
	}
	bad := creds
	bad.SessionToken = "x" + creds.SessionToken[1:]
	if _, err := e.cli(bad, "sts", "get-caller-identity"); err == nil || !strings.Contains(err.Error(), "InvalidClientTokenId") {
		t.Errorf("tampered token: %v", err)
	}
	if _, err := e.cli(alice, "sts", "assume-role", "--role-arn", arn, "--role-session-name", "cli", "--duration-seconds", "7200"); err == nil ||
		!strings.Contains(err.Error(), "MaxSessionDuration") {
		t.Errorf("assume-role beyond the maximum: %v", err)
	}
}

// issuer is a local OpenID Connect provider.
type issuer struct {
	srv *httptest.Server
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err)
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	is := &issuer{rsa: rk, ec: ek}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/keys"})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, _ *http.Request) {
		b64 := base64.RawURLEncoding
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]any{
			{"kty": "RSA", "kid": "r1", "use": "sig", "alg": "RS256", "n": b64.EncodeToString(rk.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(rk.E)).Bytes())},
			{"kty": "EC", "kid": "e1", "use": "sig", "crv": "P-256", "x": b64.EncodeToString(ek.X.FillBytes(make([]byte, 32))), "y": b64.EncodeToString(ek.Y.FillBytes(make([]byte, 32)))},
		}})
	})
	is.srv = httptest.NewTLSServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

// token signs claims with the RSA key (alg RS256) or the EC key (ES256).
func (is *issuer) token(t *testing.T, alg string, claims map[string]any) string {
	t.Helper()
	b64 := base64.RawURLEncoding
	kid := "r1"
	if alg == "ES256" {
		kid = "e1"
	}
	h, _ := json.Marshal(map[string]string{"alg": alg, "kid": kid, "typ": "JWT"})
	p, _ := json.Marshal(claims)
	signed := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
	sum := sha256.Sum256([]byte(signed))
	var sig []byte
	var err error
	if alg == "ES256" {
		var r, s *big.Int
		r, s, err = ecdsa.Sign(rand.Reader, is.ec, sum[:])
		sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	} else {
		sig, err = rsa.SignPKCS1v15(rand.Reader, is.rsa, crypto.SHA256, sum[:])
	}
	must(t, err)
	return signed + "." + b64.EncodeToString(sig)
}

func TestAssumeRoleWithWebIdentity(t *testing.T) {
	is := newIssuer(t)
	e := startWith(t, func(c *server.Config) { c.HTTPClient = is.srv.Client() })
	ctx := context.Background()
	root := e.rootIAM()
	prov, err := root.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: aws.String(is.srv.URL), ClientIDList: []string{"sts.amazonaws.com"}})
	must(t, err)
	host := strings.TrimPrefix(is.srv.URL, "https://")
	if got := aws.ToString(prov.OpenIDConnectProviderArn); got != "arn:aws:iam::"+testAccount+":oidc-provider/"+host {
		t.Errorf("provider ARN = %s", got)
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + aws.ToString(prov.OpenIDConnectProviderArn) +
		`"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"` + host + `:aud":"sts.amazonaws.com","` + host + `:sub":"system:serviceaccount:ns:app"}}}]}`
	arn := role(t, root, "workload", trust, allowListUsers, 0)

	now := time.Now()
	claims := func(change func(map[string]any)) map[string]any {
		c := map[string]any{"iss": is.srv.URL, "sub": "system:serviceaccount:ns:app", "aud": "sts.amazonaws.com",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if change != nil {
			change(c)
		}
		return c
	}
	anon := sts.NewFromConfig(aws.Config{Region: "us-east-1", RetryMaxAttempts: 1}, func(o *sts.Options) { o.BaseEndpoint = aws.String(e.url) })
	assume := func(token string) (*sts.AssumeRoleWithWebIdentityOutput, error) {
		return anon.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
			RoleArn: aws.String(arn), RoleSessionName: aws.String("pod"), WebIdentityToken: aws.String(token)})
	}
	for _, alg := range []string{"RS256", "ES256"} {
		out, err := assume(is.token(t, alg, claims(nil)))
		must(t, err)
		if aws.ToString(out.SubjectFromWebIdentityToken) != "system:serviceaccount:ns:app" || aws.ToString(out.Audience) != "sts.amazonaws.com" ||
			aws.ToString(out.AssumedRoleUser.Arn) != "arn:aws:sts::"+testAccount+":assumed-role/workload/pod" {
			t.Errorf("%s: AssumeRoleWithWebIdentity = %+v", alg, out)
		}
		_, err = e.iam(tempCreds(out.Credentials)).ListUsers(ctx, &iam.ListUsersInput{})
		must(t, err)
	}

	good := is.token(t, "RS256", claims(nil))
	for _, tc := range []struct {
		name, token, code string
	}{
		{"not a JWT", "abc.def", "InvalidIdentityToken"},
		{"tampered", good[:len(good)-4] + "AAAA", "InvalidIdentityToken"},
		{"wrong audience", is.token(t, "RS256", claims(func(c map[string]any) { c["aud"] = "other" })), "InvalidIdentityToken"},
		{"unknown issuer", is.token(t, "RS256", claims(func(c map[string]any) { c["iss"] = "https://elsewhere.example.com" })), "InvalidIdentityToken"},
		{"expired", is.token(t, "RS256", claims(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() })), "ExpiredTokenException"},
		{"not yet valid", is.token(t, "RS256", claims(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() })), "InvalidIdentityToken"},
		{"subject not trusted", is.token(t, "RS256", claims(func(c map[string]any) { c["sub"] = "system:serviceaccount:ns:other" })), "AccessDenied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := assume(tc.token)
			wantCode(t, err, tc.code)
		})
	}

	// The SDK's web identity provider, as a pod would use it.
	provider := stscreds.NewWebIdentityRoleProvider(anon, arn, tokenFunc(good), func(o *stscreds.WebIdentityRoleOptions) { o.RoleSessionName = "sdk" })
	cfg := e.config(aws.Credentials{})
	cfg.Credentials = aws.NewCredentialsCache(provider)
	c := iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = aws.String(e.url) })
	_, err = c.ListUsers(ctx, &iam.ListUsersInput{})
	must(t, err)
}

type tokenFunc string

func (f tokenFunc) GetIdentityToken() ([]byte, error) { return []byte(f), nil }

func TestOpenIDConnectProviders(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	out, err := root.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String("https://token.example.com/path"), ClientIDList: []string{"a"},
		ThumbprintList: []string{strings.ToUpper("6938fd4d98bab03faadb97b34396831e3780aea1")},
	})
	must(t, err)
	arn := aws.ToString(out.OpenIDConnectProviderArn)
	if arn != "arn:aws:iam::"+testAccount+":oidc-provider/token.example.com/path" {
		t.Errorf("ARN = %s", arn)
	}
	_, err = root.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: aws.String("https://token.example.com/path")})
	wantCode(t, err, "EntityAlreadyExists")
	for _, u := range []string{"token.example.com", "http://token.example.com", "https://example.com:8443", "https://a.example.com?x=1"} {
		_, err = root.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: aws.String(u)})
		if code := errCode(err); code != "ValidationError" && code != "InvalidInput" {
			t.Errorf("Url %s: %v", u, err)
		}
	}
	_, err = root.AddClientIDToOpenIDConnectProvider(ctx, &iam.AddClientIDToOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn), ClientID: aws.String("b")})
	must(t, err)
	_, err = root.RemoveClientIDFromOpenIDConnectProvider(ctx, &iam.RemoveClientIDFromOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn), ClientID: aws.String("a")})
	must(t, err)
	_, err = root.UpdateOpenIDConnectProviderThumbprint(ctx, &iam.UpdateOpenIDConnectProviderThumbprintInput{OpenIDConnectProviderArn: aws.String(arn),
		ThumbprintList: []string{strings.Repeat("b", 40)}})
	must(t, err)
	got, err := root.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn)})
	must(t, err)
	if aws.ToString(got.Url) != "token.example.com/path" || len(got.ClientIDList) != 1 || got.ClientIDList[0] != "b" ||
		len(got.ThumbprintList) != 1 || got.ThumbprintList[0] != strings.Repeat("b", 40) {
		t.Errorf("GetOpenIDConnectProvider = %+v", got)
	}
	_, err = root.TagOpenIDConnectProvider(ctx, &iam.TagOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn),
		Tags: []iamtypes.Tag{{Key: aws.String("env"), Value: aws.String("dev")}}})
	must(t, err)
	tags, err := root.ListOpenIDConnectProviderTags(ctx, &iam.ListOpenIDConnectProviderTagsInput{OpenIDConnectProviderArn: aws.String(arn)})
	must(t, err)
	if len(tags.Tags) != 1 {
		t.Errorf("tags = %+v", tags.Tags)
	}
	list, err := root.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
	must(t, err)
	if len(list.OpenIDConnectProviderList) != 1 || aws.ToString(list.OpenIDConnectProviderList[0].Arn) != arn {
		t.Errorf("list = %+v", list.OpenIDConnectProviderList)
	}
	_, err = root.DeleteOpenIDConnectProvider(ctx, &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn)})
	must(t, err)
	_, err = root.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn)})
	wantCode(t, err, "NoSuchEntity")
	wantAWSMessage(t, err, "OpenIDConnect Provider not found for arn "+arn)
	// Deleting it again succeeds: the operation is idempotent.
	_, err = root.DeleteOpenIDConnectProvider(ctx, &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn)})
	must(t, err)
}

// samlIdP is a local SAML identity provider.
type samlIdP struct {
	key      *rsa.PrivateKey
	cert     []byte
	audience string // the assertion's audience; AWS's when empty
}

func newSAMLIdP(t *testing.T) *samlIdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	return &samlIdP{key: key, cert: der}
}

func (p *samlIdP) metadata() string {
	return `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.com/saml">` +
		`<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing">` +
		`<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>` + base64.StdEncoding.EncodeToString(p.cert) +
		`</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor></md:IDPSSODescriptor></md:EntityDescriptor>`
}

// response returns a base64 SAML response whose assertion, signed by the
// IdP, carries the given attributes (several values one a line) and lasts
// until notOnOrAfter, with the IdP's audience (AWS's by default).
func (p *samlIdP) response(t *testing.T, subject string, notOnOrAfter time.Time, attrs map[string]string) string {
	t.Helper()
	now := time.Now().UTC()
	aud := p.audience
	if aud == "" {
		aud = "https://signin.aws.amazon.com/saml"
	}
	var a strings.Builder
	a.WriteString(`<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_` + rand.Text() + `" Version="2.0" IssueInstant="` + now.Format(time.RFC3339) + `">`)
	a.WriteString(`<saml:Issuer>https://idp.example.com/saml</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">` + subject + `</saml:NameID>`)
	a.WriteString(`<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData Recipient="https://signin.aws.amazon.com/saml" NotOnOrAfter="` +
		notOnOrAfter.UTC().Format(time.RFC3339) + `"/></saml:SubjectConfirmation></saml:Subject>`)
	a.WriteString(`<saml:Conditions NotBefore="` + now.Add(-time.Minute).Format(time.RFC3339) + `" NotOnOrAfter="` + notOnOrAfter.UTC().Format(time.RFC3339) +
		`"><saml:AudienceRestriction><saml:Audience>` + aud + `</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AttributeStatement>`)
	for k, v := range attrs {
		a.WriteString(`<saml:Attribute Name="` + k + `">`)
		for _, v := range strings.Split(v, "\n") { // one AttributeValue per line
			a.WriteString(`<saml:AttributeValue>` + v + `</saml:AttributeValue>`)
		}
		a.WriteString(`</saml:Attribute>`)
	}
	a.WriteString(`</saml:AttributeStatement></saml:Assertion>`)
	doc := etree.NewDocument()
	must(t, doc.ReadFromString(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r1" Version="2.0" IssueInstant="`+now.Format(time.RFC3339)+
		`"><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>`+a.String()+`</samlp:Response>`))
	signer, err := dsig.NewSigningContext(p.key, [][]byte{p.cert})
	must(t, err)
	signer.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	as := doc.Root().SelectElement("Assertion")
	signed, err := signer.SignEnveloped(as)
	must(t, err)
	doc.Root().RemoveChild(as)
	doc.Root().AddChild(signed)
	out, err := doc.WriteToString()
	must(t, err)
	return base64.StdEncoding.EncodeToString([]byte(out))
}

func TestAssumeRoleWithSAML(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	root := e.rootIAM()
	idp := newSAMLIdP(t)
	prov, err := root.CreateSAMLProvider(ctx, &iam.CreateSAMLProviderInput{Name: aws.String("corp"), SAMLMetadataDocument: aws.String(idp.metadata())})
	must(t, err)
	provARN := aws.ToString(prov.SAMLProviderArn)
	if provARN != "arn:aws:iam::"+testAccount+":saml-provider/corp" {
		t.Errorf("SAMLProviderArn = %s", provARN)
	}
	_, err = root.CreateSAMLProvider(ctx, &iam.CreateSAMLProviderInput{Name: aws.String("bad"), SAMLMetadataDocument: aws.String(strings.Repeat("x", 1000))})
	wantCode(t, err, "InvalidInput")
	got, err := root.GetSAMLProvider(ctx, &iam.GetSAMLProviderInput{SAMLProviderArn: aws.String(provARN)})
	must(t, err)
	if aws.ToString(got.SAMLMetadataDocument) != idp.metadata() || got.ValidUntil == nil {
		t.Errorf("GetSAMLProvider = %+v", got)
	}
	list, err := root.ListSAMLProviders(ctx, &iam.ListSAMLProvidersInput{})
	must(t, err)
	if len(list.SAMLProviderList) != 1 {
		t.Errorf("ListSAMLProviders = %+v", list.SAMLProviderList)
	}

	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + provARN +
		`"},"Action":"sts:AssumeRoleWithSAML","Condition":{"StringEquals":{"SAML:aud":"https://signin.aws.amazon.com/saml"}}}]}`
	arn := role(t, root, "sso-admin", trust, allowListUsers, 0)
	attrs := map[string]string{
		"https://aws.amazon.com/SAML/Attributes/Role":            arn + "," + provARN,
		"https://aws.amazon.com/SAML/Attributes/RoleSessionName": "alice@example.com",
	}
	anon := sts.NewFromConfig(aws.Config{Region: "us-east-1", RetryMaxAttempts: 1}, func(o *sts.Options) { o.BaseEndpoint = aws.String(e.url) })
	assume := func(assertion, roleARN string) (*sts.AssumeRoleWithSAMLOutput, error) {
		return anon.AssumeRoleWithSAML(ctx, &sts.AssumeRoleWithSAMLInput{RoleArn: aws.String(roleARN), PrincipalArn: aws.String(provARN), SAMLAssertion: aws.String(assertion)})
	}
	out, err := assume(idp.response(t, "user-1", time.Now().Add(5*time.Minute), attrs), arn)
	must(t, err)
	if aws.ToString(out.AssumedRoleUser.Arn) != "arn:aws:sts::"+testAccount+":assumed-role/sso-admin/alice@example.com" ||
		aws.ToString(out.Subject) != "user-1" || aws.ToString(out.SubjectType) != "persistent" ||
		aws.ToString(out.Issuer) != "https://idp.example.com/saml" || aws.ToString(out.NameQualifier) == "" {
		t.Errorf("AssumeRoleWithSAML = %+v / %+v", out, out.AssumedRoleUser)
	}
	_, err = e.iam(tempCreds(out.Credentials)).ListUsers(ctx, &iam.ListUsersInput{})
	must(t, err)

	good := idp.response(t, "user-1", time.Now().Add(5*time.Minute), attrs)
	raw, _ := base64.StdEncoding.DecodeString(good)
	tampered := base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(raw), "user-1", "root-1", 1)))
	other := newSAMLIdP(t)
	otherRole := role(t, root, "other", trust, "", 0)
	for _, tc := range []struct {
		name, assertion, role, code string
	}{
		{"tampered", tampered, arn, "InvalidIdentityToken"},
		{"signed by another key", other.response(t, "user-1", time.Now().Add(5*time.Minute), attrs), arn, "InvalidIdentityToken"},
		{"expired", idp.response(t, "user-1", time.Now().Add(-time.Minute), attrs), arn, "ExpiredTokenException"},
		{"role not in the assertion", good, otherRole, "AccessDenied"},
		{"not SAML", base64.StdEncoding.EncodeToString([]byte("<nope/>")), arn, "InvalidIdentityToken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := assume(tc.assertion, tc.role)
			wantCode(t, err, tc.code)
		})
	}

	_, err = root.DeleteSAMLProvider(ctx, &iam.DeleteSAMLProviderInput{SAMLProviderArn: aws.String(provARN)})
	must(t, err)
	_, err = root.GetSAMLProvider(ctx, &iam.GetSAMLProviderInput{SAMLProviderArn: aws.String(provARN)})
	wantCode(t, err, "NoSuchEntity")
}
