package gateway

import (
	"context"
	"errors"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/redis/go-redis/v9"
)

// RedisStore is scs's Redis store (sessions and pending sign-ins under
// prefix) that can also take a value: read and delete it in one command
// (GETDEL), so a pending sign-in is used once across replicas.
type RedisStore struct {
	*goredisstore.RedisStore
	client *redis.Client
	prefix string
}

// NewRedisStore returns a RedisStore on client (SESSION_KEY_PREFIX as
// prefix).
func NewRedisStore(client *redis.Client, prefix string) *RedisStore {
	return &RedisStore{RedisStore: goredisstore.NewWithPrefix(client, prefix), client: client, prefix: prefix}
}

// TakeCtx returns the value under token and deletes it, atomically.
func (s *RedisStore) TakeCtx(ctx context.Context, token string) ([]byte, bool, error) {
	b, err := s.client.GetDel(ctx, s.prefix+token).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}
