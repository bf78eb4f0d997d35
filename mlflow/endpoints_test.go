package mlflow

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/permission"
)

type specRow struct {
	Method              string   `json:"method"`
	Path                string   `json:"path"`
	AlsoServedAt        []string `json:"also_served_at"`
	StaticPrefixApplies bool     `json:"static_prefix_applies"`
	Category            string   `json:"category"`
	RPC                 string   `json:"rpc"`
	Resource            string   `json:"resource"`
	Required            string   `json:"required"`
	GatewayRequired     string   `json:"gateway_required"`
	GatewayNote         string   `json:"gateway_note"`
	IDSource            string   `json:"id_source"`
}

func loadSpec(t testing.TB) []specRow {
	b, err := os.ReadFile("testdata/mlflow-endpoints.json")
	require.NoError(t, err)
	var rows []specRow
	require.NoError(t, json.Unmarshal(b, &rows))
	require.Len(t, rows, 271)
	return rows
}

// The table is the contract: every row but the admin API's, with the
// requirement the gateway enforces. Regenerate with go generate when the
// JSON changes.
func TestTableMatchesSpec(t *testing.T) {
	rows := loadSpec(t)
	table := map[[2]string]Endpoint{}
	for _, e := range Endpoints() {
		table[[2]string{e.Method, e.Path}] = e
	}
	n := 0
	for _, r := range rows {
		if r.Category == "auth-api" || r.Category == "auth-ui" {
			assert.NotContains(t, table, [2]string{r.Method, r.Path}, "the admin API's rows are the admin package's")
			continue
		}
		n++
		e, ok := table[[2]string{r.Method, r.Path}]
		if !assert.True(t, ok, "%s %s is not in the table", r.Method, r.Path) {
			continue
		}
		want := r.GatewayRequired
		if want == "" {
			want = r.Required
		}
		assert.Equal(t, Requirement(want), e.Require, "%s %s", r.Method, r.Path)
		assert.Equal(t, r.StaticPrefixApplies, e.StaticPrefix, "%s %s", r.Method, r.Path)
		assert.ElementsMatch(t, r.AlsoServedAt, e.Twins, "%s %s", r.Method, r.Path)
		assert.Equal(t, r.Resource, e.Resource)
		assert.Equal(t, r.IDSource, e.IDSource)
		assert.Equal(t, r.Category, e.Category)
	}
	assert.Equal(t, n, len(table), "no row the JSON lacks")
	assert.Equal(t, 216, n)
}

var param = regexp.MustCompile(`<(path:)?([a-z_]+)>`)

// concrete turns a row's path into one a request would use.
func concrete(p string) string {
	p = param.ReplaceAllStringFunc(p, func(m string) string {
		if strings.HasPrefix(m, "<path:") {
			return "12/abc123/artifacts/model/MLmodel"
		}
		return "v-" + strings.Trim(m, "<>")
	})
	return strings.Replace(p, "*", "some/thing", 1)
}

// Every row is found at its path, its twins and under the static prefix
// where that applies, by the method it names (HEAD as GET).
func TestClassifyEveryRow(t *testing.T) {
	for _, prefix := range []string{"", "/mlflow"} {
		r, err := NewRouter(RouterConfig{StaticPrefix: prefix})
		require.NoError(t, err)
		for _, e := range Endpoints() {
			method := e.Method
			if method == "*" {
				method = "PATCH"
			}
			for _, p := range append([]string{e.Path}, e.Twins...) {
				path := concrete(p)
				if e.StaticPrefix {
					path = prefix + path
				}
				m, ok := r.Classify(method, path)
				if !assert.True(t, ok, "%s %s", method, path) {
					continue
				}
				// A path that is both a row and a twin follows its own row.
				if m.Endpoint.Path != e.Path {
					assert.Equal(t, p, m.Endpoint.Path, "%s %s matched %s", method, path, m.Endpoint.Path)
					continue
				}
				assert.Equal(t, e.Method, m.Endpoint.Method)
				if method == "GET" {
					h, ok := r.Classify("HEAD", path)
					assert.True(t, ok)
					assert.Same(t, m.Endpoint, h.Endpoint, "HEAD as GET")
				}
				if prefix != "" && e.StaticPrefix {
					_, ok := r.Classify(method, concrete(p))
					assert.False(t, ok, "%s without the static prefix", p)
				}
			}
		}
	}
}

func TestClassify(t *testing.T) {
	r, err := NewRouter(RouterConfig{})
	require.NoError(t, err)
	tests := []struct {
		method, path string
		ok           bool
		row          string
		params       map[string]string
	}{
		{"GET", "/api/2.0/mlflow/experiments/get", true, "/api/2.0/mlflow/experiments/get", nil},
		{"GET", "/ajax-api/2.0/mlflow/experiments/get", true, "/api/2.0/mlflow/experiments/get", nil},
		{"POST", "/api/2.0/mlflow/experiments/get", false, "", nil},
		{"GET", "/api/2.0/mlflow/experiments/get/", false, "", nil},
		{"GET", "/api/2.0/mlflow/Experiments/get", false, "", nil},
		{"GET", "/api/2.0/mlflow/experiments", false, "", nil},
		{"GET", "/api/3.0/mlflow/traces/tr-0123", true, "/api/3.0/mlflow/traces/<trace_id>", map[string]string{"trace_id": "tr-0123"}},
		{"GET", "/api/3.0/mlflow/traces/tr-0123/extra", false, "", nil},
		{"DELETE", "/api/2.0/mlflow/logged-models/m-1/tags/my key", true, "/api/2.0/mlflow/logged-models/<model_id>/tags/<tag_key>", map[string]string{"model_id": "m-1", "tag_key": "my key"}},
		{"GET", "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model.pkl", true, "/api/2.0/mlflow-artifacts/artifacts/<path:artifact_path>", map[string]string{"artifact_path": "1/abc/artifacts/model.pkl"}},
		{"GET", "/api/2.0/mlflow-artifacts/artifacts/", false, "", nil},
		{"POST", "/gateway/gemini/v1beta/models/chat:generateContent", true, "/gateway/gemini/v1beta/models/<endpoint_name>:generateContent", map[string]string{"endpoint_name": "chat"}},
		{"POST", "/gateway/gemini/v1beta/models/:generateContent", false, "", nil},
		{"POST", "/gateway/gemini/v1beta/models/chat:deleteEverything", false, "", nil},
		{"DELETE", "/ajax-api/3.0/jobs/123/cancel", true, "/ajax-api/3.0/jobs/*", nil},
		{"GET", "/ajax-api/3.0/jobs", false, "", nil},
		{"GET", "/no/such/route", false, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			m, ok := r.Classify(tt.method, tt.path)
			require.Equal(t, tt.ok, ok)
			if !ok {
				return
			}
			assert.Equal(t, tt.row, m.Endpoint.Path)
			for k, v := range tt.params {
				got, ok := m.Param(k)
				assert.True(t, ok, k)
				assert.Equal(t, v, got, k)
			}
			assert.Equal(t, len(tt.params), m.NParam)
		})
	}
}

func TestRequirementsAndKinds(t *testing.T) {
	c, ok := RequireUpdateAll.Capability()
	assert.True(t, ok)
	assert.Equal(t, permission.CanUpdate, c)
	_, ok = RequireAdmin.Capability()
	assert.False(t, ok)
	r, err := NewRouter(RouterConfig{})
	require.NoError(t, err)
	for path, kind := range map[string]permission.Kind{
		"/api/2.0/mlflow/runs/get":                 permission.Experiment,
		"/api/2.0/mlflow/registered-models/get":    permission.RegisteredModel,
		"/api/2.0/mlflow/experiments/get-by-name":  permission.Experiment,
		"/api/3.0/mlflow/gateway/endpoints/get":    permission.GatewayEndpoint,
		"/api/2.0/mlflow/registered-models/search": 0,
	} {
		m, ok := r.Classify("GET", path)
		if assert.True(t, ok, path) {
			assert.Equal(t, kind, m.Endpoint.Kind(), path)
		}
	}
	_, err = NewRouter(RouterConfig{StaticPrefix: "mlflow"})
	assert.Error(t, err)
}

func FuzzClassify(f *testing.F) {
	r, err := NewRouter(RouterConfig{StaticPrefix: "/p"})
	require.NoError(f, err)
	for _, s := range []string{"/api/2.0/mlflow/runs/get", "/p/api/3.0/mlflow/traces/x", "/ajax-api/3.0/jobs/1", "/gateway/gemini/v1beta/models/a:generateContent", "/", ""} {
		f.Add("GET", s)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		m, ok := r.Classify(method, path)
		if !ok {
			return
		}
		if m.Endpoint == nil || m.NParam > len(m.Params) {
			t.Fatalf("%s %s: %+v", method, path, m)
		}
		// Whatever matched is a path a canonical request can have, and its
		// parameters are non-empty pieces of it.
		for _, p := range m.Params[:m.NParam] {
			if p.Value == "" || !strings.Contains(path, p.Value) {
				t.Fatalf("%s %s: parameter %+v", method, path, p)
			}
		}
		if canon, err := auth.CanonicalPath((&url.URL{Path: path}).EscapedPath()); err == nil && canon != path {
			t.Fatalf("%q is not its own canonical form", path)
		}
	})
}

func BenchmarkClassify(b *testing.B) {
	r, err := NewRouter(RouterConfig{})
	require.NoError(b, err)
	b.Run("exact", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := r.Classify("GET", "/ajax-api/2.0/mlflow/runs/get"); !ok {
				b.Fatal("no match")
			}
		}
	})
	b.Run("query", func(b *testing.B) {
		// GET with a query: the row and the id where MLflow reads it.
		req := httptest.NewRequest("GET", "/ajax-api/2.0/mlflow/runs/get?run_id=0123456789abcdef0123456789abcdef", nil)
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := r.Classify(req.Method, req.URL.Path); !ok {
				b.Fatal("no match")
			}
			f, err := ReadFields(req, 0)
			if err != nil {
				b.Fatal(err)
			}
			if _, ok, _ := f.String("run_id"); !ok {
				b.Fatal("no run_id")
			}
		}
	})
	b.Run("pattern", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := r.Classify("GET", "/api/2.0/mlflow-artifacts/artifacts/12/0123456789abcdef0123456789abcdef/artifacts/model/MLmodel"); !ok {
				b.Fatal("no match")
			}
		}
	})
}
