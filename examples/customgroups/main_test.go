package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCustomGroups(t *testing.T) {
	file := filepath.Join(t.TempDir(), "teams.csv")
	require.NoError(t, os.WriteFile(file, []byte("ada@example.com,mlflow-admin\nbo@example.com,mlflow\nbo@example.com,ml-team\n"), 0o600))
	env := map[string]string{"TEAM_FILE": file, "OIDC_GROUP_DETECTION_PLUGIN": "team-file"}
	getenv := func(k string) string { return env[k] }

	var out strings.Builder
	require.NoError(t, run([]string{"Ada@Example.com"}, getenv, &out))
	assert.Equal(t, "Ada@Example.com: groups [mlflow-admin], may sign in: true, admin: true\n", out.String())

	out.Reset()
	require.NoError(t, run([]string{"bo@example.com"}, getenv, &out))
	assert.Equal(t, "bo@example.com: groups [mlflow ml-team], may sign in: true, admin: false\n", out.String())

	out.Reset()
	require.NoError(t, run([]string{"eve@example.com"}, getenv, &out))
	assert.Contains(t, out.String(), "may sign in: false")
	assert.Contains(t, out.String(), "You are not in a group allowed to use MLflow (mlflow, or mlflow-admin for administrators)")

	env["OIDC_GROUP_DETECTION_PLUGIN"] = "google_oidc_auth_plugin"
	err := run([]string{"ada@example.com"}, getenv, &out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `OIDC_GROUP_DETECTION_PLUGIN="google_oidc_auth_plugin": unknown group provider`)

	env["OIDC_GROUP_DETECTION_PLUGIN"] = ""
	env["TEAM_FILE"] = filepath.Join(t.TempDir(), "missing.csv")
	err = run([]string{"ada@example.com"}, getenv, &out)
	assert.ErrorContains(t, err, "team-file:")
	assert.Error(t, run(nil, getenv, &out))
}
