package authz

import "sync"

// boundedCache maps policy texts (or other keys derived from them) to
// their parsed or compiled form. It is bounded because the texts come from
// stored policies (old versions pile up) and, through the authorization
// API, from callers: when full it forgets an arbitrary half, which a
// working set much smaller than the bound barely notices.
type boundedCache[K comparable, V any] struct {
	mu  sync.RWMutex
	m   map[K]V
	max int
}

// textCache is a boundedCache keyed by a policy's text.
type textCache[V any] = boundedCache[string, V]

func newCache[K comparable, V any](max int) *boundedCache[K, V] {
	return &boundedCache[K, V]{m: make(map[K]V), max: max}
}

func (c *boundedCache[K, V]) get(k K) (V, bool) {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	return v, ok
}

func (c *boundedCache[K, V]) put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		n := 0
		for key := range c.m {
			if n >= c.max/2 {
				break
			}
			delete(c.m, key)
			n++
		}
	}
	c.m[k] = v
}
