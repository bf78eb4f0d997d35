package e2e

import "testing"

// TestGenAI: MLflow 3's traces, OTLP, logged models, assessments,
// prompts, datasets, scorers, the UI's GraphQL and webhooks, as a user
// and refused for another.
func TestGenAI(t *testing.T) {
	only3(t, func(t *testing.T, s *suite) {
		s.python(t, "genai.py", map[string]user{"dev": s.newUser(t, "dev"), "other": s.newUser(t, "other")})
	})
}
