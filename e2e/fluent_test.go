package e2e

import "testing"

// TestFluentAPI runs MLflow's fluent API and client through the gateway,
// once as a user with an access token and once with a password.
func TestFluentAPI(t *testing.T) {
	each(t, func(t *testing.T, s *suite) {
		for _, how := range []string{"token", "password"} {
			t.Run(how, func(t *testing.T) {
				u := s.newUser(t, "fluent")
				s.python(t, "fluent.py", map[string]user{"u": u}, "u", how)
			})
		}
	})
}
