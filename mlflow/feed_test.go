package mlflow

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/internal/mlflowtest"
	"github.com/mlflowauth/mlflowauth/permission"
	"github.com/mlflowauth/mlflowauth/store"
	_ "github.com/mlflowauth/mlflowauth/store/sqlite"
)

// A rename published on the store's change feed reaches the lookup cache:
// the next decision uses the new name, not the one remembered for the TTL.
func TestNameChangesFromTheFeed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := store.Open(ctx, "sqlite:///"+filepath.Join(t.TempDir(), "auth.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	_, err = st.CreateUser(ctx, store.User{Username: "dave"})
	require.NoError(t, err)
	_, err = st.CreateRule(ctx, permission.Rule{Kind: permission.Experiment, Principal: permission.ForUser("dave"), Pattern: "^team-a/", Level: permission.Read})
	require.NoError(t, err)
	e, err := permission.NewEngine(ctx, st, permission.Config{})
	require.NoError(t, err)

	d := mlflowtest.New(t)
	d.AddExperiment("2", "team-b/churn")
	up, err := NewUpstream(UpstreamConfig{URL: d.URL(), Timeout: 2 * time.Second, TTL: time.Hour})
	require.NoError(t, err)
	a, err := NewAuthorizer(Config{Engine: e, Lookups: up, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	f := &fixture{a: a, d: d, up: up}

	// What a gateway does with the feed: deltas to the engine, name
	// changes to the lookup cache, a resync empties it.
	go st.Follow(ctx, e, store.FollowOptions{Poll: 50 * time.Millisecond, OnChange: func(c store.Change) {
		if c.Seq == 0 {
			up.ForgetAll()
		}
		for _, ev := range c.Events {
			if ev.Op == store.OpNameChange && ev.Resource != nil {
				up.ForgetResource(*ev.Resource, ev.Name)
			}
		}
	}})

	get := "/api/2.0/mlflow/experiments/get?experiment_id=2"
	assert.Equal(t, 403, first(f.do("dave", "GET", get, "", "")), "team-b/churn")
	d.AddExperiment("2", "team-a/churn") // renamed in MLflow
	assert.Equal(t, 403, first(f.do("dave", "GET", get, "", "")), "the old name is remembered for the TTL")
	require.NoError(t, st.PublishNameChange(ctx, permission.Resource{Kind: permission.Experiment, ID: "2", Name: "team-b/churn"}, "team-a/churn"))
	assert.Eventually(t, func() bool { return first(f.do("dave", "GET", get, "", "")) == 200 }, 10*time.Second, 20*time.Millisecond,
		"the feed's name change drops the cached name")
}

func TestForgetResource(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.d.AddExperiment("2", "team-b/churn")
	name, err := f.up.ExperimentName(ctx, "2")
	require.NoError(t, err)
	require.Equal(t, "team-b/churn", name)
	_, err = f.up.ExperimentByName(ctx, "team-z/new")
	require.ErrorIs(t, err, ErrNotFound, "remembered as missing")
	_, _, err = f.up.GatewayEndpoint(ctx, "ep-1", "")
	require.NoError(t, err)
	before := f.d.Calls.Load()
	f.up.ForgetResource(permission.Resource{Kind: permission.Experiment, ID: "02", Name: "team-b/churn"}, "team-z/new")
	f.up.ForgetResource(permission.Resource{Kind: permission.GatewayEndpoint, ID: "ep-1", Name: "chat"}, "chat-2")
	_, _ = f.up.ExperimentName(ctx, "2")
	_, _ = f.up.ExperimentByName(ctx, "team-z/new")
	_, _, _ = f.up.GatewayEndpoint(ctx, "ep-1", "")
	assert.Equal(t, before+3, f.d.Calls.Load(), "each forgotten entry is fetched again")
	f.up.ForgetAll()
	_, _ = f.up.ExperimentName(ctx, "2")
	assert.Equal(t, before+4, f.d.Calls.Load())
}
