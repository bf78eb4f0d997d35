package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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
	"github.com/chromedp/chromedp/kb"
	"github.com/oauth2-proxy/mockoidc"
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
			page{"evaluation-runs", "/experiments/" + s.Shared + "/evaluation-runs"},
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

// signer signs a fresh browser in (or not: nil).
type signer func(t *testing.T, browser context.Context)

// walk visits pages at base in a fresh browser, signed in by sign when
// given, and returns every response with status 400 or more, by page,
// and each page's text; it saves a screenshot of each page under dir.
func walk(t *testing.T, base string, sign signer, pages []page, dir, prefix string) ([]answer, map[string]string) {
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
	if sign != nil {
		sign(t, browser)
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

// withBasic makes the browser send Basic credentials with every request,
// as it does once a person has typed them into its password dialog.
func withBasic(user, secret string) signer {
	return func(t *testing.T, browser context.Context) {
		t.Helper()
		auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))
		require.NoError(t, chromedp.Do(browser, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}})
			return chromedp.Void{}, err
		}))
	}
}

// withSSO signs the browser in as a person does: MLflow's page sends it
// to the gateway's sign-in page, its button to the identity provider
// (which answers as u), and the provider back to MLflow's page, where the
// gateway's menu names the user.
func (s *suite) withSSO(u *mockoidc.MockUser) signer {
	return func(t *testing.T, browser context.Context) {
		t.Helper()
		s.idp.QueueUser(u)
		require.NoError(t, chromedp.Do(browser, chromedp.Navigate(s.srv.URL+"/"), chromedp.WaitVisible("#sign-in")), "MLflow's page leads to the sign-in page")
		require.NoError(t, chromedp.Do(browser, chromedp.Click("#sign-in"), chromedp.WaitVisible("#mlflowauth-menu")), "back on MLflow's page after the provider")
		menu, err := chromedp.Run(browser, chromedp.Text("#mlflowauth-menu"))
		require.NoError(t, err)
		require.Contains(t, menu, u.Email, "the menu names who signed in")
	}
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
		withBasic("admin", adminPassword)(t, browser)
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
// Chromium through the gateway, signed in with Basic credentials and,
// separately, through the identity provider: as an administrator and as
// a READ user every page renders and gets no error MLflow itself does not
// give (the same walk straight against MLflow); a user with no grant does
// not see the shared experiment, and its pages opened by URL are refused
// with the reason shown in MLflow's own error (GraphQL refusals in
// MLflow's apiError shape). Screenshots go to
// MLFLOWAUTH_TEST_ARTIFACTS/mlflow-ui.
func TestUIPagesInBrowser(t *testing.T) {
	each(t, func(t *testing.T, s *suite) {
		reader, nobody := s.newUser(t, "reader"), s.newUser(t, "nobody")
		ssoReader := s.newSSOUser(t, "sso-reader")
		out := s.python(t, "seed_ui.py", map[string]user{"reader": reader, "reader-sso": ssoReader, "nobody": nobody})
		lines := strings.Split(strings.TrimSpace(out), "\n")
		var seed seeded
		require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &seed), out)
		dir := s.screenshots(t)
		pages := seed.pages(s.in.Major)

		baseline, _ := walk(t, s.mlflow.URL, nil, pages, dir, "0-direct")
		mlflowOwn := map[string]bool{}
		for _, a := range baseline {
			mlflowOwn[fmt.Sprint(a.page, a.path, a.status)] = true
		}
		suffix := fmt.Sprint(time.Now().UnixNano() % 1e9)
		person := func(sub, email string, groups ...string) *mockoidc.MockUser {
			return &mockoidc.MockUser{Subject: sub, Email: email, EmailVerified: true, Groups: groups}
		}
		for _, who := range []struct {
			name string
			sign signer
			may  bool // may see the shared experiment
		}{
			{"1-admin-basic", withBasic("admin", adminPassword), true},
			{"2-reader-basic", withBasic(reader.Name, reader.Token), true},
			{"3-nobody-basic", withBasic(nobody.Name, nobody.Token), false},
			{"4-admin-sso", s.withSSO(person("admin-"+suffix, "sso-admin-"+suffix+"@example.com", "mlflow", "mlflow-admin")), true},
			{"5-reader-sso", s.withSSO(person("reader-"+suffix, ssoReader.Name, "mlflow")), true},
			{"6-nobody-sso", s.withSSO(person("nobody-"+suffix, "sso-nobody-"+suffix+"@example.com", "mlflow")), false},
		} {
			bad, texts := walk(t, s.srv.URL, who.sign, pages, dir, who.name)
			if who.may {
				for _, a := range bad {
					assert.True(t, mlflowOwn[fmt.Sprint(a.page, a.path, a.status)],
						"%s, page %s: %s answered %d through the gateway, not without it", who.name, a.page, a.path, a.status)
				}
				for name, text := range texts {
					assert.NotEmpty(t, strings.TrimSpace(text), "%s, page %s: blank", who.name, name)
				}
				continue
			}
			assert.NotEmpty(t, strings.TrimSpace(texts["home"]), "%s: the home page renders for a user with no grant", who.name)
			assert.NotContains(t, texts["home"], "ui-shared", "%s: the shared experiment is not listed", who.name)
			refused := false
			for _, a := range bad {
				refused = refused || a.status == 403
			}
			assert.True(t, refused, "%s: the shared experiment's pages got the gateway's refusal", who.name)
			assert.Contains(t, texts["run-overview"], "Permission denied.",
				"%s: the run page shows MLflow's own error with the gateway's reason, not an endless spinner", who.name)
		}
	})
}

// clickButton clicks the visible, enabled button (inside the topmost
// dialog when dialog) whose text or label is one of names, as a person picks it by its label,
// waiting for it to appear.
func clickButton(t *testing.T, browser context.Context, dialog bool, names ...string) {
	t.Helper()
	scope := "document"
	if dialog {
		scope = "[...document.querySelectorAll('[role=dialog]')].pop()"
	}
	want, err := json.Marshal(names)
	require.NoError(t, err)
	js := fmt.Sprintf(`(() => {
  const root = %s;
  if (!root) return false;
  const want = %s;
  const b = [...root.querySelectorAll('button')].find(b => b.offsetParent !== null && !b.disabled &&
    (want.includes(b.innerText.trim()) || want.includes(b.getAttribute('aria-label'))));
  if (!b) return false;
  b.click();
  return true;
})()`, scope, want)
	until(t, browser, js, 10*time.Second, fmt.Sprintf("no button %v", names))
}

// until evaluates js in the page until it returns true, failing the test
// with why after within.
func until(t *testing.T, browser context.Context, js string, within time.Duration, why string) {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(200 * time.Millisecond) {
		ok, err := chromedp.Run(browser, chromedp.Evaluate[bool](js))
		require.NoError(t, err)
		if ok {
			return
		}
		require.True(t, time.Now().Before(deadline), why)
	}
}

// clickOn clicks the first element sel matches once there is one, as a
// script does: AG Grid's row boxes are transparent inputs under a drawn
// box, which a pointer click by position would miss.
func clickOn(t *testing.T, browser context.Context, sel string) {
	t.Helper()
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return false; e.click(); return true; })()`, sel)
	until(t, browser, js, 15*time.Second, "nothing matches "+sel)
}

// mlflowText is the page's text without the gateway's refusal notice:
// what MLflow itself shows.
const mlflowText = `(() => {
  if (!document.body) return '';
  const n = document.getElementById('mlflowauth-refusal');
  const t = document.body.innerText;
  return n ? t.replace(n.innerText, '') : t;
})()`

// waitText waits until the page's text (MLflow's own, without the
// gateway's notice, when own) contains want and returns it.
func waitText(t *testing.T, browser context.Context, want string, own ...bool) string {
	t.Helper()
	js := "document.body ? document.body.innerText : ''"
	if len(own) > 0 && own[0] {
		js = mlflowText
	}
	var text string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		var err error
		text, err = chromedp.Run(browser, chromedp.Evaluate[string](js))
		require.NoError(t, err)
		if strings.Contains(text, want) {
			return text
		}
	}
	return text
}

// call sends a JSON request to base (MLflow itself, or the gateway as
// the administrator when admin) and decodes the answer, failing the test
// on any status but 200.
func (s *suite) call(t *testing.T, admin bool, method, path string, body any) map[string]any {
	t.Helper()
	base := s.mlflow.URL
	if admin {
		base = s.srv.URL
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if admin {
		req.SetBasicAuth("admin", adminPassword)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode, "%s %s: %s", method, path, b)
	out := map[string]any{}
	require.NoError(t, json.Unmarshal(b, &out), "%s", b)
	return out
}

// TestUIWritesRefusedInBrowser: a READ user, signed in through the
// identity provider, tries what MLflow's UI offers (rename a run from
// the runs table, tag it on its page, delete it from the runs table) as a
// person does, by its buttons. Each is refused with the gateway's reason
// on the screen (in MLflow's own message, or in the gateway's notice where
// MLflow's dialog drops it), and MLflow's run is as it was.
func TestUIWritesRefusedInBrowser(t *testing.T) {
	each(t, func(t *testing.T, s *suite) {
		suffix := fmt.Sprint(time.Now().UnixNano() % 1e9)
		exp := s.call(t, false, "POST", "/api/2.0/mlflow/experiments/create", map[string]any{"name": "ui-writes-" + suffix})["experiment_id"].(string)
		run := s.call(t, false, "POST", "/api/2.0/mlflow/runs/create", map[string]any{"experiment_id": exp, "run_name": "train-" + suffix})
		runID := run["run"].(map[string]any)["info"].(map[string]any)["run_id"].(string)
		reader := s.newSSOUser(t, "sso-writer")
		s.call(t, true, "POST", "/api/2.0/mlflow/experiments/permissions/create", map[string]any{"experiment_id": exp, "username": reader.Name, "permission": "READ"})

		browser := browsertest.New(t, 3*time.Minute)
		require.NoError(t, chromedp.Do(browser, chromedp.EmulateViewport(1440, 900)))
		s.withSSO(&mockoidc.MockUser{Subject: "writer-" + suffix, Email: reader.Name, EmailVerified: true, Groups: []string{"mlflow"}})(t, browser)
		dir := s.screenshots(t)
		shot := func(name string) {
			t.Helper()
			// The viewport, not the full page: resizing to the page's
			// height makes MLflow's dialogs close.
			png, err := chromedp.Run(browser, chromedp.CaptureScreenshot())
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "write-"+name+".png"), png, 0o644))
		}
		// selectRun opens the runs table afresh and ticks the run's box.
		selectRun := func() {
			t.Helper()
			require.NoError(t, chromedp.Do(browser, chromedp.Navigate(s.srv.URL+"/#/experiments/"+exp), chromedp.Reload()))
			waitText(t, browser, "train-"+suffix)
			sel := fmt.Sprintf(`[row-id=%q] input[type=checkbox]`, runID)
			clickOn(t, browser, sel)
		}
		stateOf := func() map[string]any {
			return s.call(t, false, "GET", "/api/2.0/mlflow/runs/get?run_id="+runID, nil)["run"].(map[string]any)
		}

		// Rename.
		selectRun()
		require.NoError(t, chromedp.Do(browser, chromedp.Click(`[data-testid="run-rename-button"]`), chromedp.WaitVisible(`[data-testid="rename-modal-input"]`)))
		require.NoError(t, chromedp.Do(browser, chromedp.SendKeys(`[data-testid="rename-modal-input"]`, "stolen")))
		clickButton(t, browser, true, "Save", "OK", "Rename")
		text := waitText(t, browser, "Permission denied.", true)
		shot("1-rename")
		assert.Contains(t, text, "Permission denied. EDIT on the experiment of run "+runID, "the rename's refusal and its reason are in MLflow's own message")
		assert.Equal(t, "train-"+suffix, stateOf()["info"].(map[string]any)["run_name"], "MLflow's run keeps its name")

		// Tag.
		require.NoError(t, chromedp.Do(browser, chromedp.Navigate(s.srv.URL+"/#/experiments/"+exp+"/runs/"+runID), chromedp.Reload()))
		waitText(t, browser, "train-"+suffix)
		clickButton(t, browser, false, "Add", "Add tags")
		// MLflow's tag dialog: the key in a combobox (typed, then Enter
		// picks it as a new key), the value, "Add tag", then "Save tags".
		require.NoError(t, chromedp.Do(browser,
			chromedp.WaitVisible(`[role=dialog] input[role=combobox]`),
			chromedp.SendKeys(`[role=dialog] input[role=combobox]`, "owner"+kb.Enter),
			chromedp.SendKeys(`[role=dialog] input[name=value]`, "mallory")))
		clickButton(t, browser, true, "Add tag")
		clickButton(t, browser, true, "Save tags")
		text = waitText(t, browser, "Permission denied.", true)
		shot("2-tag")
		assert.Contains(t, text, "Permission denied. EDIT on the experiment of run "+runID, "the tag's refusal and its reason are in MLflow's own message")
		assert.NotContains(t, fmt.Sprint(stateOf()["data"]), "mallory", "MLflow's run has no new tag")

		// Delete.
		selectRun()
		require.NoError(t, chromedp.Do(browser, chromedp.Click(`[data-testid="runs-delete-button"]`)))
		clickButton(t, browser, true, "Delete", "Delete selected")
		// MLflow's dialog says only that an error occurred; the gateway's
		// notice says why.
		text = waitText(t, browser, "Not changed: Permission denied.")
		shot("3-delete")
		assert.Contains(t, text, "Not changed: Permission denied. MANAGE on the experiment of run "+runID, "the delete's refusal and its reason are on the screen")
		assert.Equal(t, "active", stateOf()["info"].(map[string]any)["lifecycle_stage"], "MLflow's run is not deleted")
	})
}
