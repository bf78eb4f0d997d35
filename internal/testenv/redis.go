package testenv

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Redis returns a client of the Redis at MLFLOWAUTH_TEST_REDIS_URL,
// checked to answer, and a key prefix of the test's own; the test's keys
// are deleted and the client closed when it ends.
func Redis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	opts, err := redis.ParseURL(RedisURL(t))
	if err != nil {
		t.Fatalf("MLFLOWAUTH_TEST_REDIS_URL: %v", err)
	}
	client := redis.NewClient(opts)
	if err := client.Ping(context.Background()).Err(); err != nil {
		client.Close()
		t.Fatalf("Redis at %s: %v", opts.Addr, err)
	}
	prefix := "mlflowauth:test:" + rand.Text()[:12] + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		if keys, _ := client.Keys(ctx, prefix+"*").Result(); len(keys) > 0 {
			client.Del(ctx, keys...)
		}
		client.Close()
	})
	return client, prefix
}
