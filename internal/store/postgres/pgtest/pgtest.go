// Package pgtest gives a test a PostgreSQL schema of its own in the test
// database named by IAMD_TEST_POSTGRES, dropped when the test ends, so that
// tests and runs sharing one database do not collide. It is for tests
// only; the product never imports it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultDSN is the test database used when CI is set but
// IAMD_TEST_POSTGRES is not: the one .ci/run starts.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// DSN returns the test database's DSN. Without IAMD_TEST_POSTGRES the test
// skips, unless CI is set: CI must run it, and fails if it cannot.
func DSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("IAMD_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") == "" {
			tb.Skip("PostgreSQL tests skipped: set IAMD_TEST_POSTGRES=" + DefaultDSN + " (any database the user may create schemas in) to run them")
		}
		dsn = DefaultDSN
	}
	return dsn
}

// Schema creates a schema named prefix followed by random hex in the test
// database, drops it (with everything in it) when the test ends, and
// returns a DSN whose search_path selects it.
func Schema(tb testing.TB, prefix string) string {
	tb.Helper()
	dsn := DSN(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("PostgreSQL at %s unreachable: %v", dsn, err)
	}
	defer conn.Close(ctx)
	var b [8]byte
	rand.Read(b[:])
	schema := prefix + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema %s: %v", schema, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return WithSearchPath(tb, dsn, schema)
}

// WithSearchPath returns dsn, a URL or a keyword/value string, with its
// search_path set to schema.
func WithSearchPath(tb testing.TB, dsn, schema string) string {
	tb.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			tb.Fatalf("IAMD_TEST_POSTGRES: %v", err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}
