package groupdetect

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Cached remembers a provider's answers per user (the token's iss and sub)
// for ttl, so a burst of sign-ins or token checks asks Graph or a directory
// once. Errors are not remembered. A token without a sub is not cached.
func Cached(p Provider, ttl time.Duration) Provider {
	c := &cached{p: p, ttl: ttl, m: map[string]cachedGroups{}, now: time.Now}
	return c
}

type cached struct {
	p   Provider
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]cachedGroups
	now func() time.Time
}

type cachedGroups struct {
	groups []string
	until  time.Time
}

const maxCachedUsers = 100_000

func (c *cached) Groups(ctx context.Context, in Input) ([]string, error) {
	iss, _ := in.Claims["iss"].(string)
	sub, _ := in.Claims["sub"].(string)
	if sub == "" {
		return c.p.Groups(ctx, in)
	}
	key := iss + "\x00" + sub
	now := c.now()
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Before(e.until) {
		return slices.Clone(e.groups), nil
	}
	groups, err := c.p.Groups(ctx, in)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= maxCachedUsers {
		c.m = map[string]cachedGroups{}
	}
	c.m[key] = cachedGroups{groups: slices.Clone(groups), until: now.Add(c.ttl)}
	c.mu.Unlock()
	return groups, nil
}
