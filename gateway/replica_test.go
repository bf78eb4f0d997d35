package gateway

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/internal/testenv"
)

// TestMain: with MLFLOWAUTH_TEST_GATEWAY set, the test binary is another
// gateway process configured from its environment, serving until its
// standard input closes.
func TestMain(m *testing.M) {
	if os.Getenv("MLFLOWAUTH_TEST_GATEWAY") != "" {
		os.Exit(runGatewayProcess())
	}
	os.Exit(m.Run())
}

func runGatewayProcess() int {
	cfg, err := FromEnv(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	g, err := New(context.Background(), cfg, Options{Logger: slog.New(slog.DiscardHandler), Audit: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer g.Close()
	if err := testenv.Serve(g); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// Two gateway processes on one PostgreSQL: a token revoked through one is
// refused by the other within the feed's delivery time.
func TestRevocationAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	db := testenv.PostgresSchema(t)
	e := newE2E(t, map[string]string{"OIDC_USERS_DB_URI": db, "SECRET_KEY": "shared-by-both-replicas"})
	other := testenv.StartServer(t, "MLFLOWAUTH_TEST_GATEWAY=1", "OIDC_USERS_DB_URI="+db, "MLFLOW_UPSTREAM_URL="+e.d.URL(),
		"SECRET_KEY=shared-by-both-replicas")

	get := func(base string) int {
		req, err := http.NewRequest("GET", base+exp2, nil)
		require.NoError(t, err)
		req.SetBasicAuth("bob", e.token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, 200, get(e.url))
	require.Equal(t, 200, get(other), "the other process knows the token (and now caches it)")

	h := sha256.Sum256([]byte(e.token))
	tok, err := e.db.TokenByHash(ctx, h[:])
	require.NoError(t, err)
	revoked := time.Now()
	require.NoError(t, e.db.RevokeToken(ctx, "bob", tok.ID))
	assert.Equal(t, 401, get(e.url), "refused at once where it was revoked")
	var delay time.Duration
	for time.Since(revoked) < 5*time.Second {
		if get(other) == 401 {
			delay = time.Since(revoked)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	require.NotZero(t, delay, "the other process still accepts the revoked token after 5s")
	t.Logf("revocation seen by the other process after %v", delay.Round(time.Millisecond))
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// A 512 MiB artifact up and down through the gateway: every byte arrives,
// and the gateway's heap stays flat (nothing is buffered).
func TestLargeArtifact(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 1 GiB through loopback")
	}
	const size = 512 << 20
	const path = "/api/2.0/mlflow-artifacts/artifacts/2/run/artifacts/weights.bin"
	e := newE2E(t, nil)
	var received atomic.Int64
	e.d.Extra = map[string]http.Handler{path: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPut:
			n, err := io.Copy(io.Discard, r.Body)
			received.Store(n)
			if err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, "{}")
		case http.MethodGet:
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", fmt.Sprint(size))
			_, _ = io.CopyN(w, zeros{}, size)
		}
	})}

	// The heap's high-water mark while the transfers run.
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	}()

	req, err := http.NewRequest(http.MethodPut, e.url+path, io.LimitReader(zeros{}, size))
	require.NoError(t, err)
	req.ContentLength = size
	req.SetBasicAuth("bob", e.token) // EDIT on experiment 2
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, int64(size), received.Load(), "every byte reached MLflow")

	req, err = http.NewRequest(http.MethodGet, e.url+path, nil)
	require.NoError(t, err)
	req.SetBasicAuth("bob", e.token)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, int64(size), n, "every byte came back")

	close(done)
	<-sampled
	grew := int64(peak.Load()) - int64(base.HeapInuse)
	t.Logf("heap in use grew by at most %d KiB moving 2 x %d MiB", grew>>10, size>>20)
	assert.Less(t, grew, int64(64<<20), "the gateway buffered the artifact")
	assert.False(t, strings.Contains(e.log.String(), "ERROR"), e.log.String())
}
