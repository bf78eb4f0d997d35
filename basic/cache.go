package basic

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlflowauth/mlflowauth/auth"
)

// entry is a verified credential.
type entry struct {
	username string
	identity *auth.Identity
	tokenID  int64
	expires  time.Time // the token's expiry (tokens only)
	revoked  bool
	active   bool
	lapses   time.Time // when the owner must sign in through SSO again (zero: never)
	// touched is the last second this token's use was recorded: a token
	// used many times a second takes the batch's lock once a second.
	touched atomic.Int64
}

// maxEntries bounds the credential cache and the failure counts.
const maxEntries = 100_000

// limiter counts failed sign-ins per (username, client address) in fixed
// windows.
type limiter struct {
	max    int
	window time.Duration
	mu     sync.Mutex
	m      map[limitKey]*failures
}

type limitKey struct {
	username string
	client   netip.Addr
}

type failures struct {
	count int
	start time.Time
}

func newLimiter(max int, window time.Duration) *limiter {
	return &limiter{max: max, window: window, m: map[limitKey]*failures{}}
}

// blocked returns how long the pair must wait, or 0.
func (l *limiter) blocked(username string, client netip.Addr, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.m[limitKey{username, client}]
	if !ok || f.count < l.max {
		return 0
	}
	if end := f.start.Add(l.window); now.Before(end) {
		return end.Sub(now)
	}
	return 0
}

func (l *limiter) fail(username string, client netip.Addr, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) >= maxEntries {
		for k, f := range l.m {
			if !now.Before(f.start.Add(l.window)) {
				delete(l.m, k)
			}
		}
	}
	k := limitKey{username, client}
	f, ok := l.m[k]
	if !ok || !now.Before(f.start.Add(l.window)) {
		f = &failures{start: now}
		l.m[k] = f
	}
	f.count++
}

func (l *limiter) succeed(username string, client netip.Addr) {
	l.mu.Lock()
	delete(l.m, limitKey{username, client})
	l.mu.Unlock()
}
