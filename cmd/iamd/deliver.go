package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/iamd/iamd/internal/audit"
	"github.com/iamd/iamd/internal/audit/delivery"
	"github.com/iamd/iamd/internal/metrics"
	"github.com/iamd/iamd/internal/server"
)

// deliveryConfig is the audit trail delivery flags of iamd serve.
type deliveryConfig struct {
	dir, s3, endpoint string
	interval          *durationValue
}

func deliveryFlags(fs *flag.FlagSet, getenv func(string) string) *deliveryConfig {
	c := &deliveryConfig{}
	fs.StringVar(&c.dir, "audit-deliver-dir", getenv("IAMD_AUDIT_DELIVER_DIR"), "deliver the audit trail's sealed segments as CloudTrail log files, with hourly signed digest files, under this directory (env IAMD_AUDIT_DELIVER_DIR)")
	fs.StringVar(&c.s3, "audit-deliver-s3", getenv("IAMD_AUDIT_DELIVER_S3"), "deliver them to this bucket, s3://BUCKET/PREFIX, credentials from the AWS SDK's chain (env IAMD_AUDIT_DELIVER_S3)")
	fs.StringVar(&c.endpoint, "audit-deliver-s3-endpoint", getenv("IAMD_AUDIT_DELIVER_S3_ENDPOINT"), "URL of an S3-compatible server for --audit-deliver-s3, addressed path-style (env IAMD_AUDIT_DELIVER_S3_ENDPOINT)")
	c.interval = durationFlag(fs, getenv, "audit-deliver-digest-interval", "IAMD_AUDIT_DELIVER_DIGEST_INTERVAL", time.Hour,
		"how often delivered digest files are written, at multiples of it (CloudTrail: hourly)")
	return c
}

// start checks the flags and returns the server's background work that
// delivers the trail, or nil when no destination is set.
func (c *deliveryConfig) start(ctx context.Context, log *slog.Logger) (func(context.Context, *server.Server) func(), error) {
	if c.interval.err != nil {
		return nil, c.interval.err
	}
	if c.interval.d < time.Second {
		return nil, errors.New("--audit-deliver-digest-interval: want at least 1s")
	}
	var specs [][2]string
	if c.dir != "" {
		specs = append(specs, [2]string{c.dir, ""})
	}
	if c.s3 != "" {
		if _, _, err := delivery.ParseS3URL(c.s3); err != nil {
			return nil, fmt.Errorf("--audit-deliver-s3: %w", err)
		}
		specs = append(specs, [2]string{c.s3, c.endpoint})
	}
	if len(specs) == 0 {
		return nil, nil
	}
	var dests []delivery.Destination
	for _, sp := range specs {
		d, err := delivery.DestinationFor(ctx, sp[0], sp[1])
		if err != nil {
			return nil, fmt.Errorf("audit delivery: %w", err)
		}
		dests = append(dests, d)
	}
	return func(ctx context.Context, s *server.Server) func() {
		l := s.Audit()
		if l == nil {
			log.Warn("audit delivery: the audit trail is off (IAMD_AUDIT=off); nothing to deliver")
			return func() {}
		}
		kr := s.State().Keyring
		var ds []*delivery.Deliverer
		for _, dest := range dests {
			d, err := delivery.New(delivery.Options{Dir: l.Dir(), Chain: l.Chain(), AuditKeys: kr.DeriveKeys(audit.KeyPurpose),
				Keys: delivery.Keys(kr.DeriveKeys(delivery.KeyPurpose)), Dest: dest, DigestInterval: c.interval.d,
				Poll: min(5*time.Second, c.interval.d), Log: log})
			if err != nil {
				log.Error("audit delivery not started", "dest", dest.String(), "err", err)
				continue
			}
			ds = append(ds, d)
			log.Info("delivering the audit trail", "dest", dest.String(), "chain", l.Chain())
		}
		s.Metrics().AuditDeliveryStats(func() metrics.AuditDelivery {
			var m metrics.AuditDelivery
			for i, d := range ds {
				st := d.Stats()
				m.Files += st.Files
				m.Digests += st.Digests
				m.Failures += st.Failures
				m.Failing = m.Failing || st.Failing
				if i == 0 || st.Delivered < m.Delivered {
					m.Delivered = st.Delivered
				}
			}
			return m
		})
		var wg sync.WaitGroup
		for _, d := range ds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d.Run(ctx)
			}()
		}
		return wg.Wait
	}, nil
}
