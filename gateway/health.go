package gateway

import (
	"context"
	"net/http"
	"time"
)

// Pinger is the gateway's own database (*store.Store).
type Pinger interface {
	Ping(ctx context.Context) error
}

// Health answers /health: the gateway is up. It needs no credentials and
// touches nothing.
func Health() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("OK"))
	})
}

// Ready answers /health/ready: 200 when the gateway's own database
// answers within two seconds, else 503, for load balancers to route
// around a replica that cannot decide anything new.
func Ready(db Pinger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := db.Ping(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("the gateway's database does not answer"))
			return
		}
		_, _ = w.Write([]byte("OK"))
	})
}
