package e2e

import "testing"

// TestAuthServiceClient: every method of MLflow's AuthServiceClient as an
// administrator and, refused, as a member; MLflow 3's sign-up form.
func TestAuthServiceClient(t *testing.T) {
	each(t, func(t *testing.T, s *suite) {
		s.python(t, "authclient.py", map[string]user{"member": s.newUser(t, "member")})
	})
}
