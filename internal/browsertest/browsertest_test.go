package browsertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The harness drives a page: a test that fails when the browser cannot
// load, read and click.
func TestHarness(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/next" {
			fmt.Fprint(w, `<html><body><p id="done">arrived</p></body></html>`)
			return
		}
		fmt.Fprint(w, `<html><body><a id="go" href="/next">go</a></body></html>`)
	}))
	defer srv.Close()
	ctx := New(t, 30*time.Second)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.Click("#go"), chromedp.WaitVisible("#done")); err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(ctx, chromedp.Text("#done"))
	if err != nil || got != "arrived" {
		t.Fatalf("%q, %v", got, err)
	}
}
