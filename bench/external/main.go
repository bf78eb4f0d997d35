// Command external measures the gateway's throughput the way an operator
// would: every piece its own process on loopback, and the load from wrk.
//
//   - an upstream: a minimal HTTP server answering MLflow's
//     experiments/get with a fixed body (this program, run as "upstream");
//   - a bare reverse proxy in front of it: httputil.ReverseProxy with a
//     tuned transport and nothing else (this program, run as "bare"), and
//     the same with pooled copy buffers as the gateway's proxy has
//     ("bare-pooled": the stricter yardstick, reported beside);
//   - the gateway, built from examples/gateway, on SQLite, LOG_LEVEL=WARN,
//     DEFAULT_MLFLOW_PERMISSION=NO_PERMISSIONS, single sign-on through an
//     OpenID provider (mockoidc, in this process; it is asked only while
//     the users are made);
//   - wrk -t1 -c32 (Debian's wrk; installed with apt-get when missing).
//
// Each round runs wrk against the gateway for a token user (Basic), a
// session user (cookie) and a bearer user (JWT), all reading an
// experiment they hold READ on (a cached decision), each right beside a
// run against the bare proxies (the order turned every other round), then
// a refused request (403) and one without credentials (401). It prints the
// gateway/bare ratio per user, the median over the rounds with every
// round's raw figures, and the latency the gateway adds at p50 and p99.
//
//	go run ./bench/external -rounds 3 -duration 4s
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/mlflowauth/mlflowauth/internal/oidctest"
	"github.com/mlflowauth/mlflowauth/internal/testenv"
)

const (
	adminPassword = "bench-admin-password"
	experimentGet = "/api/2.0/mlflow/experiments/get?experiment_id=1"
	refusedGet    = "/api/2.0/mlflow/experiments/get?experiment_id=2"
)

func main() {
	if serveChild(os.Args) {
		return
	}
	var cfg config
	flag.IntVar(&cfg.rounds, "rounds", 3, "interleaved rounds; the ratio is the median")
	flag.DurationVar(&cfg.duration, "duration", 4*time.Second, "wrk's -d for each run")
	flag.IntVar(&cfg.connections, "connections", 32, "wrk's -c")
	flag.StringVar(&cfg.gatewayBin, "gateway", "", "a gateway binary to measure (default: build examples/gateway)")
	flag.StringVar(&cfg.only, "only", "", "measure only these users, comma-separated (token,session,bearer,403,401); the bare proxies always")
	flag.Parse()
	if err := run(cfg, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// serveChild runs this program as one of its servers when args name one;
// it serves until killed.
func serveChild(args []string) bool {
	if len(args) > 1 {
		switch args[1] {
		case "upstream":
			serve(upstream())
			return true
		case "bare", "bare-pooled":
			if len(args) != 3 {
				log.Fatal("usage: external bare|bare-pooled UPSTREAM_URL")
			}
			u, err := url.Parse(args[2])
			if err != nil {
				log.Fatal(err)
			}
			serve(bare(u, args[1] == "bare-pooled"))
			return true
		}
	}
	return false
}

type config struct {
	rounds      int
	duration    time.Duration
	connections int
	gatewayBin  string
	only        string
}

// upstream answers experiments/get with a fixed body of MLflow's shape,
// /version, and 404 for anything else: a minimal MLflow.
func upstream() http.Handler {
	body := []byte(`{"experiment":{"experiment_id":"1","name":"bench","artifact_location":"mlflow-artifacts:/1",` +
		`"lifecycle_stage":"active","last_update_time":1733270400000,"creation_time":1733270400000,` +
		`"tags":[{"key":"team","value":"forecast"}]}}`)
	length := strconv.Itoa(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/2.0/mlflow/experiments/get":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", length)
			_, _ = w.Write(body)
		case "/version":
			_, _ = io.WriteString(w, "2.17.2")
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error_code":"ENDPOINT_NOT_FOUND","message":"not in the benchmark's upstream"}`)
		}
	})
}

// bare is the yardstick: Go's reverse proxy with a transport tuned for one
// upstream and many clients, as anyone would write it. pooled lends it
// copy buffers, as the gateway's proxy has: the stricter yardstick, where
// the difference is only what authentication and authorization cost.
func bare(u *url.URL, pooled bool) http.Handler {
	p := &httputil.ReverseProxy{
		Rewrite:  func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() },
		ErrorLog: log.New(io.Discard, "", 0), // wrk's connections cut at the end of a run
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        512,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		},
	}
	if pooled {
		p.BufferPool = &buffers{}
	}
	return p
}

type buffers struct{ pool sync.Pool }

func (b *buffers) Get() []byte {
	if p, ok := b.pool.Get().(*[]byte); ok {
		return *p
	}
	return make([]byte, 32<<10)
}

func (b *buffers) Put(p []byte) { b.pool.Put(&p) }

// serve listens on a free loopback port and prints its URL as the first
// line of standard output, for the parent to read.
func serve(h http.Handler) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("http://%s\n", l.Addr())
	log.Fatal((&http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}).Serve(l))
}

// child starts this program as a server and returns its URL.
func child(ctx context.Context, args ...string) (string, *exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return "", nil, fmt.Errorf("%s: no address: %w", args[0], err)
	}
	return strings.TrimSpace(line), cmd, nil
}

// freeAddr is a loopback address nothing listens on now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func ensureWrk() error {
	if _, err := exec.LookPath("wrk"); err == nil {
		return nil
	}
	log.Print("wrk is missing: installing Debian's wrk")
	args := []string{"apt-get", "install", "-y", "-q", "wrk"}
	if os.Geteuid() != 0 {
		args = append([]string{"sudo"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("installing wrk: %w", err)
	}
	_, err := exec.LookPath("wrk")
	return err
}

func run(cfg config, out io.Writer) error {
	if err := ensureWrk(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "mlflowauth-external-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	bin := cfg.gatewayBin
	if bin == "" {
		bin = filepath.Join(dir, "gateway")
		build := exec.Command("go", "build", "-o", bin, "./examples/gateway")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building examples/gateway (run from the module's root): %w", err)
		}
	}
	up, upCmd, err := child(ctx, "upstream")
	if err != nil {
		return err
	}
	defer func() { _ = upCmd.Process.Kill(); _ = upCmd.Wait() }()
	bareURL, bareCmd, err := child(ctx, "bare", up)
	if err != nil {
		return err
	}
	defer func() { _ = bareCmd.Process.Kill(); _ = bareCmd.Wait() }()
	pooledURL, pooledCmd, err := child(ctx, "bare-pooled", up)
	if err != nil {
		return err
	}
	defer func() { _ = pooledCmd.Process.Kill(); _ = pooledCmd.Wait() }()

	idp, err := mockoidc.Run()
	if err != nil {
		return err
	}
	defer func() { _ = idp.Shutdown() }()
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	gw := "http://" + addr
	gwCmd := exec.CommandContext(ctx, bin)
	gwCmd.Dir = dir
	gwCmd.Env = append(os.Environ(),
		"LISTEN_ADDR="+addr,
		"MLFLOW_UPSTREAM_URL="+up,
		"OIDC_USERS_DB_URI=sqlite:///"+filepath.Join(dir, "auth.db"),
		"MLFLOW_AUTH_ADMIN_USERNAME=admin",
		"MLFLOW_AUTH_ADMIN_PASSWORD="+adminPassword,
		"DEFAULT_MLFLOW_PERMISSION=NO_PERMISSIONS",
		"LOG_LEVEL=WARN",
		"OIDC_DISCOVERY_URL="+idp.DiscoveryEndpoint(),
		"OIDC_CLIENT_ID="+idp.Config().ClientID,
		"OIDC_CLIENT_SECRET="+idp.Config().ClientSecret,
		"OIDC_REDIRECT_URI="+gw+"/callback",
		"OIDC_SCOPE=openid email profile groups",
	)
	gwCmd.Stdout = io.Discard // the audit log: a JSON line per refusal
	var gwErr testenv.Buffer  // written by exec's copier while read here
	gwCmd.Stderr = &gwErr
	if err := gwCmd.Start(); err != nil {
		return err
	}
	defer func() { _ = gwCmd.Process.Kill(); _ = gwCmd.Wait() }()
	if err := waitReady(gw+"/health/ready", 30*time.Second); err != nil {
		return fmt.Errorf("the gateway did not start: %w\n%s", err, gwErr.String())
	}
	creds, err := users(gw, idp)
	if err != nil {
		return fmt.Errorf("making the users: %w\n%s", err, gwErr.String())
	}

	targets := []target{
		{name: "bare", url: bareURL + experimentGet, want: 200},
		{name: "bare-pooled", url: pooledURL + experimentGet, want: 200},
		{name: "token", url: gw + experimentGet, header: "Authorization: " + creds.token, want: 200},
		{name: "session", url: gw + experimentGet, header: "Cookie: " + creds.cookie, want: 200},
		{name: "bearer", url: gw + experimentGet, header: "Authorization: " + creds.bearer, want: 200},
		{name: "refused (403)", url: gw + refusedGet, header: "Authorization: " + creds.token, want: 403},
		{name: "no credentials (401)", url: gw + experimentGet, want: 401},
	}
	if cfg.only != "" {
		keep := strings.Split(cfg.only, ",")
		targets = slices.DeleteFunc(targets, func(tg target) bool {
			return !strings.HasPrefix(tg.name, "bare") && !slices.ContainsFunc(keep, func(k string) bool { return strings.HasPrefix(tg.name, k) || strings.Contains(tg.name, "("+k+")") })
		})
	}
	results := map[string][]result{}
	fmt.Fprintf(out, "wrk -t1 -c%d -d%s --latency, %d rounds, targets interleaved\n", cfg.connections, cfg.duration, cfg.rounds)
	bareT, pooledT := targets[0], targets[1]
	measure := func(round int, tg target, key string) error {
		r, err := wrk(cfg, tg)
		if err != nil {
			return fmt.Errorf("round %d, %s: %w\n%s", round, tg.name, err, tail(gwErr.String(), 20))
		}
		results[key] = append(results[key], r)
		fmt.Fprintf(out, "  round %d  %-22s %9.0f req/s  p50 %-8s p99 %s\n", round, tg.name, r.rps, r.p50, r.p99)
		return nil
	}
	for round := 1; round <= cfg.rounds; round++ {
		for _, tg := range targets[2:] {
			if tg.want != 200 {
				if err := measure(round, tg, tg.name); err != nil {
					return err
				}
				continue
			}
			// Each user beside its own bare runs, the bare proxy right next
			// to the gateway, the order turned every other round: the
			// machine's drift over a run falls on both sides alike.
			pair := []struct {
				tg  target
				key string
			}{{pooledT, "bare-pooled/" + tg.name}, {bareT, "bare/" + tg.name}, {tg, tg.name}}
			if round%2 == 0 {
				slices.Reverse(pair)
			}
			for _, p := range pair {
				if err := measure(round, p.tg, p.key); err != nil {
					return err
				}
			}
		}
	}
	report(out, results, cfg.rounds)
	if s := gwErr.String(); strings.Contains(s, "level=ERROR") {
		fmt.Fprintf(out, "\nthe gateway logged errors:\n%s\n", tail(s, 20))
	}
	return nil
}

func waitReady(u string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			err = fmt.Errorf("%s answered %d", u, resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type credentials struct{ token, cookie, bearer string }

// users makes, through the gateway's own admin API and sign-in: bob, a
// token user with READ on experiment 1; erin, signed in through the
// provider (a session), READ on 1; frank, a bearer token from the
// provider, READ on 1. Nobody holds anything on experiment 2.
func users(gw string, idp *mockoidc.MockOIDC) (credentials, error) {
	var c credentials
	adminAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+adminPassword))
	call := func(method, path string, body any) (map[string]any, error) {
		b, _ := json.Marshal(body)
		req, err := http.NewRequest(method, gw+path, bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", adminAuth)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
		out := map[string]any{}
		_ = json.Unmarshal(raw, &out)
		return out, nil
	}
	// erin's account is made by her first sign-in (an account with a
	// password is never adopted by a sign-in).
	cookie, _, err := oidctest.SignIn(gw, idp, &mockoidc.MockUser{Subject: "00u-erin", Email: "erin@example.com",
		EmailVerified: true, Groups: []string{"mlflow"}}, "/", "session")
	if err != nil {
		return c, err
	}
	c.cookie = cookie.Name + "=" + cookie.Value
	for _, u := range []string{"bob", "erin@example.com", "frank@example.com"} {
		if u != "erin@example.com" {
			if _, err := call("POST", "/api/2.0/mlflow/users/create", map[string]any{"username": u, "password": "bench-password-" + u}); err != nil {
				return c, err
			}
		}
		if _, err := call("POST", "/api/2.0/mlflow/experiments/permissions/create",
			map[string]any{"experiment_id": "1", "username": u, "permission": "READ"}); err != nil {
			return c, err
		}
	}
	tok, err := call("PATCH", "/api/2.0/mlflow/users/access-token", map[string]any{"username": "bob"})
	if err != nil {
		return c, err
	}
	secret, _ := tok["token"].(string)
	if secret == "" {
		return c, errors.New("no token in the access-token answer")
	}
	c.token = "Basic " + base64.StdEncoding.EncodeToString([]byte("bob:"+secret))
	now := time.Now()
	jwtStr, err := idp.Keypair.SignJWT(jwt.MapClaims{"iss": idp.Issuer(), "aud": idp.Config().ClientID, "sub": "svc-frank",
		"email": "frank@example.com", "email_verified": true, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	if err != nil {
		return c, err
	}
	c.bearer = "Bearer " + jwtStr
	// Each must be answered as expected before the load starts.
	for _, h := range [][2]string{{"Authorization", c.token}, {"Cookie", c.cookie}, {"Authorization", c.bearer}} {
		req, _ := http.NewRequest("GET", gw+experimentGet, nil)
		req.Header.Set(h[0], h[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return c, err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return c, fmt.Errorf("%s %.20s…: %d before the load", h[0], h[1], resp.StatusCode)
		}
	}
	return c, nil
}

type target struct {
	name, url, header string
	want              int
}

type result struct {
	rps      float64
	p50, p99 time.Duration
}

var (
	rpsLine     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	totalLine   = regexp.MustCompile(`(\d+) requests in`)
	non2xxLine  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	latencyLine = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	errorsLine  = regexp.MustCompile(`Socket errors: .*`)
)

// wrk runs one load and checks every answer had the status wanted.
func wrk(cfg config, tg target) (result, error) {
	args := []string{"-t1", "-c" + strconv.Itoa(cfg.connections), "-d" + cfg.duration.String(), "--latency"}
	if tg.header != "" {
		args = append(args, "-H", tg.header)
	}
	out, err := exec.Command("wrk", append(args, tg.url)...).CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %w\n%s", err, out)
	}
	return parseWrk(string(out), tg.want)
}

// parseWrk reads wrk's figures and checks every answer had the status
// wanted (200: none non-2xx; else all of them).
func parseWrk(s string, want int) (result, error) {
	var r result
	m := rpsLine.FindStringSubmatch(s)
	t := totalLine.FindStringSubmatch(s)
	if m == nil || t == nil {
		return r, fmt.Errorf("wrk printed no figures:\n%s", s)
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	total, _ := strconv.Atoi(t[1])
	non2xx := 0
	if n := non2xxLine.FindStringSubmatch(s); n != nil {
		non2xx, _ = strconv.Atoi(n[1])
	}
	if e := errorsLine.FindString(s); e != "" {
		return r, fmt.Errorf("wrk: %s", e)
	}
	switch {
	case want == 200 && non2xx != 0:
		return r, fmt.Errorf("%d of %d answers were not 2xx", non2xx, total)
	case want != 200 && non2xx != total:
		return r, fmt.Errorf("%d of %d answers were 2xx, want %d", total-non2xx, total, want)
	}
	for _, l := range latencyLine.FindAllStringSubmatch(s, -1) {
		v, _ := strconv.ParseFloat(l[2], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[l[3]]
		d := time.Duration(v * float64(unit))
		if l[1] == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	return r, nil
}

func median[T int64 | float64 | time.Duration](v []T) T {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func report(out io.Writer, res map[string][]result, rounds int) {
	fmt.Fprintf(out, "\n| user | bare proxy req/s | gateway req/s | gateway / bare (median of %d) | every round | added p50 | added p99 | gateway / pooled bare |\n", rounds)
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|---|")
	for _, name := range []string{"token", "session", "bearer"} {
		if len(res[name]) == 0 {
			continue
		}
		var ratios, strict []float64
		var rounds []string
		var bareRPS, gwRPS []float64
		var d50, d99 []time.Duration
		bare, pooled := res["bare/"+name], res["bare-pooled/"+name]
		for i, r := range res[name] {
			ratios, strict = append(ratios, r.rps/bare[i].rps), append(strict, r.rps/pooled[i].rps)
			rounds = append(rounds, fmt.Sprintf("%.2f", r.rps/bare[i].rps))
			bareRPS, gwRPS = append(bareRPS, bare[i].rps), append(gwRPS, r.rps)
			d50, d99 = append(d50, r.p50-bare[i].p50), append(d99, r.p99-bare[i].p99)
		}
		fmt.Fprintf(out, "| %s | %.0f | %.0f | **%.2f** | %s | %s | %s | %.2f |\n", name, median(bareRPS), median(gwRPS), median(ratios),
			strings.Join(rounds, ", "), median(d50).Round(time.Microsecond), median(d99).Round(time.Microsecond), median(strict))
	}
	fmt.Fprintln(out, "\n| refused | gateway req/s | p50 | p99 |")
	fmt.Fprintln(out, "|---|---|---|---|")
	for _, name := range []string{"refused (403)", "no credentials (401)"} {
		if len(res[name]) == 0 {
			continue
		}
		var rps []float64
		var p50, p99 []time.Duration
		for _, r := range res[name] {
			rps, p50, p99 = append(rps, r.rps), append(p50, r.p50), append(p99, r.p99)
		}
		fmt.Fprintf(out, "| %s | %.0f | %s | %s |\n", name, median(rps), median(p50), median(p99))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
