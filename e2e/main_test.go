package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/mlflowauth/mlflowauth/basic"
	"github.com/mlflowauth/mlflowauth/gateway"
	"github.com/mlflowauth/mlflowauth/internal/realmlflow"
	"github.com/mlflowauth/mlflowauth/internal/testenv"
	"github.com/mlflowauth/mlflowauth/store"
	_ "github.com/mlflowauth/mlflowauth/store/sqlite"
)

// adminPassword is the bootstrap administrator's (MLFLOW_AUTH_ADMIN_*).
const adminPassword = "admin-password-for-e2e"

// scimToken is the gateway's SCIM_TOKEN: the identity provider's.
const scimToken = "scim-token-of-the-e2e-identity-provider"

// suite is one MLflow version behind a gateway: a plain MLflow server
// (no auth of its own) and the gateway in front of it, on loopback, with
// DEFAULT_MLFLOW_PERMISSION=NO_PERMISSIONS and single sign-on through a
// real OpenID provider (mockoidc; groups "mlflow" and "mlflow-admin").
type suite struct {
	in     *realmlflow.Install
	mlflow *realmlflow.Server
	idp    *mockoidc.MockOIDC
	g      *gateway.Gateway
	srv    *httptest.Server
	log    *testenv.Buffer
	err    error // why this version cannot run
	dir    string
}

var suites []*suite

func TestMain(m *testing.M) {
	flag.Parse()
	root, err := os.MkdirTemp("", "mlflowauth-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var wg sync.WaitGroup
	for _, in := range realmlflow.Installs() {
		s := &suite{in: in, log: &testenv.Buffer{}, dir: filepath.Join(root, fmt.Sprintf("mlflow%d", in.Major))}
		suites = append(suites, s)
		if s.err = in.Check(); s.err != nil {
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); s.err = s.start() }()
	}
	wg.Wait()
	code := m.Run()
	for _, s := range suites {
		if code != 0 && s.mlflow != nil {
			fmt.Fprintf(os.Stderr, "--- MLflow %s log (tail)\n%s\n--- gateway log (tail)\n%s\n", s.in.Version, s.mlflow.LogTail(30), tail(s.log.String(), 30))
		}
		s.stop()
	}
	_ = os.RemoveAll(root)
	os.Exit(code)
}

func (s *suite) start() error {
	ctx := context.Background()
	var err error
	if s.mlflow, err = s.in.Start(ctx, filepath.Join(s.dir, "mlflow"), realmlflow.Options{}); err != nil {
		return err
	}
	if s.idp, err = mockoidc.Run(); err != nil {
		return err
	}
	s.srv = httptest.NewUnstartedServer(nil)
	env := map[string]string{
		"OIDC_DISCOVERY_URL":         s.idp.DiscoveryEndpoint(),
		"OIDC_CLIENT_ID":             s.idp.Config().ClientID,
		"OIDC_CLIENT_SECRET":         s.idp.Config().ClientSecret,
		"OIDC_REDIRECT_URI":          "http://" + s.srv.Listener.Addr().String() + "/callback",
		"OIDC_SCOPE":                 "openid email profile groups",
		"MLFLOW_UPSTREAM_URL":        s.mlflow.URL,
		"OIDC_USERS_DB_URI":          "sqlite:///" + filepath.Join(s.dir, "auth.db"),
		"MLFLOW_AUTH_ADMIN_USERNAME": "admin",
		"MLFLOW_AUTH_ADMIN_PASSWORD": adminPassword,
		"DEFAULT_MLFLOW_PERMISSION":  "NO_PERMISSIONS",
		"SCIM_TOKEN":                 scimToken,
	}
	cfg, err := gateway.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(s.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if s.g, err = gateway.New(ctx, cfg, gateway.Options{Logger: logger, Audit: logger}); err != nil {
		return err
	}
	s.srv.Config.Handler = s.g
	s.srv.Start()
	return nil
}

func (s *suite) stop() {
	if s.srv != nil {
		s.srv.Close()
	}
	if s.g != nil {
		s.g.Close()
	}
	if s.idp != nil {
		_ = s.idp.Shutdown()
	}
	s.mlflow.Stop()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// each runs fn for every MLflow version, the versions side by side. A
// version that is not installed is skipped, naming its variable, except
// under CI=true, where it fails.
func each(t *testing.T, fn func(t *testing.T, s *suite)) {
	for _, s := range suites {
		t.Run(fmt.Sprintf("mlflow%d", s.in.Major), func(t *testing.T) {
			t.Parallel()
			s.need(t)
			fn(t, s)
		})
	}
}

// only3 runs fn for MLflow 3 alone.
func only3(t *testing.T, fn func(t *testing.T, s *suite)) {
	for _, s := range suites {
		if s.in.Major == 3 {
			t.Run("mlflow3", func(t *testing.T) { s.need(t); fn(t, s) })
		}
	}
}

func (s *suite) need(t *testing.T) {
	t.Helper()
	switch {
	case s.err == nil:
	case errors.Is(s.err, realmlflow.ErrNotInstalled) && os.Getenv("CI") != "true":
		t.Skipf("skipping: %v", s.err)
	default:
		t.Fatalf("MLflow %d.x: %v", s.in.Major, s.err)
	}
}

// user is an account made as an administrator would: a password and an
// access token.
type user struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	Token    string `json:"token"`
}

// newUser makes a user named prefix plus a suffix unique to the test, so
// tests never share accounts.
func (s *suite) newUser(t *testing.T, prefix string) user {
	t.Helper()
	ctx := context.Background()
	u := user{Name: fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1e9), Password: "pw-" + prefix + "-0123456789"}
	hash, err := basic.HashPassword(u.Password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.g.Store().CreateUser(ctx, store.User{Username: u.Name, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	secret, err := basic.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	h, err := basic.ParseToken(secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.g.Store().CreateToken(ctx, store.Token{Username: u.Name, Name: "e2e", Hash: h[:],
		Prefix: basic.TokenDisplayPrefix(secret), ExpiresAt: time.Now().Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	u.Token = secret
	return u
}

// newSSOUser makes an account for a person who signs in through the
// identity provider (no password, no token): prefix plus a unique suffix
// at example.com, the address the provider will send as a verified email.
func (s *suite) newSSOUser(t *testing.T, prefix string) user {
	t.Helper()
	u := user{Name: fmt.Sprintf("%s-%d@example.com", prefix, time.Now().UnixNano()%1e9)}
	if _, err := s.g.Store().CreateUser(context.Background(), store.User{Username: u.Name}); err != nil {
		t.Fatal(err)
	}
	return u
}

// python runs testdata/script with MLflow's client, the tracking URI the
// gateway, and the users and MLflow's own address in E2E_CONFIG; it fails
// the test with the script's output when the script fails.
func (s *suite) python(t *testing.T, script string, users map[string]user, args ...string) string {
	t.Helper()
	cfg, err := json.Marshal(map[string]any{
		"direct": s.mlflow.URL,
		"admin":  user{Name: "admin", Password: adminPassword},
		"users":  users,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.in.Run(ctx, dir, script, []string{
		"MLFLOW_TRACKING_URI=" + s.srv.URL,
		"E2E_CONFIG=" + string(cfg),
		"E2E_WORK=" + t.TempDir(),
		"MLFLOW_STATE=" + s.mlflow.State,
	}, args...)
	if err != nil {
		t.Fatalf("%s %s against MLflow %s: %v\n%s", script, strings.Join(args, " "), s.in.Version, err, out)
	}
	t.Logf("%s %s against MLflow %s:\n%s", script, strings.Join(args, " "), s.in.Version, tail(out, 15))
	return out
}
