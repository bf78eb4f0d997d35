package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/gateway"
	"github.com/mlflowauth/mlflowauth/internal/gatewaytest"
)

func TestAPIKeys(t *testing.T) {
	f := filepath.Join(t.TempDir(), "keys.txt")
	require.NoError(t, os.WriteFile(f, []byte("# internal keys\nk-0123456789abcdef Ada\n"), 0o600))
	keys, err := readKeys(f)
	require.NoError(t, err)

	g, d := gatewaytest.New(t, gateway.Options{Authenticators: []auth.Authenticator{apiKeys(keys)}})
	d.AddExperiment("2", "team-b/private")
	gatewaytest.User(t, g, "ada") // the account the key names: READ on experiment 1
	srv := httptest.NewServer(g)
	defer srv.Close()

	gatewaytest.CheckMLflow(t, srv.URL, "X-Api-Key", "k-0123456789abcdef")
	code, body := gatewaytest.Get(t, srv.URL+"/api/2.0/mlflow/experiments/get?experiment_id=1", "X-Api-Key", "k-wrong-wrong-wrong")
	assert.Equal(t, 401, code)
	assert.Equal(t, "Unknown API key", body["message"])
}

func TestReadKeys(t *testing.T) {
	for name, text := range map[string]string{"short key": "short ada\n", "no user": "k-0123456789abcdef\n"} {
		f := filepath.Join(t.TempDir(), "keys.txt")
		require.NoError(t, os.WriteFile(f, []byte(text), 0o600))
		_, err := readKeys(f)
		assert.ErrorContains(t, err, "keys.txt:1", name)
	}
	_, err := readKeys(filepath.Join(t.TempDir(), "missing"))
	assert.Error(t, err)
}
