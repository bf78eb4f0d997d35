// Command customauth is the Go answer to MLflow's authorization_function
// hook: an authenticator of your own, here an internal API key in the
// X-Api-Key header, tried after the gateway's own. Whoever it names is
// then decided on like any other user: grants, groups, regex rules.
//
//	API_KEYS_FILE=keys.txt MLFLOW_UPSTREAM_URL=http://127.0.0.1:5000 go run ./examples/customauth
//
// keys.txt has one "key username" pair a line. Keys are compared in
// constant time; a wrong key is a 401, no key is not this authenticator's.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/gateway"
	_ "github.com/mlflowauth/mlflowauth/store/sqlite"
)

// apiKeys authenticates X-Api-Key against keys (SHA-256 of the key to the
// username, so the map holds no key).
func apiKeys(keys map[[32]byte]string) auth.Authenticator {
	return auth.AuthenticatorFunc(func(r *http.Request) (*auth.Identity, error) {
		key := r.Header.Get("X-Api-Key")
		if key == "" {
			return nil, auth.ErrNoCredentials // someone else's to check
		}
		h := sha256.Sum256([]byte(key))
		for k, user := range keys { // every key compared: timing tells nothing
			if subtle.ConstantTimeCompare(k[:], h[:]) == 1 {
				return &auth.Identity{Username: user, Method: "api-key"}, nil
			}
		}
		return nil, auth.Unauthenticated("Unknown API key")
	})
}

// readKeys reads "key username" lines.
func readKeys(path string) (map[[32]byte]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	keys := map[[32]byte]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, user, ok := strings.Cut(line, " ")
		if !ok || len(key) < 16 || strings.TrimSpace(user) == "" {
			return nil, fmt.Errorf("%s:%d: want \"key username\" with a key of 16 characters or more", path, n)
		}
		keys[sha256.Sum256([]byte(key))] = auth.NormalizeUsername(strings.TrimSpace(user))
	}
	return keys, sc.Err()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	keys, err := readKeys(os.Getenv("API_KEYS_FILE"))
	if err != nil {
		log.Fatal("API_KEYS_FILE: ", err)
	}
	cfg, err := gateway.FromEnv(nil)
	if err != nil {
		log.Fatal(err)
	}
	g, err := gateway.New(ctx, cfg, gateway.Options{Authenticators: []auth.Authenticator{apiKeys(keys)}})
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close()
	srv := g.Server()
	go func() { <-ctx.Done(); _ = srv.Shutdown(context.Background()) }()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
