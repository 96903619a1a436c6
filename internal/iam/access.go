package iam

import (
	"context"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/iamd/iamd/internal/store"
)

// KindAccess records, per account and principal entity (user or role ID),
// when the entity last used each service and action: the data behind IAM's
// last-accessed reports.
const KindAccess = "access"

// AccessRecord is what one user or role last used, by service namespace
// (lower case, e.g. "iam", "s3").
type AccessRecord struct {
	Services map[string]ServiceAccess `json:"s"`
}

// ServiceAccess is the last use of one service by an entity.
type ServiceAccess struct {
	Last   time.Time `json:"t"`
	Region string    `json:"r,omitempty"`
	// Actions holds the last use of each action of the service, by action
	// name without the service prefix, as the request named it (e.g.
	// "CreateUser").
	Actions map[string]ActionAccess `json:"a,omitempty"`
}

// ActionAccess is the last use of one action.
type ActionAccess struct {
	Last   time.Time `json:"t"`
	Region string    `json:"r,omitempty"`
}

// clone returns a deep copy.
func (r *AccessRecord) clone() *AccessRecord {
	out := &AccessRecord{Services: make(map[string]ServiceAccess, len(r.Services))}
	for k, s := range r.Services {
		s.Actions = maps.Clone(s.Actions)
		out.Services[k] = s
	}
	return out
}

// merge folds o into r, keeping the newer use of each service and action.
func (r *AccessRecord) merge(o *AccessRecord) {
	if r.Services == nil {
		r.Services = make(map[string]ServiceAccess, len(o.Services))
	}
	for ns, os := range o.Services {
		s, ok := r.Services[ns]
		if !ok {
			os.Actions = maps.Clone(os.Actions)
			r.Services[ns] = os
			continue
		}
		if os.Last.After(s.Last) {
			s.Last, s.Region = os.Last, os.Region
		}
		for name, oa := range os.Actions {
			if a, ok := s.Actions[name]; !ok || oa.Last.After(a.Last) {
				if s.Actions == nil {
					s.Actions = make(map[string]ActionAccess)
				}
				s.Actions[name] = oa
			}
		}
		r.Services[ns] = s
	}
}

// Access returns what the entity (user or role ID) is recorded to have
// used, as persisted.
func (a *AccountView) Access(entityID string) (*AccessRecord, bool) {
	e, ok := a.access[entityID]
	if !ok {
		return nil, false
	}
	return e.V, true
}

// AccessEntities returns the IDs of the entities with persisted access
// records, sorted.
func (a *AccountView) AccessEntities() []string {
	ids := make([]string, 0, len(a.access))
	for id := range a.access {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// applyAccess applies a KindAccess record. The lock is held.
func (a *AccountView) applyAccess(r store.Record, value any) {
	if r.Deleted {
		delete(a.access, r.Key)
		return
	}
	if old := a.access[r.Key]; old != nil && old.Rev >= r.Rev {
		return
	}
	if a.access == nil {
		a.access = make(map[string]*Entry[AccessRecord])
	}
	a.access[r.Key] = &Entry[AccessRecord]{V: value.(*AccessRecord), Version: r.Version, Rev: r.Rev}
}

// AccessTracker records which services and actions each user and role
// uses. Every allowed request reports its action; the tracker keeps the
// newest uses in memory, where reads see them at once, and writes them to
// the store in the background, one record per entity per flush, like the
// access key UsageTracker.
type AccessTracker struct {
	writer *Writer

	mu      sync.Mutex
	pending map[accessKey]*AccessRecord
}

type accessKey struct{ account, entity string }

// NewAccessTracker returns a tracker that persists through w.
func NewAccessTracker(w *Writer) *AccessTracker {
	return &AccessTracker{writer: w, pending: make(map[accessKey]*AccessRecord)}
}

// Accessed records that the entity (a user or role ID of account) was
// allowed action ("service:Action") in region at the given time, at second
// precision.
func (t *AccessTracker) Accessed(account, entityID, action, region string, at time.Time) {
	svc, name, ok := strings.Cut(action, ":")
	if !ok || svc == "" || name == "" || entityID == "" {
		return
	}
	svc = strings.ToLower(svc)
	at = at.UTC().Truncate(time.Second)
	k := accessKey{account, entityID}
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.pending[k]
	if r == nil {
		r = &AccessRecord{Services: make(map[string]ServiceAccess, 1)}
		t.pending[k] = r
	}
	s := r.Services[svc]
	a, ok := s.Actions[name]
	if ok && a.Last.Equal(at) && a.Region == region && s.Last.Equal(at) && s.Region == region {
		// Already recorded this second (the common case under load):
		// nothing would change.
		return
	}
	if !at.Before(s.Last) {
		s.Last, s.Region = at, region
	}
	if !ok || !at.Before(a.Last) {
		if s.Actions == nil {
			s.Actions = make(map[string]ActionAccess, 1)
		}
		s.Actions[name] = ActionAccess{Last: at, Region: region}
	}
	r.Services[svc] = s
}

// Access returns what the entity has used: the persisted record merged
// with uses not yet flushed. The result is the caller's to keep.
func (t *AccessTracker) Access(account, entityID string) (*AccessRecord, bool) {
	out := &AccessRecord{Services: map[string]ServiceAccess{}}
	found := false
	t.writer.View.Read(account, func(a *AccountView) {
		if r, ok := a.Access(entityID); ok {
			out.merge(r)
			found = true
		}
	})
	t.mu.Lock()
	if p, ok := t.pending[accessKey{account, entityID}]; ok {
		out.merge(p)
		found = true
	}
	t.mu.Unlock()
	return out, found
}

// Flush writes pending uses to the store, merged with what is stored.
func (t *AccessTracker) Flush(ctx context.Context) error {
	t.mu.Lock()
	batch := t.pending
	t.pending = make(map[accessKey]*AccessRecord, len(batch))
	t.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	muts := make([]Mutation, 0, len(batch))
	for k, p := range batch {
		var next *AccessRecord
		t.writer.View.Read(k.account, func(a *AccountView) {
			_, user := a.UserByID(k.entity)
			_, role := a.RoleByID(k.entity)
			if !user && !role {
				return // deleted since
			}
			if cur, ok := a.Access(k.entity); ok {
				next = cur.clone()
			} else {
				next = &AccessRecord{}
			}
			next.merge(p)
		})
		if next != nil {
			muts = append(muts, Put(KindAccess, k.account, k.entity, next, store.Any))
		}
	}
	if len(muts) == 0 {
		return nil
	}
	if err := t.writer.Commit(ctx, muts...); err != nil {
		// Keep the uses for the next flush.
		t.mu.Lock()
		for k, p := range batch {
			if cur, ok := t.pending[k]; ok {
				cur.merge(p)
			} else {
				t.pending[k] = p
			}
		}
		t.mu.Unlock()
		return err
	}
	return nil
}

// Run flushes every interval until ctx is done, then once more.
func (t *AccessTracker) Run(ctx context.Context, interval time.Duration) {
	flushEvery(ctx, interval, t.Flush)
}
