// Package workload gives servers a role's temporary credentials with no keys
// on disk, through the endpoint the AWS SDKs already read: a process started
// with
//
//	AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:8080/_iamd/credentials/ACCOUNT/NAME
//	AWS_CONTAINER_AUTHORIZATION_TOKEN=<the workload's token>
//
// gets credentials from the SDK's default chain (aws-sdk-go-v2, botocore and
// the aws CLI, the Java and JavaScript SDKs), refreshed before they expire.
//
// A workload is registered by an administrator (iamd workload create) to one
// role in its account; only the SHA-256 of its token is stored. As ECS tasks
// need a role that trusts ecs-tasks.amazonaws.com, a workload's role must
// trust the service principal [ServicePrincipal] for sts:AssumeRole; the
// trust policy may narrow that to particular workloads with aws:SourceArn
// (arn:PARTITION:iamd::ACCOUNT:workload/NAME) and aws:SourceAccount.
//
// The package registers workloads and serves the credentials endpoint. It
// does not mint tokens itself (package stsapi does) nor evaluate policies
// (package authz).
package workload

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/iamd/iamd/internal/iam"
	"github.com/iamd/iamd/internal/store"
)

// ServicePrincipal is the service principal a workload presents to its
// role's trust policy, like ecs-tasks.amazonaws.com for an ECS task.
const ServicePrincipal = "workloads.iamd.internal"

// Prefix is the path prefix of the credentials endpoint; a workload's URL
// path is Prefix + ACCOUNT + "/" + NAME.
const Prefix = "/_iamd/credentials/"

// Pattern is the http.ServeMux pattern of the credentials endpoint.
const Pattern = "GET " + Prefix + "{account}/{workload}"

// tokenPrefix marks iamd workload tokens, so that secret scanners and people
// recognise them.
const tokenPrefix = "iamdwl_"

// Errors returned by the registration functions; check them with errors.Is.
var (
	ErrNoSuchAccount = errors.New("no such account")
	ErrNoSuchRole    = errors.New("no such role")
	ErrExists        = errors.New("workload already exists")
	ErrNotFound      = errors.New("no such workload")
	ErrInvalidName   = errors.New("invalid workload name")
)

// validName is AWS's RoleSessionName pattern: the workload's name is its
// role session name.
var validName = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

// ARN returns a workload's ARN in partition p, its aws:SourceArn in trust
// policies: arn:PARTITION:iamd::ACCOUNT:workload/NAME.
func ARN(p iam.Partition, account, name string) string {
	return p.Prefix("iamd") + account + ":workload/" + name
}

// URL returns the AWS_CONTAINER_CREDENTIALS_FULL_URI of a workload for an
// iamd endpoint such as http://127.0.0.1:8080.
func URL(endpoint, account, name string) string {
	return strings.TrimSuffix(endpoint, "/") + Prefix + account + "/" + name
}

// newToken returns a new random token and the hex SHA-256 to store.
func newToken() (token, hash string) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	token = tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, hashToken(token)
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// tokenMatches compares a presented token with a stored hash in constant
// time.
func tokenMatches(token, storedHash string) bool {
	sum := sha256.Sum256([]byte(token))
	want, err := hex.DecodeString(storedHash)
	if err != nil || len(want) != len(sum) {
		// Compare anyway so that a malformed record takes as long.
		subtle.ConstantTimeCompare(sum[:], sum[:])
		return false
	}
	return subtle.ConstantTimeCompare(sum[:], want) == 1
}

// Create registers workload name in account for the role named role and
// returns it with its token, which is shown only now: the store keeps its
// SHA-256.
func Create(ctx context.Context, w *iam.Writer, account, name, role string, now time.Time) (*iam.Workload, string, error) {
	if !validName.MatchString(name) {
		return nil, "", fmt.Errorf("%w %q: 2-64 characters from letters, digits and +=,.@_-", ErrInvalidName, name)
	}
	token, hash := newToken()
	var wl *iam.Workload
	err := iam.Retry(ctx, func() error {
		var (
			roleName string
			exists   bool
		)
		found := w.View.Read(account, func(a *iam.AccountView) {
			if r, ok := a.Role(role); ok {
				roleName = r.V.Name
			}
			_, exists = a.Workload(name)
		})
		switch {
		case !found:
			return fmt.Errorf("account %s: %w", account, ErrNoSuchAccount)
		case roleName == "":
			return fmt.Errorf("role %s in account %s: %w", role, account, ErrNoSuchRole)
		case exists:
			return fmt.Errorf("workload %s in account %s: %w", name, account, ErrExists)
		}
		wl = &iam.Workload{Name: name, RoleName: roleName, TokenHash: hash, Created: now.UTC().Truncate(time.Second)}
		return w.Commit(ctx, iam.Put(iam.KindWorkload, account, iam.Key(name), wl, store.Absent))
	})
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, "", fmt.Errorf("workload %s in account %s: %w", name, account, ErrExists)
		}
		return nil, "", err
	}
	return wl, token, nil
}

// RotateToken replaces a workload's token and returns the new one. The old
// token stops working at once; credentials already issued with it last
// until they expire.
func RotateToken(ctx context.Context, w *iam.Writer, account, name string) (string, error) {
	token, hash := newToken()
	err := iam.Retry(ctx, func() error {
		e, err := get(w.View, account, name)
		if err != nil {
			return err
		}
		wl := *e.V
		wl.TokenHash = hash
		return w.Commit(ctx, iam.Put(iam.KindWorkload, account, iam.Key(name), &wl, e.Version))
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

// Delete removes a workload: its token is refused from the next request on.
func Delete(ctx context.Context, w *iam.Writer, account, name string) error {
	return iam.Retry(ctx, func() error {
		e, err := get(w.View, account, name)
		if err != nil {
			return err
		}
		return w.Commit(ctx, iam.Delete(iam.KindWorkload, account, iam.Key(name), e.Version))
	})
}

func get(v *iam.View, account, name string) (*iam.Entry[iam.Workload], error) {
	var e *iam.Entry[iam.Workload]
	found := v.Read(account, func(a *iam.AccountView) { e, _ = a.Workload(name) })
	switch {
	case !found:
		return nil, fmt.Errorf("account %s: %w", account, ErrNoSuchAccount)
	case e == nil:
		return nil, fmt.Errorf("workload %s in account %s: %w", name, account, ErrNotFound)
	}
	return e, nil
}

// List returns the workloads of an account sorted by name.
func List(v *iam.View, account string) ([]iam.Workload, error) {
	var out []iam.Workload
	found := v.Read(account, func(a *iam.AccountView) {
		for _, e := range a.Workloads() {
			out = append(out, *e.V)
		}
	})
	if !found {
		return nil, fmt.Errorf("account %s: %w", account, ErrNoSuchAccount)
	}
	slices.SortFunc(out, func(a, b iam.Workload) int { return strings.Compare(iam.Key(a.Name), iam.Key(b.Name)) })
	return out, nil
}
