package gateway

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/internal/testenv"
)

// Against the real Redis: of many replicas taking one pending sign-in at
// once, one gets it.
func TestRedisStoreTake(t *testing.T) {
	client, prefix := testenv.Redis(t)
	ctx := context.Background()
	s := NewRedisStore(client, prefix)
	require.NoError(t, s.CommitCtx(ctx, "login", []byte("state"), time.Now().Add(time.Minute)))
	b, ok, err := s.FindCtx(ctx, "login")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "state", string(b), "still an scs store")
	var got atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if b, ok, err := s.TakeCtx(ctx, "login"); err == nil && ok && string(b) == "state" {
				got.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), got.Load())
	_, ok, err = s.TakeCtx(ctx, "login")
	require.NoError(t, err)
	assert.False(t, ok)
}
