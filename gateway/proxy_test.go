package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seen is what the upstream received.
type seen struct {
	mu     sync.Mutex
	header http.Header
	host   string
	sum    [32]byte
	n      int64
}

func upstream(t *testing.T, s *seen) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		s.mu.Lock()
		s.header, s.host, s.n = r.Header.Clone(), r.Host, n
		copy(s.sum[:], h.Sum(nil))
		s.mu.Unlock()
		if r.URL.Path == "/get-artifact" {
			w.Header().Set("Content-Type", "application/octet-stream")
			chunk := bytes.Repeat([]byte("a"), 1<<20)
			for range 8 {
				_, _ = w.Write(chunk)
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestProxyRewrites(t *testing.T) {
	var s seen
	up := upstream(t, &s)
	u, _ := url.Parse(up.URL)
	p, err := NewProxy(ProxyConfig{Upstream: u, SessionCookie: "session", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	gw := httptest.NewServer(p)
	defer gw.Close()

	req, _ := http.NewRequest("POST", gw.URL+"/api/2.0/mlflow/runs/log-batch", strings.NewReader(`{"run_id":"x"}`))
	req.Host = "mlflow.example.com"
	req.SetBasicAuth("alice", "mlfat_secret")
	req.Header.Set("Origin", "https://mlflow.example.com")
	req.Header.Set("Cookie", "session=abc123; _mlflow_ui=1")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	s.mu.Lock()
	defer s.mu.Unlock()
	assert.Equal(t, u.Host, s.host, "the upstream's own Host (MLflow 3.5 refuses others)")
	assert.Empty(t, s.header.Get("Origin"), "Origin dropped after the gateway's own check")
	assert.Empty(t, s.header.Get("Authorization"), "the caller's credentials stay here")
	assert.Equal(t, "_mlflow_ui=1", s.header.Get("Cookie"), "the session cookie stays here; MLflow's own pass")
	assert.Equal(t, "mlflow.example.com", s.header.Get("X-Forwarded-Host"))
	assert.NotEmpty(t, s.header.Get("X-Forwarded-For"))
}

func TestProxyUpstreamCredentials(t *testing.T) {
	var s seen
	up := upstream(t, &s)
	u, _ := url.Parse(up.URL)
	p, err := NewProxy(ProxyConfig{Upstream: u, Username: "gateway", Password: "pw", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	r := httptest.NewRequest("GET", "/api/2.0/mlflow/experiments/get?experiment_id=1", nil)
	r.SetBasicAuth("alice", "hers")
	w := httptest.NewRecorder()
	p.ServeHTTP(w, r)
	require.Equal(t, 200, w.Code)
	s.mu.Lock()
	defer s.mu.Unlock()
	req := &http.Request{Header: s.header}
	user, pass, ok := req.BasicAuth()
	assert.True(t, ok)
	assert.Equal(t, "gateway", user, "MLflow sees the gateway's own credentials")
	assert.Equal(t, "pw", pass)
}

// Artifacts stream both ways: what goes up arrives whole, what comes down
// arrives whole.
func TestProxyStreams(t *testing.T) {
	var s seen
	up := upstream(t, &s)
	u, _ := url.Parse(up.URL)
	p, err := NewProxy(ProxyConfig{Upstream: u, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	gw := httptest.NewServer(p)
	defer gw.Close()
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	req, _ := http.NewRequest("PUT", gw.URL+"/api/2.0/mlflow-artifacts/artifacts/1/x/model.pkl", bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	s.mu.Lock()
	assert.Equal(t, int64(len(body)), s.n)
	assert.Equal(t, sha256.Sum256(body), s.sum)
	s.mu.Unlock()

	resp, err = http.Get(gw.URL + "/get-artifact")
	require.NoError(t, err)
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, int64(8<<20), n)
}

func TestProxyUpstreamDown(t *testing.T) {
	up := httptest.NewServer(http.NotFoundHandler())
	u, _ := url.Parse(up.URL)
	up.Close() // nothing listens there now
	p, err := NewProxy(ProxyConfig{Upstream: u, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	w := httptest.NewRecorder()
	p.ServeHTTP(w, httptest.NewRequest("GET", "/api/2.0/mlflow/experiments/search", nil))
	assert.Equal(t, http.StatusBadGateway, w.Code)
	var e struct {
		Code    string `json:"error_code"`
		Message string `json:"message"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e))
	assert.Equal(t, "TEMPORARILY_UNAVAILABLE", e.Code)
	assert.Contains(t, e.Message, "did not answer")
}

// A client that leaves before MLflow answers (a browser changing page) is
// not an unreachable MLflow: no error in the log.
func TestProxyClientGone(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer up.Close()
	defer close(release)
	u, _ := url.Parse(up.URL)
	var log bytes.Buffer
	p, err := NewProxy(ProxyConfig{Upstream: u, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest("GET", "/api/2.0/mlflow/experiments/search", nil).WithContext(ctx)
	done := make(chan struct{})
	w := httptest.NewRecorder()
	go func() { defer close(done); p.ServeHTTP(w, req) }()
	cancel()
	<-done
	assert.NotContains(t, log.String(), "unreachable")
	assert.NotContains(t, log.String(), "level=ERROR")
	assert.Equal(t, http.StatusBadGateway, w.Code, "still answered: the layers before the proxy must see MLflow's answer never came")

	// MLflow really gone is still an error.
	down := httptest.NewServer(http.NotFoundHandler())
	du, _ := url.Parse(down.URL)
	down.Close()
	p, err = NewProxy(ProxyConfig{Upstream: du, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	require.NoError(t, err)
	p.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/2.0/mlflow/experiments/search", nil))
	assert.Contains(t, log.String(), "level=ERROR")
}

func TestNewProxyRefusesBadUpstream(t *testing.T) {
	for _, raw := range []string{"", "ftp://x", "http://"} {
		u, _ := url.Parse(raw)
		_, err := NewProxy(ProxyConfig{Upstream: u})
		assert.Error(t, err, raw)
	}
}

func TestStripCookie(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Add("Cookie", "a=1; session=x")
	r.Header.Add("Cookie", "session=y;b=2")
	stripCookie(r, "session")
	assert.Equal(t, []string{"a=1; b=2"}, r.Header.Values("Cookie"))
	r.Header.Set("Cookie", "session=only")
	stripCookie(r, "session")
	assert.Empty(t, r.Header.Values("Cookie"))
}

// FuzzStripCookie: whatever the Cookie headers hold, the session cookie
// never reaches MLflow.
func FuzzStripCookie(f *testing.F) {
	f.Add("a=1; session=x; b=2")
	f.Add("session=x;session=y")
	f.Fuzz(func(t *testing.T, cookie string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", cookie)
		stripCookie(r, "session")
		for _, c := range r.Cookies() {
			if c.Name == "session" {
				t.Fatalf("%q kept the session cookie: %q", cookie, r.Header.Get("Cookie"))
			}
		}
	})
}

// chunks answers two chunks, the second only after release is closed: a
// proxy that buffered would hold the first until the test gives up.
func chunks(contentType string, release <-chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		_, _ = io.WriteString(w, "data: first\n\n")
		http.NewResponseController(w).Flush() // no Content-Length: chunked
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "data: second\n\n")
	})
}

// readStream reads the first chunk of an answer, which must come while
// the upstream still holds the second, then releases and reads the rest.
func readStream(t *testing.T, do func() (*http.Response, error), release chan struct{}) {
	t.Helper()
	type first struct {
		resp *http.Response
		text string
		err  error
	}
	got := make(chan first, 1)
	go func() {
		resp, err := do()
		if err != nil {
			got <- first{err: err}
			return
		}
		b := make([]byte, len("data: first\n\n"))
		_, err = io.ReadFull(resp.Body, b)
		got <- first{resp, string(b), err}
	}()
	var f first
	select {
	case f = <-got:
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("the first chunk did not arrive before the second was written: something on the way buffers")
	}
	require.NoError(t, f.err)
	defer f.resp.Body.Close()
	require.Equal(t, 200, f.resp.StatusCode)
	assert.Equal(t, []string{"chunked"}, f.resp.TransferEncoding, "streamed, not buffered to a length")
	assert.Equal(t, "data: first\n\n", f.text)
	close(release)
	rest, err := io.ReadAll(f.resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "data: second\n\n", string(rest))
}

// Chunked answers and server-sent events reach the client chunk by chunk
// (FlushInterval 0 flushes at once what has no length or is an event
// stream).
func TestProxyStreamsChunks(t *testing.T) {
	for _, ct := range []string{"text/event-stream", "application/json", "application/octet-stream"} {
		t.Run(ct, func(t *testing.T) {
			release := make(chan struct{})
			up := httptest.NewServer(chunks(ct, release))
			defer up.Close()
			u, _ := url.Parse(up.URL)
			p, err := NewProxy(ProxyConfig{Upstream: u, Logger: slog.New(slog.DiscardHandler)})
			require.NoError(t, err)
			gw := httptest.NewServer(p)
			defer gw.Close()
			readStream(t, func() (*http.Response, error) { return http.Get(gw.URL + "/ajax-api/2.0/mlflow/stream") }, release)
		})
	}
}

// The same through the whole gateway (metrics, audit, authentication,
// authorization, proxy): nothing on the way holds a chunk back.
func TestGatewayStreamsChunks(t *testing.T) {
	e := newE2E(t, nil)
	release := make(chan struct{})
	e.d.Extra = map[string]http.Handler{"/api/2.0/mlflow/experiments/get": chunks("text/event-stream", release)}
	readStream(t, func() (*http.Response, error) {
		req, err := http.NewRequest("GET", e.url+exp2, nil)
		if err != nil {
			return nil, err
		}
		req.SetBasicAuth("root", rootPassword)
		return http.DefaultClient.Do(req)
	}, release)
}
