package e2e

import (
	"fmt"
	"testing"
)

// TestConcurrentClients: 16 client processes logging at once, half with
// tokens and half with passwords, see no error and lose nothing.
func TestConcurrentClients(t *testing.T) {
	each(t, func(t *testing.T, s *suite) {
		users := map[string]user{"owner": s.newUser(t, "owner")}
		for i := range 4 {
			users[fmt.Sprint("worker", i)] = s.newUser(t, fmt.Sprint("worker", i))
		}
		s.python(t, "many_clients.py", users, "16", "40")
	})
}
