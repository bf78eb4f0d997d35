package jwtauth

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// realistic is a token of about 3 KiB, as Entra ID and Okta issue them
// with groups and custom claims.
func realistic(b *testing.B, e *env, i int) string {
	groups := make([]string, 60)
	for g := range groups {
		groups[g] = "group-" + strings.Repeat("x", 24) + "-" + string(rune('a'+g%26))
	}
	return e.p.sign(b, e.claims(jwt.MapClaims{"groups": groups, "jti": strings.Repeat("j", 8) + string(rune(0x41+i%26)) + string(rune(0x41+i/26%26)), "scp": strings.Repeat("scope ", 30)}))
}

// BenchmarkBearerCached: a token after its first use. Guard: 1 µs.
func BenchmarkBearerCached(b *testing.B) {
	e := newEnv(b, nil)
	tok := realistic(b, e, 0)
	r := httptest.NewRequest("GET", "/api/2.0/mlflow/runs/get", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	if _, err := e.a.Authenticate(r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.a.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(tok)), "token-bytes")
}

// BenchmarkBearerCold: a token never seen before: parse, RS256 verify,
// claims, groups.
func BenchmarkBearerCold(b *testing.B) {
	e := newEnv(b, nil)
	const n = 256
	toks := make([]string, n)
	for i := range toks {
		toks[i] = realistic(b, e, i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if i%n == 0 {
			e.a.ForgetAll()
		}
		r := httptest.NewRequest("GET", "/api/2.0/mlflow/runs/get", nil)
		r.Header.Set("Authorization", "Bearer "+toks[i%n])
		if _, err := e.a.Authenticate(r); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
