package e2e

import "testing"

// TestAttacks runs what an ordinary account tried against real MLflow
// through the gateway (issue 20's findings and their variations), as a
// user with no grant, with READ and with EDIT: every one refused, MLflow's
// state read back unchanged, nothing leaked.
func TestAttacks(t *testing.T) {
	each(t, func(t *testing.T, s *suite) {
		users := map[string]user{}
		for _, n := range []string{"alice", "bob", "reader", "editor"} {
			users[n] = s.newUser(t, n)
		}
		s.python(t, "attacks.py", users)
	})
}
