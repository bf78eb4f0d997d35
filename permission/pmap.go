package permission

// pmap is a persistent map: a fixed number of shards, each an ordinary map
// that is never changed once a snapshot holding it is published. A change
// copies the shard table and the one shard it touches, so applying a delta
// to a million grants copies about a thousand entries, not a million.
type pmap[K comparable, V any] struct {
	shards []map[K]V // length a power of two
	hash   func(K) uint64
}

func newPmap[K comparable, V any](shards int, hash func(K) uint64) pmap[K, V] {
	m := pmap[K, V]{shards: make([]map[K]V, shards), hash: hash}
	for i := range m.shards {
		m.shards[i] = map[K]V{}
	}
	return m
}

func (m pmap[K, V]) shardOf(k K) int { return int(m.hash(k) & uint64(len(m.shards)-1)) }

func (m pmap[K, V]) get(k K) (V, bool) {
	v, ok := m.shards[m.shardOf(k)][k]
	return v, ok
}

func (m pmap[K, V]) len() int {
	n := 0
	for _, s := range m.shards {
		n += len(s)
	}
	return n
}

// pmapBuilder makes the next version of a pmap. Each shard is copied at
// most once however many changes touch it.
type pmapBuilder[K comparable, V any] struct {
	m      pmap[K, V]
	copied []bool
}

func (m pmap[K, V]) builder() *pmapBuilder[K, V] {
	next := pmap[K, V]{shards: append([]map[K]V(nil), m.shards...), hash: m.hash}
	return &pmapBuilder[K, V]{m: next, copied: make([]bool, len(m.shards))}
}

func (b *pmapBuilder[K, V]) shard(k K) map[K]V {
	i := b.m.shardOf(k)
	if !b.copied[i] {
		old := b.m.shards[i]
		s := make(map[K]V, len(old)+1)
		for k, v := range old {
			s[k] = v
		}
		b.m.shards[i] = s
		b.copied[i] = true
	}
	return b.m.shards[i]
}

func (b *pmapBuilder[K, V]) get(k K) (V, bool) { return b.m.get(k) }
func (b *pmapBuilder[K, V]) set(k K, v V)      { b.shard(k)[k] = v }
func (b *pmapBuilder[K, V]) del(k K) {
	if _, ok := b.m.get(k); ok {
		delete(b.shard(k), k)
	}
}
func (b *pmapBuilder[K, V]) done() pmap[K, V] { return b.m }
