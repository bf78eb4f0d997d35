package gatewaytest

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Get sends a GET to url with the header pairs given and returns the
// status and the JSON answer (nil when it is not JSON).
func Get(t testing.TB, url string, header ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

// CheckMLflow checks that base serves MLflow through the gateway: a
// caller with credentials (header pairs) reads experiment 1, is refused
// experiment 2, and no credentials is a 401.
func CheckMLflow(t testing.TB, base string, credentials ...string) {
	t.Helper()
	code, _ := Get(t, base+"/api/2.0/mlflow/experiments/get?experiment_id=1", credentials...)
	assert.Equal(t, 200, code, "READ on experiment 1")
	code, body := Get(t, base+"/api/2.0/mlflow/experiments/get?experiment_id=2", credentials...)
	assert.Equal(t, 403, code, "nothing on experiment 2")
	assert.Equal(t, "PERMISSION_DENIED", body["error_code"])
	code, body = Get(t, base+"/api/2.0/mlflow/experiments/get?experiment_id=1")
	assert.Equal(t, 401, code)
	assert.Equal(t, "UNAUTHENTICATED", body["error_code"])
}
