// Command bench is the gateway's load benchmark, on loopback in one
// process: the recorded MLflow double as the upstream, the gateway in
// front of it, and a bare httputil.ReverseProxy (the gateway's own proxy,
// without authentication or authorization) in front of the same upstream.
//
// It measures, in one run, requests per second through each for a token
// user, a session user and a bearer user, and the latency the gateway
// adds (p50, p99) for a cold lookup (a run never seen), a 1 KiB log-batch,
// a sparse filtered search (5 readable experiments among 10,000) and a
// 512 MiB artifact download; and the process's peak heap. Every phase is
// bounded in requests and in time.
//
//	go run ./bench -requests 20000 -duration 10s
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/mlflowauth/mlflowauth/basic"
	"github.com/mlflowauth/mlflowauth/gateway"
	"github.com/mlflowauth/mlflowauth/internal/mlflowtest"
	"github.com/mlflowauth/mlflowauth/internal/oidctest"
	"github.com/mlflowauth/mlflowauth/permission"
	"github.com/mlflowauth/mlflowauth/store"
	_ "github.com/mlflowauth/mlflowauth/store/sqlite"
)

// fatalT lets the MLflow double run outside a test: a failure ends the
// program.
type fatalT struct{ cleanups []func() }

func (t *fatalT) Errorf(format string, args ...any) { log.Printf(format, args...) }
func (t *fatalT) FailNow()                          { log.Fatal("bench: setting up the MLflow double failed") }
func (t *fatalT) Cleanup(f func())                  { t.cleanups = append(t.cleanups, f) }

type config struct {
	requests    int
	duration    time.Duration
	concurrency int
	latencyN    int
	artifactMiB int
}

func main() {
	var c config
	flag.IntVar(&c.requests, "requests", 20000, "requests per throughput phase, at most")
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "time per throughput phase, at most")
	flag.IntVar(&c.concurrency, "concurrency", 16, "clients in flight during throughput phases")
	flag.IntVar(&c.latencyN, "latency-requests", 500, "requests per latency scenario")
	flag.IntVar(&c.artifactMiB, "artifact-mib", 512, "size of the artifact download")
	flag.Parse()
	if err := run(c); err != nil {
		log.Fatal(err)
	}
}

const (
	sessionCookie = "session"
	artifactPath  = "/api/2.0/mlflow-artifacts/artifacts/1/run/artifacts/weights.bin"
)

// bench is everything one run uses.
type bench struct {
	cfg            config
	d              *mlflowtest.Double
	gateway, bare  string
	token          string
	session        *http.Cookie
	bearer         string
	runs           []string
	client         *http.Client
	peak           atomic.Uint64
	stopSampling   chan struct{}
	samplerStopped chan struct{}
}

func run(c config) error {
	ctx := context.Background()
	t := &fatalT{}
	defer func() {
		for _, f := range slices.Backward(t.cleanups) {
			f()
		}
	}()
	b := &bench{cfg: c, d: mlflowtest.New(t), client: &http.Client{Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024}}}
	// 10,000 experiments; the token user reads 5 of them, spread out.
	for i := range 10000 {
		b.d.Catalog = append(b.d.Catalog, map[string]any{"experiment_id": strconv.Itoa(10000 + i), "name": fmt.Sprintf("team-%03d/exp-%d", i%100, i)})
	}
	b.runs = make([]string, c.latencyN+10)
	for i := range b.runs {
		id := make([]byte, 16)
		_, _ = rand.Read(id)
		b.runs[i] = hex.EncodeToString(id)
		b.d.AddRun(b.runs[i], "1")
	}
	size := int64(c.artifactMiB) << 20
	b.d.Extra = map[string]http.Handler{artifactPath: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		_, _ = io.CopyN(w, zeros{}, size)
	})}

	idp, err := mockoidc.Run()
	if err != nil {
		return err
	}
	defer idp.Shutdown()
	gwLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	b.gateway = "http://" + gwLn.Addr().String()
	dir, err := os.MkdirTemp("", "mlflowauth-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	env := map[string]string{
		"MLFLOW_UPSTREAM_URL": b.d.URL(), "OIDC_USERS_DB_URI": "sqlite:///" + filepath.Join(dir, "auth.db"),
		"OIDC_DISCOVERY_URL": idp.DiscoveryEndpoint(), "OIDC_CLIENT_ID": idp.Config().ClientID,
		"OIDC_CLIENT_SECRET": idp.Config().ClientSecret, "OIDC_REDIRECT_URI": b.gateway + "/callback",
		"SESSION_TYPE": "memory", "OIDC_SCOPE": "openid email profile groups",
	}
	cfg, err := gateway.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		return err
	}
	quiet := slog.New(slog.DiscardHandler)
	g, err := gateway.New(ctx, cfg, gateway.Options{Logger: quiet, Audit: quiet})
	if err != nil {
		return err
	}
	defer g.Close()
	gw := g.Server()
	go gw.Serve(gwLn)
	defer gw.Close()

	proxy, err := gateway.NewProxy(gateway.ProxyConfig{Upstream: cfg.Upstream, Logger: quiet})
	if err != nil {
		return err
	}
	bareLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	bare := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go bare.Serve(bareLn)
	defer bare.Close()
	b.bare = "http://" + bareLn.Addr().String()

	if err := b.users(ctx, g.Store(), idp); err != nil {
		return err
	}
	b.sample()

	fmt.Printf("# mlflowauth load benchmark\n\n%d CPUs, GOMAXPROCS %d, %s; %d clients, at most %d requests or %v per phase\n\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), c.concurrency, c.requests, c.duration)
	fmt.Println("| user | bare proxy req/s | gateway req/s | gateway / bare |")
	fmt.Println("|---|---|---|---|")
	for _, u := range []struct {
		name string
		auth func(*http.Request)
	}{
		{"token (Basic)", func(r *http.Request) { r.SetBasicAuth("bob", b.token) }},
		{"session (cookie)", func(r *http.Request) { r.AddCookie(b.session) }},
		{"bearer (JWT)", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+b.bearer) }},
	} {
		get := func(base string) (*http.Request, error) {
			r, err := http.NewRequest(http.MethodGet, base+"/api/2.0/mlflow/experiments/get?experiment_id=1", nil)
			if err == nil {
				u.auth(r)
			}
			return r, err
		}
		// Interleaved, best of two each: the machine's other work hits both.
		var bareRPS, gwRPS float64
		for range 2 {
			rps, err := b.throughput(func() (*http.Request, error) { return get(b.bare) })
			if err != nil {
				return fmt.Errorf("bare proxy, %s: %w", u.name, err)
			}
			bareRPS = max(bareRPS, rps)
			if rps, err = b.throughput(func() (*http.Request, error) { return get(b.gateway) }); err != nil {
				return fmt.Errorf("gateway, %s: %w", u.name, err)
			}
			gwRPS = max(gwRPS, rps)
		}
		fmt.Printf("| %s | %.0f | %.0f | %.0f%% |\n", u.name, bareRPS, gwRPS, 100*gwRPS/bareRPS)
	}

	fmt.Println("\n| scenario | bare p50 | bare p99 | gateway p50 | gateway p99 | added p50 | added p99 |")
	fmt.Println("|---|---|---|---|---|---|---|")
	batch := logBatch(b.runs[0])
	search := `{"max_results":5}`
	scenarios := []struct {
		name  string
		count int
		req   func(base string, i int) (*http.Request, error)
	}{
		{"cold lookup (runs/get, a run not seen before)", c.latencyN, func(base string, i int) (*http.Request, error) {
			return http.NewRequest(http.MethodGet, base+"/api/2.0/mlflow/runs/get?run_id="+b.runs[i%len(b.runs)], nil)
		}},
		{"runs/log-batch, 1 KiB body", c.latencyN, func(base string, _ int) (*http.Request, error) {
			r, err := http.NewRequest(http.MethodPost, base+"/api/2.0/mlflow/runs/log-batch", strings.NewReader(batch))
			if err == nil {
				r.Header.Set("Content-Type", "application/json")
			}
			return r, err
		}},
		{"sparse filtered search (5 of 10,000)", max(c.latencyN/10, 10), func(base string, _ int) (*http.Request, error) {
			r, err := http.NewRequest(http.MethodPost, base+"/api/2.0/mlflow/experiments/search", strings.NewReader(search))
			if err == nil {
				r.Header.Set("Content-Type", "application/json")
			}
			return r, err
		}},
		{fmt.Sprintf("artifact download, %d MiB", c.artifactMiB), 3, func(base string, _ int) (*http.Request, error) {
			return http.NewRequest(http.MethodGet, base+artifactPath, nil)
		}},
	}
	for _, s := range scenarios {
		bareLat, err := b.latencies(s.count, func(i int) (*http.Request, error) { return s.req(b.bare, i) }, false)
		if err != nil {
			return fmt.Errorf("bare proxy, %s: %w", s.name, err)
		}
		gwLat, err := b.latencies(s.count, func(i int) (*http.Request, error) { return s.req(b.gateway, i) }, true)
		if err != nil {
			return fmt.Errorf("gateway, %s: %w", s.name, err)
		}
		bp50, bp99 := quantiles(bareLat)
		gp50, gp99 := quantiles(gwLat)
		fmt.Printf("| %s | %v | %v | %v | %v | %v | %v |\n", s.name, round(bp50), round(bp99), round(gp50), round(gp99), round(gp50-bp50), round(gp99-bp99))
	}
	close(b.stopSampling)
	<-b.samplerStopped
	fmt.Printf("\nPeak heap in use (the whole process: clients, gateway, proxy, MLflow double): %d MiB\n", b.peak.Load()>>20)
	return nil
}

// users makes bob (a token; READ on experiment 1, EDIT through a grant
// for log-batch, and 5 experiments of the catalog), erin (a session) and
// frank (a bearer token).
func (b *bench) users(ctx context.Context, db *store.Store, idp *mockoidc.MockOIDC) error {
	for _, name := range []string{"bob", "frank@example.com"} {
		if _, err := db.CreateUser(ctx, store.User{Username: name}); err != nil {
			return err
		}
	}
	grant := func(user, id string, l permission.Level) error {
		return db.PutGrant(ctx, permission.Grant{Resource: permission.Resource{Kind: permission.Experiment, ID: id},
			Principal: permission.ForUser(user), Level: l})
	}
	if err := grant("bob", "1", permission.Edit); err != nil {
		return err
	}
	for _, id := range []string{"10500", "12500", "14500", "16500", "18500"} {
		if err := grant("bob", id, permission.Read); err != nil {
			return err
		}
	}
	if err := grant("frank@example.com", "1", permission.Read); err != nil {
		return err
	}
	secret, err := basic.NewToken()
	if err != nil {
		return err
	}
	h, _ := basic.ParseToken(secret)
	if _, err := db.CreateToken(ctx, store.Token{Username: "bob", Name: "bench", Hash: h[:], Prefix: basic.TokenDisplayPrefix(secret),
		ExpiresAt: time.Now().Add(24 * time.Hour)}); err != nil {
		return err
	}
	b.token = secret
	if b.session, _, err = oidctest.SignIn(b.gateway, idp, &mockoidc.MockUser{Subject: "00u-erin", Email: "erin@example.com",
		EmailVerified: true, Groups: []string{"mlflow"}}, "/", sessionCookie); err != nil {
		return err
	}
	if err := grant("erin@example.com", "1", permission.Read); err != nil {
		return err
	}
	now := time.Now()
	b.bearer, err = idp.Keypair.SignJWT(jwt.MapClaims{"iss": idp.Issuer(), "aud": idp.Config().ClientID, "sub": "svc-frank",
		"email": "frank@example.com", "email_verified": true, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	return err
}

// throughput sends requests from cfg.concurrency clients until
// cfg.requests are done or cfg.duration passes; every answer must be 200.
func (b *bench) throughput(newReq func() (*http.Request, error)) (float64, error) {
	var done atomic.Int64
	var failure atomic.Value
	deadline := time.Now().Add(b.cfg.duration)
	start := time.Now()
	var wg sync.WaitGroup
	for range b.cfg.concurrency {
		wg.Go(func() {
			for time.Now().Before(deadline) && done.Add(1) <= int64(b.cfg.requests) {
				r, err := newReq()
				if err == nil {
					err = b.send(r)
				}
				if err != nil {
					failure.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := failure.Load().(error); err != nil {
		return 0, err
	}
	n := min(done.Load(), int64(b.cfg.requests))
	return float64(n) / time.Since(start).Seconds(), nil
}

// latencies sends count requests one after the other and returns their
// durations; withAuth adds bob's token.
func (b *bench) latencies(count int, newReq func(int) (*http.Request, error), withAuth bool) ([]time.Duration, error) {
	out := make([]time.Duration, 0, count)
	deadline := time.Now().Add(4 * b.cfg.duration)
	for i := 0; i < count && time.Now().Before(deadline); i++ {
		r, err := newReq(i)
		if err != nil {
			return nil, err
		}
		if withAuth {
			r.SetBasicAuth("bob", b.token)
		}
		start := time.Now()
		if err := b.send(r); err != nil {
			return nil, err
		}
		out = append(out, time.Since(start))
	}
	return out, nil
}

func (b *bench) send(r *http.Request) error {
	resp, err := b.client.Do(r)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %d", r.Method, r.URL.Path, resp.StatusCode)
	}
	return err
}

// sample records the heap's high-water mark until stopSampling closes.
func (b *bench) sample() {
	b.stopSampling, b.samplerStopped = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(b.samplerStopped)
		var m runtime.MemStats
		for {
			select {
			case <-b.stopSampling:
				return
			case <-time.After(50 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > b.peak.Load() {
				b.peak.Store(m.HeapInuse)
			}
		}
	}()
}

// logBatch is a runs/log-batch body of about 1 KiB.
func logBatch(runID string) string {
	var metrics []map[string]any
	for i := range 12 {
		metrics = append(metrics, map[string]any{"key": fmt.Sprintf("loss_%02d", i), "value": 0.5 + float64(i)/100, "timestamp": 1700000000000 + i, "step": i})
	}
	body, _ := json.Marshal(map[string]any{"run_id": runID, "metrics": metrics, "params": []map[string]string{{"key": "lr", "value": "0.001"}}})
	return string(bytes.TrimSpace(body))
}

func quantiles(d []time.Duration) (p50, p99 time.Duration) {
	if len(d) == 0 {
		return 0, 0
	}
	slices.Sort(d)
	return d[len(d)/2], d[min(len(d)-1, len(d)*99/100)]
}

func round(d time.Duration) time.Duration {
	switch {
	case d > 100*time.Millisecond || d < -100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d > time.Millisecond || d < -time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
