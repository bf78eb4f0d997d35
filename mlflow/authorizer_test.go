package mlflow

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/semaphore"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/internal/mlflowtest"
	"github.com/mlflowauth/mlflowauth/permission"
)

const (
	recordedRun    = mlflowtest.RecordedRun             // experiment 1 in the recording
	otherTeamRun   = "0123456789abcdef0123456789abcdef" // experiment 2, made from it
	recordedTrace  = mlflowtest.RecordedTrace
	recordedModel  = mlflowtest.RecordedModel
	otherTeamTrace = "tr-0123456789abcdef0123456789abcdef" // experiment 2
	otherTeamModel = "m-0123456789abcdef0123456789abcdef"  // experiment 2
)

type fixture struct {
	a  *Authorizer
	d  *mlflowtest.Double
	up *Upstream
}

func newFixture(t *testing.T, rules ...permission.Rule) *fixture {
	d := mlflowtest.New(t)
	d.AddRun(otherTeamRun, "2")
	data := &permission.Data{
		Users: []permission.User{
			{Name: "alice", Active: true}, {Name: "bob", Active: true}, {Name: "root", Active: true, Admin: true},
			{Name: "gone", Active: false}, {Name: "carol", Active: true}, {Name: "dave", Active: true},
		},
		Grants: []permission.Grant{
			{Resource: permission.Resource{Kind: permission.Experiment, ID: "1"}, Principal: permission.ForUser("alice"), Level: permission.Read},
			{Resource: permission.Resource{Kind: permission.Experiment, ID: "2"}, Principal: permission.ForUser("bob"), Level: permission.Manage},
			{Resource: permission.Resource{Kind: permission.RegisteredModel, ID: "churn-model"}, Principal: permission.ForUser("alice"), Level: permission.Edit},
			{Resource: permission.Resource{Kind: permission.Scorer, ID: "1", Name: "relevance"}, Principal: permission.ForUser("alice"), Level: permission.Read},
			{Resource: permission.Resource{Kind: permission.Experiment, ID: "1"}, Principal: permission.ForUser("carol"), Level: permission.Edit},
			{Resource: permission.Resource{Kind: permission.RegisteredModel, ID: "churn-model"}, Principal: permission.ForUser("carol"), Level: permission.Edit},
		},
		Rules: rules,
	}
	e, err := permission.NewEngine(context.Background(), permission.LoaderFunc(func(context.Context) (*permission.Data, error) { return data, nil }), permission.Config{})
	require.NoError(t, err)
	up, err := NewUpstream(UpstreamConfig{URL: d.URL(), Timeout: 2 * time.Second})
	require.NoError(t, err)
	a, err := NewAuthorizer(Config{Engine: e, Lookups: up, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	return &fixture{a: a, d: d, up: up}
}

// do sends a request as user through the authorizer to a handler that
// answers 200, and returns the status and MLflow error code.
func (f *fixture) do(user, method, target, contentType, body string, header ...string) (int, string) {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	r = r.WithContext(auth.NewContext(r.Context(), &auth.Identity{Username: user, Method: auth.MethodBasic}))
	var forwarded string
	h := f.a.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			b, _ := io.ReadAll(r.Body)
			forwarded = string(b)
		}
		w.WriteHeader(http.StatusOK)
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code == http.StatusOK && body != "" && forwarded != body {
		return -1, "the body reached MLflow changed: " + forwarded
	}
	code := ""
	if w.Code != http.StatusOK {
		code = w.Body.String()
	}
	return w.Code, code
}

func TestAuthorizeRuns(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, user, method, target, ct, body string
		want                                 int
	}{
		{"run of a readable experiment", "alice", "GET", "/api/2.0/mlflow/runs/get?run_id=" + recordedRun, "", "", 200},
		{"by its old name run_uuid", "alice", "GET", "/api/2.0/mlflow/runs/get?run_uuid=" + recordedRun, "", "", 200},
		{"another team's run", "alice", "GET", "/api/2.0/mlflow/runs/get?run_id=" + otherTeamRun, "", "", 403},
		{"the owner of that run", "bob", "GET", "/ajax-api/2.0/mlflow/runs/get?run_id=" + otherTeamRun, "", "", 200},
		{"run_id and run_uuid disagreeing", "alice", "GET", "/api/2.0/mlflow/runs/get?run_id=" + recordedRun + "&run_uuid=" + otherTeamRun, "", "", 400},
		{"a run that does not exist goes to MLflow for its 404", "alice", "GET", "/api/2.0/mlflow/runs/get?run_id=00000000000000000000000000000000", "", "", 200},
		{"a malformed run id", "alice", "GET", "/api/2.0/mlflow/runs/get?run_id=../../etc", "", "", 400},
		{"logging needs update, alice reads only", "alice", "POST", "/api/2.0/mlflow/runs/log-metric", "application/json", `{"run_id":"` + recordedRun + `","key":"m","value":1,"timestamp":1,"step":0}`, 403},
		{"bob manages experiment 2", "bob", "POST", "/api/2.0/mlflow/runs/log-metric", "application/json", `{"run_id":"` + otherTeamRun + `","key":"m","value":1,"timestamp":1,"step":0}`, 200},
		{"Run_Id beside run_id", "bob", "POST", "/api/2.0/mlflow/runs/log-metric", "application/json", `{"run_id":"` + otherTeamRun + `","Run_Id":"` + recordedRun + `"}`, 400},
		{"runId spelling", "bob", "POST", "/api/2.0/mlflow/runs/log-batch", "application/json", `{"runId":"` + otherTeamRun + `","metrics":[]}`, 200},
		{"admins skip the lookups", "root", "GET", "/api/2.0/mlflow/runs/get?run_id=" + otherTeamRun, "", "", 200},
		{"a deactivated user", "gone", "GET", "/api/2.0/mlflow/runs/get?run_id=" + recordedRun, "", "", 403},
		{"upload-artifact reads the query even on POST", "alice", "POST", "/ajax-api/2.0/mlflow/upload-artifact?run_uuid=" + recordedRun + "&path=x", "application/octet-stream", "bytes", 403},
		{"get-artifact", "alice", "GET", "/get-artifact?path=model/MLmodel&run_uuid=" + recordedRun, "", "", 200},
		{"upload-artifact as MLflow's UI sends it", "bob", "POST", "/ajax-api/2.0/mlflow/upload-artifact?run_uuid=" + otherTeamRun + "&path=x", "application/json; charset=utf-8", `{"a":1}`, 200},
		{"upload-artifact in a type any page may post", "bob", "POST", "/ajax-api/2.0/mlflow/upload-artifact?run_uuid=" + otherTeamRun + "&path=x", "text/plain", "<script>", 400},
		{"upload-artifact form-encoded", "bob", "POST", "/ajax-api/2.0/mlflow/upload-artifact?run_uuid=" + otherTeamRun + "&path=x", "application/x-www-form-urlencoded", "a=b", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, body := f.do(tt.user, tt.method, tt.target, tt.ct, tt.body)
			assert.Equal(t, tt.want, got, body)
		})
	}
}

func TestAuthorizeExperimentsAndModels(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, user, method, target, ct, body string
		want                                 int
	}{
		{"by id", "alice", "GET", "/api/2.0/mlflow/experiments/get?experiment_id=1", "", "", 200},
		{"01 is experiment 1", "alice", "GET", "/api/2.0/mlflow/experiments/get?experiment_id=01", "", "", 200},
		{"02 is experiment 2", "alice", "GET", "/api/2.0/mlflow/experiments/get?experiment_id=02", "", "", 403},
		{"by name", "alice", "GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=team-b/nlp", "", "", 403},
		{"a name that does not exist: MLflow's 404 (set_experiment then creates)", "alice", "GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=no-such", "", "", 200},
		{"delete needs MANAGE", "alice", "POST", "/api/2.0/mlflow/experiments/delete", "application/json", `{"experiment_id":"1"}`, 403},
		{"a form-encoded POST", "bob", "POST", "/api/2.0/mlflow/experiments/update", "application/x-www-form-urlencoded", `experiment_id=2`, 400},
		{"model read", "alice", "GET", "/api/2.0/mlflow/registered-models/get?name=churn-model", "", "", 200},
		{"model version update", "alice", "PATCH", "/api/2.0/mlflow/model-versions/update", "application/json", `{"name":"churn-model","version":"1"}`, 200},
		{"model delete needs MANAGE", "alice", "DELETE", "/api/2.0/mlflow/registered-models/delete", "application/json", `{"name":"churn-model"}`, 403},
		// MLflow's handler reads a DELETE's body whatever its Content-Type:
		// the decoy in the query must not decide.
		{"DELETE with text/plain: the body decides, not the query", "alice", "DELETE", "/api/2.0/mlflow/registered-models/delete-tag?name=churn-model", "text/plain", `{"name":"someone-elses","key":"k"}`, 403},
		{"DELETE with the same name in both", "alice", "DELETE", "/api/2.0/mlflow/registered-models/delete-tag?name=someone-elses", "text/plain", `{"name":"churn-model","key":"k"}`, 200},
		{"scorer by experiment and name", "alice", "GET", "/api/3.0/mlflow/scorers/get?experiment_id=1&name=relevance", "", "", 200},
		{"another scorer", "alice", "GET", "/api/3.0/mlflow/scorers/get?experiment_id=1&name=safety", "", "", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, body := f.do(tt.user, tt.method, tt.target, tt.ct, tt.body)
			assert.Equal(t, tt.want, got, body)
		})
	}
}

func TestAuthorizeTracesModelsArtifacts(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, user, method, target string
		want                       int
	}{
		{"trace in the path", "alice", "GET", "/api/3.0/mlflow/traces/" + recordedTrace, 200},
		{"trace info v2", "alice", "GET", "/api/2.0/mlflow/traces/" + recordedTrace + "/info", 200},
		{"trace for bob", "bob", "GET", "/api/3.0/mlflow/traces/" + recordedTrace, 403},
		{"an encoded slash in a trace id", "alice", "GET", "/api/3.0/mlflow/traces/tr-4b2f%2F..%2F", 400},
		{"a malformed trace id", "alice", "GET", "/api/3.0/mlflow/traces/tr-zz", 400},
		{"logged model", "alice", "GET", "/api/2.0/mlflow/logged-models/" + recordedModel, 200},
		{"logged model delete", "alice", "DELETE", "/api/2.0/mlflow/logged-models/" + recordedModel, 403},
		{"artifact download in experiment 1", "alice", "GET", "/api/2.0/mlflow-artifacts/artifacts/1/" + recordedRun + "/artifacts/model/MLmodel", 200},
		{"artifact upload needs update", "alice", "PUT", "/api/2.0/mlflow-artifacts/artifacts/1/" + recordedRun + "/artifacts/x.bin", 403},
		{"artifact of experiment 2", "alice", "GET", "/api/2.0/mlflow-artifacts/artifacts/2/x", 403},
		{"artifact list by path query", "alice", "GET", "/api/2.0/mlflow-artifacts/artifacts?path=1/" + recordedRun + "/artifacts", 200},
		{"artifact path without an experiment", "alice", "GET", "/api/2.0/mlflow-artifacts/artifacts/models/x", 400},
		{"metrics of every run named", "alice", "GET", "/ajax-api/2.0/mlflow/metrics/get-history-bulk?run_id=" + recordedRun + "&run_id=" + otherTeamRun + "&metric_key=m", 403},
		{"metrics of runs alice reads", "alice", "GET", "/ajax-api/2.0/mlflow/metrics/get-history-bulk?run_id=" + recordedRun + "&metric_key=m", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, body := f.do(tt.user, tt.method, tt.target, "", "")
			assert.Equal(t, tt.want, got, body)
		})
	}
}

func TestAuthorizeEveryExperimentNamed(t *testing.T) {
	f := newFixture(t)
	assert.Equal(t, 200, first(f.do("alice", "POST", "/api/2.0/mlflow/runs/search", "application/json", `{"experiment_ids":["1"]}`)))
	assert.Equal(t, 403, first(f.do("alice", "POST", "/api/2.0/mlflow/runs/search", "application/json", `{"experiment_ids":["1","2"]}`)), "read-all: every id")
	assert.Equal(t, 403, first(f.do("alice", "POST", "/api/2.0/mlflow/runs/search", "application/json", `{"experiment_ids":[]}`)), "naming none is denied")
	assert.Equal(t, 403, first(f.do("alice", "POST", "/api/2.0/mlflow/runs/search", "application/json", `{"experimentIds":["2"]}`)), "any spelling")
	assert.Equal(t, 400, first(f.do("alice", "POST", "/api/2.0/mlflow/runs/search", "application/json", `{"experiment_ids":["1"],"experimentIds":["2"]}`)))
}

func first(code int, _ string) int { return code }

func TestAuthorizeReferences(t *testing.T) {
	f := newFixture(t)
	// A model version whose source is another team's run.
	mv := func(run, source string) string {
		return `{"name":"churn-model","run_id":"` + run + `","source":"` + source + `"}`
	}
	assert.Equal(t, 403, first(f.do("alice", "POST", "/api/2.0/mlflow/model-versions/create", "application/json", mv(otherTeamRun, "runs:/"+otherTeamRun+"/model"))))
	assert.Equal(t, 403, first(f.do("alice", "POST", "/api/2.0/mlflow/model-versions/create", "application/json", `{"name":"churn-model","source":"runs:/`+otherTeamRun+`/model"}`)), "the source alone")
	assert.Equal(t, 403, first(f.do("alice", "POST", "/api/2.0/mlflow/model-versions/create", "application/json", `{"name":"churn-model","source":"mlflow-artifacts:/2/x/artifacts/model"}`)))
	assert.Equal(t, 200, first(f.do("alice", "POST", "/api/2.0/mlflow/model-versions/create", "application/json", mv(recordedRun, "runs:/"+recordedRun+"/model"))))
	// A source the gateway cannot resolve could be any file MLflow reads:
	// admins only, in every spelling.
	for _, src := range []string{"s3://bucket/model", "file:///etc", "/etc", "dummy", "MODELS:/other-model/1", "RUNS:/" + otherTeamRun + "/model",
		"runs://host/" + otherTeamRun + "/model", "mlflow-artifacts:/1/../2/x", "mlflow-artifacts:/1/%2e%2e/2/x", "https://evil.example/api/2.0/mlflow-artifacts/artifacts/2/x",
		"http://127.0.0.1:5000/elsewhere/2/x", "mlflow-artifacts://x?/1/a", "mlflow-artifacts://x#/1/a", "runs:/" + recordedRun + "/.\\t./.\\t./x",
		" runs:/" + recordedRun + "/model", "models:/churn-model#v2/1", "models:/churn-model@prod/1", "models:/m-0123/1", "models:/a/b/c"} {
		assert.Equal(t, 403, first(f.do("alice", "POST", "/api/2.0/mlflow/model-versions/create", "application/json", `{"name":"churn-model","source":"`+src+`"}`)), src)
		assert.Equal(t, 403, first(f.do("alice", "POST", "/api/2.0/mlflow/model-versions/create", "application/json",
			`{"name":"churn-model","source":"`+src+`","tags":[{"key":"mlflow.prompt.is_prompt","value":"true"}]}`)), src+" as a prompt")
	}
	for _, src := range []string{"runs:/" + recordedRun + "/model", "RUNS:/" + recordedRun + "/model", "mlflow-artifacts:/1/x/artifacts/model",
		"MLflow-Artifacts://host:5000/1/x", "http://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/1/x", "models:/churn-model/1", "models:/churn-model@champion", "models:///churn-model/Production", "models://profile/churn-model/latest"} {
		assert.Equal(t, 200, first(f.do("alice", "POST", "/api/2.0/mlflow/model-versions/create", "application/json", `{"name":"churn-model","source":"`+src+`"}`)), src)
	}
	// A prompt's version: the placeholder MLflow's client sends, and nothing
	// else (MLflow does not check a prompt's source).
	prompt := `,"tags":[{"key":"mlflow.prompt.is_prompt","value":"true"}]}`
	assert.Equal(t, 200, first(f.do("alice", "POST", "/api/2.0/mlflow/model-versions/create", "application/json", `{"name":"churn-model","source":"dummy-source"`+prompt)))
	assert.Equal(t, 403, first(f.do("alice", "POST", "/api/2.0/mlflow/model-versions/create", "application/json", `{"name":"churn-model","source":"dummy-source"}`)),
		"the placeholder is a prompt's only")
	assert.Equal(t, 403, first(f.do("alice", "POST", "/api/2.0/mlflow/model-versions/create", "application/json", `{"name":"churn-model","source":"runs:/`+recordedRun+`/model"`+prompt)),
		"a readable source, but as a prompt MLflow would not check it")
	// A run that does not exist must not wave the model's own check through.
	assert.Equal(t, 403, first(f.do("bob", "POST", "/api/2.0/mlflow/model-versions/create", "application/json", mv("00000000000000000000000000000000", "s3://x"))))
	// The prompt tag needs MANAGE: alice has EDIT on churn-model.
	assert.Equal(t, 200, first(f.do("alice", "POST", "/api/2.0/mlflow/registered-models/set-tag", "application/json", `{"name":"churn-model","key":"team","value":"a"}`)))
	assert.Equal(t, 403, first(f.do("alice", "POST", "/api/2.0/mlflow/registered-models/set-tag", "application/json", `{"name":"churn-model","key":"mlflow.prompt.is_prompt","value":"true"}`)))
	// bob may update his run's experiment, but the trace he links is in
	// experiment 1, which he cannot read.
	body := `{"run_id":"` + otherTeamRun + `","trace_ids":["` + recordedTrace + `"]}`
	assert.Equal(t, 403, first(f.do("bob", "POST", "/api/2.0/mlflow/traces/link-to-run", "application/json", body)))
	assert.Equal(t, 200, first(f.do("bob", "POST", "/api/2.0/mlflow/traces/link-to-run", "application/json", `{"run_id":"`+otherTeamRun+`","trace_ids":[]}`)))
	assert.Equal(t, 200, first(f.do("alice", "POST", "/api/3.0/mlflow/traces/search", "application/json", `{"experiment_ids":["1"]}`)))
	assert.Equal(t, 403, first(f.do("alice", "POST", "/api/3.0/mlflow/traces/search", "application/json", `{"locations":[{"mlflow_experiment":{"experiment_id":"2"}}]}`)),
		"experiments named only in locations: none named is denied")
	assert.Equal(t, 200, first(f.do("alice", "GET", "/api/3.0/mlflow/traces/get?trace_id="+recordedTrace, "", "")))
}

// A prompt is decided by its prompt grants first (the recorded
// summarize-prompt is a registered model tagged mlflow.prompt.is_prompt).
func TestAuthorizePrompts(t *testing.T) {
	f := newFixture(t)
	e := f.a.cfg.Engine.(*permission.Engine)
	require.NoError(t, e.Apply(0,
		permission.PutGrant{Grant: permission.Grant{Resource: permission.Resource{Kind: permission.Prompt, ID: "summarize-prompt"}, Principal: permission.ForUser("dave"), Level: permission.Read}},
		permission.PutGrant{Grant: permission.Grant{Resource: permission.Resource{Kind: permission.RegisteredModel, ID: "summarize-prompt"}, Principal: permission.ForUser("carol"), Level: permission.Edit}},
		permission.PutGrant{Grant: permission.Grant{Resource: permission.Resource{Kind: permission.Prompt, ID: "churn-model"}, Principal: permission.ForUser("dave"), Level: permission.Manage}},
	))
	assert.Equal(t, 200, first(f.do("dave", "GET", "/api/2.0/mlflow/registered-models/get?name=summarize-prompt", "", "")), "a prompt grant")
	assert.Equal(t, 403, first(f.do("dave", "PATCH", "/api/2.0/mlflow/registered-models/update", "application/json", `{"name":"summarize-prompt","description":"x"}`)), "READ on the prompt")
	assert.Equal(t, 200, first(f.do("carol", "PATCH", "/api/2.0/mlflow/registered-models/update", "application/json", `{"name":"summarize-prompt","description":"x"}`)),
		"no prompt grant: the registered-model grant of the same name, as MLflow's admin API grants on prompts")
	assert.Equal(t, 403, first(f.do("dave", "GET", "/api/2.0/mlflow/registered-models/get?name=churn-model", "", "")), "a prompt grant does not open a model")
	calls := f.d.Calls.Load()
	assert.Equal(t, 200, first(f.do("dave", "GET", "/api/2.0/mlflow/registered-models/get?name=summarize-prompt", "", "")))
	assert.Equal(t, calls, f.d.Calls.Load(), "the prompt's kind is remembered")
}

// Bypass attempts of the issue not covered above.
func TestBypassAttempts(t *testing.T) {
	f := newFixture(t)
	// querystring_parser's list forms name every experiment.
	assert.Equal(t, 200, first(f.do("alice", "GET", "/api/2.0/mlflow/traces?experiment_ids[0]=1", "", "")))
	assert.Equal(t, 403, first(f.do("alice", "GET", "/api/2.0/mlflow/traces?experiment_ids[0]=1&experiment_ids[1]=2", "", "")))
	assert.Equal(t, 400, first(f.do("alice", "GET", "/api/2.0/mlflow/traces?experiment_ids[]=1&experimentIds=2", "", "")), "two spellings: refused")

	// A rename around RESTRICT_RESOURCE_CREATION: bob manages experiment 2
	// but no rule lets him name anything "prod/...".
	data := &permission.Data{
		Users:  []permission.User{{Name: "bob", Active: true}},
		Grants: []permission.Grant{{Resource: permission.Resource{Kind: permission.Experiment, ID: "2"}, Principal: permission.ForUser("bob"), Level: permission.Manage}},
		Rules:  []permission.Rule{{ID: 1, Kind: permission.Experiment, Principal: permission.ForUser("bob"), Pattern: "^bob/", Level: permission.Edit}},
	}
	e, err := permission.NewEngine(context.Background(), permission.LoaderFunc(func(context.Context) (*permission.Data, error) { return data, nil }),
		permission.Config{RestrictCreation: true})
	require.NoError(t, err)
	a, err := NewAuthorizer(Config{Engine: e, Lookups: f.up, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	f.d.AddExperiment("2", "team-b/churn") // with experiment rules, names are looked up
	g := &fixture{a: a, d: f.d, up: f.up}
	code, body := g.do("bob", "POST", "/api/2.0/mlflow/experiments/update", "application/json", `{"experiment_id":"2","new_name":"prod/churn"}`)
	assert.Equal(t, 403, code, body)
	assert.Contains(t, body, "Renaming to prod/churn needs EDIT")
	assert.Equal(t, 200, first(g.do("bob", "POST", "/api/2.0/mlflow/experiments/update", "application/json", `{"experiment_id":"2","new_name":"bob/churn"}`)))
	assert.Equal(t, 200, first(f.do("bob", "POST", "/api/2.0/mlflow/experiments/update", "application/json", `{"experiment_id":"2","new_name":"prod/churn"}`)),
		"without the restriction anyone who may update may rename")
}

func TestGatewayObjects(t *testing.T) {
	f := newFixture(t)
	e := f.a.cfg.Engine.(*permission.Engine)
	require.NoError(t, e.Apply(0, permission.PutGrant{Grant: permission.Grant{
		Resource: permission.Resource{Kind: permission.GatewayEndpoint, ID: "ep-1"}, Principal: permission.ForUser("dave"), Level: permission.Use}}))
	assert.Equal(t, 200, first(f.do("dave", "GET", "/api/3.0/mlflow/gateway/endpoints/get?endpoint_id=ep-1", "", "")))
	assert.Equal(t, 403, first(f.do("dave", "POST", "/api/3.0/mlflow/gateway/endpoints/update", "application/json", `{"endpoint_id":"ep-1"}`)))
	// A regex rule on endpoint names: the name is looked up, so the rule
	// decides endpoints dave holds no grant on.
	require.NoError(t, e.Apply(0, permission.PutRule{Rule: permission.Rule{ID: 9, Kind: permission.GatewayEndpoint,
		Principal: permission.ForUser("dave"), Pattern: "^other-", Level: permission.Use}}))
	calls := f.d.Calls.Load()
	assert.Equal(t, 200, first(f.do("dave", "GET", "/api/3.0/mlflow/gateway/endpoints/get?endpoint_id=ep-2", "", "")), "ep-2 is other-chat")
	assert.Greater(t, f.d.Calls.Load(), calls, "the name came from MLflow")
	assert.Equal(t, 200, first(f.do("dave", "GET", "/api/3.0/mlflow/gateway/endpoints/get?name=other-chat", "", "")), "by name")
	assert.Equal(t, 200, first(f.do("dave", "GET", "/api/3.0/mlflow/gateway/endpoints/get?endpoint_id=ep-1", "", "")), "the grant still holds")
	assert.Equal(t, 403, first(f.do("erin", "GET", "/api/3.0/mlflow/gateway/endpoints/get?name=other-chat", "", "")), "the rule is dave's")
	assert.Equal(t, 400, first(f.do("dave", "GET", "/api/3.0/mlflow/gateway/endpoints/get?endpoint_id=ep-1&name=chat", "", "")), "id and name: refused")
	assert.Equal(t, 200, first(f.do("root", "GET", "/api/3.0/mlflow/gateway/endpoints/get?endpoint_id=ep-1", "", "")))
	// Invocations name the endpoint in the path or the body's "model".
	assert.Equal(t, 200, first(f.do("dave", "POST", "/gateway/other-chat/mlflow/invocations", "application/json", `{"messages":[]}`)))
	assert.Equal(t, 403, first(f.do("dave", "POST", "/gateway/mlflow/v1/chat/completions", "application/json", `{"messages":[]}`)), "no model: refused")
	assert.Equal(t, 200, first(f.do("dave", "POST", "/gateway/mlflow/v1/chat/completions", "application/json", `{"model":"other-chat","messages":[]}`)))
	assert.Equal(t, 200, first(f.do("dave", "POST", "/gateway/openai/v1/embeddings", "application/json", `{"model":"chat-embed","input":"x"}`)), "no such endpoint: MLflow answers its own 404")

	// Secrets and model definitions: rules on names look the name up.
	require.NoError(t, e.Apply(0, permission.PutRule{Rule: permission.Rule{ID: 10, Kind: permission.GatewaySecret,
		Principal: permission.ForUser("dave"), Pattern: "^openai-", Level: permission.Read}}))
	require.NoError(t, e.Apply(0, permission.PutRule{Rule: permission.Rule{ID: 11, Kind: permission.GatewayModelDefinition,
		Principal: permission.ForUser("dave"), Pattern: "^team-b-", Level: permission.Edit}}))
	assert.Equal(t, 200, first(f.do("dave", "GET", "/api/3.0/mlflow/gateway/secrets/get?secret_id=sec-1", "", "")), "sec-1 is openai-key")
	assert.Equal(t, 403, first(f.do("dave", "GET", "/api/3.0/mlflow/gateway/secrets/get?secret_id=sec-2", "", "")), "sec-2 is team-b-key")
	assert.Equal(t, 403, first(f.do("dave", "POST", "/api/3.0/mlflow/gateway/secrets/update", "application/json", `{"secret_id":"sec-1"}`)), "READ does not update")
	assert.Equal(t, 200, first(f.do("dave", "POST", "/api/3.0/mlflow/gateway/model-definitions/update", "application/json", `{"model_definition_id":"md-2"}`)))
	assert.Equal(t, 403, first(f.do("dave", "GET", "/api/3.0/mlflow/gateway/model-definitions/get?model_definition_id=md-1", "", "")), "md-1 is gpt")
	assert.Equal(t, 403, first(f.do("erin", "GET", "/api/3.0/mlflow/gateway/model-definitions/get?model_definition_id=md-2", "", "")))
	f.d.Down.Store(true)
	f.up.Forget("gateway-"+permission.GatewaySecret.String(), "sec-1")
	assert.Equal(t, 503, first(f.do("dave", "GET", "/api/3.0/mlflow/gateway/secrets/get?secret_id=sec-1", "", "")), "a failed lookup is 503")
}

func TestDatasets(t *testing.T) {
	f := newFixture(t)
	assert.Equal(t, 200, first(f.do("alice", "GET", "/api/3.0/mlflow/datasets/d-1", "", "")), "linked to experiment 1")
	assert.Equal(t, 403, first(f.do("alice", "GET", "/api/3.0/mlflow/datasets/d-12/records", "", "")), "linked to 1 and 2: every one")
	assert.Equal(t, 403, first(f.do("alice", "DELETE", "/api/3.0/mlflow/datasets/d-1", "", "")), "update needed")
	assert.Equal(t, 403, first(f.do("alice", "GET", "/api/3.0/mlflow/datasets/d-0", "", "")), "linked to none: admins only")
	assert.Equal(t, 200, first(f.do("root", "GET", "/api/3.0/mlflow/datasets/d-0", "", "")))
	assert.Equal(t, 200, first(f.do("alice", "GET", "/api/3.0/mlflow/datasets/d-404", "", "")), "MLflow's own 404")
	assert.Equal(t, 400, first(f.do("alice", "GET", "/api/3.0/mlflow/datasets/d%20x", "", "")), "a malformed id")
}

func TestNestedIDs(t *testing.T) {
	f := newFixture(t)
	trace := func(exp string) string {
		return `{"trace":{"trace_info":{"trace_location":{"type":"MLFLOW_EXPERIMENT","mlflow_experiment":{"experiment_id":"` + exp + `"}}}}}`
	}
	assert.Equal(t, 200, first(f.do("carol", "POST", "/api/3.0/mlflow/traces", "application/json", trace("1"))))
	assert.Equal(t, 403, first(f.do("carol", "POST", "/api/3.0/mlflow/traces", "application/json", trace("2"))))
	assert.Equal(t, 403, first(f.do("carol", "POST", "/api/3.0/mlflow/traces", "application/json", `{"trace":{"trace_info":{"trace_location":{"type":"UC_SCHEMA"}}}}`)),
		"a trace in no experiment: anything else is denied")
	assert.Equal(t, 400, first(f.do("carol", "POST", "/api/3.0/mlflow/traces", "application/json",
		`{"trace":{"trace_info":{"trace_location":{"mlflow_experiment":{"experiment_id":"1","experimentId":"2"}}}}}`)), "ambiguity at depth")
	e := f.a.cfg.Engine.(*permission.Engine)
	require.NoError(t, e.Apply(0, permission.PutGrant{Grant: permission.Grant{
		Resource: permission.Resource{Kind: permission.GatewayModelDefinition, ID: "md-1"}, Principal: permission.ForUser("dave"), Level: permission.Use}}))
	assert.Equal(t, 200, first(f.do("dave", "POST", "/api/3.0/mlflow/gateway/endpoints/create", "application/json", `{"name":"chat","model_configs":[{"model_definition_id":"md-1"}]}`)))
	assert.Equal(t, 403, first(f.do("dave", "POST", "/api/3.0/mlflow/gateway/endpoints/create", "application/json", `{"name":"chat","model_configs":[{"model_definition_id":"md-1"},{"model_definition_id":"md-2"}]}`)))
}

func TestScorerInvokeAndLinkPrompts(t *testing.T) {
	f := newFixture(t)
	assert.Equal(t, 200, first(f.do("alice", "POST", "/ajax-api/3.0/mlflow/scorer/invoke", "application/json", `{"experiment_id":"1"}`)), "running reads")
	assert.Equal(t, 403, first(f.do("alice", "POST", "/ajax-api/3.0/mlflow/scorer/invoke", "application/json", `{"experiment_id":"1","log_assessments":true}`)), "logging writes")
	assert.Equal(t, 200, first(f.do("carol", "POST", "/ajax-api/3.0/mlflow/scorer/invoke", "application/json", `{"experiment_id":"1","log_assessments":"true"}`)))
	assert.Equal(t, 403, first(f.do("carol", "POST", "/ajax-api/3.0/mlflow/scorer/invoke", "application/json", `{"log_assessments":false}`)), "no experiment: refused")
	assert.Equal(t, 400, first(f.do("carol", "POST", "/ajax-api/3.0/mlflow/scorer/invoke", "application/json", `{"experiment_id":"1","log_assessments":"maybe"}`)))

	link := func(prompt string) string {
		return `{"trace_id":"` + recordedTrace + `","prompt_versions":[{"name":"` + prompt + `","version":"1"}]}`
	}
	assert.Equal(t, 200, first(f.do("carol", "POST", "/api/2.0/mlflow/traces/link-prompts", "application/json", link("churn-model"))), "EDIT on the trace's experiment, READ on the prompt")
	assert.Equal(t, 403, first(f.do("carol", "POST", "/api/2.0/mlflow/traces/link-prompts", "application/json", link("summarize-prompt"))), "no READ on that prompt")
	assert.Equal(t, 403, first(f.do("alice", "POST", "/api/2.0/mlflow/traces/link-prompts", "application/json", link("churn-model"))), "READ only on the trace's experiment")
}

func TestJobsAndMissingIDs(t *testing.T) {
	f := newFixture(t)
	assert.Equal(t, 200, first(f.do("alice", "GET", "/api/3.0/mlflow/prompt-optimization/jobs/job-1", "", "")))
	assert.Equal(t, 403, first(f.do("alice", "GET", "/api/3.0/mlflow/prompt-optimization/jobs/job-2", "", "")))
	assert.Equal(t, 403, first(f.do("alice", "POST", "/api/3.0/mlflow/prompt-optimization/jobs/job-1/cancel", "application/json", "{}")))
	assert.Equal(t, 200, first(f.do("alice", "GET", "/api/3.0/mlflow/prompt-optimization/jobs/job-404", "", "")), "MLflow's own 404")
	// No id where the contract reads one: a later MLflow may read another
	// field (presigned uploads learned model_id), so it does not go on.
	code, body := f.do("carol", "POST", "/api/2.0/mlflow/artifacts/presigned-upload-url", "application/json", `{"model_id":"`+recordedModel+`","path":"x"}`)
	assert.Equal(t, 403, code)
	assert.Contains(t, body, "must name the resource")
	assert.Equal(t, 200, first(f.do("carol", "POST", "/api/2.0/mlflow/artifacts/presigned-upload-url", "application/json", `{"run_id":"`+recordedRun+`","path":"x"}`)))
}

func TestAuthorizeOtherRows(t *testing.T) {
	f := newFixture(t)
	code, body := f.do("alice", "GET", "/api/2.0/mlflow/experiments/get?experiment_id=1", "", "", "X-MLFLOW-WORKSPACE", "team-a")
	assert.Equal(t, 400, code)
	assert.Contains(t, body, "workspaces are not supported")
	assert.Equal(t, 403, first(f.do("alice", "GET", "/api/2.0/mlflow/no-such-endpoint", "", "")), "no row: admin-only")
	assert.Equal(t, 200, first(f.do("root", "GET", "/api/2.0/mlflow/no-such-endpoint", "", "")))
	assert.Equal(t, 403, first(f.do("alice", "GET", "/api/2.0/mlflow/experiments/get/", "", "")), "a trailing slash matches no row")
	assert.Equal(t, 200, first(f.do("alice", "GET", "/version", "", "")), "no login-only check beyond authentication")
	assert.Equal(t, 403, first(f.do("alice", "POST", "/graphql", "application/json", `{"query":"{ test(inputString: \"x\") { output } }"}`)),
		"GraphQL fields the gateway does not authorize are for admins")
	r := httptest.NewRequest("GET", "/api/2.0/mlflow/runs/get?run_id="+recordedRun, nil)
	err := f.a.Authorize(r)
	var e *auth.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, 401, e.Status, "no identity: authentication did not run")
}

func TestAuthorizeRegexNeedsTheName(t *testing.T) {
	f := newFixture(t, permission.Rule{ID: 1, Kind: permission.Experiment, Principal: permission.ForUser("bob"), Pattern: "^team-a/", Level: permission.Edit})
	assert.Equal(t, 200, first(f.do("bob", "GET", "/api/2.0/mlflow/experiments/get?experiment_id=1", "", "")), "experiment 1 is team-a/churn")
	assert.Equal(t, 200, first(f.do("bob", "POST", "/api/2.0/mlflow/runs/log-metric", "application/json", `{"run_id":"`+recordedRun+`"}`)))
}

func TestUpstreamFailure(t *testing.T) {
	f := newFixture(t)
	f.d.Down.Store(true)
	code, body := f.do("alice", "GET", "/api/2.0/mlflow/runs/get?run_id="+recordedRun, "", "")
	assert.Equal(t, 503, code, body)
	assert.Contains(t, body, "TEMPORARILY_UNAVAILABLE")
}

func TestUpstreamLookups(t *testing.T) {
	d := mlflowtest.New(t)
	now := time.Now()
	up, err := NewUpstream(UpstreamConfig{URL: d.URL(), Now: func() time.Time { return now }})
	require.NoError(t, err)
	ctx := context.Background()
	exp, err := up.RunExperiment(ctx, recordedRun)
	require.NoError(t, err)
	assert.Equal(t, "1", exp)
	calls := d.Calls.Load()
	_, err = up.RunExperiment(ctx, recordedRun)
	require.NoError(t, err)
	assert.Equal(t, calls, d.Calls.Load(), "cached: a run never changes experiment")

	_, err = up.RunExperiment(ctx, "00000000000000000000000000000000")
	assert.ErrorIs(t, err, ErrNotFound)
	calls = d.Calls.Load()
	_, err = up.RunExperiment(ctx, "00000000000000000000000000000000")
	assert.ErrorIs(t, err, ErrNotFound)
	assert.Equal(t, calls+1, d.Calls.Load(), "\"does not exist\" is never remembered: another replica may make it next")

	for _, bad := range []string{"", "ABC", strings.Repeat("g", 32), "../runs/get?x=1"} {
		_, err = up.RunExperiment(ctx, bad)
		assert.ErrorIs(t, err, ErrBadID, bad)
	}
	name, err := up.ExperimentName(ctx, "01")
	require.NoError(t, err)
	assert.Equal(t, "team-a/churn", name)
	id, err := up.ExperimentByName(ctx, "team-b/nlp")
	require.NoError(t, err)
	assert.NotEmpty(t, id)
	exp, err = up.TraceExperiment(ctx, recordedTrace)
	require.NoError(t, err)
	assert.Equal(t, "1", exp)
	exp, err = up.LoggedModelExperiment(ctx, recordedModel)
	require.NoError(t, err)
	assert.Equal(t, "1", exp)
	_, err = up.TraceExperiment(ctx, "tr-00000000000000000000000000000000")
	assert.ErrorIs(t, err, ErrNotFound)

	up.Forget("experiment-id", "1")
	d.Down.Store(true)
	_, err = up.ExperimentName(ctx, "1")
	assert.ErrorIs(t, err, ErrUnavailable, "forgotten, then MLflow is down")
	assert.False(t, errors.Is(err, ErrNotFound))
	_, err = NewUpstream(UpstreamConfig{URL: "ftp://x"})
	assert.Error(t, err)
}

func TestRulesCoverage(t *testing.T) {
	var uncovered []string
	for _, e := range Endpoints() {
		if _, per := e.Require.Capability(); !per {
			continue
		}
		if _, ok := ruleFor(&e); !ok {
			uncovered = append(uncovered, e.Method+" "+e.Path)
		}
	}
	// These rows are refused to non-admins until their rules exist.
	t.Logf("%d per-resource rows without an id rule yet (admin-only): %s", len(uncovered), strings.Join(uncovered, ", "))
	for _, must := range []string{"GET /api/2.0/mlflow/runs/get", "POST /api/2.0/mlflow/runs/log-batch", "GET /api/2.0/mlflow/registered-models/get", "GET /api/3.0/mlflow/traces/<trace_id>"} {
		assert.NotContains(t, uncovered, must)
	}
}

func TestBodyBudget(t *testing.T) {
	f := newFixture(t)
	f.a.budget = semaphoreOf(100)
	big := `{"run_id":"` + recordedRun + `","pad":"` + strings.Repeat("x", 200) + `"}`
	code, body := f.do("alice", "POST", "/api/2.0/mlflow/runs/log-metric", "application/json", big)
	assert.Equal(t, 503, code, "more than the budget buffered at once")
	assert.Contains(t, body, "Too many large requests")
	code, _ = f.do("bob", "POST", "/api/2.0/mlflow/runs/log-metric", "application/json", `{"run_id":"`+otherTeamRun+`"}`)
	assert.Equal(t, 200, code, "within the budget, and the budget was given back")
	code, _ = f.do("bob", "POST", "/api/2.0/mlflow/runs/log-metric", "application/json", `{"run_id":"`+otherTeamRun+`"}`)
	assert.Equal(t, 200, code)
	// Filtered searches and GraphQL buffer their bodies too.
	pad := strings.Repeat("x", 200)
	code, _ = f.do("dave", "POST", "/api/2.0/mlflow/experiments/search", "application/json", `{"filter":"`+pad+`"}`)
	assert.Equal(t, 503, code, "a search's body counts against the budget")
	code, _ = f.do("dave", "POST", "/graphql", "application/json", `{"query":"{ __typename }","pad":"`+pad+`"}`)
	assert.Equal(t, 503, code, "so does a GraphQL query's")

	// An artifact upload is decided on its path and streamed, never buffered.
	upload := strings.Repeat("y", 10_000)
	r := httptest.NewRequest("PUT", "/api/2.0/mlflow-artifacts/artifacts/2/"+otherTeamRun+"/artifacts/big.bin", strings.NewReader(upload))
	r = r.WithContext(auth.NewContext(r.Context(), &auth.Identity{Username: "bob"}))
	var got int
	f.a.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = len(b)
	})).ServeHTTP(httptest.NewRecorder(), r)
	assert.Equal(t, len(upload), got)
}

func semaphoreOf(n int64) *semaphore.Weighted { return semaphore.NewWeighted(n) }

// The client's own flows, replayed: what an MLflow user actually sends.
func TestClientFlows(t *testing.T) {
	b, err := os.ReadFile("testdata/client_flows.json")
	require.NoError(t, err)
	var file struct {
		Flows []struct {
			Name  string
			Steps []struct {
				Call, Method, Path, Query, Raw string
				Body                           any
				Want                           map[string]int
			}
		}
	}
	require.NoError(t, json.Unmarshal(b, &file))
	require.NotEmpty(t, file.Flows)
	f := newFixture(t)
	sub := func(s string) string { return strings.ReplaceAll(s, "{run}", recordedRun) }
	for _, flow := range file.Flows {
		t.Run(flow.Name, func(t *testing.T) {
			for _, st := range flow.Steps {
				target := sub(st.Path)
				if st.Query != "" {
					target += "?" + sub(st.Query)
				}
				body, ct := sub(st.Raw), "application/octet-stream"
				if st.Body != nil {
					j, _ := json.Marshal(st.Body)
					body, ct = sub(string(j)), "application/json"
				}
				require.NotEmpty(t, st.Want, st.Call)
				for user, want := range st.Want {
					got, msg := f.do(user, st.Method, target, ct, body)
					assert.Equal(t, want, got, "%s as %s: %s", st.Call, user, msg)
				}
			}
		})
	}
}

// FuzzAuthorize: any request, however malformed, is answered with a
// decision or a clear error, never a panic, and never lets a non-admin
// through to a row that needs a resource it cannot read.
func FuzzAuthorize(f *testing.F) {
	fx := newFixture(&testing.T{})
	for _, s := range []struct{ m, p, q, b string }{
		{"GET", "/api/2.0/mlflow/runs/get", "run_id=" + recordedRun, ""},
		{"POST", "/api/2.0/mlflow/runs/log-batch", "", `{"run_id":"` + otherTeamRun + `"}`},
		{"DELETE", "/api/2.0/mlflow/registered-models/delete", "name=churn-model", `{"name":"x"}`},
		{"POST", "/api/2.0/mlflow/runs/search", "", `{"experiment_ids":["1","2"]}`},
		{"GET", "/api/2.0/mlflow-artifacts/artifacts/2/x", "", ""},
	} {
		f.Add(s.m, s.p, s.q, s.b)
	}
	f.Fuzz(func(t *testing.T, method, path, query, body string) {
		u := &url.URL{Path: path, RawQuery: query}
		r, err := http.NewRequest(method, "http://gw"+u.RequestURI(), strings.NewReader(body))
		if err != nil {
			return
		}
		r.Header.Set("Content-Type", "application/json")
		r = r.WithContext(auth.NewContext(r.Context(), &auth.Identity{Username: "dave"}))
		err = fx.a.Authorize(r)
		if err == nil {
			// dave has no grant: only rows needing no resource let him on,
			// or ids MLflow does not know (its own 404).
			canon, cerr := auth.CanonicalPath(r.URL.EscapedPath())
			if cerr != nil {
				t.Fatalf("%s %q passed with a non-canonical path", method, path)
			}
			if _, ok := fx.a.router.Classify(r.Method, canon); !ok { // NewRequest reads "" as GET
				t.Fatalf("%s %q: no row, yet a non-admin passed", method, path)
			}
			return
		}
		var e *auth.Error
		if !errors.As(err, &e) {
			t.Fatalf("%s %q: not an auth.Error: %v", method, path, err)
		}
		switch e.Status {
		case 400, 403, 404, 503:
		default:
			t.Fatalf("%s %q: status %d", method, path, e.Status)
		}
	})
}

func TestGatewayProxy(t *testing.T) {
	f := newFixture(t)
	e := f.a.cfg.Engine.(*permission.Engine)
	require.NoError(t, e.Apply(0, permission.PutGrant{Grant: permission.Grant{
		Resource: permission.Resource{Kind: permission.GatewayEndpoint, ID: "ep-1"}, Principal: permission.ForUser("dave"), Level: permission.Use}}))
	proxy := func(user, gatewayPath string) int {
		b, _ := json.Marshal(map[string]any{"gateway_path": gatewayPath, "json_data": map[string]any{}})
		return first(f.do(user, "POST", "/ajax-api/2.0/mlflow/gateway-proxy", "application/json", string(b)))
	}
	assert.Equal(t, 200, first(f.do("erin", "GET", "/ajax-api/2.0/mlflow/gateway-proxy?gateway_path=api/2.0/endpoints/", "", "")), "the UI lists endpoints on every page")
	assert.Equal(t, 200, proxy("dave", "endpoints/chat/invocations"), "ep-1 is chat")
	assert.Equal(t, 200, proxy("dave", "/gateway/chat/invocations"))
	assert.Equal(t, 403, proxy("dave", "endpoints/other-chat/invocations"))
	assert.Equal(t, 403, proxy("erin", "endpoints/chat/invocations"))
	assert.Equal(t, 403, proxy("dave", "api/2.0/endpoints/"), "anything but an invocation: admins only")
	assert.Equal(t, 403, proxy("dave", "endpoints/chat/../other-chat/invocations"))
	assert.Equal(t, 403, first(f.do("dave", "POST", "/ajax-api/2.0/mlflow/gateway-proxy", "application/json", `{"json_data":{}}`)), "no gateway_path")
	assert.Equal(t, 200, proxy("root", "api/2.0/endpoints/"))
	// An endpoint MLflow does not know (a deployments server's): decided
	// on its name by rules, never passed on to a 404 that will not come.
	assert.Equal(t, 403, proxy("dave", "endpoints/llama/invocations"))
	require.NoError(t, e.Apply(0, permission.PutRule{Rule: permission.Rule{ID: 1, Kind: permission.GatewayEndpoint,
		Principal: permission.ForUser("dave"), Pattern: "^llama$", Level: permission.Use}}))
	assert.Equal(t, 200, proxy("dave", "endpoints/llama/invocations"))
}

func TestProxiedEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"endpoints/chat/invocations":     "chat",
		"/endpoints/chat/invocations":    "chat",
		"gateway/my_chat.v2/invocations": "my_chat.v2",
		"endpoints/chat/invocations/":    "",
		"endpoints//invocations":         "",
		"endpoints/../invocations":       "",
		"endpoints/a/b/invocations":      "",
		"endpoints/a%2Fb/invocations":    "",
		"endpoints/chat/invocations?x":   "",
		"api/2.0/endpoints/":             "",
		"":                               "",
	} {
		got, ok := proxiedEndpoint(in)
		assert.Equal(t, want, got, in)
		assert.Equal(t, want != "", ok, in)
	}
}

func FuzzProxiedEndpoint(f *testing.F) {
	f.Add("endpoints/chat/invocations")
	f.Add("/gateway/x/invocations")
	f.Fuzz(func(t *testing.T, p string) {
		name, ok := proxiedEndpoint(p)
		if !ok {
			return
		}
		if name == "." || name == ".." || strings.ContainsAny(name, "/%?#\\") {
			t.Fatalf("%q read as endpoint %q", p, name)
		}
		trimmed := strings.TrimPrefix(p, "/")
		if trimmed != "endpoints/"+name+"/invocations" && trimmed != "gateway/"+name+"/invocations" {
			t.Fatalf("%q read as endpoint %q", p, name)
		}
	})
}

// BenchmarkAuthorize is a whole decision in the steady state: the row, the
// ids read where MLflow reads them, the lookups answered from the cache
// (no call reaches MLflow inside the loop), the permission engine.
func BenchmarkAuthorize(b *testing.B) {
	f := newFixture(&testing.T{}, permission.Rule{ID: 1, Kind: permission.Experiment, Principal: permission.ForUser("dave"), Pattern: "^team-a/", Level: permission.Read})
	logBatch := `{"metrics":[` + strings.Repeat(`{"key":"loss","value":0.125,"timestamp":1700000000000,"step":3},`, 14) +
		`{"key":"loss","value":0.1,"timestamp":1700000000000,"step":4}],"params":[],"tags":[],"run_id":"` + recordedRun + `"}`
	for _, c := range []struct{ name, user, method, target, body string }{
		{"runs-get", "alice", "GET", "/api/2.0/mlflow/runs/get?run_id=" + recordedRun, ""},
		{"log-batch-1KiB", "carol", "POST", "/api/2.0/mlflow/runs/log-batch", logBatch},
		{"experiment-by-regex", "dave", "GET", "/api/2.0/mlflow/experiments/get?experiment_id=1", ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := httptest.NewRequest(c.method, c.target, nil)
			r.Header.Set("Content-Type", "application/json")
			r = r.WithContext(auth.NewContext(r.Context(), &auth.Identity{Username: c.user, Method: auth.MethodBasic}))
			src := strings.NewReader(c.body)
			r.ContentLength = int64(len(c.body))
			run := func() {
				src.Reset(c.body)
				r.Body = io.NopCloser(src)
				if err := f.a.Authorize(r); err != nil {
					b.Fatal(err)
				}
			}
			run() // fills the lookup cache
			calls := f.d.Calls.Load()
			b.ReportAllocs()
			for b.Loop() {
				run()
			}
			if f.d.Calls.Load() != calls {
				b.Fatal("a lookup reached MLflow in the steady state")
			}
		})
	}
}

// TestRefusalMessages: a refusal begins with MLflow's "Permission denied."
// and says what was needed, on what the request named, and what the
// caller has and from where; a run's experiment id is not revealed.
func TestRefusalMessages(t *testing.T) {
	f := newFixture(t, permission.Rule{Kind: permission.RegisteredModel, Pattern: "^team-", Principal: permission.ForUser("dave"), Level: permission.Read, Priority: 1})
	for _, tt := range []struct {
		name, user, method, target, body, want string
	}{
		{"a grant too low", "alice", "POST", "/api/2.0/mlflow/experiments/delete", `{"experiment_id":"1"}`,
			"Permission denied. MANAGE on experiment 1 is needed; you have READ from a grant to you."},
		{"nothing at all, through a run", "alice", "GET", "/api/2.0/mlflow/runs/get?run_id=" + otherTeamRun, "",
			"Permission denied. READ on the experiment of run " + otherTeamRun + " is needed; you have NO_PERMISSIONS, the default: no grant or rule gives you access."},
		{"a model", "bob", "POST", "/api/2.0/mlflow/registered-models/rename", `{"name":"churn-model","new_name":"x"}`,
			"Permission denied. EDIT on registered model churn-model is needed; you have NO_PERMISSIONS, the default: no grant or rule gives you access."},
		{"a rule", "dave", "POST", "/api/2.0/mlflow/registered-models/rename", `{"name":"team-x","new_name":"team-y"}`,
			`Permission denied. EDIT on registered model team-x is needed; you have READ from the rule "^team-" for you.`},
		{"a deactivated account", "gone", "GET", "/api/2.0/mlflow/experiments/get?experiment_id=1", "",
			"Permission denied. This account is deactivated."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body := f.do(tt.user, tt.method, tt.target, "application/json", tt.body)
			require.Equal(t, http.StatusForbidden, status, body)
			var e struct{ ErrorCode, Message string }
			require.NoError(t, json.Unmarshal([]byte(body), &struct {
				ErrorCode *string `json:"error_code"`
				Message   *string `json:"message"`
			}{&e.ErrorCode, &e.Message}))
			assert.Equal(t, "PERMISSION_DENIED", e.ErrorCode)
			assert.Equal(t, tt.want, e.Message)
			if tt.user == "alice" && strings.Contains(tt.target, "run_id") {
				assert.NotContains(t, e.Message, "experiment 2", "the run's experiment is not named")
			}
		})
	}
}

// TestTraceSearchLocations: MLflow 3.5's search_traces names experiments
// in locations[].mlflow_experiment.experiment_id, in either spelling;
// every one named there or in experiment_ids needs READ.
func TestTraceSearchLocations(t *testing.T) {
	f := newFixture(t)
	loc := func(ids ...string) string {
		var parts []string
		for _, id := range ids {
			parts = append(parts, `{"type":"MLFLOW_EXPERIMENT","mlflow_experiment":{"experiment_id":"`+id+`"}}`)
		}
		return strings.Join(parts, ",")
	}
	for _, tt := range []struct {
		name, user, body string
		want             int
	}{
		{"the caller's own experiment", "bob", `{"locations":[` + loc("2") + `],"max_results":10}`, 200},
		{"another experiment among the locations", "bob", `{"locations":[` + loc("2", "1") + `]}`, 403},
		{"experiment_ids readable, a location not", "bob", `{"experiment_ids":["2"],"locations":[` + loc("1") + `]}`, 403},
		{"camelCase, as protobuf's JSON reads it", "bob", `{"locations":[{"type":"MLFLOW_EXPERIMENT","mlflowExperiment":{"experimentId":"1"}}]}`, 403},
		{"READ is enough", "alice", `{"locations":[` + loc("1") + `]}`, 200},
		{"nothing named", "bob", `{"locations":[]}`, 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, body := f.do(tt.user, "POST", "/api/3.0/mlflow/traces/search", "application/json", tt.body)
			assert.Equal(t, tt.want, got, body)
		})
	}
}

// TestTraceReferences: a trace started with the id of a trace in another
// experiment (MLflow merges them), and the tag MLflow reads a trace's
// spans from, are refused.
func TestTraceReferences(t *testing.T) {
	f := newFixture(t)
	f.d.AddTrace(otherTeamTrace, "2")
	start := func(traceID, exp string, tags string) string {
		return `{"trace":{"trace_info":{"trace_id":"` + traceID + `","trace_location":{"type":"MLFLOW_EXPERIMENT","mlflow_experiment":{"experiment_id":"` + exp + `"}}` + tags + `}}}`
	}
	for _, tt := range []struct {
		name, method, target, body string
		want                       int
	}{
		{"a new trace in bob's experiment", "POST", "/api/3.0/mlflow/traces", start("tr-abababababababababababababababab", "2", ""), 200},
		{"bob's own trace again", "POST", "/api/3.0/mlflow/traces", start(otherTeamTrace, "2", ""), 200},
		{"another experiment's trace id, into bob's", "POST", "/api/3.0/mlflow/traces", start(recordedTrace, "2", ""), 403},
		{"the location tag at the start", "POST", "/api/3.0/mlflow/traces", start("tr-abababababababababababababababab", "2", `,"tags":{"mlflow.artifactLocation":"mlflow-artifacts:/1/traces/x/artifacts"}`), 403},
		{"other tags at the start", "POST", "/api/3.0/mlflow/traces", start("tr-abababababababababababababababab", "2", `,"tags":{"team":"a"}`), 200},
		{"setting the location tag (v3)", "PATCH", "/api/3.0/mlflow/traces/" + otherTeamTrace + "/tags", `{"key":"mlflow.artifactLocation","value":"mlflow-artifacts:/1/x"}`, 403},
		{"setting the location tag (v2)", "PATCH", "/api/2.0/mlflow/traces/" + otherTeamTrace + "/tags", `{"key":"mlflow.artifactLocation","value":"mlflow-artifacts:/1/x"}`, 403},
		{"deleting it", "DELETE", "/api/3.0/mlflow/traces/" + otherTeamTrace + "/tags", `{"key":"mlflow.artifactLocation"}`, 403},
		{"an ordinary tag", "PATCH", "/api/3.0/mlflow/traces/" + otherTeamTrace + "/tags", `{"key":"reviewed","value":"yes"}`, 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, body := f.do("bob", tt.method, tt.target, "application/json", tt.body)
			assert.Equal(t, tt.want, got, body)
		})
	}
	got, _ := f.do("root", "PATCH", "/api/3.0/mlflow/traces/"+otherTeamTrace+"/tags", "application/json", `{"key":"mlflow.artifactLocation","value":"x"}`)
	assert.Equal(t, 200, got, "administrators may repair it")
}

// TestPublicRows: MLflow's unprotected routes (static assets at any
// depth, the favicon, under the static prefix when there is one) are
// served to anyone, by GET, and nothing else is.
func TestPublicRows(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		method, path string
		want         bool
	}{
		{"GET", "/static-files/static/js/main.0d209a36.js", true},
		{"GET", "/static-files/static/css/main.css", true},
		{"GET", "/static-files/favicon.ico", true},
		{"HEAD", "/static-files/static/js/main.js", true},
		{"GET", "/favicon.ico", true},
		{"POST", "/static-files/static/js/main.js", false},
		{"GET", "/static-filesx/a", false},
		{"GET", "/api/2.0/mlflow/experiments/search", false},
		{"GET", "/", false},
	} {
		assert.Equal(t, tt.want, f.a.Public(tt.method, tt.path), "%s %s", tt.method, tt.path)
	}
	// Anonymous: the public rows pass the authorizer, the rest is 401.
	for path, want := range map[string]int{"/static-files/static/js/main.js": 200, "/favicon.ico": 200, "/api/2.0/mlflow/experiments/get?experiment_id=1": 401} {
		r := httptest.NewRequest("GET", path, nil)
		w := httptest.NewRecorder()
		f.a.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})).ServeHTTP(w, r)
		assert.Equal(t, want, w.Code, path)
	}
	prefixed, err := NewAuthorizer(Config{Engine: f.a.cfg.Engine, Lookups: f.up, StaticPrefix: "/mlflow", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	assert.True(t, prefixed.Public("GET", "/mlflow/static-files/static/js/main.js"))
	assert.False(t, prefixed.Public("GET", "/static-files/static/js/main.js"), "under the static prefix only")
}
