package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/store"
	_ "github.com/mlflowauth/mlflowauth/store/sqlite"
)

type downDB struct{}

func (downDB) Ping(context.Context) error { return errors.New("connection refused") }

func TestHealth(t *testing.T) {
	w := httptest.NewRecorder()
	Health().ServeHTTP(w, httptest.NewRequest("GET", "/health", nil))
	assert.Equal(t, 200, w.Code)

	st, err := store.OpenWith(context.Background(), "sqlite:///"+filepath.Join(t.TempDir(), "auth.db"), store.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	w = httptest.NewRecorder()
	Ready(st).ServeHTTP(w, httptest.NewRequest("GET", "/health/ready", nil))
	assert.Equal(t, 200, w.Code, "the store answers")
	st.Close()
	w = httptest.NewRecorder()
	Ready(st).ServeHTTP(w, httptest.NewRequest("GET", "/health/ready", nil))
	assert.Equal(t, 503, w.Code, "a closed store does not")
	w = httptest.NewRecorder()
	Ready(downDB{}).ServeHTTP(w, httptest.NewRequest("GET", "/health/ready", nil))
	assert.Equal(t, 503, w.Code)
	assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
}
