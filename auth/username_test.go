package auth

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestUsernameFromClaims(t *testing.T) {
	names := []string{"email", "preferred_username"}
	for _, c := range []struct {
		name   string
		claims map[string]any
		trust  bool
		want   string
	}{
		{"verified email", map[string]any{"email": "Alice@X.com", "email_verified": true, "preferred_username": "al"}, false, "alice@x.com"},
		{"verified as a string", map[string]any{"email": "a@x.com", "email_verified": "true"}, false, "a@x.com"},
		{"unverified email", map[string]any{"email": "a@x.com", "email_verified": false, "preferred_username": "Al"}, false, "al"},
		{"no email_verified at all (Entra)", map[string]any{"email": "a@x.com", "preferred_username": "al@tenant"}, false, "al@tenant"},
		{"no email, no fallback", map[string]any{"email_verified": true}, false, ""},
		{"trusted (a proxy's assertion)", map[string]any{"email": "a@x.com"}, true, "a@x.com"},
		{"not a string", map[string]any{"email": 3, "preferred_username": []any{"x"}}, false, ""},
	} {
		assert.Equal(t, c.want, UsernameFromClaims(c.claims, names, c.trust), c.name)
	}
}
