package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/internal/browsertest"
)

// seeded is what seed_ui.py made.
type seeded struct {
	Shared, Private, Model, Trace, Prompt, LoggedModel string
	Runs                                               []string
}

// page is one page of MLflow's UI a person uses.
type page struct{ name, fragment string }

func (s seeded) pages(major int) []page {
	run := s.Runs[0]
	p := []page{
		{"home", "/"},
		{"runs-table", "/experiments/" + s.Shared},
		{"run-overview", "/experiments/" + s.Shared + "/runs/" + run},
		{"run-metrics", "/experiments/" + s.Shared + "/runs/" + run + "/model-metrics"},
		{"run-artifacts", "/experiments/" + s.Shared + "/runs/" + run + "/artifacts/notes.txt"},
		{"compare-runs", "/compare-runs?runs=" + url.QueryEscape(`["`+s.Runs[0]+`","`+s.Runs[1]+`"]`) + "&experiments=" + url.QueryEscape(`["`+s.Shared+`"]`)},
		{"models", "/models"},
		{"model", "/models/" + s.Model},
		{"model-version", "/models/" + s.Model + "/versions/1"},
	}
	if major >= 3 {
		p = append(p,
			page{"traces", "/experiments/" + s.Shared + "/traces"},
			page{"logged-model", "/experiments/" + s.Shared + "/models/" + s.LoggedModel},
			page{"prompts", "/prompts"},
			page{"prompt", "/prompts/" + s.Prompt},
		)
	}
	return p
}

// answer is one network response a page got.
type answer struct {
	page, path string
	status     int64
}

// walk visits pages at base in a fresh browser, with Basic credentials
// when given, and returns every response with status 400 or more, by
// page; it saves a screenshot of each page under dir.
func walk(t *testing.T, base, user, secret string, pages []page, dir, prefix string) ([]answer, map[string]string) {
	t.Helper()
	browser := browsertest.New(t, 4*time.Minute)
	var mu sync.Mutex
	current := ""
	var bad []answer
	inflight := map[network.RequestID]bool{}
	require.NoError(t, chromedp.Listen(browser, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			inflight[ev.RequestID] = true
		case *network.EventLoadingFinished:
			delete(inflight, ev.RequestID)
		case *network.EventLoadingFailed:
			delete(inflight, ev.RequestID)
		case *network.EventResponseReceived:
			if ev.Response.Status >= 400 {
				u, _ := url.Parse(ev.Response.URL)
				bad = append(bad, answer{page: current, path: u.Path, status: ev.Response.Status})
			}
		}
	}))
	if user != "" {
		signIn(t, browser, user, secret)
	}
	// settled waits until no request has been in flight for a second (at
	// most 10 s: some pages poll).
	settled := func() {
		quiet := time.Time{}
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			mu.Lock()
			n := len(inflight)
			mu.Unlock()
			switch {
			case n > 0:
				quiet = time.Time{}
			case quiet.IsZero():
				quiet = time.Now()
			case time.Since(quiet) > time.Second:
				return
			}
		}
	}
	texts := map[string]string{}
	for _, p := range pages {
		mu.Lock()
		current = p.name
		mu.Unlock()
		require.NoError(t, chromedp.Do(browser, chromedp.Navigate(base+"/#"+p.fragment)), p.name)
		settled()
		// A slow machine: the page may still say it is loading (MLflow's
		// "Run page loading") after the network went quiet; give it time.
		var text string
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(250 * time.Millisecond) {
			var err error
			text, err = chromedp.Run(browser, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
			require.NoError(t, err, p.name)
			if !strings.Contains(strings.ToLower(text), "loading") || time.Now().After(deadline) {
				break
			}
		}
		texts[p.name] = text
		png, err := chromedp.Run(browser, chromedp.FullScreenshot(100))
		require.NoError(t, err, p.name)
		require.NoError(t, os.WriteFile(filepath.Join(dir, prefix+"-"+p.name+".png"), png, 0o644))
	}
	mu.Lock()
	defer mu.Unlock()
	return append([]answer(nil), bad...), texts
}

// screenshots is where this version's pictures of MLflow's UI go.
func (s *suite) screenshots(t *testing.T) string {
	return browsertest.Screenshots(t, filepath.Join("mlflow-ui", "mlflow-"+s.in.Version))
}

// signIn makes the browser send Basic credentials with every request, as
// it does once a person has typed them into its password dialog.
func signIn(t *testing.T, browser context.Context, user, secret string) {
	t.Helper()
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))
	require.NoError(t, chromedp.Do(browser, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}})
		return chromedp.Void{}, err
	}))
}

// overlaps lists MLflow's own controls (links, buttons, inputs, switches,
// tabs) that the gateway's menu covers.
const overlaps = `(() => {
  const m = document.getElementById('mlflowauth-menu');
  if (!m) return 'no menu';
  const r = m.getBoundingClientRect();
  const hits = [];
  for (const el of document.querySelectorAll('a,button,input,[role=button],[role=switch],[role=tab]')) {
    if (m.contains(el)) continue;
    const e = el.getBoundingClientRect();
    if (e.width === 0 || e.height === 0) continue;
    if (e.left < r.right && e.right > r.left && e.top < r.bottom && e.bottom > r.top)
      hits.push((el.innerText || el.getAttribute('aria-label') || el.tagName).trim().slice(0, 30));
  }
  return hits.join(', ');
})()`

// TestMenuLeavesMLflowsControls: the gateway's menu sits where MLflow's
// layout leaves room (MLflow 2's header between the tabs and the links,
// MLflow 3's sidebar foot) at widths from 1024 to 1920 px, covering none
// of MLflow's controls. Screenshots beside the walk's.
func TestMenuLeavesMLflowsControls(t *testing.T) {
	each(t, func(t *testing.T, s *suite) {
		dir := s.screenshots(t)
		browser := browsertest.New(t, 2*time.Minute)
		signIn(t, browser, "admin", adminPassword)
		for _, width := range []int64{1024, 1280, 1920} {
			require.NoError(t, chromedp.Do(browser, chromedp.EmulateViewport(width, 800),
				chromedp.Navigate(s.srv.URL+"/#/"), chromedp.WaitVisible("#mlflowauth-menu"), chromedp.Sleep(1500*time.Millisecond)))
			hits, err := chromedp.Run(browser, chromedp.Evaluate[string](overlaps))
			require.NoError(t, err)
			assert.Empty(t, hits, "at %d px the menu covers MLflow's controls", width)
			png, err := chromedp.Run(browser, chromedp.FullScreenshot(100))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("menu-%dpx.png", width)), png, 0o644))
		}
	})
}

// TestUIPagesInBrowser walks MLflow's own web UI, page by page, in a real
// Chromium through the gateway with Basic credentials: as the
// administrator and as a READ user every page renders and gets no error
// MLflow itself does not give (the same walk straight against MLflow); a
// user with no grant does not see the shared experiment, and its pages
// opened by URL are refused with the reason shown in MLflow's own error
// (GraphQL refusals in MLflow's apiError shape). Screenshots go to
// MLFLOWAUTH_TEST_ARTIFACTS/mlflow-ui.
func TestUIPagesInBrowser(t *testing.T) {
	each(t, func(t *testing.T, s *suite) {
		reader, nobody := s.newUser(t, "reader"), s.newUser(t, "nobody")
		out := s.python(t, "seed_ui.py", map[string]user{"reader": reader, "nobody": nobody})
		lines := strings.Split(strings.TrimSpace(out), "\n")
		var seed seeded
		require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &seed), out)
		dir := s.screenshots(t)
		pages := seed.pages(s.in.Major)

		baseline, _ := walk(t, s.mlflow.URL, "", "", pages, dir, "0-direct")
		mlflowOwn := map[string]bool{}
		for _, a := range baseline {
			mlflowOwn[fmt.Sprint(a.page, a.path, a.status)] = true
		}
		for _, who := range []struct{ name, user, secret string }{
			{"1-admin", "admin", adminPassword},
			{"2-reader", reader.Name, reader.Token},
		} {
			bad, texts := walk(t, s.srv.URL, who.user, who.secret, pages, dir, who.name)
			for _, a := range bad {
				assert.True(t, mlflowOwn[fmt.Sprint(a.page, a.path, a.status)],
					"%s, page %s: %s answered %d through the gateway, not without it", who.name, a.page, a.path, a.status)
			}
			for name, text := range texts {
				assert.NotEmpty(t, strings.TrimSpace(text), "%s, page %s: blank", who.name, name)
			}
		}

		bad, texts := walk(t, s.srv.URL, nobody.Name, nobody.Token, pages, dir, "3-nobody")
		assert.NotEmpty(t, strings.TrimSpace(texts["home"]), "the home page renders for a user with no grant")
		assert.NotContains(t, texts["home"], "ui-shared", "the shared experiment is not listed")
		refused := false
		for _, a := range bad {
			refused = refused || a.status == 403
		}
		assert.True(t, refused, "the shared experiment's pages got the gateway's refusal")
		assert.Contains(t, texts["run-overview"], "Permission denied.",
			"the run page shows MLflow's own error with the gateway's reason, not an endless spinner")
	})
}
