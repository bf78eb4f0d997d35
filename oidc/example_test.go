package oidc_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/groupdetect"
	"github.com/mlflowauth/mlflowauth/oidc"
	"github.com/mlflowauth/mlflowauth/store"
	_ "github.com/mlflowauth/mlflowauth/store/sqlite"
)

func ExampleSafeNext() {
	fmt.Println(oidc.SafeNext("/#/experiments/1"))
	fmt.Println(oidc.SafeNext("//evil.example"))
	fmt.Println(oidc.SafeNext("/\\evil.example"))
	fmt.Println(oidc.SafeNext("javascript:alert(1)"))
	// Output:
	// /#/experiments/1
	// /
	// /
	// /
}

// Example shows browser sign-in wired to the store: sessions and pending
// logins in the gateway's database, accounts bound and synced at sign-in,
// Okta's groups claim, and the session cookie in the authentication chain.
// (It is compiled, not run: it needs a provider.)
func Example() {
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:///auth.db")
	if err != nil {
		log.Fatal(err)
	}
	sessions, err := oidc.NewSessions(oidc.SessionsConfig{Store: db.SessionData(), Index: db, Secure: true})
	if err != nil {
		log.Fatal(err)
	}
	sso, err := oidc.New(ctx, oidc.Config{
		DiscoveryURL: os.Getenv("OIDC_DISCOVERY_URL"),
		ClientID:     os.Getenv("OIDC_CLIENT_ID"),
		ClientSecret: os.Getenv("OIDC_CLIENT_SECRET"),
		RedirectURL:  os.Getenv("OIDC_REDIRECT_URI"),
		Scopes:       []string{"openid", "profile", "email"},
		States:       db.SessionData(),
		SignIn:       &oidc.Provisioner{Accounts: db, Sessions: sessions, Groups: groupdetect.Okta()},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/login", sso.Login)
	mux.HandleFunc("/callback", sso.Callback)
	mux.HandleFunc("/logout", sso.Logout(sessions))
	authn := auth.Middleware(auth.Config{LoginPath: "/login", SessionCookie: "mlflowauth_session"}, sessions)
	mux.Handle("/", authn(http.NotFoundHandler()))
	log.Fatal(http.ListenAndServe(":8080", mux))
}
