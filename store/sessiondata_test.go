package store

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSessionData(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		d := s.SessionData()
		require.NoError(t, d.Commit("k1", []byte("v1"), time.Now().Add(time.Hour)))
		require.NoError(t, d.Commit("k1", []byte("v2"), time.Now().Add(time.Hour)), "a commit replaces")
		b, ok, err := d.Find("k1")
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, "v2", string(b))
		require.NoError(t, d.Commit("old", []byte("x"), time.Now().Add(-time.Second)))
		_, ok, err = d.Find("old")
		require.NoError(t, err)
		assert.False(t, ok, "expired data is not found")
		require.NoError(t, d.Delete("k1"))
		_, ok, _ = d.Find("k1")
		assert.False(t, ok)

		// Of many takers at once, one gets the data.
		require.NoError(t, d.Commit("once", []byte("state"), time.Now().Add(time.Minute)))
		var got atomic.Int32
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b, ok, err := d.TakeCtx(ctx, "once")
				if err == nil && ok && string(b) == "state" {
					got.Add(1)
				}
			}()
		}
		wg.Wait()
		assert.Equal(t, int32(1), got.Load())
		_, ok, err = d.TakeCtx(ctx, "once")
		require.NoError(t, err)
		assert.False(t, ok)

		n, err := s.PruneSessions(ctx, time.Now())
		require.NoError(t, err)
		assert.Zero(t, n)
		var left int
		require.NoError(t, s.db.GetContext(ctx, &left, "SELECT COUNT(*) FROM session_data"))
		assert.Zero(t, left, "pruned the expired row")
	})
}
