package mlflow

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/auth"
)

func gql(query string, vars map[string]any) string {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return string(b)
}

// Every field the UI sends, plainly, aliased, in fragments and through
// variables: allowed on what the caller may read, refused otherwise.
// alice reads experiment 1 (the recorded run is in it) and churn-model;
// bob manages experiment 2 (otherTeamRun); dave has nothing.
func TestGraphQLFields(t *testing.T) {
	f := newFixture(t)
	run1, run2 := recordedRun, otherTeamRun
	for _, c := range []struct {
		name, user, body string
		want             int
	}{
		{"__typename", "dave", gql(`{ __typename }`, nil), 200},
		{"getExperiment", "alice", gql(`{ mlflowGetExperiment(input: {experimentId: "1"}) { experiment { name } } }`, nil), 200},
		{"getExperiment, not hers", "alice", gql(`{ mlflowGetExperiment(input: {experimentId: "2"}) { experiment { name } } }`, nil), 403},
		{"getExperiment 01 is 1", "alice", gql(`{ mlflowGetExperiment(input: {experimentId: "01"}) { experiment { name } } }`, nil), 200},
		{"aliased twice: both decided", "alice", gql(`{ a: mlflowGetExperiment(input: {experimentId: "1"}) { experiment { name } } b: mlflowGetExperiment(input: {experimentId: "2"}) { experiment { name } } }`, nil), 403},
		{"through a variable", "alice", gql(`query Q($in: MlflowGetExperimentInput) { mlflowGetExperiment(input: $in) { experiment { name } } }`, map[string]any{"in": map[string]any{"experimentId": "2"}}), 403},
		{"a variable inside the input", "alice", gql(`query Q($id: String) { mlflowGetExperiment(input: {experimentId: $id}) { experiment { name } } }`, map[string]any{"id": "1"}), 200},
		{"in a named fragment", "alice", gql(`query { ...F } fragment F on Query { mlflowGetExperiment(input: {experimentId: "2"}) { experiment { name } } }`, nil), 403},
		{"in an inline fragment", "alice", gql(`query { ... on Query { mlflowGetExperiment(input: {experimentId: "2"}) { experiment { name } } } }`, nil), 403},
		{"a second operation is decided too", "alice", gql(`query A { mlflowGetExperiment(input: {experimentId: "1"}) { experiment { name } } } query B { mlflowGetExperiment(input: {experimentId: "2"}) { experiment { name } } }`, nil), 403},
		{"getRun", "alice", gql(`{ mlflowGetRun(input: {runId: "`+run1+`"}) { run { info { runName } } } }`, nil), 200},
		{"getRun by runUuid", "alice", gql(`{ mlflowGetRun(input: {runUuid: "`+run2+`"}) { run { info { runName } } } }`, nil), 403},
		{"getRun ids disagreeing", "alice", gql(`{ mlflowGetRun(input: {runId: "`+run1+`", runUuid: "`+run2+`"}) { run { info { runName } } } }`, nil), 400},
		{"getRun, a malformed id", "alice", gql(`{ mlflowGetRun(input: {runId: "../x"}) { run { info { runName } } } }`, nil), 400},
		{"listArtifacts", "bob", gql(`{ mlflowListArtifacts(input: {runId: "`+run2+`"}) { files { path } } }`, nil), 200},
		{"listArtifacts, not his", "bob", gql(`{ mlflowListArtifacts(input: {runId: "`+run1+`"}) { files { path } } }`, nil), 403},
		{"metric history: every run", "alice", gql(`{ mlflowGetMetricHistoryBulkInterval(input: {runIds: ["`+run1+`", "`+run2+`"], metricKey: "m"}) { metrics { value } } }`, nil), 403},
		{"metric history", "alice", gql(`{ mlflowGetMetricHistoryBulkInterval(input: {runIds: ["`+run1+`"], metricKey: "m"}) { metrics { value } } }`, nil), 200},
		{"searchRuns", "alice", gql(`mutation { mlflowSearchRuns(input: {experimentIds: ["1"]}) { runs { info { runId } } } }`, nil), 200},
		{"searchRuns: every experiment", "alice", gql(`mutation { mlflowSearchRuns(input: {experimentIds: ["1", "2"]}) { runs { info { runId } } } }`, nil), 403},
		{"searchRuns: none named", "alice", gql(`mutation { mlflowSearchRuns(input: {}) { runs { info { runId } } } }`, nil), 403},
		{"searchDatasets", "bob", gql(`mutation { mlflowSearchDatasets(input: {experimentIds: ["2"]}) { datasetSummaries { name } } }`, nil), 200},
		{"searchDatasets, not his", "bob", gql(`mutation { mlflowSearchDatasets(input: {experimentIds: ["1"]}) { datasetSummaries { name } } }`, nil), 403},
		{"searchModelVersions: filtered on the answer", "dave", gql(`{ mlflowSearchModelVersions(input: {filter: "name='churn-model'"}) { modelVersions { name version } } }`, nil), 200},
		{"model versions must say their model", "dave", gql(`{ mlflowSearchModelVersions(input: {}) { modelVersions { version } } }`, nil), 403},
		{"the echo field", "alice", gql(`{ test(inputString: "x") { output } }`, nil), 403},
		{"introspection", "alice", gql(`{ __schema { types { name } } }`, nil), 403},
		{"a field MLflow does not have", "alice", gql(`{ mlflowDeleteExperiment(input: {experimentId: "1"}) { dummy } }`, nil), 400},
		{"a batch", "alice", `[` + gql(`{ __typename }`, nil) + `]`, 403},
		{"not GraphQL", "alice", gql(`{ mlflowGetExperiment(`, nil), 400},
		{"no query", "alice", `{"variables":{}}`, 400},
		{"the query twice", "alice", `{"query":"{ __typename }","query":"{ __typename }"}`, 400},
		{"a wrong variable type", "alice", gql(`query Q($id: String) { mlflowGetExperiment(input: {experimentId: $id}) { experiment { name } } }`, map[string]any{"id": []any{"1", "2"}}), 400},
		{"admins: anything", "root", gql(`{ test(inputString: "x") { output } }`, nil), 200},
	} {
		code, msg := f.do(c.user, "POST", "/graphql", "application/json", c.body)
		assert.Equal(t, c.want, code, "%s: %s", c.name, msg)
	}
	// MLflow reads the JSON body of a GET too: the URL's query is not it.
	code, _ := f.do("alice", "GET", "/graphql?query="+url.QueryEscape(`{ __typename }`), "application/json",
		gql(`{ mlflowGetExperiment(input: {experimentId: "2"}) { experiment { name } } }`, nil))
	assert.Equal(t, 403, code)
}

// Model versions of models the caller may not read are dropped from the
// answer, wherever the query put them and however it named them.
func TestGraphQLFiltersModelVersions(t *testing.T) {
	f := newFixture(t)
	answer := `{"data":{"mv":{"modelVersions":[{"n":"churn-model","version":"1"},{"n":"other-model","version":"4"}]},` +
		`"r":{"run":{"modelVersions":[{"name":"other-model","version":"2"},{"name":"churn-model","version":"3"}]}}}}`
	mlflow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(answer))
	}))
	defer mlflow.Close()
	target, _ := url.Parse(mlflow.URL)
	h := f.a.Wrap(httputil.NewSingleHostReverseProxy(target))
	query := `query { mv: mlflowSearchModelVersions(input: {}) { modelVersions { n: name version } }
		r: mlflowGetRun(input: {runId: "` + recordedRun + `"}) { run { ...V } } }
		fragment V on MlflowRunExtension { modelVersions { name version } }`
	r := httptest.NewRequest("POST", "/graphql", strings.NewReader(gql(query, nil)))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept-Encoding", "gzip")
	r = r.WithContext(auth.NewContext(r.Context(), &auth.Identity{Username: "alice"}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	require.Equal(t, 200, w.Code, w.Body.String())
	assert.Equal(t, "private, no-store", w.Header().Get("Cache-Control"))
	var got struct {
		Data struct {
			MV struct {
				ModelVersions []map[string]any `json:"modelVersions"`
			} `json:"mv"`
			R struct {
				Run struct {
					ModelVersions []map[string]any `json:"modelVersions"`
				} `json:"run"`
			} `json:"r"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	assert.Equal(t, []map[string]any{{"n": "churn-model", "version": "1"}}, got.Data.MV.ModelVersions)
	assert.Equal(t, []map[string]any{{"name": "churn-model", "version": "3"}}, got.Data.R.Run.ModelVersions)
}

// FuzzGraphQL: any GraphQL request from a user with no grants is refused
// or reads nothing but __typename and answer-filtered model versions.
func FuzzGraphQL(f *testing.F) {
	fx := newFixture(&testing.T{})
	f.Add(gql(`{ __typename }`, nil))
	f.Add(gql(`{ a: mlflowGetExperiment(input: {experimentId: "1"}) { experiment { name } } }`, nil))
	f.Add(gql(`query { ...F } fragment F on Query { mlflowGetRun(input: {runId: "`+recordedRun+`"}) { run { modelVersions { name } } } }`, nil))
	f.Add(gql(`query Q($in: MlflowGetExperimentInput) { mlflowGetExperiment(input: $in) { experiment { name } } }`, map[string]any{"in": map[string]any{"experimentId": "1"}}))
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/graphql", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r = r.WithContext(auth.NewContext(r.Context(), &auth.Identity{Username: "dave"}))
		q := &request{r: r, a: fx.a}
		defer q.release()
		err := fx.a.authorize(q)
		if err != nil {
			var e *auth.Error
			if !errorsAs(err, &e) || (e.Status != 400 && e.Status != 403 && e.Status != 413 && e.Status != 503) {
				t.Fatalf("%q: %v", body, err)
			}
			return
		}
		// Allowed for dave: only fields that read nothing of his own
		// choosing. Re-parse and check.
		g, err := readGraphQL([]byte(body))
		if err != nil {
			t.Fatalf("%q passed but does not read: %v", body, err)
		}
		if strings.Contains(g.Query, "mlflowGetExperiment") || strings.Contains(g.Query, "mlflowSearchRuns") || strings.Contains(g.Query, "mlflowListArtifacts") {
			// Only a run or experiment MLflow does not have may pass.
			for _, id := range []string{recordedRun, "\"1\"", "\"01\""} {
				if strings.Contains(g.Query, id) {
					t.Fatalf("%q passed for a user with no grants", body)
				}
			}
		}
	})
}

func errorsAs(err error, target **auth.Error) bool { return errors.As(err, target) }

// TestGraphQLRefusalInMLflowsShape: a refused field whose query asks for
// MLflow's apiError is answered in that shape (200, the error where the
// UI looks for it, every selected field present), without reaching
// MLflow; a query that does not ask, or that mixes allowed and refused
// fields, gets the 403.
func TestGraphQLRefusalInMLflowsShape(t *testing.T) {
	f := newFixture(t)
	q := `query GetRun($data: MlflowGetRunInput!) { mlflowGetRun(input: $data) { apiError { code message helpUrl } run { info { runUuid } } } }`
	r := httptest.NewRequest("POST", "/graphql", strings.NewReader(gql(q, map[string]any{"data": map[string]any{"runId": otherTeamRun}})))
	r.Header.Set("Content-Type", "application/json")
	r = r.WithContext(auth.NewContext(r.Context(), &auth.Identity{Username: "alice", Method: auth.MethodBasic}))
	reached := false
	w := httptest.NewRecorder()
	f.a.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true })).ServeHTTP(w, r)
	code, body := w.Code, w.Body.String()
	require.Equal(t, 200, code, body)
	assert.False(t, reached, "answered by the gateway: MLflow never sees it")
	var out struct {
		Data struct {
			MlflowGetRun struct {
				APIError struct {
					Code, Message string
					HelpURL       *string `json:"helpUrl"`
				} `json:"apiError"`
				Run any `json:"run"`
			} `json:"mlflowGetRun"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &out), body)
	assert.Equal(t, "PERMISSION_DENIED", out.Data.MlflowGetRun.APIError.Code)
	assert.Equal(t, "Permission denied. READ on the experiment of run "+otherTeamRun+" is needed; you have NO_PERMISSIONS, the default: no grant or rule gives you access.", out.Data.MlflowGetRun.APIError.Message)
	assert.Nil(t, out.Data.MlflowGetRun.Run)
	assert.Contains(t, body, `"run":null`, "every selected field is present")

	code, _ = f.do("alice", "POST", "/graphql", "application/json", gql(`{ mlflowGetRun(input: {runId: "`+otherTeamRun+`"}) { run { info { runUuid } } } }`, nil))
	assert.Equal(t, 403, code, "no apiError asked for")
	code, _ = f.do("alice", "POST", "/graphql", "application/json", gql(`{ a: mlflowGetRun(input: {runId: "`+recordedRun+`"}) { apiError { code } } b: mlflowGetRun(input: {runId: "`+otherTeamRun+`"}) { apiError { code } } }`, nil))
	assert.Equal(t, 403, code, "allowed and refused fields together")
}
