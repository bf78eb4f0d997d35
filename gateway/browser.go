package gateway

import (
	"fmt"
	"net/http"

	"github.com/mlflowauth/mlflowauth/auth"
)

// BrowserGuard refuses cross-site writes. A state-changing request a
// browser sends from another site (Go's http.CrossOriginProtection:
// Sec-Fetch-Site, else Origin against Host) is refused with MLflow's 403,
// whatever authenticates it: cookies, or Basic credentials the browser
// remembered for this site. Requests with neither header (MLflow's
// clients, scripts, curl) are not browsers' and pass. Every answer
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
		guarded.ServeHTTP(w, r)
	}), nil
}
