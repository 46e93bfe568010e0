package clerkauth

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// DedupStore remembers which webhook deliveries (by svix-id, which Svix
// keeps across retries) have been processed, so that a retried or replayed
// delivery does not apply its effect twice.
//
// The handler calls Begin before the callback, then exactly one of Commit
// (the callback succeeded) or Abort (it failed), with the context Begin
// returned. A store must:
//
//   - report done for an id whose Commit succeeded (the delivery is then
//     acknowledged without calling the callback);
//   - never report done for an id that was only Begun or Aborted: a failed
//     delivery is retried by Svix and must run again;
//   - let only one Begin for an id proceed at a time: a concurrent Begin
//     for the same id waits for the first to Commit (then reports done) or
//     Abort (then proceeds), or gives up when its ctx is done.
//
// The context Begin returns is passed to the callback. A database-backed
// store opens a transaction in Begin, records the id in it, puts it in the
// context for the callback to use, and commits it in Commit: the effect and
// the record then happen together or not at all, even across replicas.
// sqldedup.Store does this on database/sql.
type DedupStore interface {
	Begin(ctx context.Context, id string) (_ context.Context, done bool, err error)
	Commit(ctx context.Context, id string) error
	Abort(ctx context.Context, id string)
}

// Defaults of the in-memory store. Svix retries a failed delivery for
// about 28 hours (immediately, 5s, 5m, 30m, 2h, 5h, 10h, 10h), so a
// delivery id is remembered for 48 hours.
const (
	DefaultDedupTTL        = 48 * time.Hour
	defaultDedupMaxEntries = 100_000
)

// memoryDedupStore is the default DedupStore: in memory, for one process.
// It remembers at most maxEntries ids (the oldest are forgotten first) for
// at most ttl.
type memoryDedupStore struct {
	mu         sync.Mutex
	ttl        time.Duration
	maxEntries int
	now        func() time.Time
	done       map[string]*list.Element // value: doneEntry; front = oldest
	order      *list.List
	inflight   map[string]chan struct{} // closed when the in-flight delivery ends
}

type doneEntry struct {
	id string
	at time.Time
}

// NewMemoryDedupStore returns the store WebhookConfig.Dedup defaults to:
// in memory, for one process, remembering at most maxEntries ids (the
// oldest are forgotten first) for at most ttl; zero or negative arguments
// take the defaults (100,000 ids, DefaultDedupTTL). Behind several
// replicas, use a shared store instead (sqldedup.Store).
func NewMemoryDedupStore(maxEntries int, ttl time.Duration) DedupStore {
	return newMemoryDedupStore(maxEntries, ttl, time.Now)
}

func newMemoryDedupStore(maxEntries int, ttl time.Duration, now func() time.Time) *memoryDedupStore {
	if maxEntries <= 0 {
		maxEntries = defaultDedupMaxEntries
	}
	if ttl <= 0 {
		ttl = DefaultDedupTTL
	}
	return &memoryDedupStore{
		ttl: ttl, maxEntries: maxEntries, now: now,
		done: map[string]*list.Element{}, order: list.New(), inflight: map[string]chan struct{}{},
	}
}

// Begin implements DedupStore.
func (s *memoryDedupStore) Begin(ctx context.Context, id string) (context.Context, bool, error) {
	for {
		s.mu.Lock()
		s.expire()
		if _, ok := s.done[id]; ok {
			s.mu.Unlock()
			return ctx, true, nil
		}
		wait, busy := s.inflight[id]
		if !busy {
			s.inflight[id] = make(chan struct{})
			s.mu.Unlock()
			return ctx, false, nil
		}
		s.mu.Unlock()
		select {
		case <-wait: // the other delivery ended; look again
		case <-ctx.Done():
			return ctx, false, ctx.Err()
		}
	}
}

// Commit implements DedupStore.
func (s *memoryDedupStore) Commit(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.done[id]; ok {
		s.order.Remove(e)
	}
	s.done[id] = s.order.PushBack(doneEntry{id: id, at: s.now()})
	for s.order.Len() > s.maxEntries {
		oldest := s.order.Front()
		delete(s.done, oldest.Value.(doneEntry).id)
		s.order.Remove(oldest)
	}
	s.release(id)
	return nil
}

// Abort implements DedupStore.
func (s *memoryDedupStore) Abort(_ context.Context, id string) {
	s.mu.Lock()
	s.release(id)
	s.mu.Unlock()
}

func (s *memoryDedupStore) release(id string) {
	if ch, ok := s.inflight[id]; ok {
		close(ch)
		delete(s.inflight, id)
	}
}

// expire drops ids older than the TTL (the list is in commit order).
func (s *memoryDedupStore) expire() {
	cutoff := s.now().Add(-s.ttl)
	for e := s.order.Front(); e != nil; e = s.order.Front() {
		d := e.Value.(doneEntry)
		if d.at.After(cutoff) {
			return
		}
		delete(s.done, d.id)
		s.order.Remove(e)
	}
}
