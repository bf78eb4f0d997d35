// Package usercache is the credential cache the authenticators share: a
// bounded map from a credential's key to what it verified as, with an
// expiry per entry and every entry of a user forgotten at once (their
// password, tokens or account changed).
package usercache

import (
	"sync"
	"time"
)

// Cache is safe for concurrent use. Past max entries it starts over: the
// keys are chosen by clients, so it must not grow without bound.
type Cache[K comparable, V any] struct {
	mu     sync.RWMutex
	max    int
	m      map[K]item[V]
	byUser map[string][]K
}

type item[V any] struct {
	v     V
	until time.Time
}

// New returns a cache of at most max entries.
func New[K comparable, V any](max int) *Cache[K, V] {
	return &Cache[K, V]{max: max, m: map[K]item[V]{}, byUser: map[string][]K{}}
}

// Get returns the value under k if it has not expired at now.
func (c *Cache[K, V]) Get(k K, now time.Time) (V, bool) {
	c.mu.RLock()
	it, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || !now.Before(it.until) {
		var zero V
		return zero, false
	}
	return it.v, true
}

// Put remembers v under k for user until until; nothing when until is not
// after now.
func (c *Cache[K, V]) Put(k K, user string, v V, until, now time.Time) {
	if !now.Before(until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		c.m, c.byUser = map[K]item[V]{}, map[string][]K{}
	}
	if _, ok := c.m[k]; !ok {
		c.byUser[user] = append(c.byUser[user], k)
	}
	c.m[k] = item[V]{v: v, until: until}
}

// Forget drops every entry of user.
func (c *Cache[K, V]) Forget(user string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range c.byUser[user] {
		delete(c.m, k)
	}
	delete(c.byUser, user)
}

// Remove drops the entry under k (a session ended).
func (c *Cache[K, V]) Remove(k K) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}

// Clear drops everything.
func (c *Cache[K, V]) Clear() {
	c.mu.Lock()
	c.m, c.byUser = map[K]item[V]{}, map[string][]K{}
	c.mu.Unlock()
}
