package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/iamd/iamd/internal/store"
)

// Notify implements store.Notifier with LISTEN on a connection of its own,
// outside the pool. If the connection drops, the listener reconnects with
// backoff and sends a value once it is listening again, since commits made
// meanwhile were not announced to it. The channel is closed when ctx is done
// or the Store is closed.
func (s *Store) Notify(ctx context.Context) (<-chan struct{}, error) {
	// Register with Close before anything else: Close waits for listeners
	// only after it has marked the Store closed under mu.
	s.mu.RLock()
	if s.closed.Load() {
		s.mu.RUnlock()
		return nil, store.ErrClosed
	}
	s.listeners.Add(1)
	s.mu.RUnlock()

	lctx, cancel := context.WithCancel(ctx)
	stopOnClose := context.AfterFunc(s.stop, cancel)
	conn, err := s.listen(lctx)
	if err != nil {
		stopOnClose()
		cancel()
		s.listeners.Done()
		return nil, fmt.Errorf("postgres: notify: %w", err)
	}
	ch := make(chan struct{}, 1)
	go func() {
		defer s.listeners.Done()
		defer close(ch)
		defer stopOnClose()
		defer cancel()
		s.follow(lctx, conn, ch)
	}()
	return ch, nil
}

// listen opens a connection and subscribes it to the Store's channel.
func (s *Store) listen(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return conn, nil
}

// follow turns notifications on conn into values on ch, reconnecting when
// the connection fails, until ctx is done.
func (s *Store) follow(ctx context.Context, conn *pgx.Conn, ch chan<- struct{}) {
	const minBackoff, maxBackoff = 100 * time.Millisecond, 10 * time.Second
	backoff := minBackoff
	for {
		for conn != nil {
			if _, err := conn.WaitForNotification(ctx); err != nil {
				conn.Close(context.WithoutCancel(ctx))
				conn = nil
				break
			}
			backoff = minBackoff
			signal(ch)
		}
		if ctx.Err() != nil {
			return
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
		var err error
		if conn, err = s.listen(ctx); err == nil {
			signal(ch) // commits while disconnected went unannounced
		}
	}
}

// signal sends on ch without blocking: one pending value is as good as many.
func signal(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
