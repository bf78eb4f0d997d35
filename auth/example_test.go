package auth_test

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/mlflowauth/mlflowauth/auth"
)

// A plain net/http server whose API needs credentials and whose /health does
// not. The authenticator here knows one user; the basic and jwtauth packages
// provide real ones.
func ExampleMiddleware() {
	demo := auth.AuthenticatorFunc(func(r *http.Request) (*auth.Identity, error) {
		user, pass, err := auth.BasicCredentials(r)
		if err != nil {
			return nil, err // ErrNoCredentials: not mine
		}
		if auth.NormalizeUsername(user) != "alice" || subtle.ConstantTimeCompare([]byte(pass), []byte("s3cret-passw0rd")) != 1 {
			return nil, auth.Unauthenticated("")
		}
		return &auth.Identity{Username: user, Method: auth.MethodBasic}, nil
	})

	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "OK") })
	mux.HandleFunc("/api/2.0/mlflow/experiments/search", func(w http.ResponseWriter, r *http.Request) {
		id, _ := auth.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s (%s)\n", id.Username, id.Method)
	})
	handler := auth.Middleware(auth.Config{Public: []string{"/health"}}, demo)(mux)

	for _, r := range []*http.Request{
		httptest.NewRequest("GET", "/health", nil),
		withBasic(httptest.NewRequest("GET", "/api/2.0/mlflow/experiments/search", nil), "Alice", "s3cret-passw0rd"),
		withBasic(httptest.NewRequest("GET", "/api/2.0/mlflow/experiments/search", nil), "alice", "wrong"),
		httptest.NewRequest("GET", "/api/2.0/mlflow/experiments/search", nil),
	} {
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		fmt.Print(w.Code, " ", w.Header().Get("WWW-Authenticate"), " ", w.Body.String())
	}
	// Output:
	// 200  OK
	// 200  hello alice (basic)
	// 401 Basic realm="mlflow" {"error_code":"UNAUTHENTICATED","message":"You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate."}
	// 401 Basic realm="mlflow" {"error_code":"UNAUTHENTICATED","message":"You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate."}
}

func withBasic(r *http.Request, user, pass string) *http.Request {
	r.SetBasicAuth(user, pass)
	return r
}

// With single sign-on, a browser that opens the MLflow UI without a session
// is sent to the sign-in page, while the UI's own API calls get a 401 without
// the Basic challenge.
func ExampleConfig_signIn() {
	handler := auth.Middleware(auth.Config{LoginPath: "/login", SessionCookie: "session"})(http.NotFoundHandler())

	page := httptest.NewRequest("GET", "/?tab=runs", nil)
	page.Header.Set("Sec-Fetch-Mode", "navigate")
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, page)
	fmt.Println(w.Code, w.Header().Get("Location"))

	script := httptest.NewRequest("GET", "/ajax-api/2.0/mlflow/experiments/search", nil)
	script.Header.Set("Sec-Fetch-Mode", "cors")
	w = httptest.NewRecorder()
	handler.ServeHTTP(w, script)
	fmt.Printf("%d %q\n", w.Code, w.Header().Get("WWW-Authenticate"))
	// Output:
	// 302 /login?next=%2F%3Ftab%3Druns
	// 401 ""
}

func ExampleCanonicalPath() {
	for _, p := range []string{"/api/2.0/mlflow/runs/get", "/caf%C3%A9", "/static-files/../api", "/api%2Fx", "/%41pi"} {
		decoded, err := auth.CanonicalPath(p)
		fmt.Printf("%q %v\n", decoded, err)
	}
	// Output:
	// "/api/2.0/mlflow/runs/get" <nil>
	// "/café" <nil>
	// "" non-canonical request path: '..' path segment
	// "" non-canonical request path: encoded '/' (%2F)
	// "" non-canonical request path: needless percent-escape %41 of 'A'
}
