package mlflow

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/internal/mlflowtest"
	"github.com/mlflowauth/mlflowauth/internal/testenv"
	"github.com/mlflowauth/mlflowauth/permission"
	"github.com/mlflowauth/mlflowauth/store"
)

// replica is one gateway process: its own store handle, engine following
// the feed, and HTTP server in front of the MLflow double.
type replica struct {
	st  *store.Store
	e   *permission.Engine
	a   *Authorizer
	url string // the replica's HTTP server
}

func newReplica(t *testing.T, ctx context.Context, uri string, d *mlflowtest.Double, poll time.Duration, grants func(*store.Store) Grants) *replica {
	t.Helper()
	st, err := store.OpenWith(ctx, uri, store.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	e, err := permission.NewEngine(ctx, st, permission.Config{})
	require.NoError(t, err)
	up, err := NewUpstream(UpstreamConfig{URL: d.URL(), Timeout: 2 * time.Second})
	require.NoError(t, err)
	registered := make(chan struct{}, 1)
	go st.Follow(ctx, e, store.FollowOptions{Poll: poll, OnChange: func(c store.Change) {
		for _, ev := range c.Events {
			if ev.Op == store.OpNameChange && ev.Resource != nil {
				up.ForgetResource(*ev.Resource, ev.Name)
			}
		}
		select {
		case registered <- struct{}{}:
		default:
		}
	}})
	// A write this replica sees proves its follower is registered.
	require.NoError(t, st.PublishNameChange(ctx, permission.Resource{Kind: permission.Experiment, ID: "999"}, ""))
	select {
	case <-registered:
	case <-time.After(10 * time.Second):
		t.Fatal("the follower never started")
	}
	a, err := NewAuthorizer(Config{Engine: e, Lookups: up, Grants: grants(st), Sync: st.Sync, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	srv := httptest.NewServer(gatewayHandler(a, d.URL()))
	t.Cleanup(srv.Close)
	return &replica{st: st, e: e, a: a, url: srv.URL}
}

func (rp *replica) do(t *testing.T, user, method, target, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, rp.url+target, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("X-Test-User", user)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

func storeGrants(st *store.Store) Grants { return st }

func newStoreURI(t *testing.T, ctx context.Context, users ...store.User) string {
	uri := "sqlite:///" + filepath.Join(t.TempDir(), "auth.db")
	st, err := store.OpenWith(ctx, uri, store.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer st.Close()
	for _, u := range users {
		_, err := st.CreateUser(ctx, u)
		require.NoError(t, err)
	}
	return uri
}

func TestCreatorGetsManage(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	uri := newStoreURI(t, ctx, store.User{Username: "dave"}, store.User{Username: "erin"}, store.User{Username: "root", Admin: true})
	d := mlflowtest.New(t)
	one := newReplica(t, ctx, uri, d, 50*time.Millisecond, storeGrants)

	// An experiment, then at once a run in it: the grant is in place
	// before the answer goes out.
	code, body := one.do(t, "dave", "POST", "/api/2.0/mlflow/experiments/create", `{"name":"dave/churn"}`)
	require.Equal(t, 200, code, body)
	exp, _ := body["experiment_id"].(string)
	require.NotEmpty(t, exp)
	code, _ = one.do(t, "dave", "POST", "/api/2.0/mlflow/runs/create", `{"experiment_id":"`+exp+`"}`)
	assert.Equal(t, 200, code, "the creator's next call succeeds at once")
	code, _ = one.do(t, "dave", "GET", "/api/2.0/mlflow/experiments/get?experiment_id="+exp, "")
	assert.Equal(t, 200, code)
	code, _ = one.do(t, "erin", "POST", "/api/2.0/mlflow/runs/create", `{"experiment_id":"`+exp+`"}`)
	assert.Equal(t, 403, code, "nobody else")
	grants, err := one.st.ListGrants(ctx, store.GrantFilter{})
	require.NoError(t, err)
	assert.Contains(t, grants, permission.Grant{Resource: permission.Resource{Kind: permission.Experiment, ID: exp},
		Principal: permission.ForUser("dave"), Level: permission.Manage}, "written to the store")

	// A registered model and a prompt (by its tag), a gateway secret.
	code, _ = one.do(t, "dave", "POST", "/api/2.0/mlflow/registered-models/create", `{"name":"dave-model"}`)
	require.Equal(t, 200, code)
	code, _ = one.do(t, "dave", "POST", "/api/2.0/mlflow/registered-models/create",
		`{"name":"dave-prompt","tags":[{"key":"mlflow.prompt.is_prompt","value":"true"}]}`)
	require.Equal(t, 200, code)
	code, body = one.do(t, "dave", "POST", "/api/3.0/mlflow/gateway/secrets/create", `{"secret_name":"dave-key","secret_value":"sk-1"}`)
	require.Equal(t, 200, code)
	secret := body["secret"].(map[string]any)["secret_id"].(string)
	snap := one.e.Snapshot()
	dave := snap.Subject("dave", nil)
	for _, r := range []permission.Resource{
		{Kind: permission.RegisteredModel, ID: "dave-model"},
		{Kind: permission.Prompt, ID: "dave-prompt"},
		{Kind: permission.GatewaySecret, ID: secret},
	} {
		d := snap.Decide(dave, r)
		assert.Equal(t, permission.Manage, d.Level, r.String())
		assert.Equal(t, permission.SourceUser, d.Source, r.String())
	}

	// Grants follow a rename and go with a delete.
	code, _ = one.do(t, "dave", "POST", "/api/2.0/mlflow/registered-models/rename", `{"name":"dave-model","new_name":"dave-model-2"}`)
	require.Equal(t, 200, code)
	snap = one.e.Snapshot()
	assert.Equal(t, permission.SourceUser, snap.Decide(dave, permission.Resource{Kind: permission.RegisteredModel, ID: "dave-model-2"}).Source)
	assert.NotEqual(t, permission.SourceUser, snap.Decide(dave, permission.Resource{Kind: permission.RegisteredModel, ID: "dave-model"}).Source,
		"the old name keeps nothing: a model made under it later is not dave's")
	code, _ = one.do(t, "dave", "DELETE", "/api/2.0/mlflow/registered-models/delete", `{"name":"dave-model-2"}`)
	require.Equal(t, 200, code)
	assert.NotEqual(t, permission.SourceUser, one.e.Snapshot().Decide(dave, permission.Resource{Kind: permission.RegisteredModel, ID: "dave-model-2"}).Source)

	// An admin's create is granted too, as MLflow does.
	code, body = one.do(t, "root", "POST", "/api/2.0/mlflow/experiments/create", `{"name":"shared/x"}`)
	require.Equal(t, 200, code)
	assert.Equal(t, permission.SourceUser, one.e.Snapshot().Decide(permission.Subject{Username: "root", Active: true},
		permission.Resource{Kind: permission.Experiment, ID: body["experiment_id"].(string)}).Source)
}

func TestCreateRefusals(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	uri := newStoreURI(t, ctx, store.User{Username: "dave"}, store.User{Username: "off", Deactivated: true})
	d := mlflowtest.New(t)
	one := newReplica(t, ctx, uri, d, 50*time.Millisecond, storeGrants)
	calls := d.Calls.Load()
	made := d.Made.Load()

	code, body := one.do(t, "zed", "POST", "/api/2.0/mlflow/experiments/create", `{"name":"zed/x"}`)
	assert.Equal(t, 403, code, "a user the store does not know could never reach it")
	assert.Contains(t, body["message"], "not registered")
	code, _ = one.do(t, "off", "POST", "/api/2.0/mlflow/experiments/create", `{"name":"off/x"}`)
	assert.Equal(t, 403, code)
	code, body = one.do(t, "dave", "POST", "/api/2.0/mlflow/experiments/create", `{"name":"dave/x","artifact_location":"s3://elsewhere"}`)
	assert.Equal(t, 403, code)
	assert.Contains(t, body["message"], "artifact_location")
	code, _ = one.do(t, "dave", "POST", "/api/2.0/mlflow/experiments/create", `{"name":"a","Name":"b"}`)
	assert.Equal(t, 400, code, "two spellings")
	assert.Equal(t, made, d.Made.Load(), "nothing was made")
	assert.Equal(t, calls, d.Calls.Load())

	// The store unreachable: 503 before anything is made.
	broken := newReplica(t, ctx, uri, d, 50*time.Millisecond, func(st *store.Store) Grants { return downGrants{st} })
	code, body = broken.do(t, "dave", "POST", "/api/2.0/mlflow/experiments/create", `{"name":"dave/y"}`)
	assert.Equal(t, 503, code)
	assert.Equal(t, "TEMPORARILY_UNAVAILABLE", body["error_code"])
	assert.Equal(t, made, d.Made.Load(), "nothing was made")
}

// downGrants is a store that cannot be reached.
type downGrants struct{ Grants }

func (downGrants) AccountStatus(context.Context, string) (bool, bool, error) {
	return false, false, errors.New("dial tcp 127.0.0.1:5432: connection refused")
}

func TestRestrictedCreation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	uri := newStoreURI(t, ctx, store.User{Username: "dave"})
	st, err := store.OpenWith(ctx, uri, store.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	_, err = st.CreateRule(ctx, permission.Rule{Kind: permission.Experiment, Principal: permission.ForUser("dave"), Pattern: "^dave/", Level: permission.Edit})
	require.NoError(t, err)
	st.Close()
	d := mlflowtest.New(t)
	one := newReplica(t, ctx, uri, d, 50*time.Millisecond, storeGrants)
	e, err := permission.NewEngine(ctx, one.st, permission.Config{RestrictCreation: true})
	require.NoError(t, err)
	one.a.cfg.Engine = e
	code, _ := one.do(t, "dave", "POST", "/api/2.0/mlflow/experiments/create", `{"name":"dave/ok"}`)
	assert.Equal(t, 200, code)
	code, body := one.do(t, "dave", "POST", "/api/2.0/mlflow/experiments/create", `{"name":"prod/no"}`)
	assert.Equal(t, 403, code)
	assert.Contains(t, body["message"], "prod/no")
}

// Two replicas on one store: what one writes, the other sees at once on a
// refusal's re-check, though its own feed poll is an hour away.
func TestCreateAcrossReplicas(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	uri := newStoreURI(t, ctx, store.User{Username: "dave"})
	d := mlflowtest.New(t)
	one := newReplica(t, ctx, uri, d, 50*time.Millisecond, storeGrants)
	two := newReplica(t, ctx, uri, d, time.Hour, storeGrants)
	code, body := one.do(t, "dave", "POST", "/api/2.0/mlflow/experiments/create", `{"name":"dave/across"}`)
	require.Equal(t, 200, code)
	exp := body["experiment_id"].(string)
	before := two.e.Seq()
	code, _ = two.do(t, "dave", "POST", "/api/2.0/mlflow/runs/create", `{"experiment_id":"`+exp+`"}`)
	assert.Equal(t, 200, code, "the refusal re-checked the store")
	assert.Greater(t, two.e.Seq(), before)
}

// Scorers and gateway endpoints: the creator gets MANAGE; a scorer
// registered again keeps the grant it had; deletes take grants away.
func TestCreatorGrantsOtherKinds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	uri := newStoreURI(t, ctx, store.User{Username: "dave"})
	st, err := store.OpenWith(ctx, uri, store.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	require.NoError(t, st.PutGrant(ctx, permission.Grant{Resource: permission.Resource{Kind: permission.Experiment, ID: "1"}, Principal: permission.ForUser("dave"), Level: permission.Edit}))
	require.NoError(t, st.PutGrant(ctx, permission.Grant{Resource: permission.Resource{Kind: permission.GatewayModelDefinition, ID: "md-1"}, Principal: permission.ForUser("dave"), Level: permission.Use}))
	st.Close()
	d := mlflowtest.New(t)
	one := newReplica(t, ctx, uri, d, 50*time.Millisecond, storeGrants)
	dave := permission.Subject{Username: "dave", Active: true}
	scorer := permission.Resource{Kind: permission.Scorer, ID: "1", Name: "relevance"}

	code, _ := one.do(t, "dave", "POST", "/api/3.0/mlflow/scorers/register", `{"experiment_id":"1","name":"relevance","serialized_scorer":"{}"}`)
	require.Equal(t, 200, code)
	assert.Equal(t, permission.Manage, one.e.Snapshot().Decide(dave, scorer).Level)
	require.NoError(t, one.st.PutGrant(ctx, permission.Grant{Resource: scorer, Principal: permission.ForUser("dave"), Level: permission.Edit}))
	code, _ = one.do(t, "dave", "POST", "/api/3.0/mlflow/scorers/register", `{"experiment_id":"1","name":"relevance","serialized_scorer":"{}"}`)
	require.Equal(t, 200, code)
	assert.Equal(t, permission.Edit, one.e.Snapshot().Decide(dave, scorer).Level, "registering again (version 2) changes no grant, as in MLflow")
	code, _ = one.do(t, "dave", "DELETE", "/api/3.0/mlflow/scorers/delete", `{"experiment_id":"1","name":"relevance"}`)
	require.Equal(t, 403, code, "deleting needs MANAGE")
	require.NoError(t, one.st.PutGrant(ctx, permission.Grant{Resource: scorer, Principal: permission.ForUser("dave"), Level: permission.Manage}))
	code, _ = one.do(t, "dave", "DELETE", "/api/3.0/mlflow/scorers/delete", `{"experiment_id":"1","name":"relevance"}`)
	require.Equal(t, 200, code)
	assert.NotEqual(t, permission.SourceUser, one.e.Snapshot().Decide(dave, scorer).Source, "gone with the scorer")

	code, body := one.do(t, "dave", "POST", "/api/3.0/mlflow/gateway/endpoints/create", `{"name":"dave-chat","model_configs":[{"model_definition_id":"md-1"}]}`)
	require.Equal(t, 200, code)
	ep := body["endpoint"].(map[string]any)["endpoint_id"].(string)
	endpoint := permission.Resource{Kind: permission.GatewayEndpoint, ID: ep}
	assert.Equal(t, permission.Manage, one.e.Snapshot().Decide(dave, endpoint).Level)
	code, _ = one.do(t, "dave", "DELETE", "/api/3.0/mlflow/gateway/endpoints/delete", `{"endpoint_id":"`+ep+`"}`)
	require.Equal(t, 200, code)
	assert.NotEqual(t, permission.SourceUser, one.e.Snapshot().Decide(dave, endpoint).Source)
}

// A rename on one replica moves the grants on the other too.
func TestRenameAcrossReplicas(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	uri := newStoreURI(t, ctx, store.User{Username: "dave"})
	d := mlflowtest.New(t)
	one := newReplica(t, ctx, uri, d, 50*time.Millisecond, storeGrants)
	two := newReplica(t, ctx, uri, d, 50*time.Millisecond, storeGrants)
	code, _ := one.do(t, "dave", "POST", "/api/2.0/mlflow/registered-models/create", `{"name":"m1"}`)
	require.Equal(t, 200, code)
	code, _ = one.do(t, "dave", "POST", "/api/2.0/mlflow/registered-models/rename", `{"name":"m1","new_name":"m2"}`)
	require.Equal(t, 200, code)
	dave := permission.Subject{Username: "dave", Active: true}
	assert.Eventually(t, func() bool {
		s := two.e.Snapshot()
		return s.Decide(dave, permission.Resource{Kind: permission.RegisteredModel, ID: "m2"}).Source == permission.SourceUser &&
			s.Decide(dave, permission.Resource{Kind: permission.RegisteredModel, ID: "m1"}).Source != permission.SourceUser
	}, 10*time.Second, 20*time.Millisecond, "the other replica follows the feed")
}

// Another gateway process on the same store: the creator's next call on
// it succeeds (a refusal re-checks the store; its own feed poll is an
// hour away), and a search's continuation token from this process goes
// on there.
func TestSecondProcess(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	uri := newStoreURI(t, ctx, store.User{Username: "dave"})
	st, err := store.OpenWith(ctx, uri, store.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	for _, id := range []string{"1005", "1100", "1190"} {
		require.NoError(t, st.PutGrant(ctx, permission.Grant{Resource: permission.Resource{Kind: permission.Experiment, ID: id}, Principal: permission.ForUser("dave"), Level: permission.Read}))
	}
	st.Close()
	d := mlflowtest.New(t)
	d.Catalog = catalogOf(200)
	one := newReplica(t, ctx, uri, d, 50*time.Millisecond, storeGrants)
	one.a.secret = []byte("shared")
	two := &replica{url: testenv.StartServer(t, "MLFLOWAUTH_TEST_REPLICA_STORE="+uri, "MLFLOWAUTH_TEST_REPLICA_MLFLOW="+d.URL(), "MLFLOWAUTH_TEST_REPLICA_KEY=shared")}

	code, body := one.do(t, "dave", "POST", "/api/2.0/mlflow/experiments/create", `{"name":"dave/elsewhere"}`)
	require.Equal(t, 200, code)
	exp := body["experiment_id"].(string)
	code, _ = two.do(t, "dave", "POST", "/api/2.0/mlflow/runs/create", `{"experiment_id":"`+exp+`"}`)
	assert.Equal(t, 200, code, "the other process sees the creator's grant")
	code, _ = two.do(t, "nobody", "POST", "/api/2.0/mlflow/runs/create", `{"experiment_id":"`+exp+`"}`)
	assert.Equal(t, 403, code)

	code, body = one.do(t, "dave", "POST", "/api/2.0/mlflow/experiments/search", `{"max_results":2}`)
	require.Equal(t, 200, code)
	token, _ := body["next_page_token"].(string)
	require.NotEmpty(t, token)
	code, body = two.do(t, "dave", "POST", "/api/2.0/mlflow/experiments/search", `{"max_results":2,"page_token":"`+token+`"}`)
	require.Equal(t, 200, code, body)
	exps, _ := body["experiments"].([]any)
	require.Len(t, exps, 1)
	assert.Equal(t, "1190", exps[0].(map[string]any)["experiment_id"], "the second process goes on where the first stopped")
	assert.Empty(t, body["next_page_token"])
}

// TestCreateEndsNotFound: a "does not exist" remembered for a name ends
// with the create that makes it on this replica (the creator reads at
// once), and a write never trusts a remembered one.
func TestCreateEndsNotFound(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	uri := newStoreURI(t, ctx, store.User{Username: "dave"})
	d := mlflowtest.New(t)
	one := newReplica(t, ctx, uri, d, 50*time.Millisecond, storeGrants)

	code, _ := one.do(t, "dave", "GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=fresh", "")
	require.Equal(t, 404, code, "MLflow's own answer; the gateway now remembers the name is free")
	code, body := one.do(t, "dave", "POST", "/api/2.0/mlflow/experiments/create", `{"name":"fresh"}`)
	require.Equal(t, 200, code, body)
	exp, _ := body["experiment_id"].(string)
	id, err := one.a.cfg.Lookups.ExperimentByName(ctx, "fresh")
	require.NoError(t, err, "the remembered \"does not exist\" ended with the create")
	assert.Equal(t, exp, id)

	// Made behind this replica's back (another replica): a "does not
	// exist" is never remembered, so the next request sees it.
	up, err := NewUpstream(UpstreamConfig{URL: d.URL(), Timeout: 2 * time.Second})
	require.NoError(t, err)
	_, err = up.ExperimentByName(ctx, "elsewhere")
	require.ErrorIs(t, err, ErrNotFound)
	d.AddExperiment("555", "elsewhere")
	id, err = up.ExperimentByName(ctx, "elsewhere")
	require.NoError(t, err, "asked MLflow again")
	assert.Equal(t, "555", id)
}

// TestDeleteDropsEveryKind: whether a name is a prompt or a model is a
// cached belief a tag can change; a delete (and a rename) takes the
// grants of both kinds, so nothing stays on the name for an object made
// under it later (squatting).
func TestDeleteDropsEveryKind(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	uri := newStoreURI(t, ctx, store.User{Username: "dave"})
	d := mlflowtest.New(t)
	one := newReplica(t, ctx, uri, d, 50*time.Millisecond, storeGrants)
	dave := permission.Subject{Username: "dave", Active: true}
	for _, name := range []string{"squat", "moved"} {
		code, _ := one.do(t, "dave", "POST", "/api/2.0/mlflow/registered-models/create", `{"name":"`+name+`"}`)
		require.Equal(t, 200, code)
		// Made a prompt behind the cache's back: a prompt grant too.
		require.NoError(t, one.st.PutGrant(ctx, permission.Grant{Resource: permission.Resource{Kind: permission.Prompt, ID: name},
			Principal: permission.ForUser("dave"), Level: permission.Manage}))
	}
	code, _ := one.do(t, "dave", "DELETE", "/api/2.0/mlflow/registered-models/delete", `{"name":"squat"}`)
	require.Equal(t, 200, code)
	code, _ = one.do(t, "dave", "POST", "/api/2.0/mlflow/registered-models/rename", `{"name":"moved","new_name":"moved-2"}`)
	require.Equal(t, 200, code)
	grants, err := one.st.ListGrants(ctx, store.GrantFilter{})
	require.NoError(t, err)
	for _, g := range grants {
		assert.NotContains(t, []string{"squat", "moved"}, g.Resource.ID, "a grant left on the name: %v", g)
	}
	snap := one.e.Snapshot()
	for _, k := range []permission.Kind{permission.RegisteredModel, permission.Prompt} {
		assert.Equal(t, permission.SourceUser, snap.Decide(dave, permission.Resource{Kind: k, ID: "moved-2"}).Source, "%s grants moved", k)
	}
}

// renames counts the grants moved.
type renames struct {
	Grants
	moved atomic.Int32
}

func (g *renames) RenameResource(context.Context, permission.Resource, string) error {
	g.moved.Add(1)
	return nil
}

func (g *renames) PublishNameChange(context.Context, permission.Resource, string) error { return nil }

// A rename whose client leaves while MLflow works: MLflow's answer is
// still awaited, and the grants follow what MLflow did. A proxy that
// gives up without answering records nothing and answers 502.
func TestChangeOutlivesItsClient(t *testing.T) {
	f := newFixture(t)
	g := &renames{}
	f.a.cfg.Grants = g
	rename := func(ctx context.Context, next http.Handler) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/api/2.0/mlflow/registered-models/rename", strings.NewReader(`{"name":"churn-model","new_name":"churn-2"}`))
		r.Header.Set("Content-Type", "application/json")
		r = r.WithContext(auth.NewContext(ctx, &auth.Identity{Username: "alice", Method: auth.MethodBasic}))
		w := httptest.NewRecorder()
		f.a.Wrap(next).ServeHTTP(w, r)
		return w
	}

	ctx, cancel := context.WithCancel(context.Background())
	arrived := make(chan struct{})
	mlflowDone := make(chan struct{})
	var sawCancel atomic.Bool
	go func() { <-arrived; cancel(); close(mlflowDone) }()
	w := rename(ctx, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-mlflowDone
		time.Sleep(20 * time.Millisecond)
		sawCancel.Store(r.Context().Err() != nil)
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{}`)
	}))
	assert.False(t, sawCancel.Load(), "the request to MLflow is not cut when the client leaves")
	assert.Equal(t, 200, w.Code)
	moved := g.moved.Load()
	assert.Positive(t, moved, "MLflow renamed it: the grants moved (the model's and the prompt's of that name)")

	w = rename(context.Background(), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	assert.Equal(t, http.StatusBadGateway, w.Code)
	assert.Equal(t, moved, g.moved.Load(), "no answer: nothing recorded")
}
