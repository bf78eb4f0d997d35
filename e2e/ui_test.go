package e2e

import (
	"io"
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUIAssets: MLflow's web UI page through the gateway loads its
// JavaScript, CSS and favicon, which MLflow serves to anyone (a 401 on
// them left the UI a blank page), answered as MLflow answers them; nothing
// else is opened with them.
func TestUIAssets(t *testing.T) {
	each(t, func(t *testing.T, s *suite) {
		get := func(method, base, path string, admin bool) (int, string, string) {
			t.Helper()
			req, err := http.NewRequest(method, base+path, nil)
			require.NoError(t, err)
			if admin {
				req.SetBasicAuth("admin", adminPassword)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
		}
		gw, direct := s.srv.URL, s.mlflow.URL
		status, _, page := get("GET", gw, "/", true)
		require.Equal(t, 200, status)
		assets := regexp.MustCompile(`(?:src|href)="\.?/?(static-files/[^"]+\.(?:js|css))"`).FindAllStringSubmatch(page, -1)
		require.NotEmpty(t, assets, "MLflow's index.html names its bundles: %.300s", page)
		for _, a := range assets {
			status, ctype, body := get("GET", gw, "/"+a[1], false)
			assert.Equal(t, 200, status, "%s without credentials", a[1])
			assert.Regexp(t, `javascript|css`, ctype, a[1])
			_, _, want := get("GET", direct, "/"+a[1], false)
			assert.Equal(t, len(want), len(body), "%s as MLflow serves it", a[1])
		}
		for _, path := range []string{"/favicon.ico", "/static-files/favicon.ico", "/static-files/no/such/file.js"} {
			status, _, _ := get("GET", gw, path, false)
			want, _, _ := get("GET", direct, path, false)
			assert.Equal(t, want, status, "%s: MLflow's own answer, not the gateway's 401", path)
		}
		status, _, _ = get("GET", gw, "/", false)
		assert.Equal(t, 401, status, "the page itself needs credentials")
		status, _, _ = get("POST", gw, "/"+assets[0][1], false)
		assert.Equal(t, 401, status, "only GET is public")
		status, _, _ = get("GET", gw, "/api/2.0/mlflow/experiments/search?max_results=1", false)
		assert.Equal(t, 401, status)
	})
}
