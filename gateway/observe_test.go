package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/internal/mlflowtest"
	"github.com/mlflowauth/mlflowauth/internal/testenv"
	"github.com/mlflowauth/mlflowauth/permission"
)

// scrape reads the gateway's /metrics.
func scrape(t *testing.T, g *Gateway) string {
	t.Helper()
	w := httptest.NewRecorder()
	g.MetricsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	require.Equal(t, 200, w.Code)
	return w.Body.String()
}

// value is the sample of the metric line that starts with prefix.
func value(t *testing.T, text, prefix string) float64 {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, prefix) {
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			require.NoError(t, err, line)
			return v
		}
	}
	t.Fatalf("no metric %s in:\n%s", prefix, text)
	return 0
}

func TestMetrics(t *testing.T) {
	e := newE2E(t, nil)
	// The gateway reads MLflow's pages 1,000 at a time: bob's experiment
	// (2) comes after a full page of others'.
	for i := range 1000 {
		e.d.Catalog = append(e.d.Catalog, map[string]any{"experiment_id": strconv.Itoa(1000 + i), "name": "other/" + strconv.Itoa(i)})
	}
	e.d.Catalog = append(e.d.Catalog, map[string]any{"experiment_id": "2", "name": "team-a/forecast"})
	e.d.AddRun(mlflowtest.RecordedRun, "1")
	bob := func(c call) call { c.user, c.password = "bob", e.token; return c }
	for range 3 {
		assert.Equal(t, 200, e.status(bob(call{path: exp2})))
	}
	assert.Equal(t, 403, e.status(bob(call{path: exp1})))
	assert.Equal(t, 401, e.status(call{path: exp1}))
	assert.Equal(t, 403, e.status(bob(call{path: "/api/2.0/mlflow/runs/get?run_id=" + mlflowtest.RecordedRun})), "a lookup, then refused")
	// bob reads one experiment of 1,001: the gateway refills.
	assert.Equal(t, 200, e.status(bob(call{method: "POST", path: "/api/2.0/mlflow/experiments/search", body: `{"max_results":1}`})))
	assert.Equal(t, 200, e.status(call{path: "/health"}))

	m := scrape(t, e.g)
	rest := regexp.MustCompile(`mlflowauth_requests_total\{code="401",family="([^"]+)"\}`).FindStringSubmatch(m)
	require.NotNil(t, rest, m)
	assert.NotEqual(t, "other", rest[1], "an MLflow endpoint's family")
	assert.Equal(t, 4.0, value(t, m, `mlflowauth_requests_total{code="200",family="`+rest[1]+`"}`), "three gets and a search")
	assert.Equal(t, 2.0, value(t, m, `mlflowauth_requests_total{code="403",family="`+rest[1]+`"}`))
	assert.Equal(t, 1.0, value(t, m, `mlflowauth_requests_total{code="200",family="gateway"}`), "/health")
	assert.Equal(t, 6.0, value(t, m, "mlflowauth_decision_seconds_count"), "every authenticated request is decided once")
	assert.GreaterOrEqual(t, value(t, m, `mlflowauth_lookup_seconds_count{outcome="200"}`), 1.0, "the run's experiment was looked up")
	assert.GreaterOrEqual(t, value(t, m, "mlflowauth_upstream_calls_per_search_sum"), 2.0, "the search took more than one page")
	assert.Equal(t, 1.0, value(t, m, "mlflowauth_upstream_calls_per_search_count"))
	assert.Equal(t, 1.0, value(t, m, `mlflowauth_credential_cache_misses_total{authenticator="basic"}`), "bob's token read once")
	assert.GreaterOrEqual(t, value(t, m, `mlflowauth_credential_cache_hits_total{authenticator="basic"}`), 5.0)
	assert.Contains(t, m, `mlflowauth_credential_cache_hits_total{authenticator="session"}`)
	assert.Contains(t, m, `mlflowauth_credential_cache_hits_total{authenticator="bearer"}`)
	assert.Contains(t, m, "mlflowauth_hash_waits_total")
	assert.Contains(t, m, "go_goroutines", "the runtime's own")
	assert.NotContains(t, m, e.token)
}

// auditLines are the audit log's records.
func auditLines(t *testing.T, b *testenv.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		out = append(out, m)
	}
	return out
}

func TestAuditLog(t *testing.T) {
	e := newE2E(t, nil)
	ctx := context.Background()
	resp, body := e.do(call{method: "POST", path: "/api/2.0/mlflow/experiments/create", body: `{"name":"bob/audited"}`, user: "bob", password: e.token})
	require.Equal(t, 200, resp.StatusCode)
	id := body["experiment_id"].(string)
	require.NoError(t, e.db.PutGrant(ctx, permission.Grant{Resource: permission.Resource{Kind: permission.Experiment, ID: "1"},
		Principal: permission.ForGroup("team-a"), Level: permission.Read}))
	for range 3 {
		assert.Equal(t, 403, e.status(call{path: exp1, user: "bob", password: e.token}))
	}
	var creator, byHand, denied, tokens int
	for _, l := range auditLines(t, e.audit) {
		switch {
		case l["op"] == "grant.put" && l["resource"] == "experiment:"+id:
			creator++
			assert.Equal(t, "bob", l["actor"], "the request's user made the creator's grant")
			assert.Equal(t, "user bob", l["principal"])
			assert.Equal(t, "MANAGE", l["permission"])
		case l["op"] == "grant.put" && l["principal"] == "group team-a":
			byHand++
			assert.Equal(t, "(the gateway)", l["actor"])
		case l["op"] == "token.create":
			tokens++
			assert.Equal(t, "bob", l["user"])
			assert.Equal(t, "laptop", l["name"])
		case l["event"] == "denied":
			denied++
			assert.Equal(t, "bob", l["user"])
			assert.Equal(t, "/api/2.0/mlflow/experiments/get", l["path"])
		}
	}
	assert.Equal(t, 1, tokens, "bob's token was made")
	assert.Equal(t, 1, creator)
	assert.Equal(t, 1, byHand)
	assert.Equal(t, 1, denied, "the repeats are counted, not logged each")
	assert.NotContains(t, e.audit.String(), e.token)
}

// The repeats of a refusal within the window come as one line with their
// count; after the window the next refusal is logged again.
func TestDenialWindow(t *testing.T) {
	var buf testenv.Buffer
	now := time.Unix(1_800_000_000, 0)
	d := &denials{log: slog.New(slog.NewJSONHandler(&buf, nil)), window: time.Minute, now: func() time.Time { return now },
		m: map[denialKey]*denialCount{}}
	for range 5 {
		d.add("bob", "GET", "/api/2.0/mlflow/experiments/get")
	}
	d.add("bob", "POST", "/api/2.0/mlflow/runs/create")
	now = now.Add(30 * time.Second)
	d.flush(false)
	require.Len(t, auditLines(t, &buf), 2, "within the window, only the firsts")
	now = now.Add(31 * time.Second)
	d.flush(false)
	lines := auditLines(t, &buf)
	require.Len(t, lines, 3)
	assert.Equal(t, 4.0, lines[2]["count"], "four more refusals of the same")
	d.add("bob", "GET", "/api/2.0/mlflow/experiments/get")
	assert.Len(t, auditLines(t, &buf), 4, "a new window logs again")
	d.add("bob", "GET", strings.Repeat("/x", 1000))
	assert.LessOrEqual(t, len(auditLines(t, &buf)[4]["path"].(string)), 256, "a path is cut")
	for i := range maxDenialKeys + 10 {
		d.add("u"+strconv.Itoa(i), "GET", "/")
	}
	assert.LessOrEqual(t, len(d.m), maxDenialKeys, "bounded")
}

// BenchmarkGatewayRefusal: the whole in-process path of a request the
// gateway answers itself: the outer layers (metrics, the refusal for the
// audit log), the cross-origin check, Basic token authentication
// (cached), the authorizer's decision and the 403. No network, no SQL,
// no hashing. BenchmarkGatewayHealth is the floor: the outer layers and
// an own route.
func BenchmarkGatewayRefusal(b *testing.B) {
	e := newE2E(b, nil)
	r := httptest.NewRequest("GET", exp1, nil)
	r.SetBasicAuth("bob", e.token)
	w := httptest.NewRecorder()
	e.g.ServeHTTP(w, r)
	require.Equal(b, 403, w.Code)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		e.g.ServeHTTP(w, r)
	}
}

func BenchmarkGatewayHealth(b *testing.B) {
	e := newE2E(b, nil)
	r := httptest.NewRequest("GET", "/health", nil)
	b.ReportAllocs()
	for b.Loop() {
		e.g.ServeHTTP(httptest.NewRecorder(), r)
	}
}
