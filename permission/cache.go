package permission

import (
	"hash/maphash"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
)

// matchCache remembers, per resource name, which rules of one kind match
// it: names are chosen by users, so it is bounded and least-recently-used
// names go first. It is sharded so that parallel decisions seldom wait on
// one lock.
type matchCache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	lru          *lru.Cache[string, []int32]
	hits, misses atomic.Uint64
	_            [40]byte // keep shards' counters on their own cache lines
}

const cacheShards = 16

func newMatchCache(size int) *matchCache {
	per := max(size/cacheShards, 1)
	c := &matchCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		// lru.New only fails for a size below 1.
		c.shards[i].lru, _ = lru.New[string, []int32](per)
	}
	return c
}

func (c *matchCache) shard(name string) *cacheShard {
	return &c.shards[maphash.String(c.seed, name)%cacheShards]
}

func (c *matchCache) get(name string) ([]int32, bool) {
	s := c.shard(name)
	m, ok := s.lru.Get(name)
	if ok {
		s.hits.Add(1)
	} else {
		s.misses.Add(1)
	}
	return m, ok
}

func (c *matchCache) add(name string, m []int32) { c.shard(name).lru.Add(name, m) }

func (c *matchCache) stats() (hits, misses uint64) {
	for i := range c.shards {
		hits += c.shards[i].hits.Load()
		misses += c.shards[i].misses.Load()
	}
	return hits, misses
}
