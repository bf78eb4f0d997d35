// Package testenv gives tests the services they need: the PostgreSQL and
// Redis that CI runs. A test asks for one; when it is not configured the
// test skips, naming the variable to set, except under CI=true, where a
// missing service fails the test: CI must not pass by skipping.
package testenv

import (
	"os"
	"testing"
)

// PostgresURL returns MLFLOWAUTH_TEST_POSTGRES_URL.
func PostgresURL(t testing.TB) string { return need(t, "MLFLOWAUTH_TEST_POSTGRES_URL", "PostgreSQL") }

// RedisURL returns MLFLOWAUTH_TEST_REDIS_URL.
func RedisURL(t testing.TB) string { return need(t, "MLFLOWAUTH_TEST_REDIS_URL", "Redis") }

func need(t testing.TB, name, what string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("this test needs %s: set %s (CI must run it)", what, name)
	}
	t.Skipf("skipping: needs %s (set %s)", what, name)
	return ""
}
