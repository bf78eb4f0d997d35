package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/mlflow"
	"github.com/mlflowauth/mlflowauth/store"
)

// requestState is what the layers of one request tell the outermost one:
// who was decided on, when the decision started, how often MLflow was
// called.
type requestState struct {
	own      bool // one of the gateway's own routes answered
	user     string
	decided  time.Time
	upstream atomic.Int32
}

type stateKey struct{}

func stateOf(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey{}).(*requestState)
	return st
}

// statusWriter remembers the status sent. Unwrap lets
// http.ResponseController (the proxy's flushes and upgrades) reach the
// connection.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// metrics are the gateway's Prometheus metrics, on a registry of its own.
type metrics struct {
	reg         *prometheus.Registry
	router      *mlflow.Router
	requests    *prometheus.CounterVec
	decision    prometheus.Histogram
	lookup      *prometheus.HistogramVec
	searchCalls prometheus.Histogram
}

func newMetrics(g *Gateway) (*metrics, error) {
	router, err := mlflow.NewRouter(mlflow.RouterConfig{StaticPrefix: g.cfg.StaticPrefix})
	if err != nil {
		return nil, err
	}
	m := &metrics{
		reg:    prometheus.NewRegistry(),
		router: router,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mlflowauth_requests_total",
			Help: "Requests by route family (the MLflow endpoint's category; gateway for its own routes) and status code."},
			[]string{"family", "code"}),
		decision: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mlflowauth_decision_seconds",
			Help:    "Time from authentication to the authorizer's answer (lookups included): forwarded or refused.",
			Buckets: []float64{1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 1e-3, 1e-2, 0.1, 1}}),
		lookup: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mlflowauth_lookup_seconds",
			Help:    "Lookups the authorizer made in MLflow (run to experiment, names) that no cache answered, by outcome.",
			Buckets: prometheus.DefBuckets}, []string{"outcome"}),
		searchCalls: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mlflowauth_upstream_calls_per_search",
			Help:    "Calls to MLflow that one filtered search or list made (refilling a page the caller may partly not read).",
			Buckets: []float64{1, 2, 3, 5, 10, 20}}),
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.decision, m.lookup, m.searchCalls)
	counter := func(name, help string, labels prometheus.Labels, f func() int64) {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return float64(f()) }))
	}
	const hits, misses = "mlflowauth_credential_cache_hits_total", "mlflowauth_credential_cache_misses_total"
	const hitsHelp, missesHelp = "Credentials answered from the in-process cache.", "Credentials that had to be read from the store or verified."
	basic := prometheus.Labels{"authenticator": "basic"}
	counter(hits, hitsHelp, basic, func() int64 { return g.basic.Stats().CacheHits })
	counter(misses, missesHelp, basic, func() int64 { return g.basic.Stats().Lookups })
	counter("mlflowauth_password_hashes_total", "Password hashes computed (dummy checks for unknown users included).", nil,
		func() int64 { return g.basic.Stats().Hashes })
	counter("mlflowauth_hash_waits_total", "Password checks that waited for a hashing slot.", nil,
		func() int64 { return g.basic.Stats().HashWaits })
	counter("mlflowauth_hash_busy_total", "Password checks refused with 503: no hashing slot in time.", nil,
		func() int64 { return g.basic.Stats().Busy })
	if g.bearer != nil {
		l := prometheus.Labels{"authenticator": "bearer"}
		counter(hits, hitsHelp, l, func() int64 { return g.bearer.Stats().CacheHits })
		counter(misses, missesHelp, l, func() int64 { return g.bearer.Stats().Verified })
	}
	if g.sessions != nil {
		l := prometheus.Labels{"authenticator": "session"}
		counter(hits, hitsHelp, l, func() int64 { return g.sessions.Stats().CacheHits })
		counter(misses, missesHelp, l, func() int64 { return g.sessions.Stats().StoreReads })
	}
	return m, nil
}

// classify names the route's family (bounded: the MLflow endpoint's
// category, else "other") and whether it is a search or list the
// authorizer filters.
func (m *metrics) classify(r *http.Request) (family string, search bool) {
	if r.URL.RawPath != "" {
		return "other", false
	}
	match, ok := m.router.Classify(r.Method, r.URL.Path)
	if !ok {
		return "other", false
	}
	rpc := match.Endpoint.RPC
	return match.Endpoint.Category, strings.Contains(rpc, ".search") || strings.Contains(rpc, ".list")
}

// timedTransport times the authorizer's lookups in MLflow.
type timedTransport struct {
	next http.RoundTripper
	hist *prometheus.HistogramVec
}

func (t timedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(r)
	outcome := "error"
	if err == nil {
		outcome = strconv.Itoa(resp.StatusCode)
	}
	t.hist.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
	return resp, err
}

// MetricsHandler serves the gateway's Prometheus metrics (METRICS_ADDR).
func (g *Gateway) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(g.metrics.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(g.log.Handler(), slog.LevelWarn)})
}

// observe is the outermost layer: it counts each request by family and
// status and a filtered search's calls to MLflow, and reports the
// authorizer's refusals to the audit log.
func (g *Gateway) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &requestState{}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), stateKey{}, st)))
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		family, search := "gateway", false
		if !st.own {
			family, search = g.metrics.classify(r)
		}
		g.metrics.requests.WithLabelValues(family, strconv.Itoa(sw.status)).Inc()
		calls := st.upstream.Load()
		if search && calls > 0 {
			g.metrics.searchCalls.Observe(float64(calls))
		}
		if sw.status == http.StatusForbidden && st.user != "" && calls == 0 {
			g.denials.add(st.user, r.Method, r.URL.Path)
		}
	})
}

// deciding stands between authentication and the authorizer: it notes who
// is decided on and when, and names them as the actor of what the
// request writes (creator grants) for the audit log.
func (g *Gateway) deciding(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateOf(r.Context())
		id, _ := auth.FromRequest(r)
		if st == nil || id == nil {
			next.ServeHTTP(w, r)
			return
		}
		st.user, st.decided = id.Username, time.Now()
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			r = r.WithContext(store.WithActor(r.Context(), id.Username))
		}
		next.ServeHTTP(w, r)
		if st.upstream.Load() == 0 {
			g.metrics.decision.Observe(time.Since(st.decided).Seconds())
		}
	})
}

// forwarding wraps the proxy: the decision ended at its first call; a
// filtered search calls it once per page it reads.
func (g *Gateway) forwarding(proxy http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st := stateOf(r.Context()); st != nil && !st.decided.IsZero() {
			if st.upstream.Add(1) == 1 {
				g.metrics.decision.Observe(time.Since(st.decided).Seconds())
			}
		}
		proxy.ServeHTTP(w, r)
	})
}

// denials writes refusals to the audit log: the first refusal of a user
// on a route at once, the repeats within the window as one count, so a
// script retrying in a loop does not flood the log.
type denials struct {
	log    *slog.Logger
	window time.Duration
	now    func() time.Time
	mu     sync.Mutex
	m      map[denialKey]*denialCount
}

type denialKey struct{ user, method, path string }

type denialCount struct {
	since time.Time
	more  int
}

// maxDenialKeys bounds the map: paths are the clients' to choose.
const maxDenialKeys = 10_000

func (d *denials) add(user, method, path string) {
	if len(path) > 256 {
		path = path[:256]
	}
	k := denialKey{user, method, path}
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.m[k]; ok && now.Sub(c.since) < d.window {
		c.more++
		return
	}
	if c, ok := d.m[k]; ok {
		d.report(k, c)
	}
	if len(d.m) >= maxDenialKeys {
		d.flushLocked(now, true)
	}
	d.m[k] = &denialCount{since: now}
	d.log.Info("audit: denied", "event", "denied", "user", user, "method", method, "path", path)
}

func (d *denials) report(k denialKey, c *denialCount) {
	if c.more > 0 {
		d.log.Info("audit: denied again", "event", "denied", "user", k.user, "method", k.method, "path", k.path,
			"count", c.more, "since", c.since.UTC().Format(time.RFC3339))
	}
}

// flush reports and forgets the counts whose window has passed (all of
// them when all is set).
func (d *denials) flush(all bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.flushLocked(d.now(), all)
}

func (d *denials) flushLocked(now time.Time, all bool) {
	for k, c := range d.m {
		if all || now.Sub(c.since) >= d.window {
			d.report(k, c)
			delete(d.m, k)
		}
	}
}

// auditChange writes what this replica changed to the audit log (each
// replica reports its own changes, so each change is reported once).
func (g *Gateway) auditChange(c store.Change) {
	if !c.Local {
		return
	}
	actor := c.Actor
	if actor == "" {
		actor = "(the gateway)"
	}
	for _, ev := range c.Events {
		attrs := []any{"event", "change", "op", string(ev.Op), "seq", c.Seq, "actor", actor}
		if ev.User != nil {
			attrs = append(attrs, "user", ev.User.Name, "admin", ev.User.Admin, "active", ev.User.Active, "groups", ev.User.Groups)
		}
		if ev.Username != "" {
			attrs = append(attrs, "user", ev.Username)
		}
		if ev.Grant != nil {
			attrs = append(attrs, "resource", ev.Grant.Resource.Kind.String()+":"+ev.Grant.Resource.ID,
				"principal", ev.Grant.Principal.String(), "permission", ev.Grant.Level.String())
		}
		if ev.Resource != nil {
			attrs = append(attrs, "resource", ev.Resource.Kind.String()+":"+ev.Resource.ID)
		}
		if ev.Principal != nil {
			attrs = append(attrs, "principal", ev.Principal.String())
		}
		if ev.Rule != nil {
			attrs = append(attrs, "rule", ev.Rule.ID, "pattern", ev.Rule.Pattern, "permission", ev.Rule.Level.String())
		}
		if ev.ID != 0 {
			attrs = append(attrs, "id", ev.ID)
		}
		if ev.Name != "" {
			attrs = append(attrs, "name", ev.Name)
		}
		g.audit.Info("audit: "+string(ev.Op), attrs...)
	}
}
