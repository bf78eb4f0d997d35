package mlflow

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/internal/mlflowtest"
	"github.com/mlflowauth/mlflowauth/permission"
)

// GatewayID resolves the names mlflow-oidc-auth's routes use to the ids
// grants are kept by, and remembers them.
func TestGatewayID(t *testing.T) {
	d := mlflowtest.New(t)
	up, err := NewUpstream(UpstreamConfig{URL: d.URL(), Timeout: 2 * time.Second})
	require.NoError(t, err)
	ctx := context.Background()
	for _, c := range []struct {
		kind       permission.Kind
		name, want string
	}{
		{permission.GatewayEndpoint, "chat", "ep-1"},
		{permission.GatewaySecret, "team-b-key", "sec-2"},
		{permission.GatewayModelDefinition, "gpt", "md-1"},
	} {
		got, err := up.GatewayID(ctx, c.kind, c.name)
		require.NoError(t, err, c.name)
		assert.Equal(t, c.want, got, c.name)
	}
	calls := d.Calls.Load()
	_, err = up.GatewayID(ctx, permission.GatewaySecret, "team-b-key")
	require.NoError(t, err)
	assert.Equal(t, calls, d.Calls.Load(), "cached")
	_, err = up.GatewayID(ctx, permission.GatewaySecret, "no-such-key")
	assert.ErrorIs(t, err, ErrNotFound)
	_, err = up.GatewayID(ctx, permission.Experiment, "x")
	assert.ErrorIs(t, err, ErrBadID)
	d.Down.Store(true)
	_, err = up.GatewayID(ctx, permission.GatewayModelDefinition, "team-b-gpt")
	assert.ErrorIs(t, err, ErrUnavailable, "MLflow down is not \"no such object\"")
}
