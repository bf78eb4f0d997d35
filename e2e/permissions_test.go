package e2e

import "testing"

// TestPermissionsFromTheClient: READ reads and cannot write, EDIT cannot
// delete, MANAGE grants, no grant hides and refuses, the creator gets
// MANAGE, renames and deletes carry grants; every refusal leaves MLflow
// as it was.
func TestPermissionsFromTheClient(t *testing.T) {
	each(t, func(t *testing.T, s *suite) {
		users := map[string]user{}
		for _, n := range []string{"owner", "reader", "editor", "manager", "nobody"} {
			users[n] = s.newUser(t, n)
		}
		s.python(t, "permissions.py", users)
	})
}
