package server

import (
	"context"
	"fmt"
	"time"

	"github.com/iamd/iamd/internal/audit"
	"github.com/iamd/iamd/internal/audit/pgtrail"
	"github.com/iamd/iamd/internal/cloudtrailapi"
	"github.com/iamd/iamd/internal/store/postgres"
)

// openSharedTrail opens, on a PostgreSQL store, the trail every replica
// shares, and starts shipping this replica's chain to it; it returns nil
// on SQLite (one server reads its own directory) or with the trail off.
func (s *Server) openSharedTrail(l *audit.Log) (*pgtrail.Trail, error) {
	if _, ok := s.state.Store.(*postgres.Store); !ok || l == nil {
		return nil, nil
	}
	dsn := s.cfg.StoreURL
	if dsn == "" {
		dsn = s.cfg.Getenv(EnvStore)
	}
	retention, err := audit.ParseRetention(s.cfg.Getenv(audit.EnvRetention))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t, err := pgtrail.Open(ctx, pgtrail.Options{DSN: dsn, Log: l, Retention: retention, Logger: s.log, Now: s.cfg.Now})
	if err != nil {
		return nil, fmt.Errorf("shared audit trail: %w", err)
	}
	return t, nil
}

// events is what LookupEvents (and the console's event history) reads:
// the shared trail when there is one, else this server's audit directory.
func (s *Server) events() cloudtrailapi.Events {
	if s.shared != nil {
		return s.shared
	}
	return s.audit
}
