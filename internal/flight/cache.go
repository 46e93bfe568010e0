package flight

import (
	"sync"
	"time"
)

// Cache is a map whose entries carry an expiry, bounded in size: a Put
// into a full cache first drops the entries that have expired and, if
// that is not enough, all of them (a burst of distinct keys starts the
// cache over rather than growing it, and no client chooses what stays).
// Expired entries are kept until then: Get returns them, and the caller
// decides what an expired entry still means. Safe for concurrent use;
// lookups take a read lock only.
type Cache[K comparable, V any] struct {
	mu  sync.RWMutex
	m   map[K]entry[V]
	max int
}

type entry[V any] struct {
	val   V
	until time.Time
}

// NewCache returns an empty cache of at most max entries (max > 0).
func NewCache[K comparable, V any](max int) *Cache[K, V] {
	if max <= 0 {
		panic("flight: NewCache needs a positive size")
	}
	return &Cache[K, V]{m: map[K]entry[V]{}, max: max}
}

// Get returns the entry for key and its expiry, expired or not.
func (c *Cache[K, V]) Get(key K) (val V, until time.Time, ok bool) {
	c.mu.RLock()
	e, ok := c.m[key]
	c.mu.RUnlock()
	return e.val, e.until, ok
}

// Put stores val for key until the given time, making room first if the
// cache is full (expired as of now).
func (c *Cache[K, V]) Put(key K, val V, until, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, present := c.m[key]; !present && len(c.m) >= c.max {
		for k, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= c.max {
			clear(c.m)
		}
	}
	c.m[key] = entry[V]{val, until}
}

// Delete forgets key.
func (c *Cache[K, V]) Delete(key K) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

// Len is the number of entries, expired ones included.
func (c *Cache[K, V]) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
