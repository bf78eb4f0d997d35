package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkMiddleware is the per-request cost of the pipeline core with one
// authenticator that accepts: canonical path, header check, the chain and
// the context. A regression guard: see BENCHMARKS.md.
func BenchmarkMiddleware(b *testing.B) {
	id := &Identity{Username: "alice", Method: MethodBasic}
	accept := AuthenticatorFunc(func(*http.Request) (*Identity, error) { return id, nil })
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	h := Middleware(Config{Public: []string{"/health", "/health/ready"}, LoginPath: "/login", SessionCookie: "session"}, accept)(next)
	for _, bb := range []struct {
		name, authorization string
	}{
		{"basic", "Basic YWxpY2U6bWxmX2FjY2Vzc190b2tlbl8wMTIzNDU2Nzg5YWJjZGVmZ2hpams="},
		{"bearer", "Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhbGljZSIsImF1ZCI6Im1sZmxvdyJ9.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"},
	} {
		b.Run(bb.name, func(b *testing.B) {
			r := httptest.NewRequest("POST", "/api/2.0/mlflow/runs/log-metric", nil)
			r.Header.Set("Authorization", bb.authorization)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
}
