package authz

import "sync"

// textCache maps policy texts to their parsed or compiled form. It is
// bounded because the texts come from stored policies (old versions pile
// up) and, through the authorization API, from callers: when full it
// forgets an arbitrary half, which a working set much smaller than the
// bound barely notices.
type textCache[V any] struct {
	mu  sync.RWMutex
	m   map[string]V
	max int
}

func newTextCache[V any](max int) *textCache[V] {
	return &textCache[V]{m: make(map[string]V), max: max}
}

func (c *textCache[V]) get(k string) (V, bool) {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	return v, ok
}

func (c *textCache[V]) put(k string, v V) {
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
