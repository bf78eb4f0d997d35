package basic

import (
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// BenchmarkBasicToken is a request with an access token after its first
// use: parse, checksum, SHA-256, cache. Guard: at most 1 µs.
func BenchmarkBasicToken(b *testing.B) {
	f := newFixture(b, nil)
	f.user(b, "alice", "")
	secret, _ := f.token(b, "alice", time.Now().Add(time.Hour))
	r := httptest.NewRequest("GET", "/api/2.0/mlflow/runs/get", nil)
	r.SetBasicAuth("alice", secret)
	if _, err := f.a.Authenticate(r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.a.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBasicPasswordCached is a request with a password after its
// first use: parse and the HMAC cache key, no hashing. Guard: at most 1 µs.
func BenchmarkBasicPasswordCached(b *testing.B) {
	f := newFixture(b, nil)
	f.user(b, "alice", "alice-password-0001")
	r := httptest.NewRequest("GET", "/api/2.0/mlflow/runs/get", nil)
	r.SetBasicAuth("alice", "alice-password-0001")
	if _, err := f.a.Authenticate(r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.a.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBasicPasswordBurst: 50 users with argon2id passwords sign in at
// the same moment with a cold cache, the semaphore at its default (one
// slot per CPU). It reports how many were answered at once and how many got
// 503 and Retry-After (a client retries), and the time for the whole burst.
func BenchmarkBasicPasswordBurst(b *testing.B) {
	f := newFixture(b, nil)
	const users = 50
	names := make([]string, users)
	for i := range names {
		names[i] = "user" + itoa(int64(i))
		f.user(b, names[i], "password-of-"+names[i])
	}
	var ok, busy int
	b.ResetTimer()
	for b.Loop() {
		f.a.ForgetAll()
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, n := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := f.auth(n, "password-of-"+n)
				mu.Lock()
				if err == nil {
					ok++
				} else if status(err) == 503 {
					busy++
				}
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
	}
	b.ReportMetric(float64(ok)/float64(b.N), "ok/burst")
	b.ReportMetric(float64(busy)/float64(b.N), "503/burst")
}
