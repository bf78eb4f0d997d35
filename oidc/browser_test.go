package oidc

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2/memstore"
	"github.com/chromedp/chromedp"
	"github.com/oauth2-proxy/mockoidc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/internal/browsertest"
)

// A real browser opens a protected page, is sent to the sign-in page and
// the provider, and lands on the page it asked for, signed in.
func TestBrowserSignIn(t *testing.T) {
	browser := browsertest.New(t, time.Minute)
	idp, err := mockoidc.Run()
	require.NoError(t, err)
	defer idp.Shutdown()
	idp.QueueUser(&mockoidc.MockUser{Subject: "00u1", Email: "alice@example.com", EmailVerified: true, Groups: []string{"mlflow"}})

	sessions, err := NewSessions(SessionsConfig{Store: memstore.New()})
	require.NoError(t, err)
	mux := http.NewServeMux()
	gw := httptest.NewServer(mux)
	defer gw.Close()
	signIn := SignInFunc(func(ctx context.Context, w http.ResponseWriter, r *http.Request, l *Login) error {
		email, _ := l.Claims["email"].(string)
		if err := sessions.Start(ctx, w, &auth.Identity{Username: email, Method: auth.MethodSession, Issuer: l.Issuer, Subject: l.Subject}, l.IDToken); err != nil {
			return err
		}
		http.Redirect(w, r, l.Next, http.StatusFound)
		return nil
	})
	h, err := New(context.Background(), Config{DiscoveryURL: idp.Issuer(), ClientID: idp.Config().ClientID, ClientSecret: idp.Config().ClientSecret,
		RedirectURL: gw.URL + "/callback", Scopes: []string{"openid", "email", "groups"}, States: memstore.New(), SignIn: signIn, ProviderName: "Sign in with Mock",
		Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	mux.HandleFunc("/login", h.Login)
	mux.HandleFunc("/callback", h.Callback)
	protect := auth.Middleware(auth.Config{LoginPath: "/login", SessionCookie: "mlflowauth_session", Logger: slog.New(slog.DiscardHandler)}, sessions)
	mux.Handle("/", protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := auth.FromRequest(r)
		fmt.Fprintf(w, "<html><body><p id=who>%s at %s</p></body></html>", id.Username, r.URL.Path)
	})))

	require.NoError(t, chromedp.Do(browser,
		chromedp.Navigate(gw.URL+"/experiments/7"),
		chromedp.WaitVisible("#sign-in"),
	))
	page, err := chromedp.Run(browser, chromedp.Text("#sign-in"))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(browser, chromedp.Click("#sign-in"), chromedp.WaitVisible("#who")))
	who, err := chromedp.Run(browser, chromedp.Text("#who"))
	require.NoError(t, err)
	assert.Equal(t, "Sign in with Mock", page, "the sign-in page names the provider")
	assert.Equal(t, "alice@example.com at /experiments/7", who, "signed in, on the page asked for")
}
