// Package realmlflow runs real MLflow tracking servers, and MLflow's own
// Python client, for end-to-end tests. It knows MLflow installs only by
// two variables, so the tests run against any install, a user's included:
//
//	MLFLOWAUTH_TEST_MLFLOW2   a venv whose bin/mlflow and bin/python are MLflow 2.x
//	MLFLOWAUTH_TEST_MLFLOW3   the same for MLflow 3.x
//
// .ci/run installs MLflow 2.17.2 and 3.5.1 there from ../shared/mlflow. A
// test that needs one skips, naming the variable, when it is unset, and
// fails under CI=true, where nothing may be skipped.
package realmlflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Install is one MLflow install: a venv.
type Install struct {
	Major   int    // 2 or 3
	Var     string // the variable that named it
	Dir     string // the venv; empty when the variable is unset
	Version string // what bin/mlflow --version says, once started
}

// Installs are the two installs the variables name, set or not.
func Installs() []*Install {
	var out []*Install
	for _, major := range []int{2, 3} {
		name := "MLFLOWAUTH_TEST_MLFLOW" + strconv.Itoa(major)
		out = append(out, &Install{Major: major, Var: name, Dir: os.Getenv(name)})
	}
	return out
}

// ErrNotInstalled is why an install's tests cannot run: its variable is
// unset or names no MLflow.
var ErrNotInstalled = errors.New("realmlflow: MLflow is not installed")

// Check reports whether the install can run.
func (in *Install) Check() error {
	if in.Dir == "" {
		return fmt.Errorf("%w: set %s to a venv with MLflow %d.x", ErrNotInstalled, in.Var, in.Major)
	}
	for _, bin := range []string{"mlflow", "python"} {
		if _, err := os.Stat(filepath.Join(in.Dir, "bin", bin)); err != nil {
			return fmt.Errorf("%w: %s=%s has no bin/%s", ErrNotInstalled, in.Var, in.Dir, bin)
		}
	}
	return nil
}

// Python is the install's interpreter.
func (in *Install) Python() string { return filepath.Join(in.Dir, "bin", "python") }

// Server is a running MLflow tracking server.
type Server struct {
	URL   string // http://127.0.0.1:PORT
	State string // its database, artifacts and log
	cmd   *exec.Cmd
	done  chan struct{}
}

// Options change how a server starts.
type Options struct {
	// Args are added to `mlflow server` (for example --app-name basic-auth).
	Args []string
	// Env is added to the server's environment.
	Env []string
	// Workers is gunicorn's or uvicorn's worker count (1 when zero).
	Workers int
}

// Start starts `mlflow server` on a free loopback port with a SQLite
// backend and the artifact proxy, its state in state, and waits (up to
// two minutes) until it answers /health. The server runs in its own
// process group; Stop ends it.
func (in *Install) Start(ctx context.Context, state string, opts Options) (*Server, error) {
	if err := in.Check(); err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, filepath.Join(in.Dir, "bin", "mlflow"), "--version").Output(); err == nil {
		in.Version = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "mlflow, version "))
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if opts.Workers == 0 {
		opts.Workers = 1
	}
	if err := os.MkdirAll(filepath.Join(state, "artifacts"), 0o755); err != nil {
		return nil, err
	}
	args := append([]string{"server", "--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--workers", strconv.Itoa(opts.Workers),
		"--backend-store-uri", "sqlite:///" + filepath.Join(state, "mlflow.db"),
		"--artifacts-destination", filepath.Join(state, "artifacts")}, opts.Args...)
	log, err := os.Create(filepath.Join(state, "server.log"))
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(filepath.Join(in.Dir, "bin", "mlflow"), args...)
	cmd.Dir = state
	cmd.Env = append(os.Environ(), noTelemetry, "DO_NOT_TRACK=true")
	cmd.Env = append(cmd.Env, opts.Env...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("realmlflow: starting MLflow %s: %w", in.Var, err)
	}
	s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(port), State: state, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	if err := s.waitHealthy(ctx, 2*time.Minute); err != nil {
		s.Stop()
		return nil, fmt.Errorf("realmlflow: MLflow from %s did not start: %w\n%s", in.Var, err, s.LogTail(40))
	}
	return s, nil
}

func (s *Server) waitHealthy(ctx context.Context, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/health", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return errors.New("the server exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop ends the server's process group: SIGTERM, then SIGKILL after ten
// seconds.
func (s *Server) Stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	pgid := s.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.done
	}
}

// LogTail is the last n lines of the server's log.
func (s *Server) LogTail(n int) string {
	b, _ := os.ReadFile(filepath.Join(s.State, "server.log"))
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// noTelemetry: MLflow 3 reports usage to its makers; tests reach no
// network, and its client's telemetry thread races forked processes over
// an environment variable (a KeyError surfacing as a failed request).
const noTelemetry = "MLFLOW_DISABLE_TELEMETRY=true"

// Run runs a Python script with the install's interpreter, env added to
// the environment, and returns its combined output.
func (in *Install) Run(ctx context.Context, dir, script string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, in.Python(), append([]string{script}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1", "MLFLOW_HTTP_REQUEST_MAX_RETRIES=2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR=1",
		"GIT_PYTHON_REFRESH=quiet", "MLFLOW_ENABLE_ASYNC_LOGGING=false",
		// Traces are exported in the background by default: a script that
		// reads one back at once must not race its own export.
		"MLFLOW_ENABLE_ASYNC_TRACE_LOGGING=false", noTelemetry, "DO_NOT_TRACK=true")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
