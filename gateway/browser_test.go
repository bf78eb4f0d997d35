package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBrowserGuard(t *testing.T) {
	reached := 0
	h, err := BrowserGuard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ }), "https://ui.example.com")
	require.NoError(t, err)
	do := func(method, site, origin string, cookie bool) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "https://mlflow.example.com/api/2.0/mlflow/experiments/create", strings.NewReader(`{}`))
		if site != "" {
			r.Header.Set("Sec-Fetch-Site", site)
		}
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if cookie {
			r.AddCookie(&http.Cookie{Name: "session", Value: "x"})
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := do("POST", "cross-site", "https://evil.example", true)
	assert.Equal(t, http.StatusForbidden, w.Code, "a cross-origin write with cookies")
	assert.Contains(t, w.Body.String(), `"error_code":"PERMISSION_DENIED"`)
	assert.Equal(t, 0, reached)
	assert.Equal(t, 200, do("POST", "same-origin", "https://mlflow.example.com", true).Code)
	assert.Equal(t, 200, do("POST", "", "https://mlflow.example.com", true).Code, "Origin matching Host, no Sec-Fetch-Site")
	assert.Equal(t, http.StatusForbidden, do("POST", "", "https://evil.example", true).Code)
	assert.Equal(t, 200, do("POST", "cross-site", "https://ui.example.com", true).Code, "a trusted origin")
	assert.Equal(t, 200, do("GET", "cross-site", "https://evil.example", true).Code, "reads are not writes")
	assert.Equal(t, http.StatusForbidden, do("POST", "cross-site", "https://evil.example", false).Code,
		"no cookies, but a browser's cross-site write: Basic credentials it remembered would authenticate it")
	assert.Equal(t, http.StatusForbidden, do("POST", "", "https://evil.example", false).Code, "an Origin of another site")
	assert.Equal(t, 200, do("POST", "", "", false).Code, "neither header: MLflow's clients, scripts, curl")
	assert.Equal(t, []string{"Authorization", "Cookie"}, w.Header().Values("Vary"))

	_, err = BrowserGuard(http.NotFoundHandler(), "not an origin")
	assert.Error(t, err)
}
