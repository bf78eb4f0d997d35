package mlflow

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/internal/mlflowtest"
	"github.com/mlflowauth/mlflowauth/permission"
)

// pendingRows are the per-resource rows the gateway does not decide yet:
// they are refused to every non-admin (fail closed). The contract test
// holds them to that, and fails when one gains a rule without leaving
// this list.
var pendingRows = map[string]bool{}

// granted and decoy are the resources a contract request names: the user
// holds a level on granted and nothing on decoy, which is put everywhere
// else MLflow might read.
type resourcePair struct {
	kind          string
	granted       string
	decoy         string
	grant         permission.Resource
	scorerGranted [2]string
	scorerDecoy   [2]string
}

// pairFor reads the contract's words for a row (independently of the
// gateway's rules): what the id names.
func pairFor(row specRow) resourcePair {
	src, res := row.IDSource, row.Resource
	expGrant := permission.Resource{Kind: permission.Experiment, ID: "1"}
	switch {
	case row.Path == "/graphql":
		return resourcePair{kind: "experiment", granted: "1", decoy: "2", grant: expGrant}
	case strings.Contains(row.Path, "<job_id>"):
		return resourcePair{kind: "job", granted: "job-1", decoy: "job-2", grant: expGrant}
	case strings.Contains(row.Path, "<dataset_id>"):
		return resourcePair{kind: "dataset", granted: "d-1", decoy: "d-2", grant: expGrant}
	case strings.Contains(src, "artifact path"), strings.Contains(row.GatewayNote, "artifact path"):
		return resourcePair{kind: "artifact", granted: "1/" + recordedRun + "/artifacts/model", decoy: "2/" + otherTeamRun + "/artifacts/model", grant: expGrant}
	case strings.HasPrefix(res, "scorer") && strings.Contains(src, "experiment_id + name"):
		return resourcePair{kind: "scorer", scorerGranted: [2]string{"1", "relevance"}, scorerDecoy: [2]string{"2", "relevance"},
			grant: permission.Resource{Kind: permission.Scorer, ID: "1", Name: "relevance"}}
	case strings.Contains(src, "experiment_name"):
		return resourcePair{kind: "experiment_name", granted: "team-a/churn", decoy: "team-b/nlp", grant: expGrant}
	case strings.Contains(src, "model_id ("), strings.HasPrefix(res, "logged_model"):
		return resourcePair{kind: "logged_model", granted: recordedModel, decoy: otherTeamModel, grant: expGrant}
	case strings.Contains(src, "request_id") || strings.Contains(row.Path, "/traces/<") || strings.Contains(row.Path, "/traces/get") || strings.Contains(row.Path, "batchGet"):
		return resourcePair{kind: "trace", granted: recordedTrace, decoy: otherTeamTrace, grant: expGrant}
	case strings.Contains(src, "run_id") || strings.Contains(src, "run_ids") || strings.HasPrefix(res, "run") || strings.Contains(row.GatewayNote, "run_id") ||
		strings.Contains(row.Path, "log-inputs") || strings.Contains(row.Path, "runs/outputs") || strings.Contains(row.Path, "presigned-upload-url") || strings.Contains(row.Path, "link-to-run"):
		return resourcePair{kind: "run", granted: recordedRun, decoy: otherTeamRun, grant: expGrant}
	case strings.Contains(src, "model_definition_id"):
		return resourcePair{kind: "gateway_model_definition", granted: "md-1", decoy: "md-2", grant: permission.Resource{Kind: permission.GatewayModelDefinition, ID: "md-1"}}
	case strings.HasPrefix(src, "secret_id"):
		return resourcePair{kind: "gateway_secret", granted: "sec-1", decoy: "sec-2", grant: permission.Resource{Kind: permission.GatewaySecret, ID: "sec-1"}}
	case strings.HasPrefix(res, "registered_model"):
		return resourcePair{kind: "model", granted: "churn-model", decoy: "other-model", grant: permission.Resource{Kind: permission.RegisteredModel, ID: "churn-model"}}
	case strings.HasPrefix(res, "gateway_endpoint"), row.Path == "/ajax-api/2.0/mlflow/gateway-proxy":
		return resourcePair{kind: "gateway_endpoint", granted: "ep-1", decoy: "ep-2", grant: permission.Resource{Kind: permission.GatewayEndpoint, ID: "ep-1"}}
	case strings.HasPrefix(res, "gateway_secret"):
		return resourcePair{kind: "gateway_secret", granted: "sec-1", decoy: "sec-2", grant: permission.Resource{Kind: permission.GatewaySecret, ID: "sec-1"}}
	case strings.HasPrefix(res, "gateway_model_definition"):
		return resourcePair{kind: "gateway_model_definition", granted: "md-1", decoy: "md-2", grant: permission.Resource{Kind: permission.GatewayModelDefinition, ID: "md-1"}}
	}
	return resourcePair{kind: "experiment", granted: "1", decoy: "2", grant: expGrant}
}

// fieldName is the field a row's id is sent in, by the contract's words.
func fieldName(row specRow, p resourcePair) (string, bool) {
	src := row.IDSource
	for _, name := range []string{"experiment_ids", "experiment_id", "experiment_name", "run_ids", "run_id", "request_id", "trace_ids", "trace_id",
		"secret_id", "endpoint_id", "model_definition_id", "name", "path"} {
		if strings.HasPrefix(src, name+" ") || strings.HasPrefix(src, name+"(") {
			return name, strings.Contains(name, "_ids") || strings.Contains(src, "repeated")
		}
	}
	// Rows whose id_source is "n/a": the gateway_note names the field.
	note := row.GatewayNote
	if strings.Contains(note, "every experiment_id") {
		return "experiment_ids", true // the proto field is the repeated experiment_ids
	}
	for _, name := range []string{"experiment_ids", "experiment_id", "run_ids", "run_id", "trace_ids", "trace_id"} {
		if strings.Contains(note, name) {
			return name, strings.HasSuffix(name, "_ids")
		}
	}
	switch p.kind {
	case "artifact":
		return "path", false
	case "run":
		if strings.Contains(row.Path, "bulk") {
			return "run_id", true
		}
		return "run_id", false
	case "trace":
		if strings.Contains(row.Path, "batch") {
			return "trace_ids", true
		}
		return "trace_id", false
	case "experiment":
		return "experiment_ids", true
	}
	return "", false
}

// build makes the request for a row: the granted id exactly where the
// contract says, the decoy in every other place MLflow might read.
func build(t *testing.T, row specRow, p resourcePair) *http.Request {
	path := row.Path
	method := row.Method
	values := func(v string) any { return v }
	field, many := fieldName(row, p)
	if many {
		values = func(v string) any { return []string{v} }
	}
	query := url.Values{}
	body := map[string]any{}
	var header http.Header = http.Header{}

	granted, decoy := p.granted, p.decoy
	pathParam := param.FindString(path) != "" && (strings.Contains(row.IDSource, "URL path") || p.kind == "artifact" && strings.Contains(path, "<path:") || p.kind == "dataset" || p.kind == "job" || strings.Contains(path, "/traces/<"))
	switch {
	case row.Method == "POST" && row.Path == "/api/3.0/mlflow/traces":
		body["trace"] = map[string]any{"trace_info": map[string]any{"trace_location": map[string]any{
			"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": map[string]any{"experiment_id": granted}}}}
		query.Set("experiment_id", decoy)
		body["experiment_id"] = decoy
	case row.Path == "/graphql":
		// MLflow reads the JSON body whatever the method; the URL's query
		// names the decoy.
		body["query"] = "query Exp($id: String) { e: mlflowGetExperiment(input: {experimentId: $id}) { experiment { experimentId name } } }"
		body["variables"] = map[string]any{"id": granted}
		query.Set("query", `{ mlflowGetExperiment(input: {experimentId: "`+decoy+`"}) { experiment { name } } }`)
	case row.Path == "/ajax-api/2.0/mlflow/gateway-proxy":
		// The UI's proxy invokes the endpoint its gateway_path names.
		body["gateway_path"] = "endpoints/chat/invocations"
		body["json_data"] = map[string]any{"messages": []any{}}
		query.Set("gateway_path", "endpoints/other-chat/invocations")
	case strings.HasPrefix(row.Path, "/gateway/"):
		// The AI gateway's routes name the endpoint: in the path, or as the
		// body's model.
		if strings.Contains(path, "<endpoint_name>") {
			path = strings.Replace(path, "<endpoint_name>", "chat", 1)
			query.Set("model", "other-chat")
			body["model"] = "other-chat"
		} else {
			body["model"] = "chat"
			query.Set("model", "other-chat")
		}
	case row.Path == "/ajax-api/3.0/mlflow/scorer/invoke":
		body["experiment_id"] = granted
		body["log_assessments"] = true // the contract's update; reading alone needs READ
		query.Set("experiment_id", decoy)
	case row.Path == "/api/2.0/mlflow/traces/link-prompts":
		body["trace_id"] = recordedTrace // in experiment 1, the granted one
		body["prompt_versions"] = []any{}
		query.Set("trace_id", otherTeamTrace)
	case row.Path == "/api/3.0/mlflow/gateway/endpoints/create":
		body["model_configs"] = []any{map[string]any{"model_definition_id": granted}}
		body["model_definition_id"] = decoy
		query.Set("model_definition_id", decoy)
	case p.kind == "scorer":
		if method == "GET" {
			query.Set("experiment_id", p.scorerGranted[0])
			query.Set("name", p.scorerGranted[1])
			body["experiment_id"], body["name"] = p.scorerDecoy[0], p.scorerDecoy[1]
		} else {
			body["experiment_id"], body["name"] = p.scorerGranted[0], p.scorerGranted[1]
			query.Set("experiment_id", p.scorerDecoy[0])
			query.Set("name", p.scorerDecoy[1])
		}
	case pathParam:
		path = param.ReplaceAllString(path, granted)
		if field != "" {
			query.Set(field, decoy)
			body[field] = values(decoy)
		}
	case strings.Contains(row.IDSource, "header X-Mlflow-Experiment-Id"):
		header.Set("X-Mlflow-Experiment-Id", granted)
		query.Set("experiment_id", decoy)
		body["experiment_id"] = decoy
	case strings.Contains(row.IDSource, "QUERY string, even though POST"):
		query.Set("run_uuid", granted)
		body["run_id"] = decoy
	case method == "GET":
		if many {
			query[field] = []string{granted}
		} else {
			query.Set(field, granted)
		}
		body[field] = values(decoy)
	default:
		body[field] = values(granted)
		query.Set(field, decoy)
	}
	path = param.ReplaceAllString(path, "x") // other path parameters
	path = strings.Replace(path, "*", "x/y", 1)
	target := path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var b []byte
	if len(body) > 0 {
		b, _ = json.Marshal(body)
	}
	contentType := "application/json"
	if row.Path == "/v1/traces" {
		// OTLP: a protobuf body (empty: no spans), read for the traces
		// its spans name.
		b, contentType = nil, "application/x-protobuf"
	}
	r := httptest.NewRequest(method, target, strings.NewReader(string(b)))
	r.Header = header
	// A DELETE's body is read whatever its Content-Type: send none.
	if method != "DELETE" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// TestContract sends, for every row of the contract, a real HTTP request
// through the authorizer and a reverse proxy to the MLflow double, as users
// at each level, an admin and a user with no grant: the granted id where
// the row's id_source says, a decoy everywhere else MLflow might read. An
// allowed request must reach MLflow with its body intact; a refused one
// must not reach it at all.
func TestContract(t *testing.T) {
	d := mlflowtest.New(t)
	d.AddRun(otherTeamRun, "2")
	d.AddTrace(otherTeamTrace, "2")
	d.AddLoggedModel(otherTeamModel, "2")
	up, err := NewUpstream(UpstreamConfig{URL: d.URL(), Timeout: 2 * time.Second})
	require.NoError(t, err)
	levels := []permission.Level{permission.NoPermissions, permission.Read, permission.Use, permission.Edit, permission.Manage}

	// The gateway under test: a real HTTP server, the identity from a test
	// header, the authorizer of the current row, a reverse proxy to the
	// double.
	var current atomic.Pointer[Authorizer]
	target, _ := url.Parse(d.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := &auth.Identity{Username: r.Header.Get("X-Contract-User"), Method: auth.MethodBasic}
		r.Header.Del("X-Contract-User")
		current.Load().Wrap(proxy).ServeHTTP(w, r.WithContext(auth.NewContext(r.Context(), id)))
	}))
	t.Cleanup(gw.Close)
	var sent atomic.Int64

	checked := 0
	for _, row := range loadSpec(t) {
		if row.Category == "auth-api" || row.Category == "auth-ui" {
			continue
		}
		req := Requirement(row.GatewayRequired)
		if req == "" {
			req = Requirement(row.Required)
		}
		key := row.Method + " " + row.Path
		t.Run(key, func(t *testing.T) {
			method := row.Method
			if method == "*" {
				row.Method = "POST"
			}
			need, per := req.Capability()
			p := pairFor(row)
			data := &permission.Data{Users: []permission.User{{Name: "root", Active: true, Admin: true}, {Name: "nogrant", Active: true}}}
			for _, l := range levels {
				u := "lvl-" + l.String()
				data.Users = append(data.Users, permission.User{Name: u, Active: true})
				data.Grants = append(data.Grants, permission.Grant{Resource: p.grant, Principal: permission.ForUser(u), Level: l})
			}
			e, err := permission.NewEngine(context.Background(), permission.LoaderFunc(func(context.Context) (*permission.Data, error) { return data, nil }), permission.Config{})
			require.NoError(t, err)
			a, err := NewAuthorizer(Config{Engine: e, Lookups: up, Logger: slog.New(slog.DiscardHandler)})
			require.NoError(t, err)

			current.Store(a)
			status := func(user string) int {
				r := build(t, row, p)
				body, err := io.ReadAll(r.Body)
				require.NoError(t, err)
				out, err := http.NewRequest(r.Method, gw.URL+r.URL.RequestURI(), bytes.NewReader(body))
				require.NoError(t, err)
				out.Header = r.Header.Clone()
				out.Header.Set("X-Contract-User", user)
				id := strconv.FormatInt(sent.Add(1), 10)
				out.Header.Set("X-Contract-Request", id)
				resp, err := gw.Client().Do(out)
				require.NoError(t, err)
				answer, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				got, reached := d.Seen.Load(id)
				if req == RequireGraphQL && resp.StatusCode == http.StatusOK && !reached &&
					bytes.Contains(answer, []byte(`"apiError":{"code":"PERMISSION_DENIED"`)) {
					// GraphQL refusals are answered in MLflow's GraphQL
					// error shape, so its UI shows them.
					return http.StatusForbidden
				}
				if resp.StatusCode == http.StatusOK {
					// MLflow's 200: the request reached it, body intact
					// (a filtered search's pages are the gateway's own).
					assert.True(t, reached, "%s: 200 without reaching MLflow", key)
					if req != RequireFilter || user == "root" {
						assert.Equal(t, string(body), got, "%s: the body MLflow received", key)
					}
				} else {
					assert.False(t, reached, "%s: refused (%d) yet reached MLflow", key, resp.StatusCode)
				}
				return resp.StatusCode
			}
			switch {
			case req == RequireNotServed:
				assert.Equal(t, 404, status("nogrant"))
				assert.Equal(t, 404, status("root"))
			case req == RequireNone || req == RequireAuthenticated:
				assert.Equal(t, 200, status("nogrant"))
			case req == RequireGraphQL:
				// Per field: this query reads experiment 1.
				for _, l := range levels {
					want := 403
					if l.Allows(permission.CanRead) {
						want = 200
					}
					assert.Equal(t, want, status("lvl-"+l.String()), "%s: the user has %s", key, l)
				}
				assert.Equal(t, 403, status("nogrant"))
				assert.Equal(t, 200, status("root"))
			case req == RequireFilter:
				// Anyone signed in; the answer is filtered (filter_test.go).
				for _, u := range []string{"nogrant", "lvl-READ", "root"} {
					assert.Equal(t, 200, status(u), u)
				}
			case !per || pendingRows[key] || pendingRows[method+" "+row.Path]:
				assert.Equal(t, 403, status("nogrant"), "admin-only")
				assert.Equal(t, 403, status("lvl-MANAGE"), "admin-only, whatever the grant")
				assert.Equal(t, 200, status("root"))
				if per {
					_, ruled := ruleFor(&Endpoint{Method: row.Method, Path: row.Path, IDSource: row.IDSource})
					assert.False(t, ruled, "%s has a rule now: take it off pendingRows", key)
				}
			default:
				for _, l := range levels {
					want := 403
					if l.Allows(need) {
						want = 200
					}
					assert.Equal(t, want, status("lvl-"+l.String()), "%s needs %s; the user has %s", key, need, l)
				}
				assert.Equal(t, 403, status("nogrant"))
				assert.Equal(t, 200, status("root"))
			}
			checked++
		})
	}
	assert.Equal(t, 216, checked, "every row has a builder")
	reached := 0
	d.Seen.Range(func(any, any) bool { reached++; return true })
	t.Logf("%d contract requests sent, %d reached MLflow, %d answered with a recording", sent.Load(), reached, d.Recorded.Load())
	assert.Positive(t, reached)
	assert.Less(t, int64(reached), sent.Load())
}
