package gateway

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDotEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	require.NoError(t, os.WriteFile(path, []byte(`# mlflow-oidc-auth settings
OIDC_CLIENT_ID=mlflow
export OIDC_SCOPE="openid email"
SECRET_KEY='it''s#literal'
OIDC_GROUP_NAME=ml # the data scientists
MULTI="a\nb"

EMPTY=
`), 0o600))
	m, err := DotEnv(path)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"OIDC_CLIENT_ID": "mlflow", "OIDC_SCOPE": "openid email", "SECRET_KEY": "it''s#literal",
		"OIDC_GROUP_NAME": "ml", "MULTI": "a\nb", "EMPTY": ""}, m)

	lookup := WithDotEnv(m, envOf(map[string]string{"OIDC_CLIENT_ID": "from-env"}))
	v, _ := lookup("OIDC_CLIENT_ID")
	assert.Equal(t, "from-env", v, "the environment wins")
	v, _ = lookup("OIDC_SCOPE")
	assert.Equal(t, "openid email", v)

	m, err = DotEnv(filepath.Join(t.TempDir(), "none"))
	require.NoError(t, err)
	assert.Empty(t, m, "no file, no values")

	for _, bad := range []string{"just words", "1ABC=x", `A="unclosed`, "=x"} {
		_, err := parseDotEnv(".env", []byte(bad))
		assert.ErrorIs(t, err, ErrConfig, bad)
		assert.ErrorContains(t, err, "line 1", bad)
	}
}

func FuzzDotEnv(f *testing.F) {
	f.Add("A=1\nexport B='x'\n# c\nC=\"d\\ne\"")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseDotEnv(".env", []byte(s))
		if err != nil {
			return
		}
		for k := range m {
			if !validName(k) {
				t.Fatalf("%q read a variable named %q", s, k)
			}
		}
	})
}
