// Package browsertest drives a real, headless Chromium for end-to-end
// tests (the sign-in flow, the web UI) through chromedp. A test asks for a
// browser; without Chromium it skips, naming what to install, except
// under CI=true, where .ci/run installs Debian's chromium and a missing
// browser fails the test.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// New returns a context with a fresh headless browser (its own profile,
// so its own cookies), closed when the test ends. Every step run in it is
// bounded by timeout.
func New(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	path := os.Getenv("MLFLOWAUTH_TEST_CHROMIUM")
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs Chromium: .ci/run installs Debian's chromium (or set MLFLOWAUTH_TEST_CHROMIUM)")
		}
		t.Skip("skipping: needs Chromium (apt-get install chromium, or set MLFLOWAUTH_TEST_CHROMIUM)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox cannot start
		chromedp.DisableGPU,
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

// Screenshots is where a test's pictures of a UI go, for a person to look
// at after the run: MLFLOWAUTH_TEST_ARTIFACTS/sub (.ci/run sets the
// variable), else the test's own temporary folder.
func Screenshots(t testing.TB, sub string) string {
	t.Helper()
	dir := os.Getenv("MLFLOWAUTH_TEST_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, sub)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
