// Package budget bounds the calls a server makes to Clerk's Backend API on
// behalf of the requests it serves.
//
// Clerk rate-limits the Backend API per instance, and every server holding
// the instance's secret key shares that quota: a call that an anonymous
// request can cause is a call an attacker can make us spend. A Limiter is
// a token bucket (a rate a second, with as much burst) and a bound on the
// calls in flight, with a share of both reserved for work that earned it
// (renewing a machine token that verified, fetching a signed-in user):
// unknown work (a token never seen, a handshake nonce, a refresh token)
// can never spend the reserve, so a flood of junk cannot starve the users
// the server already knows.
package budget

import (
	"sync"
	"time"
)

// Class says whose work a call is.
type Class uint8

const (
	// Unknown work is caused by input anyone can make up: it may not use
	// the reserve.
	Unknown Class = iota
	// Known work renews or serves something that was verified before.
	Known
)

// Limiter is safe for concurrent use. The zero value refuses everything;
// build one with New.
type Limiter struct {
	now func() time.Time

	mu          sync.Mutex
	rate        float64 // calls a second, and the bucket's size
	reserve     float64 // of the bucket, for Known work only
	level       float64
	refilled    time.Time
	concurrency int
	reserveConc int // of the slots, for Known work only
	inflight    int
}

// New returns a Limiter allowing rate calls a second (with as much burst)
// and concurrency calls at once, a quarter of each (at least one) kept
// for Known work. rate and concurrency must be positive.
func New(rate, concurrency int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{
		now:         now,
		rate:        float64(rate),
		reserve:     float64(max(1, rate/4)),
		level:       float64(rate),
		refilled:    now(),
		concurrency: concurrency,
		reserveConc: max(1, concurrency/4),
	}
}

// Acquire takes one call from the budget for work of class c. When it
// returns true, the caller must call Release once the call is over; when
// false, the budget is spent and the call must not be made.
func (l *Limiter) Acquire(c Class) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rate == 0 {
		return false
	}
	now := l.now()
	if elapsed := now.Sub(l.refilled); elapsed > 0 {
		l.level = min(l.rate, l.level+elapsed.Seconds()*l.rate)
		l.refilled = now
	}
	floor, slots := 1.0, l.concurrency
	if c == Unknown {
		floor += l.reserve
		slots -= l.reserveConc
	}
	// With a bucket of one call, unknown work may still take it when
	// nothing is in flight: the reserve cannot be larger than the budget.
	if l.rate <= l.reserve {
		floor = 1
	}
	if l.level < floor || l.inflight >= max(slots, 1) {
		return false
	}
	l.level--
	l.inflight++
	return true
}

// Release ends a call that Acquire allowed.
func (l *Limiter) Release() {
	l.mu.Lock()
	l.inflight--
	l.mu.Unlock()
}

// Recent remembers values by key for a while: what failed lately, so
// that the same made-up input, sent again, costs no call and gets the same
// answer. It holds at most size keys; when full it forgets the expired
// ones, and if none has expired, all of them (an attacker who floods it
// only makes it forget, and what is forgotten costs a budgeted call, never
// an unbounded one).
type Recent[K comparable, V any] struct {
	ttl  time.Duration
	size int
	now  func() time.Time

	mu      sync.Mutex
	entries map[K]recentEntry[V]
}

type recentEntry[V any] struct {
	v     V
	until time.Time
}

// NewRecent returns a Recent holding at most size keys for ttl each.
func NewRecent[K comparable, V any](size int, ttl time.Duration, now func() time.Time) *Recent[K, V] {
	if now == nil {
		now = time.Now
	}
	return &Recent[K, V]{ttl: ttl, size: size, now: now, entries: map[K]recentEntry[V]{}}
}

// Add remembers v under k for the Recent's ttl.
func (r *Recent[K, V]) Add(k K, v V) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.entries) >= r.size {
		for k, e := range r.entries {
			if !now.Before(e.until) {
				delete(r.entries, k)
			}
		}
		if len(r.entries) >= r.size {
			clear(r.entries)
		}
	}
	r.entries[k] = recentEntry[V]{v, now.Add(r.ttl)}
}

// Get returns what was added under k less than ttl ago.
func (r *Recent[K, V]) Get(k K) (v V, ok bool) {
	r.mu.Lock()
	e, ok := r.entries[k]
	r.mu.Unlock()
	if !ok || !r.now().Before(e.until) {
		return v, false
	}
	return e.v, true
}
