package gateway

import (
	"fmt"
	"net/http"

	"github.com/mlflowauth/mlflowauth/auth"
)

// BrowserGuard protects what cookies authenticate. A state-changing
// request that carries cookies must come from the gateway's own origin
// (Go's http.CrossOriginProtection: Sec-Fetch-Site, else Origin against
// Host); refused with MLflow's 403. Requests without cookies (MLflow's
// clients, scripts with a token) are not browsers' and pass. Every answer
// varies on Authorization and Cookie, so no shared cache serves one
// user's answer to another. trustedOrigins are other origins allowed to
// write (the MLflow UI served elsewhere).
func BrowserGuard(next http.Handler, trustedOrigins ...string) (http.Handler, error) {
	cop := http.NewCrossOriginProtection()
	for _, o := range trustedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("gateway: trusted origin %q: %w", o, err)
		}
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.WriteError(w, auth.PermissionDenied("Cross-origin request refused: this write must come from the MLflow UI served by this gateway."))
	}))
	guarded := cop.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Authorization")
		w.Header().Add("Vary", "Cookie")
		if len(r.Cookies()) > 0 {
			guarded.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	}), nil
}
